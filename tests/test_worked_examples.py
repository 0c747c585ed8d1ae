"""The worked examples on public data (rulesets/olist, rulesets/crm-pipeline; docs/olist.md,
docs/crm-pipeline.md): history files over the raw exports shipped in the project, their
rulesets and tests, the simulation numbers the docs quote, and `schema infer` on each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadscore.cli import main
from leadscore.dsl.schema import parse_schema

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = {
    # folder: (threshold, crossed, successes after crossing, precision, recall, lift)
    "olist": ("sql_ready", 5540, 586, 0.106, 0.850, 1.23),
    "crm-pipeline": ("sql", 6183, 2822, 0.456, 0.861, 1.16),
}


def run(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_is_clean_formatted_and_its_tests_cover_every_rule(name):
    folder = REPO / "rulesets" / name
    assert run("check", "--strict", folder)[0] == 0
    assert run("fmt", "--check", folder / "scoring.score")[0] == 0
    code, out, _ = run("test", "--coverage-min", "100", "--format", "json", folder)
    assert code == 0, out
    assert json.loads(out)["summary"]["failed"] == 0


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_simulation_gives_the_numbers_the_doc_quotes(name):
    folder = REPO / "rulesets" / name
    threshold, crossed, successes, precision, recall, lift = EXAMPLES[name]
    code, out, err = run("simulate", folder / "scoring.score", "--history", folder / "history.yaml",
                         "--format", "json")
    assert code == 0, err
    found = json.loads(out)["variants"]["baseline"]["thresholds"][threshold]
    assert (found["crossed"], found["funnel"]["successes"]) == (crossed, successes)
    assert (round(found["precision"], 3), round(found["recall"], 3), round(found["lift"], 2)) == (
        precision, recall, lift)
    doc = (REPO / "docs" / f"{name}.md").read_text()
    assert f"{crossed:,}" in doc and f"{successes:,}" in doc and f"{lift:.2f}" in doc


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_row_of_the_raw_files_is_used(name):
    folder = REPO / "rulesets" / name
    code, _, err = run("simulate", folder / "scoring.score", "--history", folder / "history.yaml", "--strict")
    assert code == 0, err


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_schema_infer_on_the_example_gives_a_schema_its_ruleset_checks_against(name, tmp_path):
    folder = REPO / "rulesets" / name
    shutil.copy(folder / "scoring.score", tmp_path / "scoring.score")
    code, _, err = run("schema", "infer", "--history", folder / "history.yaml", "-o", tmp_path / "schema.yaml",
                       "--max-values", "12")
    assert code == 0, err
    inferred, diags = parse_schema((tmp_path / "schema.yaml").read_text(), "schema.yaml")
    shipped, _ = parse_schema((folder / "schema.yaml").read_text(), "schema.yaml")
    assert diags == []
    assert {n: f.type for n, f in inferred.fields.items()} == {n: f.type for n, f in shipped.fields.items()}
    assert set(inferred.events) == set(shipped.events)
    assert run("check", tmp_path / "scoring.score")[0] == 0


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_stands_alone_and_stays_small(name):
    folder = REPO / "rulesets" / name
    history = (folder / "history.yaml").read_text()
    assert "/work" not in history and ".." not in history   # reads only its own raw files
    assert sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) < 3_000_000
    assert "Licence" in (folder / "raw" / "README.md").read_text()

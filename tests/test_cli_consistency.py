"""The commands agree on their defaults: `check` and `fmt` default to the current folder
like `test`; `explain` takes `--history DIR` like `simulate`; every instant option accepts
`now`; `simulate -o` says where it wrote."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadscore.cli import main

REPO = Path(__file__).resolve().parents[1]
ACME_DIR = REPO / "rulesets" / "acme"
DATA = Path(__file__).resolve().parent / "data" / "score"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh `leadscore init` project, as the current folder."""
    assert run("init", str(tmp_path / "p")).exit_code == 0
    monkeypatch.chdir(tmp_path / "p")
    return tmp_path / "p"


def test_check_and_fmt_default_to_the_current_folder(project):
    checked = run("check")
    assert checked.exit_code == 0, checked.output
    assert "checked 1 file" in checked.output
    assert run("fmt", "--check").exit_code == 0
    (project / "rules" / "scoring.score").write_text(
        (project / "rules" / "scoring.score").read_text().replace("const mql_fit = 40", "const   mql_fit=40"))
    unformatted = run("fmt", "--check")
    assert unformatted.exit_code == 1
    assert "would reformat rules/scoring.score" in unformatted.output
    (project / "rules" / "scoring.score").write_text("score {\n")
    assert run("check").exit_code == 1


def test_hidden_folders_are_not_searched(project):
    hidden = project / ".venv" / "lib"
    hidden.mkdir(parents=True)
    (hidden / "broken.score").write_text("this is not a ruleset\n")
    assert run("check").exit_code == 0
    assert run("fmt", "--check").exit_code == 0
    assert run("check", str(hidden)).exit_code == 1   # named explicitly, it is checked


def test_check_in_a_folder_without_rule_files_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("check")
    assert result.exit_code == 2
    assert "no .score files found under ." in result.output


def test_explain_reads_the_tables_of_a_history_folder(tmp_path):
    history = tmp_path / "history"
    history.mkdir()
    shutil.copy(DATA / "leads.csv", history / "leads.csv")
    shutil.copy(DATA / "events.csv", history / "events.csv")
    common = ["explain", str(ACME_DIR / "scoring.score"), "--lead", "L-100", "--as-of", "2026-05-01"]
    by_files = run(*common, "--leads", str(DATA / "leads.csv"), "--events", str(DATA / "events.csv"))
    by_folder = run(*common, "--history", str(history))
    assert by_files.exit_code == 0, by_files.output
    assert by_folder.exit_code == 0, by_folder.output
    assert by_folder.stdout == by_files.stdout
    # A table given explicitly wins over the folder's.
    (history / "events.csv").write_text("not,the,events\n")
    mixed = run(*common, "--history", str(history), "--events", str(DATA / "events.csv"))
    assert mixed.stdout == by_files.stdout


def test_explain_without_tables_is_a_usage_error(tmp_path):
    common = ["explain", str(ACME_DIR / "scoring.score"), "--lead", "L-100", "--as-of", "2026-05-01"]
    nothing = run(*common)
    assert nothing.exit_code == 2 and "give --history, or --leads and --events" in nothing.stderr
    (tmp_path / "leads.csv").write_text("lead_id\n")
    no_events = run(*common, "--history", str(tmp_path))
    assert no_events.exit_code == 2 and "no events table" in no_events.stderr
    (tmp_path / "events.csv").write_text("lead_id,type,at\n")
    (tmp_path / "events.jsonl").write_text("")
    two = run(*common, "--history", str(tmp_path))
    assert two.exit_code == 2 and "both hold the events table" in two.stderr
    assert "Traceback" not in nothing.output + no_events.output + two.output


def test_every_instant_option_accepts_now(tmp_path):
    acme = str(ACME_DIR / "scoring.score")
    tables = ["--leads", str(DATA / "leads.csv"), "--events", str(DATA / "events.csv")]
    before = time.time()
    explained = run("explain", acme, "--lead", "L-100", "--as-of", "now", "--format", "json", *tables)
    assert explained.exit_code == 0, explained.output
    as_of = json.loads(explained.stdout)["as_of"]
    assert as_of.startswith(time.strftime("%Y-", time.gmtime(before)))
    scored = run("score", acme, "--as-of", "NOW", *tables)
    assert scored.exit_code == 0, scored.output
    assert run("init", str(tmp_path / "p")).exit_code == 0
    history = tmp_path / "p" / "history"
    rules = str(tmp_path / "p" / "rules" / "scoring.score")
    calibrated = run("calibrate", rules, "--history", str(history), "--as-of", "now")
    assert calibrated.exit_code == 0, calibrated.output
    # The starter history lies in the past: a window ending now holds all of it, and one
    # starting now holds none, which is the simulator's usual "empty window" usage error.
    ends_now = run("simulate", rules, "--history", str(history), "--end", "now", "--format", "json")
    assert ends_now.exit_code == 0, ends_now.output
    starts_now = run("simulate", rules, "--history", str(history), "--start", "now")
    assert starts_now.exit_code == 2 and "Traceback" not in starts_now.output
    same = run("simulate", rules, "--history", str(history), "--start", "now", "--end", "now")
    assert same.exit_code == 2 and "--end must come after --start" in same.stderr


def test_a_bad_instant_says_now_is_allowed():
    result = run("score", str(ACME_DIR / "scoring.score"), "--leads", str(DATA / "leads.csv"),
                 "--events", str(DATA / "events.csv"), "--as-of", "yesterday")
    assert result.exit_code == 2
    assert "'yesterday' is not a date" in result.stderr and "or now" in result.stderr


@pytest.mark.parametrize("output_format, name", [("text", "report.txt"), ("markdown", "report.md"),
                                                 ("json", "report.json")])
def test_simulate_says_where_it_wrote(tmp_path, output_format, name):
    assert run("init", str(tmp_path / "p")).exit_code == 0
    target = tmp_path / name
    result = run("simulate", str(tmp_path / "p" / "rules" / "scoring.score"), "--history",
                 str(tmp_path / "p" / "history"), "--format", output_format, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.is_file()
    assert f"wrote {target}" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("separator, said", [(";", "`;`"), ("\t", "tabs")])
def test_a_csv_separated_otherwise_than_by_commas_gets_a_hint(tmp_path, separator, said):
    # spreadsheets in many locales export CSV with `;`: the header is one column holding every name
    (tmp_path / "leads.csv").write_text(separator.join(["lead_id", "industry"]) + "\nL-1" + separator + "Software\n")
    result = run("score", str(ACME_DIR / "scoring.score"), "--leads", str(tmp_path / "leads.csv"),
                 "--events", str(DATA / "events.csv"), "--as-of", "2026-05-01")
    assert result.exit_code == 1, result.output
    assert f"separated by {said}" in result.stderr and "comma-separated" in result.stderr
    assert "Traceback" not in result.output

"""`leadscore test`: `-k PATTERN`, `--update` (actual values written over the expected ones,
in place) and `--coverage-format json`; segment labels in the coverage."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.dsl.diagnostics import Span
from leadscore.testing.model import ScoreExpectation
from leadscore.testing.runner import score_matches
from leadscore.testing.update import _label_text, _score_text, apply, Edit


def run(*args: str):
    return CliRunner().invoke(main, ["test", *args])


@pytest.fixture
def project(tmp_path) -> Path:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--requirement", "0.1.0"])
    assert result.exit_code == 0
    return tmp_path / "p"


def edit_rules(project: Path, *pairs: tuple[str, str]) -> None:
    path = project / "rules" / "scoring.score"
    text = path.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)


# --- -k ------------------------------------------------------------------------------------------

def test_k_runs_the_cases_whose_name_contains_the_pattern(project):
    result = run(str(project), "-k", "DEMO")
    assert result.exit_code == 0, result.output
    ran = [line for line in result.stdout.splitlines() if line.endswith("PASSED")]
    assert [line.split("::")[1] for line in ran] == [
        "senior buyer at a large software company who asked for a demo PASSED",
        "a second demo request counts once PASSED"]
    assert "2 passed, 2 deselected" in result.stdout.splitlines()[-1]
    both = json.loads(run(str(project), "-k", "free email", "-k", "no activity", "--format", "json").stdout)
    assert [c["name"] for c in both["cases"]] == ["free email address that unsubscribed",
                                                  "small company with no activity"]
    assert both["summary"]["deselected"] == 2


def test_k_matching_nothing_is_a_usage_error(project):
    result = run(str(project), "-k", "no such case")
    assert result.exit_code == 2
    assert "no case name contains 'no such case'" in result.output


def test_k_only_runs_the_chosen_cases_so_a_failing_other_case_does_not_count(project):
    edit_rules(project, ("+15 per webinar_attended", "+16 per webinar_attended"))
    assert run(str(project)).exit_code == 1
    assert run(str(project), "-k", "no activity").exit_code == 0


# --- --update --------------------------------------------------------------------------------------

def test_update_rewrites_only_the_failed_values_in_place(project):
    tests = project / "rules" / "scoring.test.yaml"
    before = tests.read_text()
    # fit +5 for software (case 1: 80 -> 85; case 4 is financial services: 45 -> 50),
    # grade A needs 90 (case 1: A -> B), mql needs interest 70 (cases 1 and 4: true -> false).
    edit_rules(project, ('+30 if industry in ["Software", "Financial Services"]',
                         '+35 if industry in ["Software", "Financial Services"]'),
               ("A if fit >= 70", "A if fit >= 90"), ("const mql_interest = 30", "const mql_interest = 70"))
    result = run(str(project), "--update")
    assert result.exit_code == 0, result.output
    assert "FAILED" in result.stdout                                     # the report of the run itself
    updated = [line for line in result.stderr.splitlines() if line.startswith("updated ")]
    assert len(updated) == 5
    assert any(line.endswith("score `fit`: 80 → 85") for line in updated)
    after = tests.read_text()
    changed = [line[:1] + line[2:] for line in difflib.ndiff(before.splitlines(), after.splitlines())
               if line[:1] in "+-"]
    assert changed == [
        "-        fit: 80            # 30 industry + 20 title + 30 size",
        "+        fit: 85            # 30 industry + 20 title + 30 size",
        "-      thresholds: {mql: true}", "+      thresholds: {mql: false}",
        "-      segments: {grade: A}", "+      segments: {grade: B}",
        "-      scores: {fit: 45, interest: 40}", "+      scores: {fit: 50, interest: 40}",
        "-      thresholds: {mql: true}", "+      thresholds: {mql: false}",
    ]
    again = run(str(project))
    assert again.exit_code == 0, again.output


def test_update_leaves_fires_to_the_author_and_fails(project):
    tests = project / "rules" / "scoring.test.yaml"
    edit_rules(project, ("+2  per page_view, max 20", "+2  per page_view where url starts_with \"/x\", max 20"))
    result = run(str(project), "--update")
    assert result.exit_code == 1                       # `fires: [... page_views ...]` cannot be copied
    assert "fires: [target_industry, senior_title, company_size, demo_request, pricing_page," in tests.read_text()
    assert run(str(project)).exit_code == 1


def test_update_keeps_crlf_and_handles_value_with_tolerance(project):
    tests = project / "rules" / "scoring.test.yaml"
    text = tests.read_text().replace("interest: 65.72    #", "interest: {value: 60, tolerance: 0.01}    #")
    tests.write_bytes(text.replace("\n", "\r\n").encode())
    result = run(str(project), "--update")
    assert result.exit_code == 0, result.output
    data = tests.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert b"interest: {value: 65.72, tolerance: 0.01}    #" in data
    assert run(str(project)).exit_code == 0


def test_update_with_json_keeps_standard_output_json(project):
    edit_rules(project, ("+5  otherwise", "+6  otherwise"))
    result = run(str(project), "--update", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["failed"] == 1
    assert "score `fit`: 5 → 6" in result.stderr


@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1e-9, 0.001, 0.005, 0.5, 3.0]))
def test_the_written_score_passes_with_its_tolerance(actual, tolerance):
    expectation = ScoreExpectation("fit", 1.0, tolerance, Span.point("t.yaml", 1, 1))
    text = _score_text(expectation, actual)
    assert score_matches(float(text), actual, tolerance)


@pytest.mark.parametrize("label, text", [("B", "B"), ("call_within_24h", "call_within_24h"),
                                         ("yes", '"yes"'), ("No", '"No"'), ("null", '"null"'),
                                         ("us based", '"us based"'), ('a"b\\c', '"a\\"b\\\\c"'),
                                         (None, "null")])
def test_labels_are_written_so_yaml_reads_them_back(label, text):
    import yaml

    assert _label_text(label) == text
    assert yaml.safe_load(f"k: {text}")["k"] == label


def test_apply_edits_several_values_on_one_line():
    span = lambda column, end: Span("t.yaml", 2, column, 2, end)   # noqa: E731
    text = "a: 1\nscores: {fit: 45, interest: 40}  # kept\n"
    edits = [Edit(span(15, 17), "fit", "45", "50.5"), Edit(span(29, 31), "interest", "40", "7")]
    assert apply(text, edits) == "a: 1\nscores: {fit: 50.5, interest: 7}  # kept\n"


# --- coverage: labels and JSON --------------------------------------------------------------------

def test_coverage_counts_segment_labels_and_names_the_ones_not_reached(project):
    result = run(str(project), "-k", "demo")          # grades A and B only
    lines = result.stdout.splitlines()
    assert "  segment labels: 2 of 3 reached" in lines
    rules = project / "rules" / "scoring.score"
    label_line = next(n for n, line in enumerate(rules.read_text().splitlines(), 1) if "C otherwise" in line)
    assert f"    {rules}:{label_line}:3: segment grade label C" in lines


def test_coverage_format_json_is_one_document_for_tools(project):
    result = run(str(project), "-k", "demo", "--coverage-format", "json", "--coverage-min", "50")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert "PASSED" in result.stderr                   # the report still shows, on stderr
    assert document["coverage_min"] == 50 and document["meets_minimum"] is True
    (ruleset,) = document["rulesets"]
    assert ruleset["ruleset"] == str(project / "rules" / "scoring.score")
    assert ruleset["total"] == len(ruleset["rules"]) and ruleset["covered"] == sum(r["covered"] for r in ruleset["rules"])
    free_email = next(r for r in ruleset["rules"] if r["rule"] == "free_email")
    assert free_email["covered"] is False and free_email["line"] > 0 and free_email["branch"] is None
    assert [(label["label"], label["reached"]) for label in ruleset["labels"]] == [("A", True), ("B", True),
                                                                                 ("C", False)]
    assert (ruleset["labels_reached"], ruleset["labels_total"]) == (2, 3)
    below = run(str(project), "-k", "demo", "--coverage-format", "json", "--coverage-min", "100")
    assert below.exit_code == 1 and json.loads(below.stdout)["meets_minimum"] is False

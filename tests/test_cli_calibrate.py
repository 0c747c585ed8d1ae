"""`leadscore calibrate` end to end through the command line, on a history worked out by hand
(SIMULATION.md §5, docs/calibrate.md).

Tests assert exit codes, numbers and keys, never the wording of messages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulate_cli_support import BODY, invoke, loads
from test_simulator_support import history, ruleset


# --- 6. `leadscore calibrate` on a history worked out by hand (SIMULATION.md §5) -------------------------------
#
# lead industry  has_budget  events before its success (any time without one)   success
# L1   Software  true        demo_request 01-02                                  won 01-05 00:00
# L2   Software  yes         demo_request 01-03                                  Won 01-06
# L3   Software  false       page_view 01-02                                     WON 01-10
# L4   Retail    no          page_view 01-02                                     (lost 01-08)
# L5   Retail    (missing)   page_view 01-03, demo_request 01-20                 -
# L6   Other     0           page_view 01-04                                     -
# L7   (missing) TRUE        email_open 01-02 (its demo_request at 01-03 00:00   won 01-03 00:00
#                            is AT its success: not before it, not counted)
# L8   Retail    False       -                                                   -
#
# 4 successes of 8: base rate 0.5. Lift = rate / 0.5; with --min-count 1 the best qualifying lift is
# 2 (email_open, Software, industry missing, has_budget true), so points = round(10 * log2(lift)):
#   demo_request      L1 L2 L5     2/3  lift 4/3  -> round(4.15) = 4
#   page_view         L3 L4 L5 L6  1/4  lift 1/2  -> -10
#   email_open        L7           1/1  lift 2    -> 10
#   industry Retail   L4 L5 L8     0/3  lift 0; points from half a success: 0.5/3 / 0.5 = 1/3 -> round(-15.85) = -16
#   industry Other    L6           0/1  half a success: lift 1 -> 0 points, no rule
#   has_budget false  L3 L4 L6 L8  1/4  lift 1/2  -> -10

CALIBRATE_LEADS = [
    {"lead_id": "L1", "industry": "Software", "has_budget": "true"},
    {"lead_id": "L2", "industry": "Software", "has_budget": "yes"},
    {"lead_id": "L3", "industry": "Software", "has_budget": "false"},
    {"lead_id": "L4", "industry": "Retail", "has_budget": "no"},
    {"lead_id": "L5", "industry": "Retail"},
    {"lead_id": "L6", "industry": "Other", "has_budget": "0"},
    {"lead_id": "L7", "has_budget": "TRUE"},
    {"lead_id": "L8", "industry": "Retail", "has_budget": "False"},
]
CALIBRATE_EVENTS = [
    ("L1", "demo_request", "2026-01-02T10:00:00Z", None), ("L2", "demo_request", "2026-01-03T10:00:00Z", None),
    ("L3", "page_view", "2026-01-02T10:00:00Z", "/a"), ("L4", "page_view", "2026-01-02T10:00:00Z", "/a"),
    ("L5", "page_view", "2026-01-03T10:00:00Z", "/a"), ("L5", "demo_request", "2026-01-20T10:00:00Z", None),
    ("L6", "page_view", "2026-01-04T10:00:00Z", "/a"), ("L7", "email_open", "2026-01-02T10:00:00Z", None),
    ("L7", "demo_request", "2026-01-03T00:00:00Z", None),
]
CALIBRATE_OUTCOMES = [
    ("L1", "won", "2026-01-05T00:00:00Z"), ("L2", "Won", "2026-01-06T00:00:00Z"),
    ("L3", "WON", "2026-01-10T00:00:00Z"), ("L7", "won", "2026-01-03T00:00:00Z"),
    ("L4", "lost", "2026-01-08T00:00:00Z"),
]


@pytest.fixture
def calibration(tmp_path: Path) -> tuple[Path, Path]:
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", CALIBRATE_LEADS, CALIBRATE_EVENTS, CALIBRATE_OUTCOMES)
    return rules, folder


def calibrate_json(rules: Path, folder: Path, *args) -> dict:
    result = invoke(rules, "--history", folder, "--format", "json", *args, command="calibrate")
    assert result.exit_code == 0, result.output
    return loads(result.stdout)


def signals(report: dict) -> dict:
    return {s["label"]: (s["leads"], s["successes"], s["lift"], s["points"]) for s in report["signals"]}


def test_calibrate_counts_and_points_worked_out_by_hand(calibration):
    rules, folder = calibration
    report = calibrate_json(rules, folder, "--min-count", "1")
    assert (report["leads"], report["successes"], report["base_rate"]) == (8, 4, 0.5)
    assert (report["best_lift"], report["divisor"]) == (2, 1)
    found = signals(report)
    assert found["demo_request"] == (3, 2, pytest.approx(4 / 3), 4)
    assert found["page_view"] == (4, 1, 0.5, -10)
    assert found["email_open"] == (1, 1, 2, 10)
    assert found['industry == "Software"'] == (3, 3, 2, 10)
    assert found['industry == "Retail"'] == (3, 0, 0, -16)
    assert found['industry == "Other"'][:3] == (1, 0, 0) and not found['industry == "Other"'][3]
    assert found["industry is missing"] == (1, 1, 2, 10)
    assert found["has_budget == true"] == (3, 3, 2, 10)
    assert found["has_budget == false"] == (4, 1, 0.5, -10)
    # the block pasted after the ruleset checks, and holds exactly the signals with points
    rules_with = {s["rule"]: s["points"] for s in report["signals"] if s["rule"]}
    assert rules_with == {"ev_demo_request": 4, "ev_page_view": -10, "ev_email_open": 10, "industry_software": 10,
                          "industry_retail": -16, "industry_missing": 10, "has_budget_true": 10,
                          "has_budget_false": -10}
    pasted = rules.parent / "pasted.score"
    pasted.write_text(rules.read_text() + "\n" + report["suggested_rules"])
    assert invoke(pasted, command="check").exit_code == 0


def test_calibrate_as_of_keeps_what_happened_at_that_instant(calibration):
    rules, folder = calibration
    # --as-of 2026-01-05 (midnight): L1's won at exactly 01-05 00:00 and L7's count; L2 and L3's later
    # ones do not, nor L5's demo request of 01-20. L8 (no creation time, no event) does not exist
    # yet at 01-05: successes 2 of 7.
    report = calibrate_json(rules, folder, "--min-count", "1", "--as-of", "2026-01-05")
    assert report["as_of"] == "2026-01-05T00:00:00Z"
    assert (report["leads"], report["successes"], report["base_rate"]) == (7, 2, pytest.approx(2 / 7))
    found = signals(report)
    assert found["demo_request"][:2] == (2, 1)          # L1 (before its success) and L2; not L5, not L7
    assert found["page_view"][:2] == (4, 0)
    assert found['industry == "Software"'][:2] == (3, 1)


def test_calibrate_success_stage_is_matched_in_any_case(calibration):
    rules, folder = calibration
    default = calibrate_json(rules, folder, "--min-count", "1")
    assert calibrate_json(rules, folder, "--min-count", "1", "--success", " WON ")["signals"] == default["signals"]
    lost = calibrate_json(rules, folder, "--min-count", "1", "--success", "Lost")
    assert (lost["successes"], lost["base_rate"]) == (1, 0.125)
    assert signals(lost)['industry == "Retail"'][:2] == (3, 1)


def test_calibrate_strict_writes_nothing_and_bad_rows_are_shown(calibration):
    rules, folder = calibration
    with open(folder / "events.csv", "a", encoding="utf-8") as handle:
        handle.write("L1,page_view,yesterday,/x\n")
    out = folder.parent / "cal.json"
    result = invoke(rules, "--history", folder, "--strict", "-o", out, command="calibrate")
    assert result.exit_code == 1 and f"{folder / 'events.csv'}:11" in result.stderr
    assert not out.exists()
    result = invoke(rules, "--history", folder, "-o", out, "--format", "json", command="calibrate")
    assert result.exit_code == 0 and f"{folder / 'events.csv'}:11" in result.stderr
    assert loads(out.read_text(encoding="utf-8"))["skipped_rows"] == {"events": 1}


def test_calibrate_bad_ruleset_and_missing_tables(calibration):
    rules, folder = calibration
    bad = rules.parent / "bad.score"
    bad.write_text('ruleset "t" version 1\nschema "schema.yaml"\nthreshold mql: interest >=\n')
    result = invoke(bad, "--history", folder, command="calibrate")
    assert result.exit_code == 1 and re.search(r"bad\.score:3:\d+", result.stderr)
    assert invoke(rules, "--history", rules.parent, command="calibrate").exit_code == 2
    assert invoke(rules, "--history", folder, "--as-of", "2026-02-30", command="calibrate").exit_code == 2

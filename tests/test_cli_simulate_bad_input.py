"""`leadscore simulate` on bad input: unusable rows counted and shown, --strict, and the
usage errors (exit 2) and failures (exit 1) of bad options, rulesets and tables.

Tests assert exit codes, numbers and keys, never the wording of messages.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from simulate_cli_support import BODY, EVENTS, LEADS, OUTCOMES, hand_history, invoke, loads, mql, simulate_json, weeks
from test_simulator_support import history, ruleset, write_table


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    return hand_history(tmp_path)

# --- 5. bad input ---------------------------------------------------------------------------------------

@pytest.fixture
def messy(tmp_path: Path) -> tuple[Path, Path]:
    """Three leads and rows that cannot be used: events.csv row 4 an unknown event type, row 5 a stray
    event of an unknown lead a year later, row 6 a bad timestamp; an outcome of an unknown lead a
    year later; L1 repeated in leads.csv row 5 with a creation time a year later."""
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history",
                     [{"lead_id": "L1"}, {"lead_id": "L2"}, {"lead_id": "L3"},
                      {"lead_id": "L1", "created_at": "2027-03-01T00:00:00Z"}],
                     [("L1", "page_view", "2026-01-05T09:00:00Z", None),
                      ("L1", "page_view", "2026-01-06T10:00:00Z", None),
                      ("L2", "pageview", "2026-01-07T12:00:00Z", None),
                      ("L9", "page_view", "2027-01-08T09:00:00Z", None),
                      ("L3", "page_view", "not-a-time", None),
                      ("L3", "demo_request", "2026-01-09T00:00:00Z", None)],
                     [("L1", "won", "2026-01-16T10:00:00Z"), ("L8", "won", "2027-02-01T00:00:00Z")],
                     [("L2", "employees", "80", "2026-01-05T00:00:00Z"), ("L7", "employees", "5", "2027-01-01")])
    return rules, folder


def test_unusable_rows_are_counted_and_shown_with_file_and_row(messy):
    rules, folder = messy
    result = invoke(rules, "--history", folder, "--format", "json")
    assert result.exit_code == 0
    report = loads(result.stdout)
    assert report["skipped_rows"] == {"leads": 1, "events": 3, "outcomes": 1, "changes": 1}
    kinds = {(p["table"], p["kind"]): p["count"] for p in report["problems"]}
    assert kinds == {("leads", "duplicate_lead"): 1, ("events", "unknown_event_type"): 1,
                     ("events", "unknown_lead"): 1, ("events", "bad_timestamp"): 1, ("outcomes", "unknown_lead"): 1,
                     ("changes", "unknown_lead"): 1}
    events = str(folder / "events.csv")
    for row in (4, 5, 6):
        assert f"{events}:{row}" in result.stderr
    assert f"{folder / 'leads.csv'}:5" in result.stderr
    assert f"{folder / 'outcomes.csv'}:3" in result.stderr     # L8, under the header and L1's row
    assert f"{folder / 'changes.csv'}:3" in result.stderr      # L7
    # L1 crosses at 01-06 10:00 and is won 10 d later; L3's demo (01-09) crosses; L2 has no usable event
    m = mql(report)
    assert (report["leads"], report["leads_in_window"], m["crossed"], m["precision"]) == (3, 2, 2, 0.5)


def test_stray_rows_do_not_move_the_window(messy):
    rules, folder = messy
    # the latest usable event is L3's demo, 01-09 00:00 (outcomes do not stretch the default end): the
    # stray event (2027-01-08), the unknown lead's outcome (2027-02-01) and the repeated lead's
    # creation time (2027-03-01) are left out
    report = simulate_json(rules, folder)
    assert report["window"] == {"start": "2026-01-05T00:00:00Z", "end": "2026-01-10T00:00:00Z"}
    assert weeks(mql(report)) == [("2026-W02", 2)]


def test_outcomes_without_a_usable_stage_or_time_are_left_out(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY)
    # outcomes.csv rows 9, 10, 11: a bad time, no stage, an impossible offset
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES + [
        ("L1", "won", "soon"), ("L2", "", "2026-01-09T00:00:00Z"), ("L6", "won", "2026-01-09T00:00:00+25:00")])
    result = invoke(rules, "--history", folder, "--format", "json")
    assert result.exit_code == 0
    report = loads(result.stdout)
    assert report["skipped_rows"] == {"outcomes": 3}
    assert f"{folder / 'outcomes.csv'}:9" in result.stderr and f"{folder / 'outcomes.csv'}:10" in result.stderr
    assert report["variants"] == simulate_json(rules, history(tmp_path / "clean", LEADS, EVENTS, OUTCOMES))["variants"]


def test_a_bad_value_makes_a_cell_missing_and_an_unknown_column_is_never_an_error(project):
    rules, folder = project
    # leads.csv row 3 (L2): employees `many` is not a number; `color` is no field of the schema
    write_table(folder / "leads.csv", ["lead_id", "color", "employees"],
                [[lead["lead_id"], "red", "many" if lead["lead_id"] == "L2" else "5"] for lead in LEADS])
    result = invoke(rules, "--history", folder, "--format", "json")
    assert result.exit_code == 0
    report = loads(result.stdout)
    assert report["skipped_rows"] == {}          # both rows stay
    assert {(p["table"], p["kind"]) for p in report["problems"]} == {("leads", "unknown_column"),
                                                                     ("leads", "bad_value")}
    assert f"{folder / 'leads.csv'}:3" in result.stderr
    assert mql(report)["crossed"] == 4
    assert invoke(rules, "--history", folder, "--strict").exit_code == 1
    write_table(folder / "leads.csv", ["lead_id", "color"], [[lead["lead_id"], "red"] for lead in LEADS])
    assert invoke(rules, "--history", folder, "--strict", "--format", "json").exit_code == 0


def test_field_changes_are_seen_from_the_next_instant(tmp_path):
    # ready: has_budget == true. L1 and L2 have has_budget true in the leads table. L1 has changes: false
    # on 01-01 (before its first instant, so seen there), true on 01-10 12:00, seen at the next instant,
    # midnight 01-11 -> L1 crosses 01-11 00:00 and is won 01-16 10:00: 5 d 10 h later. L2 keeps its
    # leads-table value at every instant: it crosses at its first instant, 01-07 12:00, never won.
    body = "score fit {\n  budget: +20 if has_budget == true\n}\nthreshold ready: fit >= 20\n"
    rules = ruleset(tmp_path / "rules", body)
    leads = [dict(lead, has_budget="true") if lead["lead_id"] in ("L1", "L2") else lead for lead in LEADS]
    changes = [("L1", "has_budget", "false", "2026-01-01T00:00:00Z"),
               ("L1", "has_budget", "true", "2026-01-10T12:00:00Z")]
    folder = history(tmp_path / "history", leads, EVENTS, OUTCOMES, changes)
    report = simulate_json(rules, folder)
    ready = report["variants"]["baseline"]["thresholds"]["ready"]
    assert ready["crossed"] == 2
    assert ready["recall"] == pytest.approx(1 / 3)                   # L1 of L1, L3, L4
    assert ready["lead_time_median_days"] == pytest.approx(5 + 10 / 24)
    assert not any("has_budget" in note for note in report["notes"])
    # without the changes table, today's value is used from L1's first instant (01-05 09:00), with a note
    (folder / "changes.csv").unlink()
    report = simulate_json(rules, folder)
    ready = report["variants"]["baseline"]["thresholds"]["ready"]
    assert ready["lead_time_median_days"] == pytest.approx(11 + 1 / 24)
    assert any("`ready`" in note and "`has_budget`" in note for note in report["notes"])


def test_text_report_on_stdout_lists_the_problems_itself(messy):
    rules, folder = messy
    result = invoke(rules, "--history", folder)
    assert result.exit_code == 0
    assert f"{folder / 'events.csv'}:4" in result.stdout


def test_strict_turns_a_bad_row_into_an_error_and_writes_nothing(messy):
    rules, folder = messy
    out = folder.parent / "out.json"
    result = invoke(rules, "--history", folder, "--strict", "-o", out)
    assert result.exit_code == 1
    assert re.search(r"(leads|events)\.csv:\d+", result.stderr)
    assert not out.exists()
    out.write_text("before")
    assert invoke(rules, "--history", folder, "--strict", "-o", out).exit_code == 1
    assert out.read_text() == "before"


def test_strict_on_a_clean_history_runs(project):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--strict", "--format", "json").exit_code == 0


@pytest.mark.parametrize("args", [
    ("--start", "2027-01-01"),                                   # after every timestamp
    ("--start", "2026-01-21"),                                   # at the default end
    ("--end", "2026-01-01"),                                     # before the default start
    ("--start", "2026-01-10", "--end", "2026-01-09"),
    ("--start", "2026-01-10", "--end", "2026-01-10"),
    ("--start", "yesterday"),
    ("--end", "2026-13-01"),
])
def test_an_empty_window_or_a_bad_date_is_a_usage_error(project, args):
    rules, folder = project
    result = invoke(rules, "--history", folder, *args)
    assert result.exit_code == 2
    assert result.stdout == ""


def test_a_start_after_the_last_timestamp_but_before_the_default_end_is_a_usage_error(project):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--start", "2026-01-20T16:00:00Z").exit_code == 2


def test_a_ruleset_with_a_syntax_error_exits_1_with_its_position(project):
    rules, folder = project
    bad = rules.parent / "bad.score"
    bad.write_text('ruleset "t" version 1\nschema "schema.yaml"\nthreshold mql: interest >=\n')
    result = invoke(bad, "--history", folder)
    assert result.exit_code == 1
    assert re.search(r"bad\.score:3:\d+", result.stderr)


def test_a_set_value_the_rules_cannot_use_exits_1(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY.replace("decay none\n  demo", "decay none, max cap\n  demo")
                    .replace("const bar = 20", "const bar = 20\nconst cap = 50"))
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    assert invoke(rules, "--history", folder, "--set", "cap=40", "--format", "json").exit_code == 0
    result = invoke(rules, "--history", folder, "--set", "cap=-5")
    assert result.exit_code == 1
    assert re.search(r":\d+:\d+", result.stderr)
    assert re.search(r"max cap\n *\^\^\^", result.stderr)    # the rule file's line, a caret under `cap`


@pytest.mark.parametrize("args", [
    ("--set", "nope=3"), ("--set", "bar=abc"), ("--set", "bar=true"), ("--set", "bar"), ("--set", "=3"),
    ("--sweep", "nope=1:3:1"), ("--set", "`bar`"), ("--set", "`bar`=  "), ("--set", "``=3"),
    ("--sweep", "`bar`"),
])
def test_a_bad_set_is_a_usage_error(project, args):
    rules, folder = project
    assert invoke(rules, "--history", folder, *args).exit_code == 2


def test_baseline_and_against_together_is_a_usage_error(project):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--baseline", rules, "--against", "HEAD").exit_code == 2


def test_missing_or_doubled_tables_are_a_usage_error(project, tmp_path):
    rules, folder = project
    assert invoke(rules, "--history", rules.parent).exit_code == 2                   # no table there
    assert invoke(rules, "--leads", folder / "leads.csv").exit_code == 2             # events, outcomes missing
    assert invoke(rules).exit_code == 2
    assert invoke(rules, "--history", tmp_path / "nowhere").exit_code == 2
    explicit = invoke(rules, "--leads", folder / "leads.csv", "--events", folder / "events.csv",
                      "--outcomes", folder / "outcomes.csv", "--format", "json")
    assert explicit.exit_code == 0
    assert loads(explicit.stdout)["variants"] == simulate_json(rules, folder)["variants"]
    shutil.copy(folder / "leads.csv", folder / "leads.jsonl")
    assert invoke(rules, "--history", folder).exit_code == 2


def test_a_table_without_a_required_column_or_without_any_timestamp_exits_1(project, tmp_path):
    rules, _ = project
    folder = tmp_path / "broken"
    folder.mkdir()
    write_table(folder / "leads.csv", ["lead_id"], [["L1"]])
    write_table(folder / "events.csv", ["lead_id", "type"], [["L1", "page_view"]])
    write_table(folder / "outcomes.csv", ["lead_id", "stage", "at"], [])
    assert invoke(rules, "--history", folder).exit_code == 1
    write_table(folder / "events.csv", ["lead_id", "type", "at"], [])
    assert invoke(rules, "--history", folder).exit_code == 1



"""Outcomes beyond "won" (docs/simulate.md "Lost deals and revenue", docs/calibrate.md): the lost
stage, decided precision, leads still open, revenue; `calibrate --decided-only` and `--as-of`
counting only the leads that exist then. On the six-lead history of simulate_cli_support.py:

mql (interest >= 20) crosses: L1 01-06 10:00, L2 01-07 12:00, L4 01-13 08:00, L6 01-10 10:00.
Successes (won): L1 01-16 10:00 (amount 1000), L3 01-12 09:00 (500), L4 01-15 20:00 (250.5).
Other outcomes: L2 SQL 01-08 12:00 and Lost 01-20 15:00; L5 sql 01-14 12:00.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_calibrate import engine  # noqa: F401  (the fixture: each calibrate test on each engine)
from simulate_cli_support import BODY, EVENTS, LEADS, OUTCOMES, invoke, loads
from test_simulator_support import history, ruleset, write_table

AMOUNTS = {("L1", "won"): 1000, ("L3", "WON"): 500, ("L4", "Won"): 250.5, ("L4", "won"): 999}


def folder_with(tmp_path: Path, outcomes=OUTCOMES, amounts: dict | None = AMOUNTS, leads=LEADS) -> Path:
    folder = history(tmp_path / "history", leads, EVENTS)
    if amounts is None:
        write_table(folder / "outcomes.csv", ["lead_id", "stage", "at"], [list(o) for o in outcomes])
    else:
        write_table(folder / "outcomes.csv", ["lead_id", "stage", "at", "amount"],
                    [[*o, amounts.get(o[:2])] for o in outcomes])
    return folder


def mql(rules: Path, folder: Path, *args) -> tuple[dict, dict]:
    result = invoke(rules, "--history", folder, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    report = loads(result.stdout)
    return report, report["variants"]["baseline"]["thresholds"]["mql"]


def test_decided_precision_losses_and_open_leads_worked_out_by_hand(tmp_path):
    rules, folder = ruleset(tmp_path / "rules", BODY), folder_with(tmp_path)
    report, m = mql(rules, folder)
    # decided within 90 d of crossing: L1 and L4 won; L2 lost 01-20 15:00; L6 still open
    assert (m["losses"], m["open"], m["decided_precision"]) == (1, 1, pytest.approx(2 / 3))
    assert m["precision"] == 0.5 and report["lost_stage"] == "lost"
    # --lost in any case: L2's SQL 01-08 12:00 is its loss now; L5's sql is no crossed lead's
    _, m = mql(rules, folder, "--lost", "Sql")
    assert (m["losses"], m["open"]) == (1, 1)


def test_a_loss_outside_the_horizon_leaves_the_lead_open(tmp_path):
    rules, folder = ruleset(tmp_path / "rules", BODY), folder_with(tmp_path)
    # H = 12 d: L2's loss comes 13.1 d after its crossing; L1's success 10 d after still counts
    _, m = mql(rules, folder, "--horizon", "12d")
    assert (m["losses"], m["open"], m["decided_precision"]) == (0, 2, 1.0)


def test_without_the_lost_stage_decided_metrics_are_null_with_a_note(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = folder_with(tmp_path, [o for o in OUTCOMES if o[1] != "Lost"])
    report, m = mql(rules, folder)
    assert (m["losses"], m["open"], m["decided_precision"]) == (None, None, None)
    assert report["lost_stage"] is None and any("lost stage" in n for n in report["notes"])


def test_a_lost_stage_no_outcome_has_is_a_usage_error_naming_the_stages(tmp_path):
    rules, folder = ruleset(tmp_path / "rules", BODY), folder_with(tmp_path)
    result = invoke(rules, "--history", folder, "--lost", "churned")
    assert result.exit_code == 2 and "'sql'" in result.output and "'won'" in result.output


def test_revenue_after_crossing_revenue_recall_and_per_crossing(tmp_path):
    rules, folder = ruleset(tmp_path / "rules", BODY), folder_with(tmp_path)
    _, m = mql(rules, folder)
    # after crossing: L1 1000 + L4 250.5 (its first Won; the later won's 999 is not its success)
    assert m["revenue"] == pytest.approx(1250.5)
    # the window's revenue: L1, L3, L4 = 1750.5; flagged L1 and L4
    assert m["revenue_recall"] == pytest.approx(1250.5 / 1750.5)
    assert m["revenue_per_crossing"] == pytest.approx(1250.5 / 4)


def test_without_amounts_revenue_is_null(tmp_path):
    rules, folder = ruleset(tmp_path / "rules", BODY), folder_with(tmp_path, amounts=None)
    _, m = mql(rules, folder)
    assert (m["revenue"], m["revenue_recall"], m["revenue_per_crossing"]) == (None, None, None)


def test_the_reports_show_the_new_metrics(tmp_path):
    rules, folder = ruleset(tmp_path / "rules", BODY), folder_with(tmp_path)
    text = invoke(rules, "--history", folder).stdout
    assert "decided precision" in text and "66.7%" in text and "1,250.5" in text
    markdown = invoke(rules, "--history", folder, "--format", "markdown").stdout
    assert "| decided precision | 66.7% |" in markdown and "| still open | 1 |" in markdown
    page = invoke(rules, "--history", folder, "--format", "html").stdout
    assert "decided precision" in page and "revenue recall" in page


# --- calibrate ----------------------------------------------------------------------------------------

CALIBRATE_OUTCOMES = [("L1", "won", "2026-01-16T10:00:00Z"), ("L2", "lost", "2026-01-20T15:00:00Z"),
                      ("L3", "won", "2026-01-12T09:00:00Z"), ("L4", "won", "2026-01-15T20:00:00Z")]


def calibrate(rules: Path, folder: Path, *args, engine: str) -> dict:
    result = invoke(rules, "--history", folder, "--format", "json", "--min-count", "1", "--engine", engine, *args,
                    command="calibrate")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def signals(report: dict) -> dict:
    return {s["label"]: (s["leads"], s["successes"]) for s in report["signals"]}


def test_calibrate_decided_only_counts_leads_with_a_success_or_a_loss(tmp_path, engine):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = folder_with(tmp_path, CALIBRATE_OUTCOMES, amounts=None)
    every = calibrate(rules, folder, engine=engine)
    # all six leads: page_view before success by L1, L3, L4 (won) and L5, L6 (open)
    assert (every["leads"], every["successes"], signals(every)["page_view"]) == (6, 3, (5, 3))
    decided = calibrate(rules, folder, "--decided-only", engine=engine)
    # L5 and L6 have no outcome: open deals are no failures
    assert (decided["leads"], decided["successes"], signals(decided)["page_view"]) == (4, 3, (3, 3))
    assert signals(decided)["demo_request"] == (1, 0)
    assert decided["decided_only"] is True and decided["lost_stage"] == "lost"
    assert any("--decided-only" in n for n in decided["notes"])


def test_calibrate_decided_only_needs_the_lost_stage(tmp_path, engine):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = folder_with(tmp_path, CALIBRATE_OUTCOMES, amounts=None)
    result = invoke(rules, "--history", folder, "--decided-only", "--lost", "churned", "--engine", engine,
                    command="calibrate")
    assert result.exit_code == 2 and "'won'" in result.output


def test_calibrate_as_of_counts_leads_created_or_active_by_then(tmp_path, engine):
    rules = ruleset(tmp_path / "rules", BODY)
    leads = [dict(lead, created_at="2025-12-20T00:00:00Z") if lead["lead_id"] == "L5" else
             dict(lead, created_at="2026-02-01T00:00:00Z") if lead["lead_id"] == "L6" else lead for lead in LEADS]
    folder = folder_with(tmp_path, CALIBRATE_OUTCOMES, amounts=None, leads=leads)
    # 2026-01-01: only L5 exists (created before; nobody has an event yet)
    assert calibrate(rules, folder, "--as-of", "2026-01-01", engine=engine)["leads"] == 1
    # 2026-01-09: L1 (01-05), L2 (01-07), L3 (01-08) by their events, L5 by its creation; L6 is
    # created later and its first event (01-09 10:00) is after it; L3's success is not yet
    report = calibrate(rules, folder, "--as-of", "2026-01-09", engine=engine)
    assert (report["leads"], report["successes"]) == (4, 0)
    assert signals(report)["page_view"] == (2, 0)            # L1 and L3; L5's first is 01-14


def test_calibrate_names_where_rules_after_the_event_and_its_condition(tmp_path, engine):
    body = BODY.replace("  demo: +30", '  pricing: +5 per page_view where url starts_with "/a"\n  demo: +30')
    rules = ruleset(tmp_path / "rules", body)
    folder = folder_with(tmp_path, CALIBRATE_OUTCOMES, amounts=None)
    report = calibrate(rules, folder, engine=engine)
    [signal] = [s for s in report["signals"] if s["kind"] == "where"]
    # L1, L3, L4 (won) and L5, L6 viewed a page under /a: 3 of 5 against 3 of 6
    assert (signal["leads"], signal["successes"]) == (5, 3)
    assert signal["rule"] == "ev_page_view_url_starts_with_a"
    assert 'ev_page_view_url_starts_with_a: ' in report["suggested_rules"]


def test_calibrate_bins_numeric_fields_by_quantiles_and_suggests_a_case_rule(tmp_path, engine):
    sizes = {"L1": 10, "L2": 200, "L3": 10, "L4": 5.5, "L5": 50}
    leads = [dict(lead, employees=sizes.get(lead["lead_id"])) for lead in LEADS]
    rules = ruleset(tmp_path / "rules", BODY)
    folder = folder_with(tmp_path, CALIBRATE_OUTCOMES, amounts=None, leads=leads)
    report = calibrate(rules, folder, engine=engine)
    # values 5.5, 10, 10, 50, 200: quartiles 10, 10, 50 -> edges 10 and 50
    found = {s["label"]: (s["leads"], s["successes"], s["range"]) for s in report["signals"]
             if s["field"] == "employees"}
    assert found == {"employees < 10": (1, 1, [None, 10]), "employees >= 10 and employees < 50": (2, 2, [10, 50]),
                     "employees >= 50": (2, 0, [50, None]), "employees is missing": (1, 0, None)}
    suggestion = report["suggested_rules"]
    branches = [line.split(" if ")[1] for line in suggestion.splitlines() if line.startswith("    ")]
    assert "  employees_range: case {" in suggestion
    assert branches == ["employees >= 50", "employees >= 10", "employees < 10"]
    pasted = rules.parent / "pasted.score"
    pasted.write_text(rules.read_text() + "\n" + suggestion)
    assert invoke(pasted, command="check").exit_code == 0


def test_calibrate_bins_need_two_distinct_values(tmp_path, engine):
    leads = [dict(lead, employees=10) for lead in LEADS]
    rules = ruleset(tmp_path / "rules", BODY)
    folder = folder_with(tmp_path, CALIBRATE_OUTCOMES, amounts=None, leads=leads)
    assert not [s for s in calibrate(rules, folder, engine=engine)["signals"] if s["field"] == "employees"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0, 5.0, 7.5, 1e6]),
                                    st.floats(-1e9, 1e9)), st.booleans()), max_size=30))
def test_numeric_ranges_each_hold_a_lead_and_together_every_value(pairs):
    # [0, 2] once gave an empty middle range, whose rate divided by zero in calibrate
    from leadscore.simulator import calibrate_bins

    found, n_missing, k_missing = calibrate_bins.count(pairs)
    assert all(n > 0 for _, n, _ in found)
    present = [won for value, won in pairs if value is not None]
    if found:
        assert sum(n for _, n, _ in found) == len(present) and sum(k for _, _, k in found) == sum(present)
    assert n_missing == len(pairs) - len(present) and k_missing == sum(won for v, won in pairs if v is None)

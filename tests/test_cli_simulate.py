"""`leadscore simulate` end to end, through the command line: one ruleset's JSON report
(SIMULATION.md §1-§4, §6, LANGUAGE.md §9, docs/simulate.md), every number worked out by hand from
the six-lead history of simulate_cli_support.py; windows, horizons, success stages and table formats.

Tests assert exit codes, numbers and keys, never the wording of messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulate_cli_support import (BODY, EVENTS, LEADS, OUTCOMES, SECTION6_METRICS, hand_history, invoke, mql,
                                  simulate_json, weeks)
from test_simulator_support import history, ruleset


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    return hand_history(tmp_path)


# --- 1. one ruleset: the JSON of SIMULATION.md §6, number by number --------------------------------------

def test_the_json_report_has_the_section_6_shape_and_the_numbers_worked_out_by_hand(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--capacity", "1", "--target", "10")
    assert report["window"] == {"start": "2026-01-05T00:00:00Z", "end": "2026-01-21T00:00:00Z"}
    assert (report["leads"], report["successes"]) == (6, 3)
    assert (report["leads_in_window"], report["successes_in_window"]) == (6, 3)
    assert report["skipped_rows"] == {}
    assert report["success_stage"] == "won" and report["horizon_days"] == 90
    assert report["capacity"] == 1 and report["target"] == 10
    assert list(report["variants"]) == ["baseline"]
    baseline = report["variants"]["baseline"]
    assert baseline["ruleset"] == "t" and str(baseline["version"]) == "1"
    assert baseline["constants"] == {"bar": 20}
    assert set(baseline["thresholds"]) == {"mql", "hot"}
    for metrics in baseline["thresholds"].values():
        assert set(SECTION6_METRICS) <= set(metrics)
    m = mql(report)
    # crossed: L1, L2, L4, L6 cross inside the window.
    assert m["crossed"] == 4
    # precision: success in [crossing, crossing + 90d]: L1 (10 d after), L4 (2.5 d); L2 and L6 never
    # succeed (L2's SQL and Lost are other stages) -> 2 / 4.
    assert m["precision"] == 0.5
    # recall: successes in the window L1, L3, L4; crossed at or before them: L1, L4 -> 2 / 3.
    assert m["recall"] == pytest.approx(2 / 3)
    # base rate: all 6 leads have an instant in the window; succeeding within 90 d of their first one:
    # L1 (01-05 09:00 -> 01-16), L3 (01-08 -> 01-12), L4 (01-13 -> 01-15) -> 3 / 6; lift 0.5 / 0.5.
    assert m["base_rate"] == 0.5
    assert m["lift"] == pytest.approx(1.0)
    # lead times: L1 01-06 10:00 -> 01-16 10:00 = 10 d; L4 01-13 08:00 -> 01-15 20:00 = 2.5 d.
    # median 6.25; p90 = 2.5 + 0.9 * (10 - 2.5) = 9.25.
    assert m["lead_time_median_days"] == pytest.approx(6.25)
    assert m["lead_time_p90_days"] == pytest.approx(9.25)
    # censored: every crossing + 90 d lies after the last timestamp (01-20 15:00).
    assert m["censored"] == 4
    # weekly: W02 L1, L2, L6 = 3; W03 L4 = 1; W04 none -> mean 4/3; p90 of [0, 1, 3] at rank 1.8 =
    # 1 + 0.8 * 2 = 2.6; max 3; over capacity 1: W02 only.
    assert weeks(m) == [("2026-W02", 3), ("2026-W03", 1), ("2026-W04", 0)]
    assert m["weekly_mean"] == pytest.approx(4 / 3)
    assert m["weekly_p90"] == pytest.approx(2.6)
    assert m["weekly_max"] == 3
    assert m["weeks_over_capacity"] == 1
    # funnel: 6 leads -> 4 crossed -> 2 successes; target 10: ceil(10 / (2/6)) = 30 leads,
    # ceil(10 / (2/4)) = 20 crossings.
    assert m["funnel"] == {"leads": 6, "crossed": 4, "successes": 2, "crossed_rate": pytest.approx(4 / 6),
                           "success_rate": 0.5, "target": 10, "leads_needed": 30, "crossings_needed": 20}


def test_outcomes_do_not_stretch_the_default_end_and_earlier_winners_leave_the_base_rate(tmp_path):
    # L1: page_view 01-01, won 01-02 (before the window); L2: demo 01-10, won 01-11 18:00; L3: page_view
    # 01-11 09:00, lost 01-20. The latest event is L3's (01-11 09:00): the default end is 01-12, and
    # L3's later outcome does not move it. With --start 01-05, L1 still has instants in the window
    # (midnights after its event) but had succeeded before it starts: it is no base-rate candidate.
    # Candidates L2, L3; L2 succeeds within 90 d of its first instant -> base rate 1/2. mql: L2 crosses
    # at its demo and wins -> precision 1, lift 2. The funnel still starts from all 3 leads.
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", [{"lead_id": "L1"}, {"lead_id": "L2"}, {"lead_id": "L3"}],
                     [("L1", "page_view", "2026-01-01T10:00:00Z", "/a"), ("L2", "demo_request", "2026-01-10T10:00:00Z", None),
                      ("L3", "page_view", "2026-01-11T09:00:00Z", "/a")],
                     [("L1", "won", "2026-01-02T10:00:00Z"), ("L2", "won", "2026-01-11T18:00:00Z"),
                      ("L3", "lost", "2026-01-20T00:00:00Z")])
    report = simulate_json(rules, folder, "--start", "2026-01-05")
    assert report["window"] == {"start": "2026-01-05T00:00:00Z", "end": "2026-01-12T00:00:00Z"}
    m = mql(report)
    assert (m["crossed"], m["precision"], m["base_rate"], m["lift"]) == (1, 1.0, 0.5, 2.0)
    assert m["funnel"]["leads"] == 3
    # without --start the window opens on 01-01: L1 is a candidate again (its success lies within
    # 90 d of its first instant) -> 2 / 3
    assert mql(simulate_json(rules, folder))["base_rate"] == pytest.approx(2 / 3)


def test_a_success_stage_no_outcome_has_is_a_usage_error_naming_the_stages_seen(project):
    rules, folder = project
    result = invoke(rules, "--history", folder, "--success", "closed-won")
    assert result.exit_code == 2
    # the outcomes hold won (3, any case), sql (2) and lost (1): all named, most common first
    message = " ".join(result.output.split())
    assert "'closed-won'" in message and "'won' (4), 'sql' (2), 'lost' (1)" in message
    result = invoke(rules, "--history", folder, "--success", "SQL")      # any case, as matching is
    assert result.exit_code == 0, result.output
    result = invoke(rules, "--history", folder, "--success", "closed-won", command="calibrate")
    assert result.exit_code == 2 and "'won' (4)" in " ".join(result.output.split())


def test_a_history_without_any_outcome_still_simulates(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY)
    report = simulate_json(rules, history(tmp_path / "history", LEADS, EVENTS, []))
    assert mql(report)["crossed"] == 4 and mql(report)["precision"] == 0.0


def test_a_metric_whose_denominator_is_zero_is_null(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--capacity", "1", "--target", "10")
    hot = report["variants"]["baseline"]["thresholds"]["hot"]
    # nobody reaches 60: no crossing, so precision, lift and the lead times have nothing to divide by;
    # recall has 3 successes in the window, none flagged -> 0, not null.
    assert hot["crossed"] == 0 and hot["censored"] == 0
    assert hot["precision"] is None and hot["lift"] is None
    assert hot["lead_time_median_days"] is None and hot["lead_time_p90_days"] is None
    assert hot["recall"] == 0.0
    assert (hot["weekly_mean"], hot["weekly_p90"], hot["weekly_max"], hot["weeks_over_capacity"]) == (0, 0, 0, 0)
    assert hot["funnel"]["success_rate"] is None
    assert hot["funnel"]["leads_needed"] is None and hot["funnel"]["crossings_needed"] is None
    # no success in [01-05, 01-08): recall is null too (and still L1, L2 crossed: precision 1/2,
    # L1's success after the end counting)
    early = simulate_json(rules, folder, "--end", "2026-01-08")
    assert early["successes_in_window"] == 0
    assert mql(early)["recall"] is None
    assert mql(early)["crossed"] == 2 and mql(early)["precision"] == 0.5
    assert mql(early)["lead_time_median_days"] is None


def test_without_capacity_weeks_over_capacity_is_null(project):
    rules, folder = project
    report = simulate_json(rules, folder)
    assert report["capacity"] is None and report["target"] is None
    for metrics in report["variants"]["baseline"]["thresholds"].values():
        assert metrics["weeks_over_capacity"] is None
        assert "leads_needed" not in metrics["funnel"]


@pytest.mark.parametrize("capacity, over", [("0", 2), ("0.5", 2), ("1", 1), ("2", 1), ("2.99", 1), ("3", 0)])
def test_weeks_over_capacity_are_the_weeks_strictly_above_it(project, capacity, over):
    # mql weekly counts [3, 1, 0]
    rules, folder = project
    assert mql(simulate_json(rules, folder, "--capacity", capacity))["weeks_over_capacity"] == over


def test_target_gives_the_leads_and_crossings_needed(project):
    rules, folder = project
    m = mql(simulate_json(rules, folder, "--target", "3"))
    # 2 successes out of 6 leads and out of 4 crossings: ceil(3 * 3) = 9 leads, ceil(3 * 2) = 6 crossings
    assert (m["funnel"]["target"], m["funnel"]["leads_needed"], m["funnel"]["crossings_needed"]) == (3, 9, 6)
    assert invoke(rules, "--history", folder, "--target", "0").exit_code == 2


def test_the_funnel_needs_are_exact_ceilings(tmp_path):
    # 11 leads with an instant; L0..L2 send a demo request (30 >= 20: crossed) and are won a day later;
    # L3..L10 only view a page. successes 3, leads 11, crossed 3. --target 15:
    # leads needed = ceil(15 * 11 / 3) = 55 exactly; crossings needed = ceil(15 * 3 / 3) = 15.
    rules = ruleset(tmp_path / "rules", BODY)
    leads = [{"lead_id": f"L{k}"} for k in range(11)]
    events = [(f"L{k}", "demo_request" if k < 3 else "page_view", f"2026-01-0{k % 5 + 5}T10:00:00Z", None)
              for k in range(11)]
    outcomes = [(f"L{k}", "won", f"2026-01-{k % 5 + 6:02d}T10:00:00Z") for k in range(3)]
    folder = history(tmp_path / "history", leads, events, outcomes)
    funnel = mql(simulate_json(rules, folder, "--target", "15"))["funnel"]
    assert (funnel["leads"], funnel["crossed"], funnel["successes"]) == (11, 3, 3)
    assert funnel["crossings_needed"] == 15
    assert funnel["leads_needed"] == 55


def test_horizon_bounds_precision_and_base_rate_but_not_recall(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--horizon", "5d")
    m = mql(report)
    assert report["horizon_days"] == 5
    # precision: only L4 succeeds within 5 d of crossing (L1 takes 10 d) -> 1/4
    assert m["precision"] == 0.25
    # base rate: L3 (4 d) and L4 (2.5 d) within 5 d of their first instant; L1 takes 11 d 1 h -> 2/6
    assert m["base_rate"] == pytest.approx(1 / 3)
    assert m["lift"] == pytest.approx(0.75)
    # recall has no horizon: still L1 and L4 of L1, L3, L4
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["lead_time_median_days"] == pytest.approx(6.25)
    # censored: crossing + 5 d is before 01-20 15:00 for all four (the latest, L4: 01-18 08:00)
    assert m["censored"] == 0
    # the same horizon in hours and in weeks
    assert mql(simulate_json(rules, folder, "--horizon", "120h")) == m
    assert mql(simulate_json(rules, folder, "--horizon", "5")) == m
    # precision's window is closed: L1's success lies exactly 10 d after its crossing and counts
    assert mql(simulate_json(rules, folder, "--horizon", "10d"))["precision"] == 0.5
    assert mql(simulate_json(rules, folder, "--horizon", "1.5w"))["precision"] == 0.5
    assert mql(simulate_json(rules, folder, "--horizon", "239h"))["precision"] == 0.25


@pytest.mark.parametrize("horizon", ["0d", "-3d", "soon", "5y", ""])
def test_a_bad_horizon_is_a_usage_error(project, horizon):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--horizon", horizon).exit_code == 2


def test_the_success_stage_is_matched_in_any_case(project):
    rules, folder = project
    default = simulate_json(rules, folder)
    for stage in ("WON", "Won", " won "):
        again = simulate_json(rules, folder, "--success", stage)
        assert again["success_stage"] == "won"
        assert again["variants"] == default["variants"] and again["successes"] == 3
    report = simulate_json(rules, folder, "--success", "SqL")
    m = mql(report)
    assert report["success_stage"] == "sql"
    # successes: L2 (SQL 01-08 12:00) and L5 (sql 01-14 12:00)
    assert (report["successes"], report["successes_in_window"]) == (2, 2)
    # precision: L2 crossed 01-07 12:00 and succeeded a day later; L1, L4, L6 never -> 1/4
    assert m["precision"] == 0.25
    # recall: L2 flagged, L5 never crossed -> 1/2; lead time 1 d
    assert m["recall"] == 0.5
    assert m["lead_time_median_days"] == pytest.approx(1.0) and m["lead_time_p90_days"] == pytest.approx(1.0)
    # base rate: L2 (01-07 12:00 -> 01-08 12:00) and L5 (01-14 00:00 -> 12:00) of 6 -> 1/3
    assert m["base_rate"] == pytest.approx(1 / 3) and m["lift"] == pytest.approx(0.75)
    # a stage that outcomes hold only after the window (L2's Lost, 01-20): no success in it, so recall
    # is null, while precision still sees it (L2 crossed 01-07, within 90 d) -> 1/4
    nobody = simulate_json(rules, folder, "--success", "lost", "--end", "2026-01-15")
    assert (nobody["successes"], nobody["successes_in_window"]) == (1, 0)
    assert mql(nobody)["recall"] is None and mql(nobody)["precision"] == 0.25


def test_start_and_end_make_a_half_open_window(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--start", "2026-01-12", "--end", "2026-01-19")
    assert report["window"] == {"start": "2026-01-12T00:00:00Z", "end": "2026-01-19T00:00:00Z"}
    m = mql(report)
    # only L4 crosses inside [01-12, 01-19); L1, L2, L6 crossed before the start
    assert m["crossed"] == 1 and m["precision"] == 1.0
    # recall: L1, L3, L4 succeed in the window; L1 (crossed 01-06, before the start) and L4 flagged
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["lead_time_median_days"] == pytest.approx(6.25)
    # every lead has an instant in the window (a midnight at least); good within 90 d of the first:
    # L1 (01-12 00:00 -> 01-16), L3 (01-12 00:00 -> 01-12 09:00), L4 -> 3 / 6; lift 1 / 0.5
    assert report["leads_in_window"] == 6 and m["base_rate"] == 0.5 and m["lift"] == pytest.approx(2.0)
    # one ISO week (W03) overlaps; W04 starts on the (excluded) end
    assert weeks(m) == [("2026-W03", 1)]
    assert (m["weekly_mean"], m["weekly_p90"], m["weekly_max"]) == (1, 1, 1)
    # censored uses the history's last timestamp (01-20 15:00), which lies after --end
    assert m["censored"] == 1


def test_events_before_the_start_still_count_towards_scores(project):
    rules, folder = project
    # L1's first view (01-05 09:00) is before the start; with it, its second view (01-06 10:00)
    # reaches 20 and crosses inside the window: L1, L2, L4, L6
    m = mql(simulate_json(rules, folder, "--start", "2026-01-06"))
    assert m["crossed"] == 4
    assert weeks(m)[0] == ("2026-W02", 3)


@pytest.mark.parametrize("end, window_end, crossed", [
    ("2026-01-13", "2026-01-13T00:00:00Z", 3),                  # a date is midnight UTC
    ("2026-01-13T08:00:00Z", "2026-01-13T08:00:00Z", 3),        # L4's views at the end are left out
    ("2026-01-13T08:00:00", "2026-01-13T08:00:00Z", 3),         # no offset: UTC
    ("2026-01-13T09:00:00+01:00", "2026-01-13T08:00:00Z", 3),
    ("2026-01-13T08:00:01Z", "2026-01-13T08:00:01Z", 4),        # one second later they count
])
def test_the_end_is_excluded(project, end, window_end, crossed):
    rules, folder = project
    report = simulate_json(rules, folder, "--end", end)
    assert report["window"] == {"start": "2026-01-05T00:00:00Z", "end": window_end}
    assert mql(report)["crossed"] == crossed


def test_an_end_before_the_last_success_keeps_precision_looking_after_it(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--end", "2026-01-13")
    m = mql(report)
    # window [01-05, 01-13): L1, L2, L6 cross; L1's success (01-16) is after the end and counts -> 1/3.
    assert m["crossed"] == 3 and m["precision"] == pytest.approx(1 / 3)
    # successes in the window: L3 only (01-12 09:00), never flagged -> recall 0; no lead time
    assert report["successes_in_window"] == 1 and m["recall"] == 0.0
    assert m["lead_time_median_days"] is None
    # L4 and L5 have no event before the end and no creation time: no instant
    assert report["leads_in_window"] == 4
    # base rate: L1 and L3 of L1, L2, L3, L6
    assert m["base_rate"] == 0.5
    assert weeks(m) == [("2026-W02", 3), ("2026-W03", 0)]


@pytest.mark.parametrize("created, start, good", [
    # created exactly at midnight: the creation is no instant, the first is the next midnight (01-04),
    # after L7's success (01-03 12:00) -> not counted in the base rate: L1, L3, L4 of 7
    ("2026-01-03T00:00:00Z", "2026-01-03T00:00:00Z", 3),
    # created an hour before: its first instant is midnight 01-03, and the success lies 12 h after it
    ("2026-01-02T23:00:00Z", "2026-01-02T00:00:00Z", 4),
])
def test_creation_times_give_instants_and_open_the_window(tmp_path, created, start, good):
    # L7 has no event, only a creation time and a success: it has an instant every midnight, so it is
    # in the base rate's and the funnel's denominator; its creation is the earliest timestamp.
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS + [{"lead_id": "L7", "created_at": created}], EVENTS,
                     OUTCOMES + [("L7", "won", "2026-01-03T12:00:00Z")])
    report = simulate_json(rules, folder)
    m = mql(report)
    assert report["window"]["start"] == start
    assert (report["leads_in_window"], report["successes_in_window"]) == (7, 4)
    assert m["base_rate"] == pytest.approx(good / 7)
    assert m["funnel"]["leads"] == 7
    # recall: L1, L4 flagged of L1, L3, L4, L7
    assert m["recall"] == 0.5
    # the window now starts in W01 (Mon 12-29 .. Sun 01-04): weeks [0, 3, 1, 0]; p90 at rank 2.7 = 1 + 0.7 * 2
    assert weeks(m) == [("2026-W01", 0), ("2026-W02", 3), ("2026-W03", 1), ("2026-W04", 0)]
    assert (m["weekly_mean"], m["weekly_p90"]) == (1, pytest.approx(2.4))


def test_jsonl_and_parquet_tables_give_the_numbers_of_csv(project, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rules, folder = project
    other = tmp_path / "formats"
    other.mkdir()
    with open(other / "leads.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(lead) + "\n" for lead in LEADS)
    with open(other / "events.jsonl", "w", encoding="utf-8") as handle:      # properties in an object
        handle.writelines(json.dumps({"lead_id": lead, "type": kind, "at": at,
                                      "properties": {"url": url} if url else {}}) + "\n"
                          for lead, kind, at, url in EVENTS)
    pq.write_table(pa.table({"lead_id": [o[0] for o in OUTCOMES], "stage": [o[1] for o in OUTCOMES],
                             "at": [o[2] for o in OUTCOMES]}), other / "outcomes.parquet")
    args = ("--set", "bar=10", "--capacity", "1")
    found, expected = simulate_json(rules, other, *args), simulate_json(rules, folder, *args)
    assert found["variants"] == expected["variants"] and found["flips"] == expected["flips"]
    assert (found["window"], found["skipped_rows"]) == (expected["window"], {})



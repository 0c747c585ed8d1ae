"""`leadscore simulate` end to end, through the command line (SIMULATION.md §1-§4, §6,
LANGUAGE.md §9, docs/simulate.md).

Every number asserted here is worked out by hand in the comments, from a six-lead history
small enough to read in one glance; the property at the end checks random small histories
against a replay written from the definitions (scores that only move at events). Tests
assert exit codes, numbers and keys, never the wording of messages.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore.simulator.run as run_module
from leadscore.cli import main
from test_simulator_support import SCHEMA, history, ruleset, ts, write_table

DAY = 86400.0

# --- the history every hand computation below reads -----------------------------------------------
#
# Ruleset: interest = +10 per page_view, +30 per demo_request, no decay (so a score moves only
# at an event, by whole points); mql: interest >= bar (bar = 20); hot: interest >= 60 (never).
#
# ISO weeks: 2026-W02 = Mon 5 Jan .. Sun 11 Jan, W03 = 12..18 Jan, W04 = 19..25 Jan.
#
# lead  events (UTC)                         interest      mql crossing      outcomes
# L1    page_view 01-05 09:00, 01-06 10:00   10, 20        01-06 10:00       won 01-16 10:00
# L2    demo_request 01-07 12:00             30            01-07 12:00       SQL 01-08 12:00, Lost 01-20 15:00
# L3    page_view 01-08 09:00                10            never             WON 01-12 09:00
# L4    page_view x2 at 01-13 08:00          20            01-13 08:00       Won 01-15 20:00, won 01-18 00:00
# L5    page_view 01-14 00:00                10            never             sql 01-14 12:00
# L6    page_view 01-09 10:00, 01-10 10:00   10, 20        01-10 10:00       (none)
#       email_open 01-20 10:00 (no rule reads it)
#
# Default window: midnight of the earliest timestamp (01-05 09:00) -> 2026-01-05T00:00Z; the
# midnight after the latest event (L6's, 01-20 10:00) -> 2026-01-21T00:00Z. Weeks W02, W03, W04.
# The history's last timestamp (for censoring) is L2's Lost, 01-20 15:00.
# Success (stage won, any case, earliest): L1 01-16 10:00, L3 01-12 09:00, L4 01-15 20:00 (the
# later won is ignored) -> 3 successes, all in the window.

BODY = """const bar = 20
score interest {
  view: +10 per page_view, decay none
  demo: +30 per demo_request, decay none
}
threshold mql: interest >= bar
threshold hot: interest >= 60
"""

LEADS = [{"lead_id": f"L{k}"} for k in range(1, 7)]
EVENTS = [
    ("L1", "page_view", "2026-01-05T09:00:00Z", "/a"), ("L1", "page_view", "2026-01-06T10:00:00Z", "/b"),
    ("L2", "demo_request", "2026-01-07T12:00:00Z", None), ("L3", "page_view", "2026-01-08T09:00:00Z", "/a"),
    ("L4", "page_view", "2026-01-13T08:00:00Z", "/a"), ("L4", "page_view", "2026-01-13T08:00:00Z", "/c"),
    ("L5", "page_view", "2026-01-14T00:00:00Z", "/a"),
    ("L6", "page_view", "2026-01-09T10:00:00Z", "/a"), ("L6", "page_view", "2026-01-10T10:00:00Z", "/a"),
    ("L6", "email_open", "2026-01-20T10:00:00Z", None),
]
OUTCOMES = [
    ("L1", "won", "2026-01-16T10:00:00Z"), ("L2", "SQL", "2026-01-08T12:00:00Z"),
    ("L2", "Lost", "2026-01-20T15:00:00Z"), ("L3", "WON", "2026-01-12T09:00:00Z"),
    ("L4", "Won", "2026-01-15T20:00:00Z"), ("L4", "won", "2026-01-18T00:00:00Z"),
    ("L5", "sql", "2026-01-14T12:00:00Z"),
]

SECTION6_METRICS = ("crossed", "precision", "recall", "lift", "lead_time_median_days", "lead_time_p90_days",
                    "weekly_mean", "weekly_p90", "weekly_max", "weeks_over_capacity")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    return rules, folder


def _no_constant(name: str):
    raise AssertionError(f"the JSON holds {name}")


def loads(text: str) -> dict:
    """JSON as the contract wants it: no NaN, no Infinity."""
    return json.loads(text, parse_constant=_no_constant)


def invoke(*args, command: str = "simulate"):
    result = CliRunner().invoke(main, [command, *map(str, args)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def simulate_json(rules: Path, folder: Path, *args) -> dict:
    result = invoke(rules, "--history", folder, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return loads(result.stdout)


def mql(report: dict, variant: str = "baseline") -> dict:
    return report["variants"][variant]["thresholds"]["mql"]


def weeks(metrics: dict) -> list[tuple[str, int]]:
    return [(w["week"], w["crossed"]) for w in metrics["weekly"]]


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


# --- 2. two variants --------------------------------------------------------------------------------------
#
# With bar = 10: L1 crosses at 01-05 09:00 (25 h before 01-06 10:00: earlier), L2 01-07 12:00, L3 01-08 09:00
# (new), L4 01-13 08:00, L5 01-14 00:00 (new), L6 01-09 10:00 (exactly 24 h before 01-10 10:00: not "more
# than a day", so no flip). Candidate metrics: crossed 6; precision L1, L3, L4 -> 3/6; recall 3/3; lead
# times L1 11 d 1 h, L3 4 d, L4 2.5 d -> median 4, p90 4 + 0.8 * (11.041667 - 4) = 9.633333; weeks W02
# (L1, L2, L3, L6) 4, W03 (L4, L5) 2, W04 0 -> mean 2, p90 2 + 0.8 * 2 = 3.6, max 4, over capacity 1: 2.

def check_bar_10_candidate(m: dict) -> None:
    assert m["crossed"] == 6
    assert m["precision"] == 0.5 and m["recall"] == 1.0 and m["lift"] == pytest.approx(1.0)
    assert m["lead_time_median_days"] == pytest.approx(4.0)
    assert m["lead_time_p90_days"] == pytest.approx(4 + 0.8 * (11 + 1 / 24 - 4))
    assert weeks(m) == [("2026-W02", 4), ("2026-W03", 2), ("2026-W04", 0)]
    assert (m["weekly_mean"], m["weekly_p90"], m["weekly_max"]) == (2, pytest.approx(3.6), 4)
    assert m["weeks_over_capacity"] == 2


def check_bar_10_flips(report: dict) -> None:
    flips = report["flips"]["mql"]
    assert {k: flips[k] for k in ("newly_crossed", "no_longer_crossed", "earlier", "later")} == {
        "newly_crossed": 2, "no_longer_crossed": 0, "earlier": 1, "later": 0}
    examples = [(e["lead_id"], e["change"], e["baseline"], e["candidate"]) for e in flips["examples"]]
    assert examples == [("L3", "newly crossed", None, "2026-01-08T09:00:00Z"),
                        ("L5", "newly crossed", None, "2026-01-14T00:00:00Z"),
                        ("L1", "crossed earlier", "2026-01-06T10:00:00Z", "2026-01-05T09:00:00Z")]
    # only the bar moved: the rules that make up interest at the earlier crossing
    assert all(e["rules"] == ["interest.view +10"] for e in flips["examples"])
    assert flips["examples"][2]["scores"] == {"interest": [10, 10]}
    hot = report["flips"]["hot"]
    assert (hot["newly_crossed"], hot["no_longer_crossed"], hot["earlier"], hot["later"], hot["examples"]) == (
        0, 0, 0, 0, [])


def test_set_alone_compares_the_file_as_written_with_the_override(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--set", "bar=10", "--capacity", "1")
    assert list(report["variants"]) == ["baseline", "candidate"]
    assert report["variants"]["baseline"]["constants"] == {"bar": 20}
    assert report["variants"]["candidate"]["constants"] == {"bar": 10}
    assert mql(report) == mql(simulate_json(rules, folder, "--capacity", "1"))
    check_bar_10_candidate(mql(report, "candidate"))
    check_bar_10_flips(report)


@pytest.mark.parametrize("spelling", ["`mql bar`=10", "mql bar=10", " `mql bar` = 10"])
def test_set_overrides_a_back_quoted_constant_in_either_spelling(tmp_path, spelling):
    rules = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const `mql bar` = 20")
                    .replace("interest >= bar", "interest >= `mql bar`"))
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--set", spelling, "--capacity", "1")
    assert report["variants"]["candidate"]["constants"] == {"mql bar": 10}
    assert report["variants"]["candidate"]["source"].endswith(" --set `mql bar`=10")
    check_bar_10_candidate(mql(report, "candidate"))
    swept = simulate_json(rules, folder, "--sweep", spelling.replace("10", "10:20:10"))
    assert [p["value"] for p in swept["sweep"]["points"]] == [10, 20]


def test_set_reads_a_back_quoted_name_holding_an_equals_sign(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const `bar=x` = 20")
                    .replace("interest >= bar", "interest >= `bar=x`"))
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--set", "`bar=x`=10")
    assert report["variants"]["candidate"]["constants"] == {"bar=x": 10}


def test_examples_can_be_limited_or_left_out(project):
    rules, folder = project
    one = simulate_json(rules, folder, "--set", "bar=10", "--examples", "1")
    assert [e["lead_id"] for e in one["flips"]["mql"]["examples"]] == ["L3", "L1"]
    assert one["flips"]["mql"]["newly_crossed"] == 2
    none = simulate_json(rules, folder, "--set", "bar=10", "--examples", "0")
    assert none["flips"]["mql"]["examples"] == [] and none["flips"]["mql"]["earlier"] == 1


def test_examples_follow_the_order_of_the_leads_file(tmp_path, monkeypatch):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS[::-1], EVENTS, OUTCOMES)
    expected = [("L5", "newly crossed"), ("L3", "newly crossed"), ("L1", "crossed earlier")]
    report = simulate_json(rules, folder, "--set", "bar=10")
    assert [(e["lead_id"], e["change"]) for e in report["flips"]["mql"]["examples"]] == expected
    monkeypatch.setattr(run_module, "bucket_count", lambda leads, events, jobs: 4)
    many = simulate_json(rules, folder, "--set", "bar=10", "--jobs", "2")
    assert many["replay"]["buckets"] == 4
    assert [(e["lead_id"], e["change"]) for e in many["flips"]["mql"]["examples"]] == expected


def test_a_baseline_file_is_compared_and_the_examples_name_the_rule_that_differs(project, tmp_path):
    rules, folder = project
    # the baseline gives a demo request 10 points: L2 stays at 10 and never crosses
    other = ruleset(tmp_path / "rules", BODY.replace("+30 per demo_request", "+10 per demo_request"), name="old")
    report = simulate_json(rules, folder, "--baseline", other)
    assert report["variants"]["baseline"]["ruleset"] == "old"
    assert mql(report)["crossed"] == 3 and mql(report, "candidate")["crossed"] == 4
    flips = report["flips"]["mql"]
    assert (flips["newly_crossed"], flips["no_longer_crossed"], flips["earlier"], flips["later"]) == (1, 0, 0, 0)
    [example] = flips["examples"]
    assert (example["lead_id"], example["change"], example["baseline"], example["candidate"]) == (
        "L2", "newly crossed", None, "2026-01-07T12:00:00Z")
    assert example["rules"] == ["interest.demo +10 → +30"]
    assert example["scores"] == {"interest": [10, 30]}


def test_set_with_a_baseline_applies_to_the_candidate(project, tmp_path):
    rules, folder = project
    other = ruleset(tmp_path / "rules", BODY, name="old")
    report = simulate_json(rules, folder, "--baseline", other, "--set", "bar=30")
    assert report["variants"]["baseline"]["constants"] == {"bar": 20}
    assert report["variants"]["candidate"]["constants"] == {"bar": 30}
    # bar 30: only L2 (demo, 30) crosses, at the same instant; L1, L4, L6 no longer cross
    assert mql(report, "candidate")["crossed"] == 1
    flips = report["flips"]["mql"]
    assert (flips["newly_crossed"], flips["no_longer_crossed"], flips["earlier"], flips["later"]) == (0, 3, 0, 0)
    assert [e["lead_id"] for e in flips["examples"]] == ["L1", "L4", "L6"]


def test_a_lead_that_crossed_before_the_start_and_crosses_inside_with_the_candidate_is_newly_crossed(project):
    rules, folder = project
    # window from 01-06: L1's baseline crossing (01-06 10:00) is inside; with bar 10 it crosses at
    # 01-05 09:00, before the start -> no longer crossed (flips compare crossings in the window).
    report = simulate_json(rules, folder, "--start", "2026-01-06", "--set", "bar=10")
    flips = report["flips"]["mql"]
    assert (flips["newly_crossed"], flips["no_longer_crossed"], flips["earlier"]) == (2, 1, 0)
    assert [e["lead_id"] for e in flips["examples"] if e["change"] == "no longer crossed"] == ["L1"]


def git(folder: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_NOSYSTEM="1", HOME=str(folder))
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, Path]:
    """A Git repository whose HEAD holds the ruleset with bar = 20 and a schema without `unsubscribe`;
    the working tree has bar = 10 (version 2) and a schema declaring it."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    rules = ruleset(repo, BODY, schema=SCHEMA.replace("  unsubscribe: {}\n", ""))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    rules.write_text(rules.read_text().replace("version 1", "version 2").replace("bar = 20", "bar = 10"))
    (repo / "schema.yaml").write_text(SCHEMA)
    folder = history(tmp_path / "history", LEADS, EVENTS + [("L5", "unsubscribe", "2026-01-14T01:00:00Z", None)],
                     OUTCOMES)
    return rules, folder


def test_against_a_git_revision_reads_it_with_its_own_schema(repository):
    rules, folder = repository
    report = simulate_json(rules, folder, "--against", "HEAD", "--capacity", "1")
    baseline, candidate = report["variants"]["baseline"], report["variants"]["candidate"]
    assert (str(baseline["version"]), baseline["constants"]) == ("1", {"bar": 20})
    assert (str(candidate["version"]), candidate["constants"]) == ("2", {"bar": 10})
    assert baseline["source"].endswith("@ HEAD")
    # the revision's schema has no `unsubscribe`: it cannot use L5's unsubscribe, the current one can
    assert report["skipped_rows"] == {}
    assert any("unknown_event_type" in note and "1 events" in note for note in report["notes"])
    # the unsubscribe changes no score: the same numbers as --set bar=10
    assert mql(report)["crossed"] == 4
    check_bar_10_candidate(mql(report, "candidate"))
    check_bar_10_flips(report)


def test_against_a_revision_whose_schema_is_not_a_schema_never_shows_its_values(repository):
    # the revision's rule file names a credentials file of the repository as its schema: errors may
    # name its keys, never print their values
    rules, folder = repository
    repo = rules.parent
    (repo / "ci-secrets.yaml").write_text("deploy_token: hunter2-SECRET\nlead:\n  id: lead_id\n")
    current = rules.read_text()
    rules.write_text(current.replace('schema "schema.yaml"', 'schema "ci-secrets.yaml"'))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "secrets as schema")
    rules.write_text(current)
    result = invoke(rules, "--history", folder, "--against", "HEAD")
    assert result.exit_code != 0
    assert "deploy_token" in result.output and "hunter2" not in result.output


def test_against_a_revision_that_does_not_exist_is_a_usage_error(repository):
    rules, folder = repository
    result = invoke(rules, "--history", folder, "--against", "nosuchrev")
    assert result.exit_code == 2
    assert "nosuchrev" in result.stderr
    assert invoke(rules, "--history", folder, "--against=-p").exit_code == 2     # never read as git's option


def test_against_a_revision_without_the_file_is_a_usage_error(repository):
    rules, folder = repository
    fresh = rules.parent / "fresh.score"
    shutil.copy(rules, fresh)
    assert invoke(fresh, "--history", folder, "--against", "HEAD").exit_code == 2


def test_against_outside_a_repository_is_a_usage_error(project):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--against", "HEAD").exit_code == 2


def test_against_a_revision_that_does_not_check_exits_1(repository):
    rules, folder = repository
    repo = rules.parent
    rules.write_text(rules.read_text().replace("interest >= bar", "interest >= nope"))
    git(repo, "commit", "-q", "-am", "broken")
    rules.write_text(rules.read_text().replace("interest >= nope", "interest >= bar"))
    result = invoke(rules, "--history", folder, "--against", "HEAD")
    assert result.exit_code == 1
    assert re.search(r"t\.score@HEAD:\d+:\d+", result.stderr)


# --- 3. sweeps ------------------------------------------------------------------------------------------

def test_a_sweep_reports_each_value_to_stop_inclusive_as_set_would(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--sweep", "bar=10:30:10", "--capacity", "1", "--target", "5")
    sweep = report["sweep"]
    assert (sweep["constant"], sweep["variant"], sweep["method"]) == ("bar", "baseline", "paths")
    assert [p["value"] for p in sweep["points"]] == [10, 20, 30]
    # bar 10: 6 crossings (see above); bar 20: the file's 4; bar 30: L2 only, never won -> precision 0
    assert [p["thresholds"]["mql"]["crossed"] for p in sweep["points"]] == [6, 4, 1]
    check_bar_10_candidate(sweep["points"][0]["thresholds"]["mql"])
    last = sweep["points"][2]["thresholds"]["mql"]
    assert (last["precision"], last["recall"], last["lift"]) == (0.0, 0.0, 0.0)
    # the variant's own metrics are reported as usual
    assert report["variants"]["baseline"]["thresholds"] == simulate_json(
        rules, folder, "--capacity", "1", "--target", "5")["variants"]["baseline"]["thresholds"]
    for point in sweep["points"]:
        alone = simulate_json(rules, folder, "--set", f"bar={point['value']}", "--capacity", "1", "--target", "5")
        assert point["thresholds"] == alone["variants"]["candidate"]["thresholds"], point["value"]


def test_a_sweep_can_go_down(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--sweep", "bar=30:10:-10")
    assert [p["value"] for p in report["sweep"]["points"]] == [30, 20, 10]
    assert [p["thresholds"]["mql"]["crossed"] for p in report["sweep"]["points"]] == [1, 4, 6]


def test_a_sweep_of_a_constant_inside_a_score_replays_each_value(tmp_path):
    # pv = points per page view. 5: only L2's demo (30) reaches 20; 10: the file's 4 crossings;
    # 15: L1 (30 at 01-06), L2, L4 (30), L6 (30) -> 4; 20: every lead, each at its first event -> 6.
    rules = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const bar = 20\nconst pv = 10")
                    .replace("+10 per page_view", "+pv per page_view"))
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--sweep", "pv=5:20:5", "--capacity", "2")
    sweep = report["sweep"]
    assert (sweep["constant"], sweep["method"]) == ("pv", "replay")
    assert [p["value"] for p in sweep["points"]] == [5, 10, 15, 20]
    assert [p["thresholds"]["mql"]["crossed"] for p in sweep["points"]] == [1, 4, 4, 6]
    # pv 20: everyone crosses at the first event, as with bar 10 above: lead times 2.5, 4 and 11 d 1 h
    assert sweep["points"][3]["thresholds"]["mql"]["lead_time_median_days"] == pytest.approx(4.0)
    for point in sweep["points"]:
        alone = simulate_json(rules, folder, "--set", f"pv={point['value']}", "--capacity", "2")
        assert point["thresholds"] == alone["variants"]["candidate"]["thresholds"], point["value"]


def test_a_sweep_with_two_variants_applies_to_the_candidate(project, tmp_path):
    rules, folder = project
    other = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const bar = 30"), name="old")
    report = simulate_json(rules, folder, "--baseline", other, "--sweep", "bar=20:20:5")
    assert report["sweep"]["variant"] == "candidate"
    [point] = report["sweep"]["points"]
    assert point["value"] == 20
    assert point["thresholds"] == report["variants"]["candidate"]["thresholds"]
    assert mql(report)["crossed"] == 1


SHIFTED = BODY.replace("interest >= bar", "interest >= bar + 10")


def test_a_sweep_of_a_bar_inside_arithmetic_gives_the_numbers_of_set(tmp_path):
    # mql: interest >= bar + 10. bar 0 -> 10: every lead crosses (6); bar 10 -> 20: the file's 4;
    # bar 20 -> 30: L2 only (1)
    rules = ruleset(tmp_path / "rules", SHIFTED)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--sweep", "bar=0:20:10")
    assert [p["thresholds"]["mql"]["crossed"] for p in report["sweep"]["points"]] == [6, 4, 1]
    for point in report["sweep"]["points"]:
        alone = simulate_json(rules, folder, "--set", f"bar={point['value']}")
        assert point["thresholds"] == alone["variants"]["candidate"]["thresholds"], point["value"]


def test_a_sweep_of_a_constant_used_only_in_thresholds_does_not_replay_per_value(tmp_path):
    rules = ruleset(tmp_path / "rules", SHIFTED)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    assert simulate_json(rules, folder, "--sweep", "bar=0:20:10")["sweep"]["method"] == "paths"
    beside_a_field = ruleset(tmp_path / "field", SHIFTED.replace("interest >= bar + 10",
                                                                 "interest >= bar + 10 and employees > 0"))
    assert simulate_json(beside_a_field, folder, "--sweep", "bar=0:20:10")["sweep"]["method"] == "replay"


@pytest.mark.parametrize("spec", ["bar=10:30:0", "bar=10:30:-5", "bar=10:30", "bar=a:b:c", "nope=1:2:1",
                                  "bar=0:5000:1"])
def test_a_bad_sweep_is_a_usage_error(project, spec):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--sweep", spec).exit_code == 2


# --- 4. formats -----------------------------------------------------------------------------------------

def test_markdown_has_a_table_per_threshold(project):
    rules, folder = project
    result = invoke(rules, "--history", folder, "--format", "markdown", "--set", "bar=10")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    headings = [line for line in lines if line.startswith("### Threshold")]
    assert len(headings) == 2 and "`mql`" in headings[0] and "`hot`" in headings[1]
    assert lines.count("| metric | baseline | candidate | change |") == 2
    assert "| crossed | 4 | 6 | +2 |" in lines
    assert "| crossed | 0 | 0 | +0 |" in lines
    # -o with .md gives the same document
    out = folder.parent / "sim.md"
    assert invoke(rules, "--history", folder, "--set", "bar=10", "-o", out).exit_code == 0
    assert out.read_text(encoding="utf-8") == result.stdout


def test_html_is_self_contained(project):
    rules, folder = project
    out = folder.parent / "report.html"
    result = invoke(rules, "--history", folder, "--format", "html", "-o", out, "--sweep", "bar=10:30:10",
                    "--capacity", "1")
    assert result.exit_code == 0 and result.stdout == ""
    page = out.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page
    assert "<script src" not in page.lower() and "<link" not in page.lower()
    assert "<svg" in page
    # the extension alone picks HTML too, and --html writes it beside another format
    again = folder.parent / "again.htm"
    assert invoke(rules, "--history", folder, "-o", again, "--sweep", "bar=10:30:10", "--capacity", "1").exit_code == 0
    assert again.read_text(encoding="utf-8") == page
    side = folder.parent / "side.html"
    result = invoke(rules, "--history", folder, "--format", "json", "--html", side, "--sweep", "bar=10:30:10",
                    "--capacity", "1")
    assert result.exit_code == 0 and loads(result.stdout)["sweep"]["points"][0]["value"] == 10
    assert side.read_text(encoding="utf-8") == page


def test_output_format_follows_the_extension_and_the_file_is_complete(project):
    rules, folder = project
    out = folder.parent / "x.json"
    result = invoke(rules, "--history", folder, "-o", out, "--set", "bar=10")
    assert result.exit_code == 0 and result.stdout == ""
    written = loads(out.read_text(encoding="utf-8"))
    assert written == simulate_json(rules, folder, "--set", "bar=10")
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    text = folder.parent / "x.txt"
    assert invoke(rules, "--history", folder, "-o", text).exit_code == 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.read_text(encoding="utf-8"))
    assert "mql" in text.read_text(encoding="utf-8") and "\x1b[" not in text.read_text(encoding="utf-8")


def test_a_report_that_cannot_be_written_exits_1(project):
    rules, folder = project
    result = invoke(rules, "--history", folder, "-o", folder.parent / "no" / "such" / "x.json")
    assert result.exit_code == 1


def test_the_text_report_runs(project):
    rules, folder = project
    result = invoke(rules, "--history", folder, "--set", "bar=10", "--sweep", "bar=10:20:10")
    assert result.exit_code == 0 and "mql" in result.stdout


def padded_history(folder: Path, leads: int, events: int, pad: int, seed: int = 7) -> Path:
    """A history whose events file is large on disk (long urls) but quick to replay, so the bucket
    count (estimated from the file size) goes up without a long test."""
    rng = random.Random(seed)
    start = ts("2026-01-05")

    def iso(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = []
    for _ in range(events):
        kind = rng.choice(["page_view", "page_view", "demo_request", "email_open"])
        rows.append((f"L{rng.randrange(leads):04d}", kind, iso(start + rng.randrange(30 * 24) * 3600),
                     "/" + "x" * pad if kind == "page_view" else None))
    rows += [("NOBODY", "page_view", "2027-06-01T00:00:00Z", "/"), ("L0001", "pageview", "2026-01-06T00:00:00Z", "/")]
    outcomes = [(f"L{k:04d}", rng.choice(["won", "lost", "Won"]), iso(start + rng.randrange(50 * 24) * 3600))
                for k in range(0, leads, 3)] + [("NOBODY", "won", "2027-01-01T00:00:00Z")]
    return history(folder, [{"lead_id": f"L{k:04d}"} for k in range(leads)], rows, outcomes)


def without_buckets(report: dict) -> dict:
    report = dict(report)
    report["replay"] = {k: v for k, v in report["replay"].items() if k != "buckets"}
    return report


def test_jobs_2_gives_the_json_of_jobs_1_on_a_history_of_several_buckets(tmp_path):
    # 1,500 events, about 750 of them with a 5.6 kB url: 4.3 MB, estimated at 40 bytes an event as
    # more than 100,000 events -> one bucket with --jobs 1, two with --jobs 2 (docs/simulate.md)
    rules = ruleset(tmp_path / "rules", BODY)
    folder = padded_history(tmp_path / "history", 300, 1500, 5600)
    assert (folder / "events.csv").stat().st_size >= 4_000_000
    args = ("--set", "bar=30", "--capacity", "5", "--target", "7", "--sweep", "bar=10:40:10")
    one = simulate_json(rules, folder, *args, "--jobs", "1")
    two = simulate_json(rules, folder, *args, "--jobs", "2")
    assert (one["replay"]["buckets"], two["replay"]["buckets"]) == (1, 2)
    assert without_buckets(two) == without_buckets(one)
    assert one["skipped_rows"] == {"events": 2, "outcomes": 1}
    assert one["window"]["end"] < "2026-03-01"
    assert mql(one, "candidate")["crossed"] > 0 and one["flips"]["mql"]["examples"]


def test_more_buckets_than_jobs_and_in_one_process_give_the_same_json(tmp_path, monkeypatch):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = padded_history(tmp_path / "history", 60, 300, 0, seed=3)
    args = ("--set", "bar=30", "--capacity", "3", "--sweep", "bar=10:40:10", "--examples", "3")
    one = simulate_json(rules, folder, *args)
    assert one["replay"]["buckets"] == 1
    monkeypatch.setattr(run_module, "bucket_count", lambda leads, events, jobs: 5)
    for jobs in ("1", "2", "0"):
        many = simulate_json(rules, folder, *args, "--jobs", jobs)
        assert many["replay"]["buckets"] == 5
        assert without_buckets(many) == without_buckets(one)


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


# --- a property over random small histories -----------------------------------------------------------------

HOURS = (0, 9, 15)
STARTS = (None, "2026-02-05", "2026-02-09T12:00:00Z")
ENDS = (None, "2026-02-12", "2026-02-18T09:00:00Z", "2026-03-10")


@st.composite
def small_histories(draw):
    leads = draw(st.integers(1, 5))
    events = []
    for _ in range(draw(st.integers(1, 12))):
        lead = draw(st.integers(0, leads))                  # `leads` is a lead the leads table lacks
        kind = draw(st.sampled_from(["page_view", "page_view", "demo_request", "email_open"]))
        at = ts("2026-02-02") + draw(st.integers(0, 20)) * DAY + draw(st.sampled_from(HOURS)) * 3600
        events.append((f"L{lead}", kind, at))
    outcomes = []
    for _ in range(draw(st.integers(0, 5))):
        lead = draw(st.integers(0, leads))
        at = ts("2026-02-02") + draw(st.integers(0, 40)) * DAY + draw(st.sampled_from(HOURS)) * 3600
        outcomes.append((f"L{lead}", draw(st.sampled_from(["won", "WON", "lost"])), at))
    return (leads, events, outcomes, draw(st.sampled_from([10, 20, 30, 40])), draw(st.sampled_from(STARTS)),
            draw(st.sampled_from(ENDS)))


def expected_metrics(leads: int, events, outcomes, bar: int, start: float | None, end: float | None) -> dict | None:
    """The metrics of SIMULATION.md §3 from their definitions, for scores that move only at events
    (no decay, bar > 0): a lead crosses at the first event time before the end whose running total
    (every event at or before it) reaches the bar. None: the window is empty."""
    known = {f"L{k}" for k in range(leads)}
    activity = [at for who, _, at in events if who in known]
    stamps = activity + [at for who, _, at in outcomes if who in known]
    last = max(stamps)
    start = math.floor(min(stamps) / DAY) * DAY if start is None else start
    end = (max(activity) // DAY + 1) * DAY if end is None else end   # outcomes do not stretch it
    if end <= start:
        return None
    horizon = 90 * DAY
    points = {"page_view": 10, "demo_request": 30, "email_open": 0}
    crossing, first = {}, {}
    for lead in sorted(known):
        mine = sorted((at, points[kind]) for who, kind, at in events if who == lead and at < end)
        total = 0
        for k, (at, p) in enumerate(mine):
            total += p
            if total >= bar and (k + 1 == len(mine) or mine[k + 1][0] != at):
                crossing[lead] = at
                break
        if mine:     # first instant in the window: an event at or after the start, or a midnight
            found = [at for at, _ in mine if at >= start][:1]
            midnight = max((mine[0][0] // DAY + 1) * DAY, math.ceil(start / DAY) * DAY)
            if midnight <= math.ceil(end / DAY) * DAY - DAY:
                found.append(midnight)
            if found:
                first[lead] = min(found)
    success = {}
    for lead, stage, at in outcomes:
        if lead in known and stage.lower() == "won":
            success[lead] = min(at, success.get(lead, math.inf))
    crossed = [lead for lead, c in crossing.items() if start <= c < end]
    converted = [lead for lead in crossed
                 if lead in success and crossing[lead] <= success[lead] <= crossing[lead] + horizon]
    won = [lead for lead, s in success.items() if start <= s < end]
    times = sorted((success[lead] - crossing[lead]) / DAY for lead in won
                   if lead in crossing and crossing[lead] <= success[lead])
    median = None
    if times:
        middle = len(times) // 2
        median = times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2
    # the base rate's leads: an instant in the window and no success before it starts
    candidates = [lead for lead in first if not success.get(lead, math.inf) < start]
    good = [lead for lead in candidates if lead in success and first[lead] <= success[lead] <= first[lead] + horizon]
    return {"crossed": len(crossed), "precision": len(converted) / len(crossed) if crossed else None,
            "recall": len(times) / len(won) if won else None, "successes": len(success),
            "lead_time_median_days": median, "leads_in_window": len(first),
            "base_rate": len(good) / len(candidates) if candidates else None,
            "censored": sum(crossing[lead] + horizon > last for lead in crossed), "last": last}


def write_small(folder: Path, leads: int, events, outcomes) -> Path:
    def iso(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    if folder.exists():
        shutil.rmtree(folder)
    return history(folder, [{"lead_id": f"L{k}"} for k in range(leads)],
                   [(lead, kind, iso(at), "/p" if kind == "page_view" else None) for lead, kind, at in events],
                   [(lead, stage, iso(at)) for lead, stage, at in outcomes])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=small_histories())
def test_random_small_histories_agree_with_the_definitions(tmp_path, case):
    leads, events, outcomes, bar, start, end = case
    if not any(lead in {f"L{k}" for k in range(leads)} for lead, _, _ in events):
        return      # no timestamp at all: exit 1, tested above
    expected = expected_metrics(leads, events, outcomes, bar, start and ts(start), end and ts(end))
    rules = ruleset(tmp_path / "rules", BODY)
    folder = write_small(tmp_path / "history", leads, events, outcomes)
    if expected is not None and start is not None and ts(start) > expected["last"]:
        assert invoke(rules, "--history", folder, "--start", start).exit_code == 2   # the window holds nothing
        return
    args = ["--set", f"bar={bar}", "--capacity", "1", "--target", "3"]
    args += ["--start", start] if start else []
    args += ["--end", end] if end else []
    if expected is None or (outcomes and all(stage.lower() != "won" for _, stage, _ in outcomes)):
        # an empty window, or outcomes none of which is at the success stage: usage errors
        assert invoke(rules, "--history", folder, *args).exit_code == 2
        return
    report = simulate_json(rules, folder, *args)
    m = mql(report, "candidate")
    assert (report["successes"], report["leads_in_window"]) == (expected["successes"], expected["leads_in_window"])
    for key in ("crossed", "precision", "recall", "lead_time_median_days", "base_rate", "censored"):
        assert m[key] == (None if expected[key] is None else pytest.approx(expected[key])), key
    for variant in report["variants"].values():
        for t in variant["thresholds"].values():
            assert t["crossed"] <= report["leads_in_window"] <= report["leads"]
            assert t["censored"] <= t["crossed"]
            assert sum(w["crossed"] for w in t["weekly"]) == t["crossed"]
            assert t["funnel"]["successes"] <= t["crossed"]
            for key in ("precision", "recall", "base_rate"):
                assert t[key] is None or 0 <= t[key] <= 1
            assert t["lift"] is None or t["lift"] >= 0
            if t["lead_time_median_days"] is not None:
                assert 0 <= t["lead_time_median_days"] <= t["lead_time_p90_days"]
            assert t["weekly_mean"] <= t["weekly_max"] and t["weekly_p90"] <= t["weekly_max"]
    # buckets and worker processes change nothing
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "bucket_count", lambda leads, events, jobs: 3)
        many = simulate_json(rules, folder, *args, "--jobs", "2")
    assert many["replay"]["buckets"] == 3
    assert without_buckets(many) == without_buckets(report)


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

"""`leadscore simulate` on random small histories, checked against a replay written from the
definitions of SIMULATION.md §3 (scores that only move at events).

Tests assert exit codes, numbers and keys, never the wording of messages.
"""

from __future__ import annotations

import math
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore.simulator.run as run_module
from simulate_cli_support import BODY, DAY, invoke, mql, simulate_json, without_buckets
from test_simulator_support import history, ruleset, ts


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
        return      # no timestamp at all: exit 1, tested in test_cli_simulate_bad_input.py
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



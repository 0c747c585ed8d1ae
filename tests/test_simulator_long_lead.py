"""A lead with many events (docs/simulate.md, "Scale"): the bulk evaluation behind the ranking
and the rule checks walks each lead's events once for all its instants, and must give what
evaluating each pair on its own gives; a history where one lead holds most events replays as
the every-instant definition says, on every engine."""

from __future__ import annotations

import math
import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.simulator.engine import Plan, Window
from leadscore.simulator.instants import lead_times
from leadscore.simulator.python_backend import PythonEngine, evaluated
from leadscore.simulator.ranking import crossing_scores, peak_scores
from test_simulator_support import REPLAY_ENGINES, bucket_of, oracle, ruleset, ts

START = ts("2026-03-01")
HOUR = 3600.0
BODY = """
score a {
  decay half_life 3d
  clamp 0..60
  inactivity after 4d: -2 every 1d
  base: +5 if employees >= 50
  views: +2 per page_view, max 30
  pricing: +6 per page_view where url starts_with "/pricing", decay linear 5d
  opens: +1 per email_open within 2d
  demo: +20 per demo_request, once, decay none
  gone: -15 per unsubscribe, decay steps { 1d: 50%, 3d: 0% }
  busy: +4 if count(email_open within 1d) >= 3
}
score b {
  budget: +10 if has_budget == true
}
threshold hot: a >= 40
threshold warm: a >= 15 and b >= 10
segment stage {
  high if a >= 30
  mid if a >= 10
  low otherwise
}
"""
DAY_HOURS = 24
KINDS = ("page_view", "email_open", "demo_request", "unsubscribe")


def _events(lead: str, count: int, rng: random.Random, days: int) -> list[tuple]:
    out = []
    for _ in range(count):
        kind = rng.choice(KINDS[:2] * 6 + KINDS[2:])
        url = rng.choice(["/pricing", "/blog", None]) if kind == "page_view" else None
        out.append((lead, kind, START + rng.randrange(days * 24) * HOUR, {"url": url} if kind == "page_view" else {}))
    return out


def _setup(tmp_path, long: int, seed: int = 3):
    loaded = leadscore.load(str(ruleset(tmp_path, BODY)))
    rng = random.Random(seed)
    leads = [(f"L{k}", {"employees": 80.0 if k % 2 else 5.0, "has_budget": k % 3 != 1,
                        "created_at": START - DAY_HOURS * HOUR}) for k in range(5)]
    events = _events("L0", long, rng, 40)
    for k in range(1, 5):
        events += _events(f"L{k}", 4, rng, 40)
    changes = [("L2", "has_budget", False, START + 10 * 24 * HOUR), ("L0", "employees", 90.0, START + 20 * 24 * HOUR)]
    end = START + 42 * 24 * HOUR
    return loaded, bucket_of(loaded.checked, leads, events, changes, end), end


def _same(value: float, expected) -> bool:
    return math.isnan(value) if expected is None else value == expected


def test_a_very_long_lead_replays_as_every_instant_says_on_every_engine(tmp_path):
    loaded, bucket, end = _setup(tmp_path, 400)
    plan = Plan.of("t", loaded.checked)
    reference = oracle(loaded, bucket, end)
    assert bucket.starts[1] - bucket.starts[0] == 400
    for name, engine in sorted(REPLAY_ENGINES.items()):
        found = engine().replay(bucket, plan, Window(START - 7 * 24 * HOUR, end))
        for k, expected in enumerate(reference):
            for i, threshold in enumerate(plan.thresholds):
                assert _same(found.crossings[k, i], expected["crossings"].get(threshold)), (name, k, threshold)
            for s, segment in enumerate(plan.segments):
                for j, label in enumerate(plan.labels[s]):
                    assert _same(found.first_labels[s][k, j], expected["labels"].get((segment, label))), (name, k)
            final = expected["final"]
            assert found.final_segments[k, 0] == plan.labels[0].index(final.segments["stage"]), (name, k)


def test_the_peaks_and_crossing_scores_of_a_long_lead_are_its_instants_own(tmp_path):
    loaded, bucket, end = _setup(tmp_path, 300)
    plan = Plan.of("t", loaded.checked)
    window = Window(START + 24 * HOUR, end)
    engine = PythonEngine()
    times = lead_times(bucket, window.end, window.start)
    success = np.full(len(bucket), np.nan)
    success[0] = START + 30 * 24 * HOUR      # L0's peak stops at its success
    rows = list(range(len(bucket)))
    peaks = peak_scores(engine, bucket, plan, window, success, times["first_in_window"], rows)
    for k in rows:
        lo, hi = bucket.starts[k], bucket.starts[k + 1]
        last = min(window.end, success[k]) if not math.isnan(success[k]) else window.end
        instants = {times["first_in_window"][k]} | {t for t in bucket.at[lo:hi]
                                                    if times["first_in_window"][k] <= t <= last and t < window.end}
        values = [engine.evaluate_at(bucket, k, plan, t)[0] for t in sorted(instants)]
        for j in range(len(plan.scores)):
            taken = [v[j] for v in values if v[j] is not None]
            assert peaks[k, j] == round(max(taken), 9)
    replayed = engine.replay(bucket, plan, window)
    at_crossing = crossing_scores(engine, bucket, plan, window, replayed.crossings, rows)
    k, i = np.argwhere(~np.isnan(replayed.crossings))[0]
    expected = engine.evaluate_at(bucket, int(k), plan, float(replayed.crossings[k, i]))[0]
    assert np.array_equal(at_crossing[k, i], [math.nan if v is None else v for v in expected], equal_nan=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(st.integers(0, 4), st.integers(-30, 44 * 24)), max_size=60),
       reasons=st.booleans(), seed=st.integers(0, 5))
def test_evaluate_many_equals_each_pair_evaluated_on_its_own(tmp_path, pairs, reasons, seed):
    """Pairs in any order, a lead asked about many times, instants before its events, at them
    and between them, and across its field changes."""
    loaded, bucket, _ = _setup(tmp_path, 60, seed)
    plan = Plan.of("t", loaded.checked)
    rows = np.array([k for k, _ in pairs], np.int64)
    instants = np.array([START + hour * HOUR for _, hour in pairs], float)
    # some instants exactly at event times (equal times: every event there counts)
    instants[::3] = [bucket.at[bucket.starts[k]] if bucket.starts[k + 1] > bucket.starts[k] else t
                     for k, t in zip(rows[::3], instants[::3])]
    engine = PythonEngine()
    found = engine.evaluate_many(bucket, plan, rows, instants, reasons)
    expected = evaluated(plan, [engine.evaluate_at(bucket, int(k), plan, float(t)) for k, t in zip(rows, instants)],
                         reasons)
    assert np.array_equal(found.scores, expected.scores, equal_nan=True)
    assert np.array_equal(found.thresholds, expected.thresholds)
    assert np.array_equal(found.segments, expected.segments)
    if reasons:
        assert found.reasons == expected.reasons
        assert np.array_equal(found.points, expected.points)

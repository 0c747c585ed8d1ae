"""Sweeps (SIMULATION.md §4): one replay, each value read off the stored score paths, must give
the crossings a replay with that value gives; forms the paths cannot answer replay per value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.simulator.engine import Plan, Replayed, Window
from leadscore.simulator.python_backend import PythonEngine
from leadscore.simulator.sweep import first_crossings, sweep_crossings, swept_thresholds
from leadscore.simulator.variants import literal, override, sweep_values
from test_simulator_skip import LEADS, histories
from test_simulator_support import CHEAP_ENGINES, REPLAY_ENGINES, bucket_of, ruleset, ts

START, END = ts("2026-03-01"), ts("2026-03-09")
SCORES = ("score a {\n  decay half_life 2d\n  view: +10 per page_view\n  demo: +30 per demo_request, decay none\n"
          "  unsub: -20 per unsubscribe, decay linear 3d\n}\nscore b {\n  big: +10 if employees >= 50\n}\n"
          "score c = a + b\n")
FORMS = st.sampled_from([
    "a >= k", "a > k", "k <= a", "a <= k", "a < k", "k > c", "not (a < k)", "b >= 10 and a >= k",
    "a >= k or b > 5", "c >= k and a > 3", "(a >= k and c >= k) or b >= 10", "a - b >= k", "max(a, b) >= k",
    "not (a >= k or b >= 10)", "a >= 20", "a >= k and a - b >= k", "a - b > k or a > k + 0",
    # evaluated over the rows once per value (no margin form)
    "a == k", "a != k", "a * k >= 30", "a >= k + 10", "max(a, k) >= 20", "k - a >= -5", "a > k and b < k",
    "a >= k or a <= k - 10", "a / k > 1", "c is missing or a >= k",
])


def swept_crossings(checked, bucket, values, engine=PythonEngine):
    indices = swept_thresholds(checked, "k")
    assert indices is not None
    plan = Plan.of("sweep", checked, indices, frozenset({"k"}))
    replayed = engine().replay(bucket, plan, Window(START, END))
    out = [replayed.crossings.copy() for _ in values]
    for i, found in sweep_crossings(checked, "k", replayed.recording, values, len(bucket)).items():
        for v in range(len(values)):
            out[v][:, i] = found[v]
    return out


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(first=FORMS, second=FORMS, data=st.data())
def test_a_sweep_over_stored_paths_equals_a_replay_per_value(tmp_path, first, second, data):
    body, kept = SCORES + "const k = 15", set()
    for name, line in (("t1", first), ("t2", f"{second} or (t1 and a > 1)"), ("t3", "t1 and not t2")):
        if name != "t1" and "t1" not in kept or name == "t3" and "t2" not in kept:
            continue
        # a threshold joining bounds of the constant that point different ways replays per value
        text = f"{body}\nthreshold {name}: {line}"
        if swept_thresholds(leadscore.load(str(ruleset(tmp_path, text))).checked, "k") is not None:
            body = text
            kept.add(name)
    loaded = leadscore.load(str(ruleset(tmp_path, body)))
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(4)]
    events, _ = data.draw(histories(4))
    bucket = bucket_of(loaded.checked, leads, events, end=END)
    values = sorted(set(data.draw(st.lists(st.sampled_from([-5.0, 0.0, 5.0, 9.5, 10.0, 15.0, 20.0, 30.0, 40.0]),
                                           min_size=1, max_size=4))))
    for engine in CHEAP_ENGINES.values():
        found = swept_crossings(loaded.checked, bucket, values, engine)
        for value, crossings in zip(values, found):
            plan = Plan.of("v", override(loaded.checked, [("k", literal(value))]))
            expected = PythonEngine().replay(bucket, plan, Window(START, END)).crossings
            assert np.array_equal(crossings, expected, equal_nan=True), (engine, value, crossings, expected)


def test_the_forms_the_stored_paths_cannot_answer_replay_per_value(tmp_path):
    def method(condition: str, extra: str = "") -> tuple | None:
        folder = tmp_path / str(abs(hash(condition + extra)))
        loaded = leadscore.load(str(ruleset(folder, SCORES + extra + f"const k = 15\nthreshold t: {condition}")))
        return swept_thresholds(loaded.checked, "k")

    assert method("a >= k") == (0,)
    assert method("a >= 20") == ()                       # the constant is not in any threshold
    assert method("a == k") == (0,)                       # not a bound: evaluated per value on the paths
    assert method("a * k >= 3") == (0,)                   # the constant inside arithmetic: likewise
    assert method("a >= k or a <= k - 1") == (0,)
    assert method("a >= k and employees > 5") is None     # beside a field, which is not recorded
    assert method("a >= k and count(page_view) > 2") is None   # beside an aggregate of events
    assert method("a >= 1", "score e {\n  x: +1 if employees >= k\n}\n") is None   # in a score


def test_sweep_values_run_from_start_to_stop_inclusive(tmp_path):
    loaded = leadscore.load(str(ruleset(tmp_path, SCORES + "const k = 15\nthreshold t: a >= k")))
    assert sweep_values(loaded.checked, "k=40:80:10") == ("k", [40.0, 50.0, 60.0, 70.0, 80.0])
    assert sweep_values(loaded.checked, "k=0.1:0.3:0.1") == ("k", [0.1, 0.2, 0.3])
    assert sweep_values(loaded.checked, "k=10:0:-5") == ("k", [10.0, 5.0, 0.0])
    assert sweep_values(loaded.checked, "k=1:2:5") == ("k", [1.0])


def test_first_crossings_reads_each_leads_running_maximum():
    from leadscore.simulator.engine import Recording
    from leadscore.simulator.sweep import Margin

    # lead 0: h = 1, 5, 3 at t = 10, 20, 30; lead 1: nothing recorded; lead 2: h = 7 at t = 5
    recording = Recording(np.array([0, 0, 0, 2]), np.array([10.0, 20.0, 30.0, 5.0]), np.zeros((4, 0)),
                          np.zeros((4, 0), bool))
    margin = Margin(1, False, np.array([1.0, 5.0, 3.0, 7.0]))
    found = first_crossings(recording, margin, [0.0, 3.0, 5.0, 6.0], 3)
    nan = math.nan
    assert np.array_equal(found, [[10, nan, 5], [20, nan, 5], [20, nan, 5], [nan, nan, 5]], equal_nan=True)
    strict = first_crossings(recording, Margin(1, True, margin.h), [5.0], 3)
    assert np.array_equal(strict, [[nan, nan, 5]], equal_nan=True)


def _sweep_by_value_equals_replays(checked, bucket, values, engine) -> Replayed:
    """The engine's recording replay, after checking its sweep against a Python replay per value."""
    plan = Plan.of("sweep", checked, swept_thresholds(checked, "k"), frozenset({"k"}))
    replayed = engine().replay(bucket, plan, Window(START, END))
    found = sweep_crossings(checked, "k", replayed.recording, values, len(bucket))
    for v, value in enumerate(values):
        expected = PythonEngine().replay(bucket, Plan.of("v", override(checked, [("k", literal(value))])),
                                         Window(START, END)).crossings
        for i, crossings in found.items():
            assert np.array_equal(crossings[v], expected[:, i], equal_nan=True), (engine, value, i)
    return replayed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(condition=st.sampled_from(["b >= 10 and a >= k", "a >= k and b < 10", "(b >= 10 and a > k) or a >= k + 30",
                                  "b >= 10 and not (a < k)", "b > 10 and a >= k"]), data=st.data())
def test_a_sweep_leaving_out_leads_that_cross_at_no_value_equals_a_replay_per_value(tmp_path, condition, data):
    # leads whose fixed part (b, from employees) is false are not recorded; a field change may
    # make it true later, so those leads are
    loaded = leadscore.load(str(ruleset(tmp_path, f"{SCORES}const k = 15\nthreshold t: {condition}")))
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(4)]
    events, changes = data.draw(histories(4))
    bucket = bucket_of(loaded.checked, leads, events, changes, end=END)
    values = sorted(set(data.draw(st.lists(st.sampled_from([-5.0, 0.0, 10.0, 15.0, 30.0]), min_size=1, max_size=3))))
    for engine in CHEAP_ENGINES.values():
        _sweep_by_value_equals_replays(loaded.checked, bucket, values, engine)


@pytest.mark.parametrize("engine", ["bulk", "duckdb"])
def test_the_recording_leaves_out_a_lead_whose_swept_threshold_cannot_hold(tmp_path, engine):
    loaded = leadscore.load(str(ruleset(tmp_path, f"{SCORES}const k = 15\nthreshold t: b >= 10 and a >= k")))
    leads = [("small", {"employees": 10}), ("big", {"employees": 80}), ("grows", {"employees": 10})]
    events = [(lead, "page_view", START + hour * 3600.0, {"url": "/blog"}) for lead in ("small", "big", "grows")
              for hour in (2, 30, 31, 32)]
    # `grows` becomes big on day 2: its fixed part may change, so it is recorded
    bucket = bucket_of(loaded.checked, leads, events, [("grows", "employees", 80.0, START + 40 * 3600.0)], end=END)
    replayed = _sweep_by_value_equals_replays(loaded.checked, bucket, [5.0, 15.0, 25.0], REPLAY_ENGINES[engine])
    assert set(replayed.recording.lead.tolist()) == {1, 2}
    assert not np.isnan(replayed.crossings[2, 0])

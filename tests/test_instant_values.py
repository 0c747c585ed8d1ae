"""Each instant's rule sums read off the running sums in numpy (simulator/instant_values.py):
a lone match of a decayed rule valued exactly as the Python scorer values it (so a score that
Python lands on a round value is not re-evaluated), and agreement with the Python scorer over
half-life blocks (a lead's events in two or three blocks of 540 half-lives)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore import semantics as sem
from leadscore.engines.duckdb_engine import connect
from leadscore.engines.sql.instants import HalfLifeSum, OneTerm, RunningColumn
from leadscore.lower import lower
from leadscore.simulator import duckdb_backend, instant_values
from leadscore.simulator.duckdb_backend import DuckDBEngine
from leadscore.simulator.duckdb_bucket import bucket_tables
from leadscore.simulator.duckdb_instants import by_row_id, evaluate_instants
from leadscore.simulator.engine import Plan
from leadscore.simulator.python_backend import PythonEngine
from leadscore.simulator.running_sums import running_arrays
from test_simulator_support import bucket_of, ruleset, ts

DAY = 86400.0
START = ts("2026-03-01")
LONE = """score a {{
  v: +{points} per page_view, decay {decay}
}}
threshold t: a >= {points}
"""


@pytest.fixture(scope="module")
def connection():
    return connect()


def lone_events(n: int) -> tuple[list, list, list]:
    """n leads, each with one page view at an odd time (seconds with a fraction), and the
    instants: each event's own, and some later."""
    rng = np.random.default_rng(7)
    times = START + rng.uniform(0, 400 * DAY, n).round(6)
    leads = [(f"L{k}", {}) for k in range(n)]
    events = [(f"L{k}", "page_view", float(at), {"url": "/p"}) for k, at in enumerate(times)]
    rows = np.repeat(np.arange(n), 3)
    instants = np.column_stack([times, times + 0.5 * DAY, times + 37.25 * DAY]).ravel()
    return leads, events, (rows, instants)


@pytest.mark.parametrize("points, decay", [(10, "half_life 30d"), (15, "half_life 7d"), (10, "linear 30d"),
                                           (1, "half_life 1d")])
def test_a_lone_match_is_valued_as_python_values_it(tmp_path, connection, points, decay):
    """At its own instant a lone event scores its points exactly (the block sums gave
    9.999999999999998 for 10 at about one event in three), so the threshold at the points holds
    at the event on both engines; later, Python's value to a unit in the last place (numpy's
    power may round its last bit otherwise than the C library's)."""
    checked = leadscore.load(str(ruleset(tmp_path, LONE.format(points=points, decay=decay)))).checked
    leads, events, (rows, instants) = lone_events(300)
    bucket = bucket_of(checked, leads, events)
    table = evaluate_instants(connection, lower(checked), bucket_tables(bucket, checked.schema), rows, instants)
    found = table.column("a").to_numpy(zero_copy_only=False)
    expected = PythonEngine().evaluate_many(bucket, Plan.of("t", checked), rows, instants).scores[:, 0]
    assert found[::3].tolist() == expected[::3].tolist() == [float(points)] * 300
    assert table.column("t").to_pylist()[::3] == [True] * 300
    assert found == pytest.approx(expected, rel=3e-16, abs=0.0)


def test_no_score_at_an_event_s_own_instant_goes_back_to_python(tmp_path, monkeypatch):
    """The near-round safety net (duckdb_backend.near_round) finds nothing to re-evaluate where
    every lead's score is a lone event's points at its instant (before: 151 of 300)."""
    checked = leadscore.load(str(ruleset(tmp_path, LONE.format(points=10, decay="half_life 30d")))).checked
    leads, events, (rows, instants) = lone_events(300)
    bucket = bucket_of(checked, leads, events)
    again = []
    near_round = duckdb_backend.near_round
    monkeypatch.setattr(duckdb_backend, "near_round", lambda scores: again.append(near_round(scores)) or again[-1])
    found = DuckDBEngine(threads=1).evaluate_many(bucket, Plan.of("t", checked), rows[::3], instants[::3])
    assert (found.scores[:, 0] == 10.0).all() and found.thresholds[:, 0].all()
    assert sum(int(rows.sum()) for rows in again) == 0


# a lead's events: (day, whole seconds) pairs; a half-life of a day makes a block 540 days, so
# leads spanning 1,200 days have events in two or three blocks, and instants in a later one
HALF_LIFE_RULES = """score a {
  v: +3 per page_view, decay half_life 1d
  w: +2 per email_open within 700d, decay half_life 1d
  l: +5 per page_view, decay linear 3d
}
"""
lead_events = st.lists(st.tuples(st.sampled_from(["page_view", "email_open"]), st.floats(0, 1200),
                                 st.integers(0, 86399)), min_size=0, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(lead_events, min_size=1, max_size=4), offsets=st.lists(st.floats(0, 1300), min_size=1,
                                                                                   max_size=6))
def test_sums_across_half_life_blocks_agree_with_python(tmp_path, connection, histories, offsets):
    """Instants at and between the events, in the events' blocks and later ones: Python's values
    to 1e-9 (docs/engines.md); a lead with one event, at that event's instant, exactly."""
    checked = leadscore.load(str(ruleset(tmp_path, HALF_LIFE_RULES))).checked
    origin = 540 * DAY * 35   # a block boundary (of a day's half-life) near 2021
    leads = [(f"L{k}", {}) for k in range(len(histories))]
    events = [(f"L{k}", kind, origin + day * DAY + second, {"url": "/p"} if kind == "page_view" else {})
              for k, history in enumerate(histories) for kind, day, second in history]
    bucket = bucket_of(checked, leads, events)
    rows, instants, own = [], [], []
    for k in range(len(histories)):
        mine = [e[2] for e in events if e[0] == f"L{k}"]
        for at in mine + [origin + offset * DAY for offset in offsets]:
            rows.append(k)
            instants.append(at)
            own.append(len(mine) == 1 and at == mine[0])
    rows, instants = np.array(rows, np.int64), np.array(instants)
    table = evaluate_instants(connection, lower(checked), bucket_tables(bucket, checked.schema), rows, instants)
    found = table.column("a").to_numpy(zero_copy_only=False)
    expected = PythonEngine().evaluate_many(bucket, Plan.of("t", checked), rows, instants).scores[:, 0]
    assert found == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert found[own].tolist() == expected[own].tolist()


@settings(max_examples=50, deadline=None)
@given(order=st.permutations(list(range(9))), cut=st.integers(0, 9))
def test_the_statement_s_rows_come_back_in_row_id_order(order, cut):
    table = pa.table({"row_id": pa.chunked_array([order[:cut], order[cut:]], pa.int64()),
                      "x": pa.chunked_array([[f"r{k}" for k in order[:cut]], [f"r{k}" for k in order[cut:]]],
                                            pa.string())})
    assert by_row_id(table).to_pydict() == {"row_id": list(range(9)), "x": [f"r{k}" for k in range(9)]}


class _MaskedReader(instant_values._Reader):
    """The reader with every block part read through the masks, as if the events read were in
    several blocks."""

    def ahead(self, group, block, age):
        return super().ahead(group, block, age)[0], None


# per event: (lead, seconds, points); with a half-life of one second a block is 540 s, so a
# lead's events lie in up to four blocks and an instant may be a block or two after its event
block_events = st.lists(st.tuples(st.integers(0, 3), st.floats(0, 2000).map(lambda s: round(s, 3)),
                                  st.sampled_from([0.0, 1.0, 2.5, -4.0])), max_size=40)
block_queries = st.lists(st.tuples(st.integers(0, 4), st.floats(0, 2600)), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(rows=block_events, queries=block_queries, within=st.sampled_from([None, 300.0, 800.0, 1e6]))
def test_block_parts_read_without_masks_equal_the_masked_reading(rows, queries, within):
    """Where every event read lies the same number of blocks before its instant (the usual case:
    all in the instant's block), the reader gathers whole columns instead of masking: the same
    values to the last bit, and where they do not, the masks."""
    rows = sorted(rows)
    at = np.array([r[1] for r in rows], np.float64)
    terms = pa.table({"lead": pa.array([r[0] for r in rows], pa.int64()),
                      "pos": pa.array(np.arange(len(rows)), pa.int64()), "at_s": pa.array(at, pa.float64()),
                      "hb0": pa.array(np.floor(at / 540.0), pa.float64()),
                      "x": pa.array([r[2] for r in rows], pa.float64())})
    columns = (RunningColumn("x", 0, False), RunningColumn("xc", None, False, ("x",)),
               RunningColumn("xt", None, True, ("x",)))
    running = running_arrays(terms, columns, 1)
    value = HalfLifeSum("r", "x", 0, 1.0, within, OneTerm("xc", "xt", within, 1.0, sem.Decay(sem.DecayKind.HALF_LIFE,
                                                                                             1.0 / DAY)))
    leads = np.array([q[0] for q in queries], np.int64)
    instants = np.array([q[1] for q in queries])
    found = instant_values._Reader(running, leads, instants).half_life(value)
    masked = _MaskedReader(running, leads, instants).half_life(value)
    assert found.tobytes() == masked.tobytes()

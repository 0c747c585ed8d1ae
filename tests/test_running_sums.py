"""The replay's running sums in numpy (simulator/running_sums.py) and the search for the event
each instant reads (duckdb_instants.last_at_or_before), against plain loops; the DuckDB replay
computes them once per bucket."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.engines.sql.instants import RunningColumn
from leadscore.simulator import running_sums
from leadscore.simulator.duckdb_backend import DuckDBEngine
from leadscore.simulator.duckdb_instants import last_at_or_before
from leadscore.simulator.engine import Plan, Window
from leadscore.simulator.running_sums import running_arrays
from test_simulator_support import bucket_of, ruleset, ts

# per event: (lead, block, summed term, latest term or None, whole-number term)
events = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.floats(-1e3, 1e3, allow_nan=False),
                            st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False)),
                            st.integers(-10**6, 10**6).map(float)), max_size=60)


def terms_of(rows: list[tuple]) -> pa.Table:
    rows = sorted(rows, key=lambda r: (r[0], r[1]))   # blocks follow time: they never decrease in a lead
    shuffled = np.random.default_rng(len(rows)).permutation(len(rows))   # `terms` comes back in any order
    pos = np.arange(len(rows))[shuffled]
    return pa.table({"lead": pa.array([rows[p][0] for p in pos], pa.int64()), "pos": pa.array(pos, pa.int64()),
                     "at_s": pa.array(pos * 10.0),
                     "hb0": pa.array([float(rows[p][1]) for p in pos]),
                     "plain": pa.array([rows[p][2] for p in pos], pa.float64()),
                     "anchored": pa.array([rows[p][2] for p in pos], pa.float64()),
                     "latest": pa.array([rows[p][3] for p in pos], pa.float64()),
                     "counted": pa.array([rows[p][4] for p in pos], pa.float64())})


def expected(rows: list[tuple]) -> dict[str, list]:
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    out: dict[str, list] = {n: [] for n in ("plain", "anchored", "latest", "anchored_q1", "anchored_q2", "counted",
                                            "matched", "matched_at")}
    for k, (lead, block, value, _, _) in enumerate(rows):
        before = [r for r in rows[:k + 1] if r[0] == lead]
        # the matches of `plain`: its events whose term is not 0, at 10 s per place
        matched = [10.0 * p for p, r in enumerate(rows[:k + 1]) if r[0] == lead and r[2] != 0]
        out["matched"].append(float(len(matched)))
        out["matched_at"].append(matched[-1] if matched else None)
        total = 0.0
        for r in before:   # one addition after another, in event order
            total += r[2]
        out["plain"].append(total)
        total = 0.0
        for r in before:
            total += r[4]
        out["counted"].append(total)
        total = 0.0
        for r in before:
            if r[1] == block:
                total += r[2]
        out["anchored"].append(total)
        found = [r[3] for r in before if r[3] is not None]
        out["latest"].append(found[-1] if found else None)
        for d in (1, 2):
            total = 0.0
            for r in rows:
                if r[0] == lead and r[1] == block - d:
                    total += r[2]
            out[f"anchored_q{d}"].append(total)
    return out


COLUMNS = (RunningColumn("plain", None, False), RunningColumn("anchored", 0, False), RunningColumn("latest", None, True),
           RunningColumn("counted", None, False, whole=1e6), RunningColumn("matched", None, False, ("plain",)),
           RunningColumn("matched_at", None, True, ("plain",)))


def listed(found: running_sums.Running, name: str) -> list:
    """A running column's values per event (None: no match yet), checking the item an instant
    before the lead's first event reads: 0 for a sum, NaN for a maximum."""
    if name.endswith(("_q1", "_q2")) and name not in found.columns:   # every lead in one block
        assert len(np.unique(np.c_[found.lead, found.blocks[0][:-1]], axis=0)) == len(np.unique(found.lead))
        return [0.0] * len(found.lead)
    values = found.read(name, np.append(np.arange(len(found.lead)), -1))
    assert values[-1] == 0.0 if name not in ("latest", "matched_at") else math.isnan(values[-1])
    return [None if math.isnan(v) else float(v) for v in values[:-1]]


@settings(max_examples=150, deadline=None)
@given(rows=events, short=st.sampled_from([1, 3, 64]))
def test_running_sums_equal_sequential_sums_per_lead_and_block(rows, short):
    running_sums._SHORT, kept = short, running_sums._SHORT   # both paths: leads a place at a time, and one by one
    try:
        found = running_arrays(terms_of(rows), COLUMNS, 1)
    finally:
        running_sums._SHORT = kept
    assert found.at.tolist() == [10.0 * p for p in range(len(rows))]   # in `pos` order
    assert found.lead.tolist() == sorted(r[0] for r in rows)
    for name, values in expected(rows).items():
        assert listed(found, name) == values, name   # exactly: the same additions in the same order


@settings(max_examples=100, deadline=None)
@given(rows=events)
def test_running_sums_where_each_lead_s_events_lie_in_one_block(rows):
    # the usual case (a block is 540 half-lives): the earlier blocks' totals are all 0, given
    # without looking for them; leads may still be in different blocks
    rows = [(lead, lead % 2, value, latest, whole) for lead, _, value, latest, whole in rows]
    found = running_arrays(terms_of(rows), COLUMNS, 1)
    for name, values in expected(rows).items():
        assert listed(found, name) == values, name


def test_a_running_sum_past_the_largest_double_is_infinite():
    rows = [(0, 0, 1e308, None, 0.0), (0, 0, 1e308, None, 0.0)]
    found = running_arrays(terms_of(rows), COLUMNS, 1)
    assert listed(found, "plain") == [1e308, math.inf]


def test_whole_numbers_that_may_sum_past_2_to_the_53_are_added_one_after_another():
    # one cumulative sum over the bucket would round: 1 - (2^53 + 2) is not a double
    rows = [(0, 0, 0.0, None, 2.0 ** 53 + 2.0), (1, 0, 0.0, None, 1.0), (1, 0, 0.0, None, 1.0)]
    columns = tuple(RunningColumn("counted", None, False, whole=2.0 ** 53 + 2.0) if c.name == "counted" else c
                    for c in COLUMNS)
    found = running_arrays(terms_of(rows), columns, 1)
    assert listed(found, "counted") == expected(rows)["counted"] == [2.0 ** 53 + 2.0, 1.0, 2.0]


times = st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0.0, 1.0, 1.5, 2.0, 86400.0, 1e9])), max_size=30)


@settings(max_examples=200, deadline=None)
@given(rows=times, queries=times)
def test_the_event_an_instant_reads_is_its_leads_last_at_or_before_it(rows, queries):
    """Equal times (the last of them), instants before a lead's first event, leads with none."""
    rows = sorted(rows)
    lead = np.array([r[0] for r in rows], np.int64)
    at = np.array([r[1] for r in rows])
    key = np.arange(len(rows), dtype=np.int64) * 10
    found = last_at_or_before(lead, at, key, np.array([q[0] for q in queries], np.int64),
                              np.array([q[1] for q in queries]))
    for (q_lead, q_at), got in zip(queries, found):
        mine = [k for (l, a), k in zip(rows, key) if l == q_lead and a <= q_at]
        assert got == (max(mine) if mine else -1)


def test_a_replay_computes_each_buckets_running_sums_once_for_all_its_rounds(tmp_path):
    """Rounds of bisection (a negative event fading back under a threshold over weeks) read the
    running sums of the bucket's first round: the `terms` statement runs once per bucket."""
    checked = leadscore.load(str(ruleset(tmp_path, "score a {\n  v: +10 per page_view\n"
                                                   "  u: -30 per unsubscribe, decay half_life 10d\n}\n"
                                                   "threshold t: a >= 5\n"))).checked
    start = ts("2026-03-01")
    bucket = bucket_of(checked, [("L0", {}), ("L1", {})],
                       [(lead, kind, start + k * 3600.0, {"url": "/p"} if kind == "page_view" else {})
                        for lead in ("L0", "L1") for k, kind in enumerate(("unsubscribe", "page_view"))])
    engine = DuckDBEngine(threads=1)
    statements = []
    run = engine.run
    engine.run = lambda sql, relations: statements.append(sorted(relations)) or run(sql, relations)
    found = engine.replay(bucket, Plan.of("t", checked), Window(start - 86400.0, start + 120 * 86400.0))
    assert not np.isnan(found.crossings).any()   # both leads cross back over 5 as the -30 fades
    assert statements.count(["event_input", "lead_input"]) == 1
    assert statements.count(["change_input", "instants", "lead_input"]) >= 3

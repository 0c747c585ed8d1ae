"""The bulk replay's bookkeeping in numpy (simulator/bulk_replay.py, duckdb_bucket.py) equals
its plain definition: the jumps laid out per lead and merged with the change jumps equal each
lead's instants listed one by one; the packed distinct rows equal numpy's row-wise unique; the
Arrow tables of a bucket, made once per bucket, equal a value-by-value conversion."""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.simulator.bulk_replay import _BulkReplay, _distinct
from leadscore.simulator.duckdb_bucket import bucket_tables
from leadscore.simulator.engine import Plan, Window
from leadscore.simulator import history
from leadscore.simulator.history import Bucket, event_arrays
from leadscore.simulator.instants import first_at_or_after, instant_after_change, lead_span, lead_times
from leadscore.simulator.python_backend import PythonEngine
from test_simulator_skip import END, LEADS, START, bodies, histories
from leadscore.tables import ProblemLog
from test_simulator_support import bucket_of, ruleset, ts
from test_simulator_support import history as write_history

BODY = """score a {
  views: +10 per page_view, decay half_life 2d
  budget: +5 if has_budget == true
}
threshold hot: a >= 10
segment grade {
  top if a >= 20
  rest otherwise
}"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return leadscore.load(str(ruleset(tmp_path_factory.mktemp("bookkeeping"), BODY)))


def listed_jumps(bucket: Bucket, end: float) -> list[tuple[int, float, bool, int]]:
    """(lead, instant, after a field change, events up to it in the bucket) of every jump, lead
    by lead: the first and last instants, each event time and the first instant after each
    change, each once."""
    out = []
    for k in range(len(bucket)):
        lo, hi = bucket.starts[k], bucket.starts[k + 1]
        span = lead_span(bucket.at, lo, hi, bucket.created[k], end)
        if span is None:
            continue
        after_changes = {instant_after_change(span, bucket.at, lo, hi, when)
                         for when, _, _ in bucket.changes[bucket.change_starts[k]:bucket.change_starts[k + 1]]}
        after_changes.discard(None)
        for instant in sorted({span.first, span.last, *bucket.at[lo:hi], *after_changes}):
            out.append((k, instant, instant in after_changes, bisect_right(bucket.at, instant, lo, hi)))
    return out


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_jumps_are_each_leads_instants_listed_one_by_one(loaded, data):
    # leads without events, events at equal times, creation after a lead's first events, field
    # changes before, between and after the events (and at or after the end)
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(5)]
    events, changes = data.draw(histories(5))
    bucket = bucket_of(loaded.checked, leads, events, changes, end=END)
    replay = _BulkReplay(PythonEngine(), bucket, Plan.of("t", loaded.checked), Window(START, END))
    lead, at = replay.jumps()
    found = list(zip(lead.tolist(), at.tolist(), replay.changed.tolist(), replay.upto.tolist()))
    assert found == listed_jumps(bucket, END)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_the_event_types_seen_by_each_jump_are_those_of_its_leads_events_up_to_it(tmp_path_factory, data):
    # rulesets where some event types move a score with time and others do not
    loaded = leadscore.load(str(ruleset(tmp_path_factory.mktemp("live"), data.draw(bodies()))))
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(4)]
    events, changes = data.draw(histories(4))
    bucket = bucket_of(loaded.checked, leads, events, changes, end=END)
    replay = _BulkReplay(PythonEngine(), bucket, Plan.of("t", loaded.checked), Window(START, END))
    lead, _ = replay.jumps()
    analysis = replay.plan.analysis
    expected = [analysis.relevant_live(sum({analysis.event_bits[kind] for kind in bucket.kinds[bucket.starts[k]:upto]}))
                for k, upto in zip(lead.tolist(), replay.upto.tolist())]
    assert replay.live(lead, replay.upto).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_each_leads_times_are_those_of_its_span(loaded, data):
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(5)]
    events, _ = data.draw(histories(5))
    bucket = bucket_of(loaded.checked, leads, events, end=END)
    start = START + data.draw(st.integers(-48, 24 * 10)) * 3600.0
    found = lead_times(bucket, END, start)
    for k in range(len(bucket)):
        lo, hi = bucket.starts[k], bucket.starts[k + 1]
        span = lead_span(bucket.at, lo, hi, bucket.created[k], END)
        in_window = None if span is None else first_at_or_after(span, bucket.at, lo, hi, start)
        expected = (math.nan, math.nan, math.nan) if span is None else \
            (span.first, math.nan if in_window is None else in_window, span.last)
        assert np.array_equal([found["first"][k], found["first_in_window"][k], found["last"][k]], expected,
                              equal_nan=True)


def test_a_bucket_without_leads_has_no_jumps(loaded):
    bucket = bucket_of(loaded.checked, [], [])
    replay = _BulkReplay(PythonEngine(), bucket, Plan.of("t", loaded.checked), Window(START, END))
    lead, at = replay.jumps()
    assert len(lead) == len(at) == len(replay.upto) == len(replay.changed) == 0


COLUMNS = st.one_of(
    st.lists(st.integers(0, 3), min_size=12, max_size=12).map(lambda v: np.array(v, np.int64)),
    st.lists(st.integers(-1, 2), min_size=12, max_size=12).map(lambda v: np.array(v, np.int64)),
    # wide values: the packed columns outgrow 62 bits and are renumbered
    st.lists(st.sampled_from([0, 1 << 40, 1 << 61, 5]), min_size=12, max_size=12).map(lambda v: np.array(v, np.int64)),
    st.lists(st.booleans(), min_size=12, max_size=12).map(lambda v: np.array(v, bool)),
    st.lists(st.sampled_from([0.0, 1.5, -2.0, math.nan, 1e300]), min_size=12, max_size=12).map(
        lambda v: np.array(v, float)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(COLUMNS, max_size=6))
def test_distinct_rows_equal_numpys_unique_over_rows(columns):
    first, inverse = _distinct(columns, 12)
    # rows compared as Python values, NaN equal to NaN
    rows = [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in zip(*(c.tolist() for c in columns))] if columns else [()] * 12
    assert len(first) == len(set(rows))
    assert [rows[i] for i in first.tolist()] == [rows[first[g]] for g in range(len(first))]
    assert all(rows[i] == rows[first[inverse[i]]] for i in range(12))
    assert len({rows[i] for i in first.tolist()}) == len(first)


def test_the_tables_are_made_once_per_bucket_and_schema_types(loaded):
    bucket = bucket_of(loaded.checked, [("L0", {"industry": "Software"})],
                       [("L0", "page_view", START, {"url": "/a"})])
    tables = bucket_tables(bucket, loaded.checked.schema)
    assert bucket_tables(bucket, loaded.checked.schema) is tables
    again = bucket_of(loaded.checked, [("L0", {"industry": "Software"})], [("L0", "page_view", START, {"url": "/a"})])
    assert bucket_tables(again, loaded.checked.schema) is not tables
    assert all(bucket_tables(again, loaded.checked.schema)[name].equals(table) for name, table in tables.items())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_event_table_equals_a_value_by_value_conversion(loaded, data):
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(4)]
    events, changes = data.draw(histories(4))
    bucket = bucket_of(loaded.checked, leads, events, changes, end=END)
    # some events share one properties dict, as `prepare` makes them: converted once, repeated
    shared = {"url": "/shared"}
    pairs = [(when, shared) if kind == "page_view" and data.draw(st.booleans()) else (when, properties)
             for (when, properties), kind in zip(bucket.pairs, bucket.kinds)]
    bucket = Bucket(bucket.ids, bucket.positions, bucket.fields, bucket.created, bucket.at, bucket.kinds, pairs,
                    bucket.starts, bucket.changes, bucket.change_starts)
    table = bucket_tables(bucket, loaded.checked.schema)["event_input"]
    lead = [k for k in range(len(bucket)) for _ in range(bucket.starts[k], bucket.starts[k + 1])]
    seq = [e - bucket.starts[k] for k, e in zip(lead, range(len(bucket.at)))]
    order = sorted(range(len(lead)), key=lambda e: (lead[e], bucket.at[e], seq[e]))
    assert table["lead"].to_pylist() == lead
    assert table["type"].to_pylist() == bucket.kinds
    assert table["at"].to_pylist() == bucket.at
    assert table["seq"].to_pylist() == seq
    assert table["pos"].to_pylist() == [order.index(e) for e in range(len(lead))]
    assert table["q0"].to_pylist() == [properties.get("url") for _, properties in pairs]
    assert table.schema.field("q0").type == pa.string()


def test_a_prepared_buckets_event_arrays_are_those_its_lists_convert_to(loaded, tmp_path):
    # events out of order, of an unknown lead, after the end: `prepare` keeps the arrays it
    # made the lists from, and they must be what the lists convert to
    folder = write_history(tmp_path, [{"lead_id": "A"}, {"lead_id": "B"}, {"lead_id": "C"}], [
        ("B", "page_view", "2026-03-02T10:00:00Z", "/a"), ("A", "email_open", "2026-03-01T10:00:00Z", ""),
        ("B", "demo_request", "2026-03-01T09:00:00Z", ""), ("Z", "page_view", "2026-03-01T09:00:00Z", ""),
        ("A", "page_view", "2026-03-30T00:00:00Z", ""), ("B", "email_open", "2026-03-02T10:00:00Z", "")])
    spill = history.spill_history(history.HistoryFiles.find(str(folder), {}), loaded.checked.schema, ProblemLog(),
                                  1, None)
    bucket = history.prepare(spill, 0, "created_at", ts("2026-03-20"), 10)
    prepared = event_arrays(bucket)
    bucket.derived.clear()
    converted = event_arrays(bucket)
    assert prepared is not converted and len(prepared.at) == 4
    for name in ("at", "starts", "lead"):
        assert getattr(prepared, name).dtype == getattr(converted, name).dtype
        assert np.array_equal(getattr(prepared, name), getattr(converted, name))
    assert prepared.kinds.equals(converted.kinds)

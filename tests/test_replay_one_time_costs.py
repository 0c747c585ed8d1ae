"""What `prepare` hands over to the replay so it is not found again (simulator/history.py):
the events' distinct property dicts and each event's number among them, which must be those
the bucket's own dicts tell apart by identity, and give the same Arrow tables; and the bulk
replay's bookkeeping (bulk_replay.py) equal to its plain definition."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.simulator import history
from leadscore.simulator.bulk_replay import _last_marked
from leadscore.simulator.duckdb_bucket import bucket_tables
from leadscore.tables import ProblemLog
from test_simulator_support import ruleset, ts
from test_simulator_support import history as write_history

BODY = """score a {
  views: +10 per page_view where url == "/pricing", decay half_life 2d
  opens: +3 per email_open
}
threshold hot: a >= 10"""

KINDS = ("page_view", "email_open", "demo_request")
URLS = ("", "/pricing", "/a", "/b")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return leadscore.load(str(ruleset(tmp_path_factory.mktemp("one-time"), BODY)))


def prepared(loaded, folder: Path, events: list[tuple]) -> history.Bucket:
    write_history(folder, [{"lead_id": lead} for lead in ("A", "B", "C")], events)
    spill = history.spill_history(history.HistoryFiles.find(str(folder), {}), loaded.checked.schema, ProblemLog(),
                                  1, None)
    return history.prepare(spill, 0, "created_at", ts("2026-04-01"), 10)


events_of = st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from(KINDS),
                               st.integers(1, 28).map(lambda day: f"2026-03-{day:02d}T10:00:00Z"),
                               st.sampled_from(URLS)), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events_of)
def test_prepares_property_dicts_are_the_events_dicts_told_apart(loaded, events):
    with tempfile.TemporaryDirectory() as name:
        bucket = prepared(loaded, Path(name), events)
    handed = history.property_dicts(bucket)
    assert len(handed.numbers) == len(bucket.pairs)
    assert all(handed.distinct[n] is properties for n, (_, properties) in zip(handed.numbers.tolist(), bucket.pairs))
    # equal properties of one type share a dict (and so a number); other dicts differ
    for i, (kind, (_, properties)) in enumerate(zip(bucket.kinds, bucket.pairs)):
        for j in range(i):
            alike = bucket.kinds[j] == kind and bucket.pairs[j][1] == properties
            if alike:
                assert handed.numbers[i] == handed.numbers[j]
            elif bucket.pairs[j][1] != properties:
                assert handed.numbers[i] != handed.numbers[j]
    # the numbers found by identity (a bucket not made by `prepare`) give the same tables
    tables = bucket_tables(bucket, loaded.checked.schema)
    bucket.derived.clear()
    found = history.property_dicts(bucket)
    assert [found.distinct[n] for n in found.numbers.tolist()] == [handed.distinct[n] for n in handed.numbers.tolist()]
    again = bucket_tables(bucket, loaded.checked.schema)
    assert again is not tables
    for name, table in tables.items():
        assert table.equals(again[name]), name


def test_a_bucket_without_events_has_no_property_dicts_numbers(loaded, tmp_path):
    bucket = prepared(loaded, tmp_path, [])
    assert len(history.property_dicts(bucket).numbers) == 0
    assert bucket_tables(bucket, loaded.checked.schema)["event_input"].num_rows == 0


@given(st.lists(st.booleans(), max_size=60).map(lambda rest: np.array([True, *rest])))
def test_last_marked_is_the_latest_marked_rows_place_among_them(marked):
    places = np.flatnonzero(marked).tolist()
    expected = [max(k for k, place in enumerate(places) if place <= row) for row in range(len(marked))]
    assert _last_marked(marked).tolist() == expected

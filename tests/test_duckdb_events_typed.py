"""`score --engine duckdb` reading a Parquet file whose columns are already typed (a time as a
timestamp of any unit, zoned or not; a number as an integer or a float; a boolean as a boolean)
in bulk, without text: the same output and problems, in the same order, as the project's reader
(tables/convert.py) gives; a column type the two could read differently leaves the file to it."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.engines import duckdb_events
from leadscore.tables import ProblemLog

from test_duckdb_events import _run, _same, ruleset  # noqa: F401  (the fixture)

SECOND = 10**6   # microseconds
APRIL_20 = int(datetime(2026, 4, 20, 10, tzinfo=timezone.utc).timestamp())


def _typed(folder, columns: dict, name: str = "events.parquet") -> str:
    """A Parquet events file from {column: pa.Array}, text for the columns not given."""
    n = len(next(iter(columns.values())))
    text = {"lead_id": ["a", "b", "c", "z"] * n, "type": ["purchase", "purchase", "visit", "purchase"] * n,
            "sku": ["X"] * (4 * n), "page": ["/pricing"] * (4 * n)}
    table = {name: pa.array(values[:n], pa.string()) for name, values in text.items() if name not in columns}
    path = folder / name
    pq.write_table(pa.table({**table, **columns}), path)
    return str(path)


def _at(seconds: list, unit: str = "us", tz: str | None = "UTC") -> pa.Array:
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    return pa.array([None if s is None else int(s * per) for s in seconds], pa.timestamp(unit, tz))


TIMES = [APRIL_20, APRIL_20 + 86_400, None, APRIL_20 + 3_600]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris"])
def test_a_timestamp_column_of_any_unit_zoned_or_not_is_read_in_bulk_alike(ruleset, monkeypatch, unit, tz):
    # naive is UTC, as the readers say; a zone changes how the instant is shown, not the instant
    events = _typed(ruleset, {"at": _at(TIMES, unit, tz), "shipped": _at([APRIL_20 - 86_400 * 6] * 4, unit, tz)})
    assert _same(ruleset, events, monkeypatch)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_times_outside_the_supported_range_are_problems_with_the_same_words(ruleset, monkeypatch, unit):
    early, late = datetime(1690, 1, 1, tzinfo=timezone.utc).timestamp(), datetime(2250, 1, 1, tzinfo=timezone.utc)
    seconds = [early, late.timestamp(), APRIL_20, int(datetime(1700, 1, 1, tzinfo=timezone.utc).timestamp()) - 1]
    events = _typed(ruleset, {"at": _at(seconds, unit), "shipped": _at(seconds[::-1], unit, None)})
    assert _same(ruleset, events, monkeypatch)
    _, _, summary, examples, _ = _run(ruleset, events, True, monkeypatch)
    assert any("outside the supported time range" in line for line in examples)


def test_nanoseconds_are_truncated_towards_zero_as_pyarrow_does(ruleset, monkeypatch):
    """DuckDB's cast of nanoseconds floors; pyarrow's truncates: before 1970 they differ by a
    microsecond, enough to move an event across the instant or a window's edge."""
    ns = [-1, -999, -1001, APRIL_20 * 10**9 + 999, -8_000_000_000 * 10**9 - 1]
    events = _typed(ruleset, {"at": pa.array([APRIL_20 * 10**9] * 5, pa.timestamp("ns", "UTC")),
                              "shipped": pa.array(ns, pa.timestamp("ns"))})
    assert _same(ruleset, events, monkeypatch)
    schema = leadscore.load(str(ruleset / "r.score")).checked.schema
    from leadscore.engines.duckdb_engine import connect

    connection = connect()
    ids = pa.array(["a", "b", "c"])
    connection.register("leads", pa.table({"key": ids}))
    assert duckdb_events.read_events(connection, events, schema, ProblemLog(), "leads", "key", ids, APRIL_20)
    shipped = connection.sql("SELECT epoch_us(shipped) FROM events ORDER BY seq").fetchall()
    # the fourth row's lead (z) is unknown; -8e18 - 1 ns truncates to -8e15 us, where flooring gives one less
    assert [s for (s,) in shipped] == [0, 0, -1, -8_000_000_000 * SECOND]


@pytest.mark.parametrize("kind", [pa.int8(), pa.int64(), pa.uint16(), pa.uint64(), pa.float32(), pa.float64()])
def test_a_number_column_of_any_width_is_read_in_bulk_alike(ruleset, monkeypatch, kind):
    values = [120, None, 5, 101] if pa.types.is_integer(kind) else [150.5, None, float("nan"), float("inf")]
    events = _typed(ruleset, {"at": _at(TIMES), "amount": pa.array(values, kind)})
    assert _same(ruleset, events, monkeypatch)


def test_a_64_bit_integer_past_two_to_the_53_rounds_alike(ruleset, monkeypatch):
    events = _typed(ruleset, {"at": _at(TIMES), "amount": pa.array([2**53 + 1, 2**63 - 1, -(2**63), 2**60 + 3],
                                                                   pa.int64())})
    assert _same(ruleset, events, monkeypatch)


def test_a_boolean_column_is_read_in_bulk_alike(ruleset, monkeypatch):
    events = _typed(ruleset, {"at": _at(TIMES), "gift": pa.array([True, None, False, True])})
    assert _same(ruleset, events, monkeypatch)


def test_typed_and_text_columns_mix_and_a_placeholder_is_a_value_only_in_text(ruleset, monkeypatch):
    events = _typed(ruleset, {"at": pa.array(["2026-04-20T10:00:00Z", "bad", None, "2026-04-21"]),
                              "amount": pa.array([150.0, 2.0, None, 300.0]), "note": pa.array(["n/a", "hi", None, ""]),
                              "shipped": _at([APRIL_20, None, APRIL_20, 0], "ms", "Asia/Tokyo")})
    assert _same(ruleset, events, monkeypatch)


def test_a_file_name_with_quotes_is_a_literal_in_the_sql(ruleset, monkeypatch):
    events = _typed(ruleset, {"at": _at(TIMES)}, name="it's \"q\" $1 ?.parquet")
    assert _same(ruleset, events, monkeypatch)


REFUSED = {
    "a number as a decimal": {"amount": pa.array([1, 2, 3, 4], pa.decimal128(10, 2))},
    "a string property as an integer": {"sku": pa.array([1, 2, 3, 4], pa.int64())},
    "a boolean as an integer": {"gift": pa.array([1, 0, 1, 0], pa.int8())},
    "a time as a date": {"at": pa.array([20_000] * 4, pa.date32())},
    "a time as an integer": {"at": pa.array([APRIL_20] * 4, pa.int64())},
    "the type as a dictionary": {"type": pa.array(["visit"] * 4).dictionary_encode()},
    "the lead id as an integer": {"lead_id": pa.array([1, 2, 3, 4])},
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_column_type_the_readers_could_type_differently_leaves_the_file_to_the_exact_reader(
        ruleset, monkeypatch, name):
    columns = {"at": _at(TIMES), **REFUSED[name]}
    assert not _same(ruleset, _typed(ruleset, columns), monkeypatch)


UNITS = st.sampled_from(["s", "ms", "us", "ns"])
ZONES = st.sampled_from([None, "UTC", "America/New_York"])
# whole seconds from 1600 to 2300 (the ns range is 1677 to 2262), and ticks near the range's edges
SECONDS = st.one_of(st.none(), st.integers(-11_676_096_000, 10_413_792_000),
                    st.sampled_from([-8_520_336_000, -8_520_336_001, 7_258_118_400, 7_258_118_399, 0, APRIL_20]))
NUMBERS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(SECONDS, SECONDS, st.integers(-999_999, 999_999), NUMBERS,
                               st.one_of(st.none(), st.booleans())), min_size=1, max_size=12),
       unit=UNITS, zone=ZONES, number=st.sampled_from([pa.float32(), pa.float64(), pa.int32()]))
def test_typed_parquet_read_in_bulk_equals_the_exact_reader(ruleset, monkeypatch, rows, unit, zone, number):
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    fraction = per // 10**6 if per > 10**6 else 0   # sub-microsecond ticks: only nanoseconds have them
    if unit == "ns":   # the ns range: about 1677 to 2262
        rows = [(*(t if t is None or abs(t) < 9_000_000_000 else t // 2 for t in (a, s)), f, n, g)
                for a, s, f, n, g in rows]
    at = pa.array([None if a is None else a * per for a, *_ in rows], pa.timestamp(unit, zone))
    shipped = pa.array([None if s is None else s * per + (f * fraction if s else 0) for _, s, f, *_ in rows],
                       pa.timestamp(unit, zone))
    amounts = [n for *_, n, _ in rows]
    if pa.types.is_integer(number):
        amounts = [None if n is None or n != n or abs(n) > 2**31 - 1 else int(n) for n in amounts]
    events = _typed(ruleset, {"at": at, "shipped": shipped, "amount": pa.array(amounts, number),
                              "gift": pa.array([g for *_, g in rows], pa.bool_())})
    assert _same(ruleset, events, monkeypatch)


def test_score_reads_parquet_with_timestamps_in_bulk_at_every_size(ruleset, monkeypatch):
    """No text to type: DuckDB scanning the file costs less than the project's reader even for
    a few events (docs/engines.md); a file with text times of a few events goes to that reader."""
    from leadscore.engines import duckdb_tables

    typed = _typed(ruleset, {"at": _at(TIMES)})
    bulk, exact = _run(ruleset, typed, None, monkeypatch), _run(ruleset, typed, False, monkeypatch)
    assert bulk[4] and bulk[:4] == exact[:4]
    assert not duckdb_tables._exact_reader_pays(typed)
    text = _typed(ruleset, {"at": pa.array(["2026-04-20T10:00:00Z"] * 4)}, name="text.parquet")
    assert duckdb_tables._exact_reader_pays(text) and not _run(ruleset, text, None, monkeypatch)[4]


@pytest.mark.parametrize("column", ["page", "sku", "lead_id"])
def test_invalid_utf8_in_a_text_column_beside_typed_times_gives_the_exact_readers_problems(ruleset, monkeypatch, column):
    """DuckDB refuses such a cell while reading: the file goes to the project's reader, which
    explains the cell, before anything is logged (the scoring statement reads the file again)."""
    bad = pa.array([b"/p", b"\xff/p", b"/q", None], pa.binary()).view(pa.string())
    assert not _same(ruleset, _typed(ruleset, {"at": _at(TIMES), column: bad}), monkeypatch)


def test_strict_stops_at_the_same_first_problem_in_typed_parquet(ruleset, monkeypatch):
    seconds = [APRIL_20, int(datetime(1650, 1, 1, tzinfo=timezone.utc).timestamp()), APRIL_20, APRIL_20]
    events = _typed(ruleset, {"at": _at(seconds, "ms"), "amount": pa.array([1.0, float("nan"), 2.0, 3.0])})
    _same(ruleset, events, monkeypatch, strict=True)
    said = _run(ruleset, events, True, monkeypatch, strict=True)[1]
    # the second row, its time shown in the column's own unit (milliseconds), as the reader shows it
    assert said.endswith("events.parquet:2 `1650-01-01 00:00:00.000Z` is outside the supported time range "
                         "(1700-01-01 to 2199-12-31)")

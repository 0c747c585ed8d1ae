"""`score --engine duckdb` reads an events file of text times in bulk once: every later step (the
counts, the rows explained by the project's reader, the view the scoring statement reads) reads
what that one reading stored, and a CSV's lines are counted in the bytes pyarrow parses. A Parquet
file of typed times is scanned, then read again by the statement (storing it costs more than the
second reading). A file that changes between the reading of its header and the end of the
statement is an error, never a result mixing two versions of it."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import leadscore
from leadscore.engines import duckdb_events, duckdb_tables
from leadscore.engines.duckdb_engine import connect
from leadscore.tables import ProblemLog, TableError

from test_duckdb_events import CLEAN, HEADER, INSTANT, _csv, _run, ruleset  # noqa: F401  (the fixture)

IDS = pa.array(["a", "b", "c"])
# a row of an unknown lead and one whose time the bulk pass cannot type: set apart, then explained
ODD = ["z,visit,2026-04-20T10:00:00Z,,,,,,/p", "b,visit,2026-04-20T10,,,,,,/p"]
TIMES = {"2026-04-20T10:00:00Z": 1_776_679_200, "2026-04-21 08:30": 1_776_760_200,
         "2026-04-22T09:00:00.25+02:00": 1_776_841_200.25, "2026-04-30": 1_777_507_200,
         "2026-06-01T00:00:00Z": 1_780_272_000, "2026-04-20T10": 1_776_679_200}


def _events(folder, fmt: str, lines: list[str]) -> str:
    """The rows of `lines` (a header first) as a CSV, a Parquet file of text, or a Parquet file
    whose `at` is a timestamp (then every time must be one of TIMES)."""
    if fmt == "csv":
        return _csv(folder, lines)
    rows = [line.split(",") for line in lines[1:]]
    columns = {name: pa.array([row[k] or None for row in rows], pa.string()) for k, name in enumerate(HEADER)}
    if fmt == "parquet-ts":
        seconds = [round(TIMES[row[2]] * 10**6) for row in rows]
        columns["at"] = pa.array(seconds, pa.timestamp("us", "UTC"))
    path = folder / "events.parquet"
    pq.write_table(pa.table(columns), path)
    return str(path)


def _read(folder, events: str, connection) -> list[tuple]:
    schema = leadscore.load(str(folder / "r.score")).checked.schema
    connection.register("leads", pa.table({"key": IDS}))
    assert duckdb_events.read_events(connection, events, schema, ProblemLog(), "leads", "key", IDS, INSTANT)
    return connection.sql('SELECT seq, lead_id, epoch_us("at"), page FROM events ORDER BY seq').fetchall()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_events_view_holds_what_was_read_not_the_file_read_again(ruleset, fmt):
    # the file replaced once read_events is done: the scoring statement must still see what was checked
    lines = CLEAN[:4] + ODD + CLEAN[4:6]
    events = _events(ruleset, fmt, lines)
    expected = _read(ruleset, events, connect())
    first = 2 if fmt == "csv" else 1   # a CSV's row is its line; a Parquet file's, its number
    assert [(seq - first, lead) for seq, lead, _, _ in expected] == [(0, "a"), (1, "a"), (2, "b"), (4, "b"),
                                                                     (5, "b"), (6, "c")]
    connection = connect()
    assert _read(ruleset, events, connection) == expected
    _events(ruleset, fmt, [lines[0], "c,visit,2026-04-30,,,,,,/other"] + lines[1:])   # another file, bigger
    assert connection.sql('SELECT seq, lead_id, epoch_us("at"), page FROM events ORDER BY seq').fetchall() == expected


@pytest.mark.parametrize("fmt", ["csv", "parquet", "parquet-ts"])
def test_a_file_changed_after_its_header_was_read_is_an_error_not_a_mix(ruleset, monkeypatch, fmt):
    events = _events(ruleset, fmt, CLEAN)
    real = duckdb_events._plan

    def then_changed(path, schema):
        plan = real(path, schema)
        # the same columns, `at` now text in Parquet (the plan read it as a timestamp), one row less
        _events(ruleset, "parquet" if fmt == "parquet-ts" else fmt, CLEAN[:-1])
        return plan

    monkeypatch.setattr(duckdb_events, "_plan", then_changed)
    out, said, summary, examples, bulk = _run(ruleset, events, True, monkeypatch)
    assert said == f"{events}: the file changed while it was read; score again once it is written"
    assert out == "" and summary == [] and examples == []


def test_a_typed_parquet_file_changed_before_the_statement_read_it_again_is_an_error(ruleset, monkeypatch):
    events = _events(ruleset, "parquet-ts", CLEAN)
    real = duckdb_tables.read_events

    def then_changed(*args):
        found = real(*args)
        _events(ruleset, "parquet-ts", [CLEAN[0], "c,visit,2026-04-30,,,,,,/other"] + CLEAN[1:])
        return found

    monkeypatch.setattr(duckdb_tables, "read_events", then_changed)
    loaded = leadscore.load(str(ruleset / "r.score"))
    with pytest.raises(TableError, match="the file changed while it was read"):
        duckdb_tables.score_tables_duckdb(loaded.lower(), loaded.checked.schema, str(ruleset / "leads.csv"), events,
                                          INSTANT, io.StringIO(), fmt="csv", explain=False, log=ProblemLog(),
                                          columnar=True)


class _ChangingAfterTheParse:
    """A connection on which the CSV is rewritten once DuckDB has read its whole stream."""

    def __init__(self, connection, change):
        self.connection, self.change = connection, change

    def __getattr__(self, name):
        return getattr(self.connection, name)

    def unregister(self, name):
        self.change()
        return self.connection.unregister(name)


def test_a_csv_changed_after_its_rows_were_parsed_is_an_error_not_wrong_line_numbers(ruleset):
    # parsed: three records on four lines (a quoted newline); then the file holds three records
    # on three lines. Lines counted in the new file would pass for the parsed one (3 + 1 lines)
    # and give its last record line 4, where it was on line 5.
    quoted = CLEAN[:2] + ['b,visit,2026-04-21 08:30,,,,,,"/pri\ncing"'] + CLEAN[5:6]
    events = _csv(ruleset, quoted)
    connection = _ChangingAfterTheParse(connect(), lambda: _csv(ruleset, CLEAN[:2] + CLEAN[3:4] + CLEAN[5:6]))
    with pytest.raises(TableError, match="the file changed while it was read"):
        _read(ruleset, events, connection)


def test_lines_are_counted_in_the_bytes_read_whatever_the_size_of_each_read(tmp_path):
    # a byte-order mark, a carriage return, a NUL byte: lines pyarrow and the project's reader could number apart
    for data, expected in ((b"a\nb\n" * 3 + b"c", 7), (b"\xef\xbb\xbfa\nb\n", None), (b"a\nb\r\nc\n", None),
                           (b"a\0\n", None), (b"\xef\xbb", 1), (b"", 0), (b"x\n", 1)):
        (tmp_path / "f.csv").write_bytes(data)
        for size in (1, 2, 3, 1 << 20):
            lines = duckdb_events._LineBreaks(str(tmp_path / "f.csv"))
            while lines.read(size):
                pass
            lines.close()
            assert lines.count() == expected, (data, size)

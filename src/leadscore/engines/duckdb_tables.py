"""`leadscore score --engine duckdb` (and, through `score_tables_sql`, `--engine spark`): the
leads read by the project's readers and handed to the engine as Arrow, the events of a large
file read in bulk into DuckDB (duckdb_events.py; or by the project's readers, for a file of up
to EXACT_READER_MAX_EVENTS events, one the bulk path leaves to them, and always for Spark), so
every unusable row is counted and shown exactly as with the Python engine; scored by the
program's one SQL statement, written in the leads' input order.

DuckDB works within `memory_limit` and spills to a temporary folder beyond it. Events read in
bulk live in DuckDB's table; events read by the project's readers are held as Arrow columns
(about 150 bytes per event at the peak) while it runs.
"""

from __future__ import annotations

import os
import stat
from bisect import bisect_right
from typing import Callable, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import lower as lo
from ..batch import output
from ..batch.arrow_output import write_rows
from ..batch.summary import Summary
from ..scored import ScoredLeads
from ..scratch import spill_folder
from ..tables import (ProblemLog, RowProblem, TableError, event_batches, lead_batches, overflowed_lead,
                      table_format, unknown_lead)
from . import EngineError
from .duckdb_engine import ARROW_TYPES, connect, run_select
from .duckdb_events import changed_while_read, event_table, file_identity, read_events, unchanged
from .reasons import ReasonReader

_TIME = ARROW_TYPES["datetime"]



def _rows(columns: list[list], count: int) -> list[tuple]:
    """Columns of one kind of result (scores, thresholds or segments) as one tuple per lead."""
    return list(zip(*columns)) if columns else [()] * count


_OUTPUT_ROWS = 1 << 16   # rows formatted at a time
LEAD_KEY = "__leadscore_lead"   # the leads' id column, named apart from every schema field


# Events of text files (CSV, or Parquet with `at` as text), up to this many, are read by the
# project's reader: it types times and numbers with pyarrow's casts, which cost less than
# DuckDB's (about 0.6 processor seconds less per 3M events, measured: docs/engines.md), for ~150
# bytes an event held in the process. Beyond it the bulk path keeps the events within DuckDB's
# limit. A Parquet file with `at` as a timestamp is read in bulk at every size: no text to type,
# DuckDB reads it (0.3 against 0.85 processor seconds per 3M events).
EXACT_READER_MAX_EVENTS = 4_000_000
_SCAN = 1 << 24   # bytes per read while counting a CSV's lines


def score_tables_duckdb(program: lo.ScoringProgram, schema, leads: str, events: str, instant: float,
                        out: TextIO, *, fmt: str, explain: bool, log: ProblemLog, threads: int = 1,
                        memory_limit: str = "2GB", columnar: bool | None = None) -> Summary:
    """Score every lead of `leads` at `instant` and write one row per lead to `out`, as
    batch.score_tables does. The events of a large file are read in bulk (duckdb_events.py)
    where that reads the file as the project's reader would; `columnar=True` reads in bulk
    whatever the file, `False` always takes the project's reader."""
    import duckdb

    if columnar is None:
        columnar = not _exact_reader_pays(events)

    def run(lead_table: pa.Table, order: pa.Array) -> tuple[pa.Table, int, int]:
        # the run's locked spill folder: removed on exit, on SIGTERM, or by the next run after a SIGKILL
        with spill_folder() as folder:
            try:
                connection = connect(memory_limit, folder)
                try:
                    connection.execute(f"SET threads = {int(threads)}")
                    connection.execute("SET TimeZone = 'UTC'")   # a time with no offset is UTC, as in the readers
                    connection.register("leads", lead_table)
                    before = file_identity(events)
                    counted = columnar and read_events(connection, events, schema, log, "leads", LEAD_KEY, order,
                                                       instant)
                    if counted:
                        event_table, (scored, later) = None, counted
                    else:
                        event_table, scored, later = read_event_table(events, schema, log, order, instant)
                    scored_rows = run_select(connection, program, LEAD_KEY, instant, None, event_table, explain)
                    # a typed Parquet file is read again by the statement: the same file as checked
                    if counted and not unchanged(events, before):
                        raise TableError(changed_while_read(events))
                    return scored_rows, scored, later
                finally:
                    connection.close()
            except duckdb.Error as error:
                raise EngineError(f"duckdb: {str(error).splitlines()[0]}") from None

    return score_tables_sql(program, schema, leads, events, instant, out, fmt=fmt, explain=explain, log=log, run=run)


def _exact_reader_pays(path) -> bool:
    """Whether the project's reader costs less than the bulk path: a file of text times of at
    most EXACT_READER_MAX_EVENTS rows (a Parquet file's metadata says; a CSV's lines are counted,
    stopping past the limit). Any other input, or a file that cannot be told, is left to the bulk
    path's own checks. This look only chooses the reader, and both give the same result: the
    bulk path takes nothing from it (it counts a CSV's lines again as it parses them), so a file
    changing after it cannot make the result wrong."""
    try:
        kind = table_format(path)
        if kind == "parquet":
            parquet = pq.ParquetFile(path)
            names = parquet.schema_arrow.names
            if "at" in names and pa.types.is_timestamp(parquet.schema_arrow.field("at").type):
                return False
            return parquet.metadata.num_rows <= EXACT_READER_MAX_EVENTS
        if kind != "csv" or not stat.S_ISREG(os.stat(path).st_mode):
            return False
        lines = 0
        with open(path, "rb") as file:
            while chunk := file.read(_SCAN):
                lines += chunk.count(b"\n")
                if lines > EXACT_READER_MAX_EVENTS:
                    return False
        return True
    except (OSError, TypeError, ValueError, KeyError, TableError, pa.ArrowException):
        return False


def score_tables_sql(program: lo.ScoringProgram, schema, leads: str, events: str, instant: float, out: TextIO, *,
                     fmt: str, explain: bool, log: ProblemLog,
                     run: Callable[[pa.Table, pa.Array], tuple[pa.Table, int, int]]) -> Summary:
    """As score_tables_duckdb, with `run(leads, their ids in input order)` reading the events
    (`read_event_table`, or its own way) and giving the statement's result (the leads' id in the
    column LEAD_KEY; with `explain`, the reason columns), and the events at or before the
    instant and after it."""
    seen: set = set()
    # repeated leads and events of unknown leads reported after the tables' other problems, as
    # the Python engine reports them (so --strict stops at the same row)
    with log.holding("duplicate_lead", "unknown_lead"):
        lead_table, order, lead_rows = _leads(leads, schema, log, seen)
        result, scored, later = run(lead_table, order)
    # back to the leads' input order
    result = result.take(pc.index_in(order, value_set=result.column(0)))
    _note_overflow(result, program, lead_rows, str(leads), schema.id_column, log)
    thresholds = tuple(d.name for d in program.thresholds)
    segments = tuple(d.name for d in program.segments)
    names = output.columns(program.scores, thresholds, segments, explain)
    head = output.header(fmt, names)
    if head:
        out.write(head)
    # the columns by position: lead_id, scores, thresholds, segments, then the reason columns
    cut = [1, 1 + len(program.scores), 1 + len(program.scores) + len(thresholds),
           1 + len(program.scores) + len(thresholds) + len(segments), result.num_columns]
    if not explain:   # every cell formatted a column at a time
        for start in range(0, result.num_rows, _OUTPUT_ROWS):
            write_rows(result.slice(start, _OUTPUT_ROWS), fmt, names, (len(program.scores), len(thresholds),
                                                                        len(segments)), out)
        return Summary(result.num_rows, scored, later)
    format_rows = output.rows_formatter(fmt, names, explain)
    reader = ReasonReader(program)
    for start in range(0, result.num_rows, _OUTPUT_ROWS):
        part = result.slice(start, _OUTPUT_ROWS)
        columns = [column.to_pylist() for column in part.columns]
        scores = _rows(columns[cut[0]:cut[1]], part.num_rows)
        reasons = [reader.reasons(dict(zip(program.scores, lead_scores)), row[cut[3]:cut[4]])
                   for lead_scores, row in zip(scores, zip(*columns))]
        found = ScoredLeads(scores, _rows(columns[cut[1]:cut[2]], part.num_rows),
                            _rows(columns[cut[2]:cut[3]], part.num_rows), reasons)
        out.write("".join(format_rows(columns[0], found)))
    return Summary(result.num_rows, scored, later)


def _leads(path: str, schema, log: ProblemLog, seen: set) -> tuple[pa.Table, pa.Array, list]:
    """The leads table, its ids in input order, and per batch (its first lead's number, row_of,
    index) to find a lead's row in the file."""
    batches, rows, count = [], [], 0
    fields = [(name, spec.type) for name, spec in schema.fields.items()]
    for part in lead_batches(path, schema, log, seen=seen):   # repeated ids reported there
        columns = {LEAD_KEY: part.ids}
        columns.update({name: part.fields[name].cast(ARROW_TYPES[ftype]) for name, ftype in fields})
        batches.append(pa.table(columns))
        rows.append((count, part.batch.row_of, part.index))
        count += len(part.ids)
    if not batches:
        empty = pa.schema([(LEAD_KEY, pa.string()), *((n, ARROW_TYPES[t]) for n, t in fields)])
        return empty.empty_table(), pa.array([], pa.string()), []
    table = pa.concat_tables(batches)
    return table, table[LEAD_KEY].combine_chunks(), rows


def _note_overflow(result: pa.Table, program: lo.ScoringProgram, lead_rows: list, file: str, id_column: str,
                   log: ProblemLog) -> None:
    """A score with rules is missing only when its points ran past the largest float: counted, as
    the Python engine counts it."""
    over = None
    for block in program.blocks:
        missing = pc.is_null(result.column(1 + program.scores.index(block.name)))
        over = missing if over is None else pc.or_(over, missing)
    if over is None or not pc.any(over).as_py():
        return
    starts = [start for start, _, _ in lead_rows]
    ids = result.column(0)
    for i in pc.indices_nonzero(over.combine_chunks() if isinstance(over, pa.ChunkedArray) else over).to_pylist():
        start, row_of, index = lead_rows[bisect_right(starts, i) - 1]
        log.add(RowProblem("leads", file, row_of(index[i - start].as_py()), id_column,
                           overflowed_lead(ids[i].as_py()), "score_overflow"))


def read_event_table(path: str, schema, log: ProblemLog, known: pa.Array, instant: float) -> tuple[pa.Table, int, int]:
    """The events as one Arrow table (of the leads in `known`; the others counted as unknown),
    and how many are at or before the instant and after it."""
    properties: dict[str, str] = {}
    for spec in schema.events.values():
        properties.update({name: prop.type for name, prop in spec.properties.items()})
    tables, rows = [], []   # rows: per batch, (its first event's number, row_of, index)
    count = 0
    for part in event_batches(path, schema, log):
        tables.append(event_table(part, schema, properties))
        rows.append((count, part.batch.row_of, part.index))
        count += len(part.ids)
    if not tables:
        return event_table(None, schema, properties), 0, 0
    table = pa.concat_tables(tables)
    is_known = pc.is_in(table["lead_id"], value_set=known)   # one hash set for the whole table
    if not pc.all(is_known).as_py():
        starts = [start for start, _, _ in rows]
        ids = table["lead_id"]
        for i in pc.indices_nonzero(pc.invert(is_known.combine_chunks())).to_pylist():   # file order
            start, row_of, index = rows[bisect_right(starts, i) - 1]
            log.add(RowProblem("events", str(path), row_of(index[i - start].as_py()), schema.id_column,
                               unknown_lead(ids[i].as_py()), "unknown_lead"))
        table = table.filter(is_known)
    usable = pc.sum(pc.less_equal(table["at"], pa.scalar(round(instant * 1e6), pa.int64()).cast(_TIME))).as_py() or 0
    return table, usable, table.num_rows - usable

"""Reading the history tables (SIMULATION.md section 1), typed by the schema.

Tables are read in batches with pyarrow (CSV with every cell as text, JSONL,
Parquet), so memory stays flat whatever the file's size and a bad cell costs
one cell, never the file. A thread reads and parses the next batches (pyarrow
releases the GIL) while the caller's thread types the current one column-wise
with pyarrow compute: only the cells pyarrow cannot decide go through Python
one by one, which is also where every reason is written.

Choices the contract leaves open:

* A value outside a field's declared `values` is kept as is: the scorer
  compares it, and rejecting it here would hide data the checker cannot see.
* Lead ids and event types are trimmed; types then match exactly. A row
  with no lead id is left out (`bad_row`), except a row with no value at all
  (a blank CSV line), which is skipped silently.
* Only the empty cell is missing in CSV (`NULL`, `NA` are text); a number,
  boolean or datetime cell of spaces is missing too; a string keeps spaces.
* Numbers: what float() accepts, except nan and infinities; a boolean is
  never a number. In JSONL/Parquet a value of another kind is read through
  its text as a CSV cell would be (`"5000"` is a number, `1` and `"yes"` are
  booleans, `17` is the string `"17"`), but a number is never a time (the
  unit would be a guess).
* `datetime`: ISO 8601 as `datetime.fromisoformat` reads it; no offset means
  UTC; a bare date is midnight UTC. Lead fields and properties hold aware
  datetimes in `timezone.utc`; `at` is float epoch seconds.
* `list` items (any format) are trimmed and empty ones dropped; a scalar in
  a JSONL/Parquet list column is split like a CSV cell.
* JSONL `properties`: a non-null value in the object wins over a top-level
  column of the same name; an object key no event type declares is counted
  as the unknown column `properties.KEY`. In CSV a `properties` column is
  just an unknown column.
* An unknown column is counted once per column and never raises in strict
  mode: exports carry extra columns and they cost nothing. A `changes` row
  naming an undeclared field is left out (`bad_row`).
* ProblemLog keeps the first `keep` examples per (table, kind). Problems
  are logged in file order before the rows of their batch are handed out.
* CSV line numbers are exact, quoted newlines, blank lines and malformed
  rows included, for `\\n` and `\\r\\n` line ends (not bare `\\r`). A
  column-level problem points at the header (line/row 1), or in JSONL at the
  first line with the key.
* `read_outcomes` takes an optional `id_column`, as it has no schema.
"""

from __future__ import annotations

import gc
import io
import json
import math
import operator
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import compress, repeat

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

TABLES = ("leads", "events", "outcomes", "changes")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
_NOTES = {"unknown_column"}          # counted, but not unusable rows: strict mode lets them pass
_PHRASES = {
    "bad_value": ("value that does not fit its type", "values that do not fit their type"),
    "bad_timestamp": ("row with an unusable time", "rows with an unusable time"),
    "unknown_lead": ("row for an unknown lead", "rows for an unknown lead"),
    "unknown_event_type": ("row with an unknown event type", "rows with an unknown event type"),
    "duplicate_lead": ("repeated lead id (first row kept)", "repeated lead ids (first rows kept)"),
    "missing_column": ("missing column", "missing columns"),
    "bad_row": ("row that could not be used", "rows that could not be used"),
    "unknown_column": ("unknown column ignored", "unknown columns ignored"),
}


@dataclass(frozen=True, slots=True)
class RowProblem:
    table: str
    file: str
    row: int
    column: str | None
    reason: str
    kind: str

    def __str__(self) -> str:
        column = f"{self.column}: " if self.column and self.kind == "bad_value" else ""
        return f"{self.file}:{self.row} {column}{self.reason}"


class TableError(Exception):
    def __init__(self, what: RowProblem | str):
        self.problem = what if isinstance(what, RowProblem) else None
        super().__init__(str(what))


class ProblemLog:
    """Counts every unusable row/cell per (table, kind) and keeps the first `keep` examples of each."""

    def __init__(self, keep: int = 10, strict: bool = False):
        self.keep, self.strict = keep, strict
        self.counts: dict[tuple[str, str], int] = {}
        self.examples: list[RowProblem] = []

    def add(self, problem: RowProblem) -> None:
        if self.strict and problem.kind not in _NOTES:
            raise TableError(problem)
        key = (problem.table, problem.kind)
        self.counts[key] = seen = self.counts.get(key, 0) + 1
        if seen <= self.keep:
            self.examples.append(problem)

    def total(self) -> int:
        return sum(self.counts.values())

    def summary_lines(self) -> list[str]:
        lines = []
        for (table, kind), n in self.counts.items():
            first = next(p for p in self.examples if (p.table, p.kind) == (table, kind)) if self.keep else None
            phrase = _PHRASES.get(kind, (kind, kind))[n != 1]
            lines.append(f"{table}: {n} {phrase}" + (f" (first: {first})" if first else ""))
        return lines


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    at: float            # seconds since the Unix epoch, UTC
    properties: dict     # property name -> typed value (None when missing)


# Millions of events: build them without the frozen __init__ (3 x object.__setattr__),
# by setting the slots directly, in C-level loops over a whole batch.
_new_event, _SET_TYPE, _SET_AT, _SET_PROPS = (
    object.__new__, Event.type.__set__, Event.at.__set__, Event.properties.__set__)


def _events(types: list, ats: list, props: list) -> list[Event]:
    made = list(map(_new_event, repeat(Event, len(ats))))
    for setter, values in ((_SET_TYPE, types), (_SET_AT, ats), (_SET_PROPS, props)):
        deque(map(setter, made, values), 0)
    return made


@contextmanager
def _gc_paused():
    """A batch allocates a few container objects per row, all alive until the batch is handed
    out: the cyclic collector would walk them over and over (a quarter of the time) and find no
    cycle. Paused only while a batch is built, never across a yield."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def table_format(path: str) -> str:
    fmt = FORMATS.get(os.path.splitext(str(path))[1].lower())
    if fmt is None:
        raise TableError(f"{path}: unknown table format (use .csv, .jsonl or .parquet)")
    return fmt


def find_history_tables(folder: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        raise TableError(f"{folder}: not a folder")
    found = {}
    for table in TABLES:
        hits = [os.path.join(folder, table + ext) for ext in FORMATS
                if os.path.isfile(os.path.join(folder, table + ext))]
        if len(hits) > 1:
            raise TableError(f"{folder}: {' and '.join(hits)} both hold the {table} table; keep one")
        if hits:
            found[table] = hits[0]
        elif table != "changes":
            raise TableError(f"{folder}: no {table} table ({table}.csv, {table}.jsonl or {table}.parquet)")
    return found


# --- typed conversion ---------------------------------------------------------------------

_UTC, _EPOCH = timezone.utc, datetime(1970, 1, 1, tzinfo=timezone.utc)
_TS, _TS_UTC = pa.timestamp("us"), pa.timestamp("us", "UTC")
_ARROW = {"string": pa.string(), "number": pa.float64(), "boolean": pa.bool_(),
          "datetime": _TS_UTC, "list": pa.list_(pa.string())}
_NOUN = {"string": "text", "number": "a number", "boolean": "a boolean (true/false, yes/no, 1/0)",
         "datetime": "a timestamp", "list": "a list"}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
# Shapes pyarrow's cast parses; the rest goes to Python, so a column of odd
# but valid values is not bisected cell by cell (see _cast_parts).
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_TIME = r"\d{4}-\d\d-\d\d[T ]\d\d(:\d\d(:\d\d(\.\d{1,6})?)?)?"
_AWARE, _NAIVE = rf"^{_TIME}(Z|[+-]\d\d(:?\d\d)?)$", rf"^{_TIME}$|^\d{{4}}-\d\d-\d\d$"


def _show(value) -> str:
    """A value as quoted in a reason: on one line, and short."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    text = text[1:-1] if isinstance(value, str) else text   # JSON escapes newlines and tabs
    return text if len(text) <= 60 else text[:57] + "..."


def _text_of(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _from_text(text: str, ftype: str):
    """One cell's text -> (value, reason); reason is None unless the text does not fit."""
    stripped = text.strip()
    if ftype == "string":
        return (text or None), None
    if ftype == "list":
        items = [item.strip() for item in text.split(";")]
        return ([item for item in items if item] or None), None
    if not stripped:
        return None, None
    if ftype == "number":
        try:
            number = float(stripped)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number, None
    elif ftype == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE, None
    else:
        try:
            moment = datetime.fromisoformat(stripped)
            return (moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)), None
        except (ValueError, OverflowError):
            pass
    return None, f"`{_show(text)}` is not {_NOUN[ftype]}"


def _cell(value, ftype: str):
    """Any decoded value (CSV text, JSON, Parquet) -> (typed value or None, reason or None)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        return _from_text(value, ftype)
    if isinstance(value, bool):
        if ftype == "boolean":
            return value, None
        if ftype in ("string", "list"):
            return _from_text(_text_of(value), ftype)
    elif isinstance(value, (int, float)):
        if ftype != "datetime":   # read as its text, like a CSV cell; never a time (the unit is unknown)
            return _from_text(_text_of(value), ftype)
    elif isinstance(value, (list, tuple)):
        if ftype == "list":
            items = [_text_of(item).strip() for item in value if item is not None]
            return ([item for item in items if item] or None), None
    elif isinstance(value, date):   # datetime included
        if ftype == "datetime" and isinstance(value, datetime):
            return (value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)), None
        if ftype == "datetime":
            return datetime(value.year, value.month, value.day, tzinfo=_UTC), None
        if ftype in ("string", "list"):   # pyarrow's JSON reader took the text for a time
            return _from_text(value.isoformat(), ftype)
    return None, f"`{_show(value)}` is not {_NOUN[ftype]}"


def _cast_parts(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """Cast, leaving null the cells that fail: halve the array until each failure is alone."""
    try:
        return pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) == 1:
            return pa.nulls(1, to)
        half = len(arr) // 2
        return pa.concat_arrays([_cast_parts(arr.slice(0, half), to), _cast_parts(arr.slice(half), to)])


def _cast_text(arr: pa.Array, routes: list[tuple[str, pa.DataType]], target: pa.DataType) -> pa.Array:
    for _, to in routes:              # clean data: one cast of the whole column
        try:
            return pc.cast(pc.cast(arr, to), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    out = pa.nulls(len(arr), target)
    for pattern, to in routes:
        fits = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
        out = pc.coalesce(out, pc.cast(_cast_parts(pc.if_else(fits, arr, None), to), target))
    return out


def _fast(arr: pa.Array, ftype: str) -> pa.Array | None:
    """Column-wise conversion, or None when the column's type has no fast path.
    Cells it leaves null (or nan/inf) while the input is set are decided by _cell."""
    t = arr.type
    text = pa.types.is_string(t)
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if ftype == "string":
        if numeric or pa.types.is_boolean(t):
            return pc.cast(arr, pa.string())
    elif ftype == "number":
        if numeric:   # unsafe: a 64-bit integer beyond 2**53 rounds rather than fails
            return pc.cast(arr, pa.float64(), safe=False)
        if text:
            return _cast_text(arr, [(_NUMBER, pa.float64())], pa.float64())
    elif ftype == "boolean":
        if pa.types.is_boolean(t):
            return arr
        if text:
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
            yes, no = pc.is_in(lowered, pa.array(_TRUE)), pc.is_in(lowered, pa.array(_FALSE))
            return pc.if_else(yes, True, pc.if_else(no, False, pa.scalar(None, pa.bool_())))
    elif ftype == "datetime":
        if pa.types.is_timestamp(t):   # unsafe: nanoseconds are truncated to microseconds
            return pc.cast(arr if t.tz else pc.cast(arr, _TS, safe=False), _TS_UTC, safe=False)
        if pa.types.is_date(t):
            return pc.cast(pc.cast(arr, _TS), _TS_UTC)
        if text:
            return _cast_text(arr, [(_AWARE, _TS_UTC), (_NAIVE, _TS)], _TS_UTC)
    return None


def _convert(col, ftype: str) -> tuple[pa.Array, dict[int, str]]:
    """A raw column (pyarrow array or Python list) -> (array of the field's type, {row index: reason})."""
    target = _ARROW[ftype]
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if isinstance(col, pa.Array):
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
            col = col.cast(pa.string())
        if pa.types.is_null(col.type):
            return pa.nulls(len(col), target), {}
        if ftype == "string" and pa.types.is_string(col.type):   # text is text: no cell can be bad
            return _blank_is_null(col), {}
        out = _fast(col, ftype)
        if out is not None:
            doubtful = pc.is_null(out) if ftype != "number" else pc.invert(pc.fill_null(pc.is_finite(out), False))
            doubtful = pc.and_(pc.is_valid(col), doubtful)
            if not pc.any(doubtful).as_py():
                return out, {}
            where = pc.indices_nonzero(doubtful)
            results = [_cell(value, ftype) for value in col.take(where).to_pylist()]
            out = pc.replace_with_mask(out, doubtful, pa.array([v for v, _ in results], target))
            return out, {i: r for i, (_, r) in zip(where.to_pylist(), results) if r}
        col = col.to_pylist()
    results = [_cell(value, ftype) for value in col]
    return pa.array([v for v, _ in results], target), {i: r for i, (_, r) in enumerate(results) if r}


def _blank_is_null(arr: pa.Array) -> pa.Array:
    if pc.min(pc.binary_length(arr)).as_py() != 0:   # reads the offsets only: cheap
        return arr
    return pc.if_else(pc.not_equal(arr, ""), arr, pa.scalar(None, pa.string()))


def _python(arr: pa.Array, ftype: str) -> list:
    if ftype == "datetime":   # timezone.utc rather than pyarrow's zoneinfo UTC, as the Python path makes
        return [None if m is None else _EPOCH + timedelta(microseconds=m)
                for m in pc.cast(arr, pa.int64()).to_pylist()]
    return arr.to_pylist()


def _epoch(arr: pa.Array) -> pa.Array:
    """Timestamps -> float seconds since the epoch, as datetime.timestamp() computes them."""
    return pc.divide(pc.cast(arr, pa.int64()), 1e6)


def _take(col, rows: pa.Array):
    return col.take(rows) if isinstance(col, (pa.Array, pa.ChunkedArray)) else [col[i] for i in rows.to_pylist()]


def _present(col) -> pa.Array:
    return pc.is_valid(col) if isinstance(col, pa.Array) else pa.array([v is not None for v in col])


# --- sources: batches of raw columns with their row numbers --------------------------------

@dataclass(slots=True)
class _Batch:
    cols: dict            # column name -> pyarrow array, or Python list (JSONL lines pyarrow refused)
    n: int
    row_of: object        # batch index -> row number in the file
    pre: list             # [(row, column, reason, kind)] found while reading (malformed rows)


_CSV_BLOCK, _JSON_BLOCK, _PARQUET_ROWS = 1 << 21, 1 << 22, 1 << 16   # bytes, bytes, rows
_NEWLINE = re.compile(b"\n")


def _open(path: str, known: set, text: set) -> tuple[list[str] | None, Iterator[_Batch]]:
    """The file's column names (None for JSONL: they vary by line) and its batches. Parquet
    reads only the `known` columns; JSONL reads the `text` columns as text (no timestamp guessing)."""
    fmt = table_format(path)
    try:
        if fmt == "csv":
            return _csv(path)
        if fmt == "parquet":
            file = pq.ParquetFile(path)
            names = file.schema_arrow.names
            return names, _parquet(file, [name for name in names if name in known])
        return None, _jsonl(path, pa.schema([(name, pa.string()) for name in sorted(text)]))
    except (OSError, pa.ArrowException) as error:
        raise TableError(f"{path}: cannot read: {error}") from error


def _csv(path: str):
    parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                              invalid_row_handler=lambda row: "skip")
    names = pcsv.open_csv(path, parse_options=parse).schema.names
    invalid = []   # malformed rows in file order: (data record index, newlines in it, cells)

    def on_invalid(row):
        # row.number (the record number, header = 1) is only given without threads.
        invalid.append((row.number - 2, row.text.count("\n"), row.actual_columns))
        return "skip"

    reader = pcsv.open_csv(
        path, read_options=pcsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                         invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                            strings_can_be_null=True, quoted_strings_can_be_null=True))
    first = 2 + sum(n.count("\n") for n in names)   # line of the first data record
    logged = [0]                                      # malformed rows already reported

    def batches():
        # Line of a record = first + its record index + newlines inside earlier records;
        # records are valid rows, blank lines (all-null rows) and malformed rows.
        done = newlines = 0
        for batch in reader:
            n = batch.num_rows
            inside = None
            if any(c.buffers()[2] is not None and _NEWLINE.search(c.buffers()[2]) for c in batch.columns):
                counts = [pc.fill_null(pc.count_substring(c, "\n"), 0) for c in batch.columns]
                total = counts[0]
                for c in counts[1:]:
                    total = pc.add(total, c)
                inside = [0] + pc.cumulative_sum(total).to_pylist()

            def row_of(i, start=done, before=newlines, inside=inside):
                record, extra = start + i, 0
                for index, lines, _ in invalid:
                    if index > record:
                        break
                    record, extra = record + 1, extra + lines
                return first + record + before + (inside[i] if inside else 0) + extra

            pre = malformed(done, n, newlines, inside)
            yield _Batch({name: batch.column(k) for k, name in enumerate(names)}, n, row_of, pre)
            done, newlines = done + n, newlines + (inside[n] if inside else 0)
        yield _Batch({}, 0, None, malformed(done, 0, newlines, None))

    def malformed(done, n, newlines, inside):
        """The malformed rows among or just after the batch's n rows (pyarrow reports them as it parses)."""
        pre = []
        while len(pre) + logged[0] < len(invalid):
            k = logged[0] + len(pre)
            index, _, cells = invalid[k]
            valid_before = index - k - done
            if valid_before > n:
                break
            line = first + index + newlines + (inside[valid_before] if inside else 0) + sum(
                lines for _, lines, _ in invalid[:k])
            pre.append((line, None, f"the row has {cells} cells, the header {len(names)}", "bad_row"))
        logged[0] += len(pre)
        return pre

    return names, batches()


def _parquet(file: pq.ParquetFile, columns: list[str]) -> Iterator[_Batch]:
    start = 0
    for batch in file.iter_batches(batch_size=_PARQUET_ROWS, columns=columns):
        yield _Batch(dict(zip(batch.schema.names, batch.columns)), batch.num_rows,
                     lambda i, start=start: start + i + 1, [])
        start += batch.num_rows


def _jsonl(path: str, text: pa.Schema) -> Iterator[_Batch]:
    with open(path, "rb") as file:
        line, carry = 1, file.read(3).removeprefix(b"\xef\xbb\xbf")   # a byte-order mark is not JSON
        while True:
            chunk = file.read(_JSON_BLOCK)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)   # whole lines only, until the end
            if chunk and cut == 0:
                carry = data
                continue
            data, carry = data[:cut], data[cut:]
            if data:
                yield _json_block(data, line, text)
                line += data.count(b"\n")
            if not chunk:
                return


def _json_block(data: bytes, line: int, text: pa.Schema) -> _Batch:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    try:
        table = pjson.read_json(
            io.BytesIO(data), read_options=pjson.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=pjson.ParseOptions(explicit_schema=text, unexpected_field_behavior="infer"))
        if table.num_rows == len(lines):
            rows = None
        else:   # blank lines have no row; several objects on one line fall through to Python
            rows = [line + k for k, text in enumerate(lines) if text.strip()]
        if rows is None or len(rows) == table.num_rows:
            cols = {name: col.combine_chunks() for name, col in zip(table.column_names, table.columns)}
            return _Batch(cols, table.num_rows, (lambda i: line + i) if rows is None else rows.__getitem__, [])
    except pa.ArrowInvalid:
        pass   # a malformed line, or a key whose kind changes between lines
    objects, rows, pre = [], [], []
    for k, text in enumerate(lines):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            pre.append((line + k, None, f"not valid JSON ({getattr(error, 'msg', error)})", "bad_row"))
            continue
        if not isinstance(value, dict):
            pre.append((line + k, None, "not a JSON object", "bad_row"))
            continue
        objects.append(value)
        rows.append(line + k)
    names = dict.fromkeys(key for obj in objects for key in obj)
    return _Batch({name: [obj.get(name) for obj in objects] for name in names}, len(objects),
                  rows.__getitem__, pre)


_END = object()


def _prefetch(path: str, batches: Iterator[_Batch], depth: int = 2) -> Iterator[_Batch]:
    """Read and parse the next batches in a thread while the caller's thread turns the previous
    ones into rows: pyarrow releases the GIL while it parses. (Only parsing: Python work in
    this thread would wait for the GIL after every call and fall behind.)"""
    found: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                found.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def run():
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_END)
        except BaseException as error:   # handed to the reading thread, raised there
            put(error)
        finally:
            batches.close()

    thread = threading.Thread(target=run, name="leadscore-tables", daemon=True)
    thread.start()
    try:
        while (item := found.get()) is not _END:
            if isinstance(item, (OSError, pa.ArrowException)):
                raise TableError(f"{path}: cannot read: {item}") from item
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


# --- the readers ----------------------------------------------------------------------------

class _Table:
    """One table being read: its batches, its lead id column, and its problems, logged in file order."""

    def __init__(self, path, table: str, log: ProblemLog, id_column: str, required=(), known=(), text=()):
        self.file, self.table, self.log = str(path), table, log
        self.id_names = (id_column, "lead_id")
        self.known = {*known, *self.id_names}
        self.names, batches = _open(self.file, self.known, set(text))
        self.reported: set[str] = set()
        if self.names is not None:
            for column in [next((c for c in self.id_names if c in self.names), self.id_names[0]), *required]:
                if column not in self.names:
                    raise TableError(RowProblem(table, self.file, 1, column, f"no `{column}` column",
                                                "missing_column"))
            self.unknown_columns(None, self.names)
        self.batches = _prefetch(self.file, batches)

    def unknown_columns(self, batch: _Batch | None, columns) -> None:
        """Count each unknown column once, at the header (CSV, Parquet) or the first line using it (JSONL)."""
        for name in columns:
            if name not in self.known and name not in self.reported:
                self.reported.add(name)
                row = 1 if batch is None else batch.row_of(max(0, pc.index(_present(columns[name]), True).as_py()))
                self.log.add(RowProblem(self.table, self.file, row, name,
                                        f"unknown column `{_show(name)}` ignored", "unknown_column"))

    def __iter__(self) -> Iterator[_Batch]:
        for batch in self.batches:
            if self.names is None and batch.n:
                self.unknown_columns(batch, batch.cols)
            yield batch

    def flush(self, batch: _Batch, problems: list, dropped: set) -> None:
        """Log a batch's problems [(index in batch, column, reason, kind)] in file order, before
        its rows are handed out; bad cells of rows left out anyway are not reported twice."""
        rows = [(batch.row_of(i), column, reason, kind) for i, column, reason, kind in problems
                if kind != "bad_value" or i not in dropped]
        for row, column, reason, kind in sorted(batch.pre + rows, key=lambda p: p[0]):
            self.log.add(RowProblem(self.table, self.file, row, column, reason, kind))

    def ids(self, batch: _Batch) -> pa.Array:
        name = next((c for c in self.id_names if c in batch.cols), None)
        if name is None:
            return pa.nulls(batch.n, pa.string())
        ids = pc.utf8_trim_whitespace(_convert(batch.cols[name], "string")[0])
        return _blank_is_null(ids)

    def col(self, batch: _Batch, name: str, ftype: str, problems: list | None = None):
        """(typed arrow array, {index: reason}); bad values are added to `problems` when given."""
        raw = batch.cols.get(name)
        arr, bad = _convert(raw, ftype) if raw is not None else (pa.nulls(batch.n, _ARROW[ftype]), {})
        if problems is not None:
            problems.extend((i, name, reason, "bad_value") for i, reason in bad.items())
        return arr, bad

    def no_lead_id(self, batch: _Batch, i: int, problems: list) -> None:
        """Row i has no lead id: say so, unless it has no value at all (a blank CSV line)."""
        if any(c[i].is_valid if isinstance(c, pa.Array) else c[i] is not None for c in batch.cols.values()):
            problems.append((i, self.id_names[0], "no lead id", "bad_row"))


def read_leads(path, schema, log: ProblemLog) -> Iterator[tuple[str, dict]]:
    fields = {name: spec.type for name, spec in schema.fields.items()}
    table = _Table(path, "leads", log, schema.id_column, known=fields,
                   text=[name for name, ftype in fields.items() if ftype in ("string", "datetime")])
    seen: set[str] = set()
    for batch in table:
        problems: list = []
        ids = table.ids(batch).to_pylist()
        columns = [_python(table.col(batch, name, ftype, problems)[0], ftype) for name, ftype in fields.items()]
        dropped, kept = set(), []
        for i, (lead, values) in enumerate(zip(ids, zip(*columns) if columns else repeat(()))):
            if lead is None or lead in seen:
                dropped.add(i)
                if lead is None:
                    table.no_lead_id(batch, i, problems)
                else:
                    problems.append((i, table.id_names[0], f"lead `{_show(lead)}` repeated; its first row is kept",
                                     "duplicate_lead"))
                continue
            seen.add(lead)
            kept.append((lead, dict(zip(fields, values))))
        table.flush(batch, problems, dropped)
        yield from kept


def read_events(path, schema, log: ProblemLog,
                known_leads: Container[str] | None = None) -> Iterator[tuple[str, Event]]:
    specs = {name: tuple((p, f.type) for p, f in spec.properties.items()) for name, spec in schema.events.items()}
    props = {p: t for spec in specs.values() for p, t in spec}
    nested = table_format(path) != "csv"   # a `properties` object: JSONL (or a Parquet struct)
    columns = {"type", "at", *props} | ({"properties"} if nested else set())
    table = _Table(path, "events", log, schema.id_column, ("type", "at"), columns,
                   {"type", "at", *(p for p, t in props.items() if t in ("string", "datetime"))})

    def convert(batch: _Batch):
        """The batch's events, and the problems of the rows left out, before looking up leads."""
        with _gc_paused():
            problems: list = []
            ids = table.ids(batch)
            types = pc.dictionary_encode(table.col(batch, "type", "string")[0])
            seen = [name.strip() for name in types.dictionary.to_pylist()]   # trim the few distinct values
            names = [name if name in specs else None for name in seen]
            at, at_bad = table.col(batch, "at", "datetime")
            at = _epoch(at)
            typed = pc.is_in(types.indices, pa.array([k for k, name in enumerate(names) if name], pa.int32()))
            keep = pc.and_(pc.and_(pc.is_valid(ids), pc.fill_null(typed, False)), pc.is_valid(at))
            dropped = set(pc.indices_nonzero(pc.invert(keep)).to_pylist())
            for i in sorted(dropped):
                code = types.indices[i].as_py()
                if not ids[i].is_valid:
                    table.no_lead_id(batch, i, problems)
                elif code is None or names[code] is None:
                    problems.append((i, "type", f"unknown event type `{_show(seen[code])}`", "unknown_event_type")
                                    if code is not None and seen[code] else (i, "type", "no event type", "bad_row"))
                else:
                    problems.append((i, "at", at_bad.get(i, "no time"), "bad_timestamp"))
            objects = _object_fields(batch.cols.get("properties") if nested else None, batch.n, problems)
            table.unknown_columns(batch, {f"properties.{key}": c for key, c in objects.items() if key not in props})
            events = _build_events(table, batch, problems, specs, names, objects, types.indices, at, keep)
            return problems, dropped, keep, (ids.filter(keep) if dropped else ids).to_pylist(), events

    for batch in table:
        problems, dropped, keep, ids, events = convert(batch)
        if known_leads is not None:
            found = list(map(known_leads.__contains__, ids))
            if not all(found):
                rows = pc.indices_nonzero(keep).to_pylist()
                for j in compress(range(len(ids)), map(operator.not_, found)):
                    problems.append((rows[j], table.id_names[0], f"unknown lead `{_show(ids[j])}`", "unknown_lead"))
                    dropped.add(rows[j])
                ids, events = list(compress(ids, found)), list(compress(events, found))
        table.flush(batch, problems, dropped)
        yield from zip(ids, events)


def _build_events(table: _Table, batch: _Batch, problems: list, specs: dict, names: list, objects: dict,
                  codes: pa.Array, at: pa.Array, keep: pa.Array) -> list[Event]:
    """The kept rows' events in input order. Properties are merged one slot at a time (slot j:
    the j-th property of each row's type) with `choose`, so no Python work runs per cell."""
    present = {code: specs[name] for code, name in enumerate(names) if name is not None}
    typed: dict = {}
    for code, spec in present.items():
        for prop, ftype in spec:
            if (prop, ftype) not in typed:
                typed[prop, ftype] = _property(table, batch, objects, prop, ftype)
            problems.extend((i, prop, reason, "bad_value") for i, reason in typed[prop, ftype][1].items()
                            if codes[i].as_py() == code)
    if len(keep) and not pc.all(keep).as_py():
        codes, at = codes.filter(keep), at.filter(keep)
        typed = {key: (values.filter(keep), bad) for key, (values, bad) in typed.items()}
    code_list = codes.to_pylist()
    slots = []
    for j in range(max(map(len, present.values()), default=0)):
        by_ftype: dict = {}
        for code, spec in present.items():
            if j < len(spec):
                by_ftype.setdefault(spec[j][1], []).append((code, spec[j]))
        slot = [None] * len(code_list)
        for ftype, members in by_ftype.items():
            lookup = [None] * len(names)
            for k, (code, _) in enumerate(members):
                lookup[code] = k
            which = pa.array(lookup, pa.int32()).take(codes)
            values = _python(pc.choose(which, *(typed[key][0] for _, key in members)), ftype)
            if len(by_ftype) == 1:
                slot = values
            else:   # one slot holding several types: rare, so a Python loop
                for i in pc.indices_nonzero(pc.is_valid(which)).to_pylist():
                    slot[i] = values[i]
        slots.append(slot)
    keys = [tuple(p for p, _ in specs[name]) if name else () for name in names]
    if not slots:
        made = [{} for _ in code_list]
    elif len(slots) == 1:
        first = [k[0] if k else None for k in keys]
        made = [{k: v} if k is not None else {} for k, v in zip(map(first.__getitem__, code_list), slots[0])]
    else:
        made = [dict(zip(k, v)) for k, v in zip(map(keys.__getitem__, code_list), zip(*slots))]
    return _events(list(map(names.__getitem__, code_list)), at.to_pylist(), made)


def _object_fields(col, n: int, problems: list) -> dict:
    """A JSONL `properties` column -> {key: column}; a value that is not an object is a bad value."""
    if col is None or isinstance(col, pa.Array) and pa.types.is_null(col.type):
        return {}
    if isinstance(col, pa.Array) and pa.types.is_struct(col.type):
        return {col.type.field(k).name: pc.struct_field(col, [k]) for k in range(col.type.num_fields)}
    values = col.to_pylist() if isinstance(col, pa.Array) else col
    fields: dict = {}
    for i, value in enumerate(values):
        if isinstance(value, dict):
            for key, item in value.items():
                fields.setdefault(key, [None] * n)[i] = item
        elif value is not None:
            problems.append((i, "properties", f"`{_show(value)}` is not a JSON object", "bad_value"))
    return fields


def _property(table: _Table, batch: _Batch, objects: dict, prop: str, ftype: str):
    """A property typed from its top-level column and its `properties` key; a set key wins."""
    inside = objects.get(prop)
    if inside is None:
        return table.col(batch, prop, ftype)
    values, bad = _convert(inside, ftype)
    if prop not in batch.cols:
        return values, bad
    top, top_bad = table.col(batch, prop, ftype)
    present = _present(inside)
    given = present.to_pylist()
    return pc.if_else(present, values, top), {**{i: r for i, r in top_bad.items() if not given[i]}, **bad}


def read_outcomes(path, log: ProblemLog, *, id_column: str = "lead_id"
                  ) -> Iterator[tuple[str, str, float, float | None]]:
    table = _Table(path, "outcomes", log, id_column, ("stage", "at"), {"stage", "at", "amount"}, {"stage", "at"})
    for batch in table:
        problems: list = []
        ids = table.ids(batch).to_pylist()
        stages = table.col(batch, "stage", "string")[0].to_pylist()
        at, at_bad = table.col(batch, "at", "datetime")
        amounts = table.col(batch, "amount", "number", problems)[0].to_pylist()
        kept, dropped = [], set()
        for i, (lead, stage, when, amount) in enumerate(zip(ids, stages, _epoch(at).to_pylist(), amounts)):
            stage = stage.strip().lower() if stage else ""
            if lead is None:
                table.no_lead_id(batch, i, problems)
            elif not stage:
                problems.append((i, "stage", "no stage", "bad_row"))
            elif when is None:
                problems.append((i, "at", at_bad.get(i, "no time"), "bad_timestamp"))
            else:
                kept.append((lead, stage, when, amount))
                continue
            dropped.add(i)
        table.flush(batch, problems, dropped)
        yield from kept


def read_changes(path, schema, log: ProblemLog) -> Iterator[tuple[str, str, object, float]]:
    table = _Table(path, "changes", log, schema.id_column, ("field", "value", "at"), {"field", "value", "at"},
                   {"field", "at"})
    for batch in table:
        problems: list = []
        ids = table.ids(batch).to_pylist()
        fields = pc.dictionary_encode(pc.utf8_trim_whitespace(table.col(batch, "field", "string")[0]))
        values: list = [None] * batch.n
        raw = batch.cols.get("value", [None] * batch.n)
        for code, name in enumerate(fields.dictionary.to_pylist()):
            if name not in schema.fields:
                continue
            rows = pc.indices_nonzero(pc.fill_null(pc.equal(fields.indices, code), False))
            ftype = schema.fields[name].type
            typed, bad = _convert(_take(raw, rows), ftype)
            where = rows.to_pylist()
            problems.extend((where[j], "value", reason, "bad_value") for j, reason in bad.items())
            for i, value in zip(where, _python(typed, ftype)):
                values[i] = value
        at, at_bad = table.col(batch, "at", "datetime")
        kept, dropped = [], set()
        for i, (lead, field, value, when) in enumerate(zip(ids, fields.to_pylist(), values, _epoch(at).to_pylist())):
            if lead is None:
                table.no_lead_id(batch, i, problems)
            elif field not in schema.fields:
                problems.append((i, "field", f"unknown field `{_show(field)}`" if field else "no field", "bad_row"))
            elif when is None:
                problems.append((i, "at", at_bad.get(i, "no time"), "bad_timestamp"))
            else:
                kept.append((lead, field, value, when))
                continue
            dropped.add(i)
        table.flush(batch, problems, dropped)
        yield from kept

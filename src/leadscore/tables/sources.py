"""Where rows come from: the table files, read in batches of raw columns with their row numbers.

A thread reads and parses the next batches (pyarrow releases the GIL) while the caller's
thread types the current one.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from .problems import TableError

TABLES = ("leads", "events", "outcomes", "changes")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True, slots=True)
class ArrowTable:
    """A table already in memory as Arrow (a history query's result, leadscore.ingest). `name`
    stands for the file in problems; rows are numbered from 1 in the table's order."""

    name: str
    table: pa.Table

    def __str__(self) -> str:
        return self.name


def table_format(path) -> str:
    if isinstance(path, ArrowTable):
        return "arrow"
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


@dataclass(slots=True)
class _Batch:
    cols: dict            # column name -> pyarrow array, or Python list (JSONL lines pyarrow refused)
    n: int
    row_of: object        # batch index -> row number in the file
    pre: list             # [(row, column, reason, kind)] found while reading (malformed rows)


_CSV_BLOCK, _JSON_BLOCK, _PARQUET_ROWS = 1 << 21, 1 << 22, 1 << 16   # bytes, bytes, rows
_NEWLINE = re.compile(b"\n")


def _open(path, known: set, text: set) -> tuple[list[str] | None, Iterator[_Batch]]:
    """The file's column names (None for JSONL: they vary by line) and its batches. Parquet
    reads only the `known` columns; JSONL reads the `text` columns as text (no timestamp guessing)."""
    fmt = table_format(path)
    if fmt == "arrow":
        return path.table.column_names, _arrow(path.table, known)
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


def _arrow(table: pa.Table, known: set) -> Iterator[_Batch]:
    """A table's batches, its decimals as floats (the typing reads float64, not Python Decimals)."""
    start = 0
    for batch in table.select([name for name in table.column_names if name in known]).to_batches(_PARQUET_ROWS):
        cols = {name: pc.cast(col, pa.float64()) if pa.types.is_decimal(col.type) else col
                for name, col in zip(batch.schema.names, batch.columns)}
        yield _Batch(cols, batch.num_rows, lambda i, start=start: start + i + 1, [])
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


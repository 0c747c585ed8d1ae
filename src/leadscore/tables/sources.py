"""Where rows come from: the table files, read in batches of raw columns with their row numbers.

A thread reads and parses the next batches (pyarrow releases the GIL) while the caller's
thread types the current one.
"""

from __future__ import annotations

import io
import json
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pjson
import pyarrow.parquet as pq

from .convert import show_value
from .csvfile import read_csv
from .problems import TableError
from .rawbatch import Batch

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


def find_history_tables(folder: str, required: tuple[str, ...] = ("leads", "events", "outcomes")) -> dict[str, str]:
    """The folder's table files; a `required` table that is absent is an error."""
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
        elif table in required:
            raise TableError(f"{folder}: no {table} table ({table}.csv, {table}.jsonl or {table}.parquet)")
    return found


_JSON_BLOCK, _PARQUET_ROWS = 1 << 22, 1 << 16   # bytes, rows


def open_table(path, known: set, text: set) -> tuple[list[str] | None, Iterator[Batch]]:
    """The file's column names (None for JSONL: they vary by line) and its batches. Parquet
    reads only the `known` columns; JSONL reads the `text` columns as text (no timestamp guessing)."""
    fmt = table_format(path)
    if fmt == "arrow":
        _refuse_repeated_columns(path, path.table.column_names)
        return path.table.column_names, _arrow(path.table, known)
    try:
        if fmt == "csv":
            names, batches = read_csv(path)
        elif fmt == "parquet":
            file = pq.ParquetFile(path)
            names = file.schema_arrow.names
            batches = _parquet(file, [name for name in names if name in known])
        else:
            return None, _jsonl(path, pa.schema([(name, pa.string()) for name in sorted(text)]))
    except (OSError, pa.ArrowException) as error:
        raise TableError(f"{path}: cannot read: {error}") from error
    except UnicodeDecodeError as error:
        raise TableError(f"{path}:1 the column names are not valid UTF-8 text") from error
    _refuse_repeated_columns(path, names)
    return names, batches


def _refuse_repeated_columns(path: str, names: list[str]) -> None:
    """Two columns of one name: which one holds the values is a guess (a repeated id column would
    make every row another lead's), so the table is refused. Columns with no name (the trailing
    commas of a spreadsheet export) are unknown columns, never read, so they may repeat."""
    first: dict[str, int] = {}
    for number, name in enumerate(names, 1):
        if name in first and name:
            raise TableError(f"{path}:1 column `{show_value(name)}` appears twice (columns {first[name]} "
                             f"and {number}); rename or remove one")
        first[name] = number


def _parquet(file: pq.ParquetFile, columns: list[str]) -> Iterator[Batch]:
    start = 0
    for batch in file.iter_batches(batch_size=_PARQUET_ROWS, columns=columns):
        yield Batch(dict(zip(batch.schema.names, batch.columns)), batch.num_rows,
                     lambda i, start=start: start + i + 1, [])
        start += batch.num_rows


def _arrow(table: pa.Table, known: set) -> Iterator[Batch]:
    """A table's batches, its decimals as floats (the typing reads float64, not Python Decimals)."""
    start = 0
    for batch in table.select([name for name in table.column_names if name in known]).to_batches(_PARQUET_ROWS):
        cols = {name: pc.cast(col, pa.float64()) if pa.types.is_decimal(col.type) else col
                for name, col in zip(batch.schema.names, batch.columns)}
        yield Batch(cols, batch.num_rows, lambda i, start=start: start + i + 1, [])
        start += batch.num_rows


def _jsonl(path: str, text: pa.Schema) -> Iterator[Batch]:
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


MAX_JSON_DEPTH = 100   # nesting levels of one JSONL line; parsers recurse per level (pyarrow's crashes)
_NOT_OPENING = bytes(b for b in range(256) if b not in b"[{\n")


def _too_deep(data: bytes, lines: list[bytes]) -> list[int]:
    """Indices of the lines nested deeper than MAX_JSON_DEPTH. A line with no more opening brackets
    than that cannot be: the block is cut down to its brackets and line ends (in C), and only a
    line with more is measured, outside strings."""
    per_line = data.translate(None, _NOT_OPENING).split(b"\n")
    if max(map(len, per_line)) <= MAX_JSON_DEPTH:
        return []
    return [k for k, openings in enumerate(per_line)
            if len(openings) > MAX_JSON_DEPTH and k < len(lines) and _depth(lines[k]) > MAX_JSON_DEPTH]


def _depth(text: bytes) -> int:
    """The deepest nesting of brackets outside strings in one line of JSON (or would-be JSON)."""
    chars = np.frombuffer(text, np.uint8)
    backslash = chars == ord("\\")
    # A quote is escaped when an odd run of backslashes precedes it.
    positions = np.arange(len(chars))
    last_other = np.maximum.accumulate(np.where(backslash, -1, positions))
    run_before = np.concatenate(([0], positions[:-1] - last_other[:-1]))
    quotes = (chars == ord('"')) & (run_before % 2 == 0)
    outside = np.cumsum(quotes) % 2 == 0
    opens, closes = (chars == ord("[")) | (chars == ord("{")), (chars == ord("]")) | (chars == ord("}"))
    steps = (opens & outside).astype(np.int64) - (closes & outside)
    return int(np.cumsum(steps).max(initial=0))


def _json_block(data: bytes, line: int, text: pa.Schema) -> Batch:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    deep = _too_deep(data, lines)
    pre = [(line + k, None, f"nested deeper than {MAX_JSON_DEPTH} levels", "bad_row") for k in deep]
    if deep:   # left out as blank lines, so the others keep their line numbers
        for k in deep:
            lines[k] = b""
        data = b"\n".join(lines) + b"\n"
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
            return Batch(cols, table.num_rows, (lambda i: line + i) if rows is None else rows.__getitem__, pre)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass   # a malformed line, a key whose kind changes between lines, a lone surrogate, a key not UTF-8
    objects, rows = [], []
    for k, text in enumerate(lines):
        if not text.strip():
            continue
        try:   # bytes that are not UTF-8 become lone surrogates: the cell is then not text, as in pyarrow's
            value = json.loads(text.decode("utf-8", "surrogateescape"))
        except ValueError as error:
            pre.append((line + k, None, f"not valid JSON ({getattr(error, 'msg', error)})", "bad_row"))
            continue
        if not isinstance(value, dict):
            pre.append((line + k, None, "not a JSON object", "bad_row"))
            continue
        objects.append(value)
        rows.append(line + k)
    names = dict.fromkeys(key for obj in objects for key in obj)
    return Batch({name: [obj.get(name) for obj in objects] for name in names}, len(objects),
                  rows.__getitem__, pre)


_END = object()


def prefetch(path: str, batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
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


"""Reading a CSV table in batches of raw columns, with the exact line of every record.

Every record is accounted for: valid rows go out in batches; malformed ones (a wrong number of
cells) are reported with their lines, a hint when they span several; a quote left open at the end
of the file, which would make the rest of it one cell, leaves that record out and says so. A row
longer than the block grows the block, up to MAX_ROW_BYTES. Cells are bytes: invalid UTF-8
costs a cell when it is typed (convert.py), not the table.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from .problems import TableError
from .rawbatch import Batch

BLOCK_BYTES, MAX_ROW_BYTES = 1 << 21, 1 << 27
_NEWLINE = re.compile(b"\n")
_OPENING_QUOTE = re.compile(rb'(?:^|(?<=[,\n\r]))"')   # pyarrow opens a quoted cell only at its start
_QUOTED = re.compile(rb'"(?:[^"]|"")*"')


class _RowTooLong(Exception):
    pass


def _skip(row) -> str:
    return "skip"


_skip.leadscore_csv = True


def _quiet_unshowable_rows() -> None:
    """pyarrow cannot decode a malformed row that is not UTF-8 to show it to the row handler: it
    prints the UnicodeDecodeError as an ignored exception, then stops the file, which is then read
    again as latin-1. Only that message is kept off standard error; every other one goes through."""
    hook = sys.unraisablehook
    if getattr(hook, "leadscore_csv", False):
        return

    def quiet(unraisable):
        if not (unraisable.exc_type is UnicodeDecodeError and getattr(unraisable.object, "leadscore_csv", False)):
            hook(unraisable)

    quiet.leadscore_csv = True
    sys.unraisablehook = quiet


class _Records:
    """pyarrow's batches of one CSV file, restarted with a larger block when a row does not fit one,
    skipping the rows already handed out. Cells are bytes, so that invalid UTF-8 costs a cell; but
    pyarrow stops at a malformed row that is not UTF-8 (it cannot show it), so such a file is read
    again as latin-1 (each byte one character) and its cells turned back into their bytes."""

    def __init__(self, path: str):
        self.path, self.block, self.encoding = path, BLOCK_BYTES, "utf8"
        self.invalid: list = []   # malformed rows in file order: (data record index, newlines in it, cells)
        self.names: list[str] | None = None
        _quiet_unshowable_rows()
        try:
            self.read_names = self._reader(_skip, typed=False).schema.names
        except UnicodeDecodeError:
            self.encoding = "latin-1"
            self.read_names = self._reader(_skip, typed=False).schema.names
        try:
            self.names = [name.encode(self.encoding).decode("utf-8") for name in self.read_names]
        except UnicodeDecodeError:
            raise TableError(f"{path}:1 the column names are not valid UTF-8 text") from None

    def _reader(self, on_invalid, typed: bool = True):
        while True:
            try:
                text = pa.binary() if self.encoding == "utf8" else pa.string()
                return pcsv.open_csv(
                    self.path, read_options=pcsv.ReadOptions(use_threads=False, block_size=self.block,
                                                            encoding=self.encoding),
                    parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                                    invalid_row_handler=on_invalid),
                    convert_options=pcsv.ConvertOptions(
                        column_types=dict.fromkeys(self.read_names, text) if typed else None, null_values=[""],
                        strings_can_be_null=True, quoted_strings_can_be_null=True))
            except pa.ArrowInvalid as error:
                self._grow(error)

    def _grow(self, error: pa.ArrowInvalid) -> None:
        """Read again with a larger block, or as latin-1 (see the class); else raise."""
        # A header longer than the block reads as an empty one.
        longer = "straddl" in str(error) or "Empty CSV" in str(error) and os.path.getsize(self.path) > self.block
        if not longer and str(error).startswith("CSV parse error") and self.encoding == "utf8":
            self.encoding = "latin-1"
            if self.names is not None:
                self.read_names = [name.encode("utf-8").decode("latin-1") for name in self.names]
            return
        if not longer:
            raise error
        if self.block >= MAX_ROW_BYTES:
            raise _RowTooLong from error
        self.block *= 4

    def __iter__(self) -> Iterator[list[pa.Array]]:
        handed = 0
        while True:
            found: list = []

            def on_invalid(row, found=found):
                # row.number (the record number, header = 1) is only given without threads.
                found.append((row.number - 2, row.text.count("\n"), row.actual_columns))
                return "skip"

            on_invalid.leadscore_csv = True

            reader, skip = self._reader(on_invalid), handed
            self.invalid = found   # a restart finds the same malformed rows again
            try:
                for batch in reader:
                    if skip >= batch.num_rows:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                    handed += batch.num_rows
                    yield self._bytes(batch)
                return
            except pa.ArrowInvalid as error:
                self._grow(error)

    def _bytes(self, batch: pa.RecordBatch) -> list[pa.Array]:
        """The batch's columns; read as latin-1, a column with a character beyond ASCII as its bytes."""
        if self.encoding == "utf8":
            return batch.columns
        return [_latin1_to_bytes(column) for column in batch.columns]


def _latin1_to_bytes(column: pa.Array) -> pa.Array:
    data = column.buffers()[2]
    if data is None or np.frombuffer(data, np.uint8).max(initial=0) < 0x80:   # ASCII: the same bytes
        return column
    return pa.array([None if cell is None else cell.encode("latin-1") for cell in column.to_pylist()], pa.binary())


def _too_long(path: str, line: int) -> TableError:
    limit = f"{MAX_ROW_BYTES >> 20} MiB" if MAX_ROW_BYTES % (1 << 20) == 0 else f"{MAX_ROW_BYTES} bytes"
    return TableError(f"{path}:{line} a row at or after this line is longer than {limit}, the limit for one CSV row")


def read_csv(path: str) -> tuple[list[str], Iterator[Batch]]:
    try:
        records = _Records(path)
    except _RowTooLong:
        raise _too_long(path, 1) from None
    names = records.names
    first = 2 + sum(n.count("\n") for n in names)   # line of the first data record
    logged = [0]                                      # malformed rows already reported

    def line_of(record: int, newlines: int, invalid: list) -> int:
        """Line of the `record`-th valid record, after `newlines` newlines inside earlier valid ones."""
        extra = 0
        for index, lines, _ in invalid:
            if index > record:
                break
            record, extra = record + 1, extra + lines
        return first + record + newlines + extra

    def batches():
        # Line of a record = first + its record index + newlines inside earlier records;
        # records are valid rows, blank lines (all-null rows) and malformed rows. A batch goes
        # out once the next one is read: the last record of the file needs a check of its own.
        done = newlines = 0
        held = None
        try:
            for columns in records:
                if held is not None:
                    yield held
                n = len(columns[0]) if columns else 0
                inside = None
                if any(c.buffers()[2] is not None and _NEWLINE.search(c.buffers()[2]) for c in columns):
                    counts = [pc.fill_null(pc.count_substring(c, "\n"), 0) for c in columns]
                    total = counts[0]
                    for c in counts[1:]:
                        total = pc.add(total, c)
                    inside = [0] + pc.cumulative_sum(total).to_pylist()

                def row_of(i, start=done, before=newlines, inside=inside, invalid=records.invalid):
                    return line_of(start + i, before + (inside[i] if inside else 0), invalid)

                pre = malformed(done, n, newlines, inside)
                held = Batch(dict(zip(names, columns)), n, row_of, pre)
                done, newlines = done + n, newlines + (inside[n] if inside else 0)
        except _RowTooLong:
            raise _too_long(path, line_of(done, newlines, records.invalid)) from None
        if held is not None:
            yield _unclosed_quote_at_the_end(path, held)
        yield Batch({}, 0, None, malformed(done, 0, newlines, None))

    def malformed(done, n, newlines, inside):
        """The malformed rows among or just after the batch's n rows (pyarrow reports them as it parses)."""
        pre, invalid = [], records.invalid
        while len(pre) + logged[0] < len(invalid):
            k = logged[0] + len(pre)
            index, lines, cells = invalid[k]
            valid_before = index - k - done
            if valid_before > n:
                break
            line = first + index + newlines + (inside[valid_before] if inside else 0) + sum(
                lines for _, lines, _ in invalid[:k])
            reason = f"the row has {cells} cells, the header {len(names)}"
            if lines:
                reason += f"; it runs over lines {line} to {line + lines}: a quote left open?"
            pre.append((line, None, reason, "bad_row"))
        logged[0] += len(pre)
        return pre

    return names, batches()


def _unclosed_quote_at_the_end(path: str, batch: Batch) -> Batch:
    """The file's last batch, without its last row if that row's quote is never closed (pyarrow reads
    the rest of the file into the cell). Only a last row with a newline in a cell can be such a row."""
    last = batch.n - 1
    if last < 0 or not any(pc.count_substring(c.slice(last, 1), "\n")[0].as_py() for c in batch.cols.values()):
        return batch
    line = batch.row_of(last)
    with open(path, "rb") as file:
        tail = _from_line(file, line)
    position = 0
    while (opening := _OPENING_QUOTE.search(tail, position)) is not None:
        quoted = _QUOTED.match(tail, opening.start())
        if quoted is None:
            newline = b"\n"
            end = line + tail.count(newline) - tail.endswith(newline)
            reason = (f"a quote opened on line {line + tail.count(newline, 0, opening.start())} is never "
                      f"closed: lines {line} to {end} are left out")
            keep = pa.array([True] * last + [False])
            return Batch({name: col.filter(keep) for name, col in batch.cols.items()}, last, batch.row_of,
                         batch.pre + [(line, None, reason, "bad_row")])
        position = quoted.end()
    return batch


def _from_line(file, line: int) -> bytes:
    """The bytes of the file from the start of `line` (1-based) to its end."""
    seen, offset = 1, 0
    while seen < line:
        chunk = file.read(1 << 24)
        if not chunk:
            break
        count = chunk.count(b"\n")
        if seen + count < line:
            seen, offset = seen + count, offset + len(chunk)
            continue
        cut = -1
        for _ in range(line - seen):
            cut = chunk.index(b"\n", cut + 1)
        offset, seen = offset + cut + 1, line
    file.seek(offset)
    return file.read()

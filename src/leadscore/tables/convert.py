"""Typed conversion of raw columns: column-wise with pyarrow compute, cell by cell in Python
only where pyarrow cannot decide, which is also where every reason is written."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..semantics import DAY

_UTC, _EPOCH = timezone.utc, datetime(1970, 1, 1, tzinfo=timezone.utc)
_TS, _TS_UTC = pa.timestamp("us"), pa.timestamp("us", "UTC")
ARROW_TYPES = {"string": pa.string(), "number": pa.float64(), "boolean": pa.bool_(),
          "datetime": _TS_UTC, "list": pa.list_(pa.string())}
_NOUN = {"string": "text", "number": "a number", "boolean": "a boolean (true/false, yes/no, 1/0)",
         "datetime": "a timestamp", "list": "a list"}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
# Shapes pyarrow's cast parses; the rest goes to Python, so a column of odd
# but valid values is not bisected cell by cell (see _cast_parts).
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_TIME = r"\d{4}-\d\d-\d\d[T ]\d\d(:\d\d(:\d\d(\.\d{1,6})?)?)?"
_AWARE, _NAIVE = rf"^{_TIME}(Z|[+-]\d\d(:?\d\d)?)$", rf"^{_TIME}$|^\d{{4}}-\d\d-\d\d$"
# Times are float seconds downstream, exact to the microsecond within 2**53 us of 1970
# (mid-1684 to mid-2255); the supported range stays inside that, in whole years.
TIME_RANGE = "1700-01-01 to 2199-12-31"
FIRST_SECOND, END_SECOND = int(datetime(1700, 1, 1, tzinfo=_UTC).timestamp()), \
    int(datetime(2200, 1, 1, tzinfo=_UTC).timestamp())
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_SURROGATE = re.compile("[\ud800-\udfff]")


def show_value(value) -> str:
    """A value as quoted in a reason: on one line, short, and printable as UTF-8 (a lone
    surrogate is shown escaped)."""
    text = _SURROGATE.sub(_escape_surrogate, json.dumps(value, default=str, ensure_ascii=False))
    text = text[1:-1] if isinstance(value, str) else text   # JSON escapes newlines and tabs
    return text if len(text) <= 60 else text[:57] + "..."


def _escape_surrogate(match: re.Match) -> str:
    """An undecodable byte (read with surrogateescape) as \\xNN, another lone surrogate as \\uNNNN."""
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _is_text(text: str) -> bool:
    """Whether a decoded string is valid text: JSON's `\\ud800` escapes and undecodable bytes
    (read with surrogateescape) leave lone surrogates, which no output can encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_text(shown: str) -> str:
    return f"`{show_value(shown)}` is not valid UTF-8 text"


def _valid_text(col: pa.Array) -> tuple[pa.Array, dict[int, str]]:
    """A text or bytes column as text; cells that are not valid UTF-8 are missing, with their reasons
    (CSV is read as bytes so that one bad cell costs one cell; JSONL strings are not validated)."""
    raw = pc.cast(col, pa.binary())
    try:
        return pc.cast(raw, pa.string()), {}
    except pa.ArrowInvalid:
        pass
    text = _cast_parts(raw, pa.string())
    where = pc.indices_nonzero(pc.and_(pc.is_valid(raw), pc.is_null(text)))
    return text, {i: _not_text(cell.decode("utf-8", "surrogateescape"))
                  for i, cell in zip(where.to_pylist(), raw.take(where).to_pylist())}


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
    return None, f"`{show_value(text)}` is not {_NOUN[ftype]}"


def _cell(value, ftype: str):
    """Any decoded value (CSV text, JSON, Parquet) -> (typed value or None, reason or None)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        return _from_text(value, ftype) if _is_text(value) else (None, _not_text(value))
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
            if not all(map(_is_text, items)):
                return None, _not_text(json.dumps(items))
            return ([item for item in items if item] or None), None
    elif isinstance(value, date):   # datetime included
        if ftype == "datetime" and isinstance(value, datetime):
            return (value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)), None
        if ftype == "datetime":
            return datetime(value.year, value.month, value.day, tzinfo=_UTC), None
        if ftype in ("string", "list"):   # pyarrow's JSON reader took the text for a time
            return _from_text(value.isoformat(), ftype)
    return None, f"`{show_value(value)}` is not {_NOUN[ftype]}"


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
    elif ftype == "list" and text:
        return _split_list(arr)
    return None


def _split_list(arr: pa.Array) -> pa.Array:
    """Text cells -> lists: split on `;`, items trimmed, empty items dropped; a cell left with
    no item is missing."""
    parts = pc.split_pattern(arr, ";")
    items = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    kept = pc.not_equal(items, "")
    owners = pc.list_parent_indices(parts).filter(kept).to_numpy()
    counts = np.bincount(owners, minlength=len(arr))
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
    return pa.ListArray.from_arrays(_from_numpy(offsets), items.filter(kept), mask=_from_numpy(counts == 0))


def _from_numpy(values: np.ndarray) -> pa.Array:
    """pa.array(values) for a numeric or boolean array, built from its buffer: pa.array would
    first look for numpy's masked arrays, importing numpy.ma (10-20 ms of every start-up)."""
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [None, pa.py_buffer(np.ascontiguousarray(values))])


def convert_column(col, ftype: str) -> tuple[pa.Array, dict[int, str]]:
    """A raw column (pyarrow array or Python list) -> (array of the field's type, {row index: reason})."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    early: dict[int, str] = {}
    if isinstance(col, pa.Array) and _is_textual(col.type):
        col, early = _valid_text(col)
    elif isinstance(col, pa.Array) and pa.types.is_list(col.type) and _is_textual(col.type.value_type):
        col, early = _valid_text_lists(col)
    elif ftype == "datetime" and isinstance(col, pa.Array) and (pa.types.is_timestamp(col.type)
                                                                or pa.types.is_date(col.type)):
        col, early = _native_times_in_range(col)
    out, bad = _convert_any(col, ftype)
    if ftype != "datetime":
        return out, {**early, **bad}
    outside = pc.and_(pc.is_valid(out), pc.invert(_in_range(out, 10**6)))
    if not pc.any(outside).as_py():
        return out, {**early, **bad}
    where = pc.indices_nonzero(outside)
    shown = (pc.cast(col.take(where), pa.string()).to_pylist() if isinstance(col, pa.Array)
             else [str(value) for value in take_rows(col, where)])
    reasons = {i: _outside(text) for i, text in zip(where.to_pylist(), shown)}
    return pc.if_else(outside, pa.scalar(None, _TS_UTC), out), {**early, **bad, **reasons}


def _valid_text_lists(col: pa.Array) -> tuple[pa.Array, dict[int, str]]:
    """A column of lists of text with the lists holding an item that is not valid UTF-8 missing."""
    items, bad = _valid_text(pc.list_flatten(col))
    if not bad:
        return col, {}
    owners = pc.list_parent_indices(col).take(pa.array(sorted(bad))).to_pylist()
    reasons = {owner: bad[i] for i, owner in zip(sorted(bad), owners)}
    mask = np.zeros(len(col), bool)
    mask[list(reasons)] = True
    return pc.if_else(pa.array(mask), pa.scalar(None, col.type), col), reasons


def _is_textual(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            or pa.types.is_binary(t) or pa.types.is_large_binary(t))


def _in_range(arr: pa.Array, per_second: int) -> pa.Array:
    """Whether each time (a timestamp or date column read as integers of its unit) is supported."""
    ticks = pc.cast(arr, pa.int64())
    return pc.and_(pc.greater_equal(ticks, FIRST_SECOND * per_second), pc.less(ticks, END_SECOND * per_second))


def _native_times_in_range(col: pa.Array) -> tuple[pa.Array, dict[int, str]]:
    """A timestamp or date column with the times outside the supported range made missing, and their
    reasons; checked in the column's own unit, as a cast to microseconds could overflow."""
    if pa.types.is_date32(col.type):   # days
        days = pc.cast(col, pa.int32())
        inside = pc.and_(pc.greater_equal(days, FIRST_SECOND // int(DAY)), pc.less(days, END_SECOND // int(DAY)))
    else:   # a timestamp, or date64 (milliseconds)
        inside = _in_range(col, _PER_SECOND[col.type.unit] if pa.types.is_timestamp(col.type) else 1000)
    outside = pc.and_(pc.is_valid(col), pc.invert(inside))
    if not pc.any(outside).as_py():
        return col, {}
    where = pc.indices_nonzero(outside)
    reasons = {i: _outside(text) for i, text in zip(where.to_pylist(),
                                                    pc.cast(col.take(where), pa.string()).to_pylist())}
    return pc.if_else(outside, pa.scalar(None, col.type), col), reasons


def _outside(text: str) -> str:
    return f"`{show_value(text)}` is outside the supported time range ({TIME_RANGE})"


def _convert_any(col, ftype: str) -> tuple[pa.Array, dict[int, str]]:
    target = ARROW_TYPES[ftype]
    if isinstance(col, pa.Array):
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
            col = col.cast(pa.string())
        if pa.types.is_null(col.type):
            return pa.nulls(len(col), target), {}
        if ftype == "string" and pa.types.is_string(col.type):   # text is text: no cell can be bad
            return blank_is_null(col), {}
        out = _fast(col, ftype)
        if out is not None and ftype == "list":   # every text is a list, or missing: no reason to give
            return out, {}
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


def without_placeholders(col, missing: tuple[str, ...]):
    """A raw column with its placeholder cells (a schema field's `missing` texts, compared
    trimmed) made null before typing: a placeholder is missing, never a bad value. Only text
    cells are compared; a number or boolean in JSONL or Parquet is a value."""
    if not missing or col is None:
        return col
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not isinstance(col, pa.Array):
        return [None if isinstance(value, str) and value.strip() in missing else value for value in col]
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if not _is_textual(col.type):
        return col
    # CSV cells arrive as bytes: compare their text, and keep a cell that is not UTF-8 as it is
    # (typing reports it)
    text = _valid_text(col)[0] if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type) \
        else col.cast(pa.string())
    hit = pc.fill_null(pc.is_in(pc.utf8_trim_whitespace(text), value_set=pa.array(missing, pa.string())), False)
    return pc.if_else(hit, pa.scalar(None, col.type), col) if pc.any(hit).as_py() else col


def blank_is_null(arr: pa.Array) -> pa.Array:
    if not _any_blank(arr):
        return arr
    return pc.if_else(pc.not_equal(arr, ""), arr, pa.scalar(None, pa.string()))


def _any_blank(arr: pa.Array) -> bool:
    """Whether a value is the empty text, read from the offsets and validity buffers (pyarrow's
    min of the lengths is twenty times slower on a column of mostly missing values, as
    property columns are)."""
    if len(arr) == 0:
        return False
    offsets = np.frombuffer(arr.buffers()[1], np.int32, len(arr) + 1, arr.offset * 4)
    empty = offsets[1:] == offsets[:-1]
    if arr.null_count:
        valid = np.unpackbits(np.frombuffer(arr.buffers()[0], np.uint8), count=arr.offset + len(arr),
                              bitorder="little")[arr.offset:]
        empty &= valid.view(bool)
    return bool(empty.any())


def python_values(arr: pa.Array, ftype: str) -> list:
    if ftype == "datetime":   # timezone.utc rather than pyarrow's zoneinfo UTC, as the Python path makes
        return [None if m is None else _EPOCH + timedelta(microseconds=m)
                for m in pc.cast(arr, pa.int64()).to_pylist()]
    return arr.to_pylist()


def epoch_seconds(arr: pa.Array) -> pa.Array:
    """Timestamps -> float seconds since the epoch, as datetime.timestamp() computes them."""
    return pc.divide(pc.cast(arr, pa.int64()), 1e6)


def take_rows(col, rows: pa.Array):
    return col.take(rows) if isinstance(col, (pa.Array, pa.ChunkedArray)) else [col[i] for i in rows.to_pylist()]


def present_mask(col) -> pa.Array:
    return pc.is_valid(col) if isinstance(col, pa.Array) else pa.array([v is not None for v in col])


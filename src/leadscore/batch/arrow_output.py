"""`score`'s rows (output.py) written from an Arrow table a column at a time, byte for byte as
output.py writes them, for the SQL engines' results.

Each cell is made by pyarrow compute over the whole column; Python formats only the cells
pyarrow writes differently: a number whose shortest text pyarrow writes with an exponent where
`repr` does not (or the other way: Python's exponent starts below 1e-4 and at 1e16), and an id
JSON must escape.
"""

from __future__ import annotations

import json
from typing import TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .output import csv_number, csv_text, json_number

_CSV_SPECIAL = r'[,"\r\n]'
_JSON_SPECIAL = r'["\\\x00-\x1f]'   # what json.dumps(ensure_ascii=False) escapes


def write_rows(table: pa.Table, fmt: str, names: list[str], counts: tuple[int, int, int], out: TextIO) -> None:
    """Write `table`'s rows (lead id, then `counts` = how many scores, thresholds and segments,
    in that order; no reasons) as output.rows_formatter would, with output.header's names."""
    if not table.num_rows:
        return
    n_scores, n_thresholds, _ = counts
    columns = [column.combine_chunks() for column in table.columns]
    csv = fmt == "csv"
    cells = [_csv_ids(columns[0]) if csv else _json_ids(columns[0])]
    cells += [number_text(column, csv) for column in columns[1:1 + n_scores]]
    cells += [pc.if_else(column, "true", "false") for column in columns[1 + n_scores:1 + n_scores + n_thresholds]]
    cells += [_labels(column, csv) for column in columns[1 + n_scores + n_thresholds:]]
    if csv:
        lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*cells, ","), pa.scalar("\n"), "")
    else:
        keys = ["{" + json.dumps(names[0]) + ": "] + [", " + json.dumps(name, ensure_ascii=False) + ": "
                                                      for name in names[1:]]
        parts = [part for key, cell in zip(keys, cells) for part in (pa.scalar(key), cell)]
        lines = pc.binary_join_element_wise(*parts, pa.scalar("}\n"), "")
    if lines.null_count:   # a threshold is true or false in every engine's statement
        raise ValueError("a scored row with a missing threshold")
    out.write(_joined(lines))


def _joined(lines: pa.Array) -> str:
    """Every string of `lines` one after the other: the bytes between its first and last offset."""
    _, offsets, data = lines.buffers()
    start, end = np.frombuffer(offsets, np.int32)[[lines.offset, lines.offset + len(lines)]]
    return data[int(start):int(end)].to_pybytes().decode("utf-8")


def number_text(column: pa.Array, csv: bool) -> pa.Array:
    """Each float as `repr` writes it (CSV: empty when missing; JSON: null when missing or not
    finite)."""
    if column.type != pa.float64():   # another type (an engine's integer): every cell by Python
        python = csv_number if csv else json_number
        return pa.array(list(map(python, column.to_pylist())), pa.string())
    text = pc.cast(column, pa.string())
    size = pc.abs(column)
    # where pyarrow and repr write the same digits with no exponent: 0 and 1e-4 <= |x| < 1e16
    plain = pc.and_(pc.invert(pc.match_substring(text, "e")),
                    pc.or_(pc.equal(size, 0.0), pc.and_(pc.greater_equal(size, 1e-4), pc.less(size, 1e16))))
    plain = pc.fill_null(plain, True)   # missing: written below
    whole = pc.and_(plain, pc.invert(pc.match_substring(text, ".")))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, pa.scalar(".0"), ""), text)
    finite = pc.is_finite(column)
    odd = pc.and_(pc.invert(plain), finite)   # inf and nan: pyarrow writes them as repr does
    if csv:
        text = pc.fill_null(text, "")
    else:
        text = pc.if_else(pc.fill_null(finite, False), text, pa.scalar("null"))
    return _replaced(text, pc.fill_null(odd, False), column, repr)


def _replaced(text: pa.Array, where: pa.Array, values: pa.Array, formatter) -> pa.Array:
    """`text`, with the cells where `where` is true formatted by Python from `values`."""
    if not pc.any(where).as_py():
        return text
    picked = pc.filter(values, where).to_pylist()
    return pc.replace_with_mask(text, where, pa.array(list(map(formatter, picked)), pa.string()))


def _csv_ids(ids: pa.Array) -> pa.Array:
    special = pc.match_substring_regex(ids, _CSV_SPECIAL)
    return _replaced(ids, special, ids, csv_text)


def _json_ids(ids: pa.Array) -> pa.Array:
    quoted = pc.binary_join_element_wise(pa.scalar('"'), ids, pa.scalar('"'), "")
    special = pc.match_substring_regex(ids, _JSON_SPECIAL)
    return _replaced(quoted, special, ids, lambda text: json.dumps(text, ensure_ascii=False))


def _labels(column: pa.Array, csv: bool) -> pa.Array:
    """Segment labels: few distinct ones, each formatted once in Python."""
    encoded = column.cast(pa.string()).dictionary_encode()
    texts = [csv_text(label) if csv else json.dumps(label, ensure_ascii=False)
             for label in encoded.dictionary.to_pylist()]
    text = pa.array(texts, pa.string()).take(encoded.indices)
    return pc.fill_null(text, "" if csv else "null")

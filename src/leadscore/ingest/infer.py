"""`leadscore schema infer`: a starting schema from the history's tables.

Each column's type is the narrowest one every value fits, by the same typing the table readers
use (`leadscore.tables`): boolean (when a value is a word such as `yes`, not only 0/1), number,
datetime, list (text holding `;`), else string. A number, boolean or datetime column whose
only misfits are common placeholders (`N/A`, `-`, `Select`, ...) gets them as `missing:`. Text
with at most `max_values` distinct values gets `values:`. The id column and the `created`
field are guesses, marked for the user to confirm.

Names and values come from the data, so every one is written as a YAML double-quoted string
(every unprintable character escaped) unless it is a plain word; comments never hold data.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ..tables.convert import convert_column
from ..tables.sources import open_table

PLACEHOLDERS = frozenset({"-", "--", "n/a", "na", "none", "null", "nil", "select", "unknown", "?", "not set",
                          "not specified", "#n/a"})
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*( [A-Za-z0-9_]+)*$")
_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
_EVENT_COLUMNS = ("type", "at", "properties")


@dataclass
class Column:
    """A column's cells, as text where the file held text (None: no value)."""

    chunks: list = field(default_factory=list)   # pyarrow arrays

    def array(self) -> pa.Array:
        arrays = [_array(c) if isinstance(c, list) else c for c in self.chunks]
        arrays = [a.cast(pa.string()) if pa.types.is_large_string(a.type) or pa.types.is_string_view(a.type)
                  else a for a in arrays]
        types = {a.type for a in arrays if not pa.types.is_null(a.type)}
        if len(types) > 1:   # JSONL lines of different kinds: compare as text
            arrays = [pa.array([None if v is None else str(v) for v in a.to_pylist()], pa.string()) for a in arrays]
        elif types:
            kind = types.pop()
            arrays = [a.cast(kind) if pa.types.is_null(a.type) else a for a in arrays]
        return pa.concat_arrays(arrays) if arrays else pa.array([], pa.string())


def _array(values: list) -> pa.Array:
    """A JSONL column pyarrow refused (values of several kinds): as text."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
                         for v in values], pa.string())


@dataclass(frozen=True)
class Inferred:
    type: str
    values: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


def read_columns(source) -> dict[str, Column]:
    """Every column of a table (a file or an ArrowTable), whole: a starting schema reads it once."""
    names, batches = open_table(source, _Everything(), _Everything())
    columns: dict[str, Column] = {name: Column() for name in names or ()}
    rows = 0
    for batch in batches:
        for name, col in batch.cols.items():
            column = columns.setdefault(name, Column())
            if rows and not column.chunks:
                column.chunks.append(pa.nulls(rows))
            column.chunks.append(col)
        for name, column in columns.items():
            if name not in batch.cols:
                column.chunks.append(pa.nulls(batch.n))
        rows += batch.n
    return columns


class _Everything:
    """A set holding every column name: `open_table` reads only the columns it is told are known."""

    def __contains__(self, name) -> bool:
        return True

    def __iter__(self):
        return iter(())


def infer_type(arr: pa.Array, max_values: int) -> Inferred:
    present = _present_text(arr)
    if len(present) == 0:
        return Inferred("string")
    if pa.types.is_boolean(arr.type):
        return Inferred("boolean")
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        return Inferred("number")
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return Inferred("datetime")
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        return _with_values("list", pc.list_flatten(arr).cast(pa.string()), max_values)
    text = present if pa.types.is_string(present.type) else present.cast(pa.string())
    words = Counter(pc.utf8_trim_whitespace(text).to_pylist())
    placeholders = tuple(sorted((w for w in words if w.lower() in PLACEHOLDERS), key=lambda w: -words[w]))
    for ftype in ("boolean", "number", "datetime"):
        kept = pc.filter(text, pc.invert(pc.is_in(pc.utf8_trim_whitespace(text), pa.array(placeholders, pa.string()))))
        if len(kept) == 0 or convert_column(kept, ftype)[1]:
            continue
        if ftype == "boolean" and all(w.strip() in ("0", "1") for w in kept.to_pylist()):
            continue   # 0/1 only: a count as likely as a flag
        return Inferred(ftype, (), placeholders)
    if pc.any(pc.match_substring(text, ";")).as_py():
        items = pc.utf8_trim_whitespace(pc.list_flatten(pc.split_pattern(text, ";")))
        return _with_values("list", pc.filter(items, pc.not_equal(items, "")), max_values)
    return _with_values("string", pc.utf8_trim_whitespace(text), max_values)


def _present_text(arr: pa.Array) -> pa.Array:
    arr = pc.drop_null(arr)
    if pa.types.is_string(arr.type):
        arr = pc.filter(arr, pc.not_equal(pc.utf8_trim_whitespace(arr), ""))
    return arr


def _with_values(ftype: str, items: pa.Array, max_values: int) -> Inferred:
    distinct = pc.unique(items).to_pylist()
    if 0 < len(distinct) <= max_values:
        counts = Counter(items.to_pylist())
        return Inferred(ftype, tuple(sorted(distinct, key=lambda v: (-counts[v], v))))
    return Inferred(ftype)


def guess_id(leads: dict[str, Column], events: dict[str, Column]) -> tuple[str, bool]:
    """`lead_id` when the leads have it; else the first column of both tables whose lead values
    are all present and distinct; else the leads' first column."""
    if "lead_id" in leads:
        return "lead_id", False
    shared = [name for name in leads if name in events and name not in _EVENT_COLUMNS]
    for name in shared + [n for n in leads if n not in shared]:
        arr = leads[name].array()
        if arr.null_count == 0 and len(pc.unique(arr)) == len(arr):
            return name, True
    return next(iter(leads), "lead_id"), True


def guess_created(fields: dict[str, Inferred]) -> str | None:
    times = [name for name, spec in fields.items() if spec.type == "datetime"]
    named = [name for name in times if re.search(r"creat|sign.?up|first|since", name, re.IGNORECASE)]
    return (named or times or [None])[0]


def infer_schema(tables: dict, max_values: int, source: str) -> str:
    """The schema file's text for `tables` (leads and events: files or ArrowTables)."""
    leads, events = read_columns(tables["leads"]), read_columns(tables["events"])
    id_column, id_guessed = guess_id(leads, events)
    fields = {name: infer_type(column.array(), max_values) for name, column in leads.items()
              if name not in (id_column, "lead_id")}
    created = guess_created(fields)
    types = _event_types(events, id_column, max_values)
    rows = len(leads[id_column].array()) if id_column in leads else 0
    count = len(events["type"].array()) if "type" in events else 0
    lines = [f"# A starting schema inferred by `leadscore schema infer` from {_quoted(source)}",
             f"# ({rows:,} lead rows, {count:,} event rows). Lines marked `check` are guesses;",
             "# `values` lists every value seen (remove it to allow any text).",
             "lead:",
             f"  id: {_quoted(id_column)}" + ("   # check: the column holding each lead's id" if id_guessed else "")]
    if created is not None:
        lines.append(f"  created: {_quoted(created)}   # check: when the lead was created")
    lines.append("  fields:" if fields else "  fields: {}")
    lines += [line for name, spec in fields.items() for line in _field_lines(name, spec, "    ")]
    lines.append("events:" if types else "events: {}")
    for name, props in types.items():
        if not props:
            lines.append(f"  {_quoted(name)}: {{}}")
            continue
        lines += [f"  {_quoted(name)}:", "    properties:"]
        lines += [line for prop, spec in props.items() for line in _field_lines(prop, spec, "      ")]
    return "\n".join(lines) + "\n"


def _event_types(events: dict[str, Column], id_column: str, max_values: int) -> dict[str, dict[str, Inferred]]:
    """Each event type seen, in order of frequency, with the properties its rows hold."""
    if "type" not in events:
        return {}
    kinds = pc.utf8_trim_whitespace(events["type"].array().cast(pa.string()))
    columns = {name: column.array() for name, column in events.items()
               if name not in (id_column, "lead_id", *_EVENT_COLUMNS)}
    columns.update(_nested_properties(events))
    seen = Counter(k for k in kinds.to_pylist() if k)
    out = {}
    for kind, _ in sorted(seen.items(), key=lambda item: (-item[1], item[0])):
        rows = pc.fill_null(pc.equal(kinds, kind), False)
        props = {}
        for name, arr in columns.items():
            mine = arr.filter(rows)
            if len(_present_text(mine)):
                props[name] = infer_type(mine, max_values)
        out[kind] = props
    return out


def _nested_properties(events: dict[str, Column]) -> dict[str, pa.Array]:
    """The keys of a `properties` object column (JSONL, a Parquet struct) as columns."""
    if "properties" not in events:
        return {}
    arr = events["properties"].array()
    if pa.types.is_struct(arr.type):
        return {arr.type.field(k).name: pc.struct_field(arr, [k]) for k in range(arr.type.num_fields)}
    return {}


def _field_lines(name: str, spec: Inferred, indent: str) -> list[str]:
    if not spec.values and not spec.missing:
        return [f"{indent}{_quoted(name)}: {spec.type}"]
    lines = [f"{indent}{_quoted(name)}:", f"{indent}  type: {spec.type}"]
    if spec.values:
        lines.append(f"{indent}  values: [{', '.join(_quoted(v) for v in spec.values)}]")
    if spec.missing:
        lines.append(f"{indent}  missing: [{', '.join(_quoted(v) for v in spec.missing)}]"
                     "   # check: texts taken to mean no value")
    return lines


def _quoted(text: str) -> str:
    """A name or value as YAML: plain when it is a plain word, else double-quoted, every
    character a YAML reader refuses (control characters, a BOM) escaped."""
    text = str(text)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return '"' + "".join(_escaped(c) for c in text) + '"'


def _escaped(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if c.isprintable() and c not in "\u2028\u2029\ufeff":
        return c
    return f"\\U{ord(c):08x}" if ord(c) > 0xFFFF else f"\\u{ord(c):04x}"

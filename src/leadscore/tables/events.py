"""Reading the events table: column-wise (`event_batches`, for scoring many leads) or as Event
objects (`read_events`)."""

from __future__ import annotations

import gc
import operator
from collections import deque
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import compress, repeat

import pyarrow as pa
import pyarrow.compute as pc

from .convert import convert_column, epoch_seconds, present_mask, python_values, show_value, without_placeholders
from .problems import ProblemLog, unknown_lead
from .rawbatch import Batch
from .readers import TableReader
from .sources import table_format


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
def gc_paused():
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


@dataclass(frozen=True, slots=True)
class EventColumns:
    """One batch of usable events, column-wise, in file order."""

    batch: Batch       # its row_of maps `index` to row numbers in the file
    index: pa.Array     # int64: each event's index in the batch
    ids: pa.Array       # lead ids, trimmed, never null
    types: pa.Array     # int32: position of the event's type in the schema's `events` (declaration order)
    at: pa.Array        # float64: seconds since the Unix epoch
    properties: dict    # (property, field type) -> typed array; read it only where the row's type declares it
    leads: pa.Array | None = None   # int64, with event_batches(known_leads=...): each lead's place in known_leads


class _EventReader:
    """The events table typed batch by batch; each batch's problems are handed back unlogged, so
    problems found later (unknown leads) are logged with them, in file order."""

    def __init__(self, path, schema, log: ProblemLog, lead: str | None = None, names: list[str] | None = None):
        self.names = tuple(schema.events)
        self.specs = {name: tuple((p, f.type) for p, f in spec.properties.items())
                      for name, spec in schema.events.items()}
        self.props = {p: t for spec in self.specs.values() for p, t in spec}
        self.missing = {(name, p): f.missing for name, spec in schema.events.items()
                        for p, f in spec.properties.items() if f.missing}
        self.nested = table_format(path) != "csv"   # a `properties` object: JSONL (or a Parquet struct)
        columns = {"type", "at", *self.props} | ({"properties"} if self.nested else set())
        self.table = TableReader(path, "events", log, schema.id_column, ("type", "at"), columns,
                            {"type", "at", *(p for p, t in self.props.items() if t in ("string", "datetime"))},
                            lead=lead, names=names)

    def __iter__(self) -> Iterator[tuple[list, set, EventColumns]]:
        for batch in self.table:
            yield self.convert(batch)

    def convert(self, batch: Batch) -> tuple[list, set, EventColumns]:
        """(problems, indices of the rows left out, the kept rows' columns)."""
        table, specs = self.table, self.specs
        with gc_paused():
            problems: list = []
            ids = table.ids(batch)
            types, type_bad = table.col(batch, "type", "string")
            types = pc.dictionary_encode(types)
            seen = [name.strip() for name in types.dictionary.to_pylist()]   # trim the few distinct values
            names = [name if name in specs else None for name in seen]
            at, at_bad = table.col(batch, "at", "datetime")
            at = epoch_seconds(at)
            typed = pc.is_in(types.indices, pa.array([k for k, name in enumerate(names) if name], pa.int32()))
            keep = pc.and_(pc.and_(pc.is_valid(ids), pc.fill_null(typed, False)), pc.is_valid(at))
            dropped = set(pc.indices_nonzero(pc.invert(keep)).to_pylist())
            for i in sorted(dropped):
                code = types.indices[i].as_py()
                if not ids[i].is_valid:
                    table.no_lead_id(batch, i, problems)
                elif code is None or names[code] is None:
                    problems.append((i, "type", f"unknown event type `{show_value(seen[code])}`", "unknown_event_type")
                                    if code is not None and seen[code] else
                                    (i, "type", f"event type {type_bad[i]}" if i in type_bad else "no event type",
                                     "bad_row"))
                else:
                    problems.append((i, "at", at_bad.get(i, "no time"), "bad_timestamp"))
            objects = _object_fields(batch.cols.get("properties") if self.nested else None, batch.n, problems)
            table.unknown_columns(batch, {f"properties.{key}": c for key, c in objects.items()
                                          if key not in self.props})
            properties = self._properties(batch, problems, names, objects, types.indices)
            order = {name: k for k, name in enumerate(self.names)}
            codes = pa.array([order.get(name) for name in names], pa.int32()).take(types.indices)
            if dropped:
                ids, codes, at = ids.filter(keep), codes.filter(keep), at.filter(keep)
                properties = {key: values.filter(keep) for key, values in properties.items()}
            return problems, dropped, EventColumns(batch, pc.indices_nonzero(keep), ids, codes, at, properties)

    def _properties(self, batch: Batch, problems: list, names: list, objects: dict, codes: pa.Array) -> dict:
        """Every property of the types in the batch, typed; a bad cell is a problem only in a row
        whose type declares the property."""
        typed: dict = {}
        for code, name in enumerate(names):
            for prop, ftype in self.specs.get(name, ()):
                if (prop, ftype) not in typed:
                    typed[prop, ftype] = _property(self.table, batch, objects, prop, ftype)
                bad = typed[prop, ftype][1]
                if (name, prop) in self.missing:   # this type's placeholders, in this type's rows only
                    clean, bad = _property(self.table, batch, objects, prop, ftype, self.missing[name, prop])
                    rows = pc.fill_null(pc.equal(codes, code), False)
                    typed[prop, ftype] = (pc.if_else(rows, clean, typed[prop, ftype][0]), typed[prop, ftype][1])
                problems.extend((i, prop, reason, "bad_value") for i, reason in bad.items()
                                if codes[i].as_py() == code)
        return {key: values for key, (values, _) in typed.items()}


def event_batches(path, schema, log: ProblemLog, *, lead: str | None = None,
                  known_leads: pa.Array | None = None) -> Iterator[EventColumns]:
    """The events table column-wise, its problems logged batch by batch. Whether a lead exists is
    the caller's question, unless `known_leads` (the lead ids) is given: an event of another lead
    is then a problem, logged with its batch's others in file order as read_events logs it, and
    left out, and `leads` holds each event's lead's place in `known_leads`. With `lead`, only
    that lead's rows are read."""
    reader = _EventReader(path, schema, log, lead)
    for problems, dropped, columns in reader:
        if known_leads is not None:
            columns = _of_known_leads(columns, known_leads, problems, dropped, reader.table.id_names[0])
        reader.table.flush(columns.batch, problems, dropped)
        if len(columns.ids):
            yield columns


def explain_event_rows(path, schema, log: ProblemLog, names: list[str], batches: Iterable[Batch]
                       ) -> Iterator[EventColumns]:
    """Rows of the events table read elsewhere (engines/duckdb_events.py hands over only the rows
    it could not type in bulk), typed and explained as event_batches would: the table's unknown
    columns and these rows' problems are logged, in file order; the usable rows come back."""
    reader = _EventReader(path, schema, log, names=names)
    for batch in batches:
        problems, dropped, columns = reader.convert(batch)
        reader.table.flush(batch, problems, dropped)
        yield columns


def read_events(path, schema, log: ProblemLog, known_leads: Container[str] | None = None, *,
                lead: str | None = None) -> Iterator[tuple[str, Event]]:
    """(lead id, Event) in file order; with `known_leads`, an event of another lead is a
    problem. With `lead`, only that lead's rows are read."""
    reader = _EventReader(path, schema, log, lead)
    for problems, dropped, columns in reader:
        with gc_paused():
            ids, events = columns.ids.to_pylist(), _event_objects(columns, reader.names, reader.specs)
        if known_leads is not None:
            found = list(map(known_leads.__contains__, ids))
            if not all(found):
                rows = columns.index.to_pylist()
                for j in compress(range(len(ids)), map(operator.not_, found)):
                    problems.append((rows[j], reader.table.id_names[0], unknown_lead(ids[j]),
                                     "unknown_lead"))
                    dropped.add(rows[j])
                ids, events = list(compress(ids, found)), list(compress(events, found))
        reader.table.flush(columns.batch, problems, dropped)
        yield from zip(ids, events)


def _of_known_leads(columns: EventColumns, known: pa.Array, problems: list, dropped: set,
                    id_name: str) -> EventColumns:
    """The batch without the events of leads not in `known`, each logged as an unknown lead, with
    each lead's place in `known` (one hash lookup of the batch's ids: building the set of a large
    `known` is the cost, so it is done once per batch)."""
    places = pc.index_in(columns.ids, value_set=known).cast(pa.int64())
    found = pc.is_valid(places)
    if places.null_count == 0:
        return replace(columns, leads=places)
    rows = columns.index.to_pylist()
    ids = columns.ids
    for j in pc.indices_nonzero(pc.invert(found)).to_pylist():
        problems.append((rows[j], id_name, unknown_lead(ids[j].as_py()), "unknown_lead"))
        dropped.add(rows[j])
    properties = {key: values.filter(found) for key, values in columns.properties.items()}
    return EventColumns(columns.batch, columns.index.filter(found), ids.filter(found), columns.types.filter(found),
                        columns.at.filter(found), properties, places.filter(found))


def _event_objects(columns: EventColumns, names: tuple, specs: dict) -> list[Event]:
    """The batch's Event objects. Properties are merged one slot at a time (slot j: the j-th
    property of each row's type) with `choose`, so no Python work runs per cell."""
    codes = columns.types
    code_list = codes.to_pylist()
    present = {code: specs[names[code]] for code in set(code_list)}
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
            values = python_values(pc.choose(which, *(columns.properties[key] for _, key in members)), ftype)
            if len(by_ftype) == 1:
                slot = values
            else:   # one slot holding several types: rare, so a Python loop
                for i in pc.indices_nonzero(pc.is_valid(which)).to_pylist():
                    slot[i] = values[i]
        slots.append(slot)
    keys = [tuple(p for p, _ in specs[name]) for name in names]
    if not slots:
        made = [{} for _ in code_list]
    elif len(slots) == 1:
        first = [k[0] if k else None for k in keys]
        made = [{k: v} if k is not None else {} for k, v in zip(map(first.__getitem__, code_list), slots[0])]
    else:
        made = [dict(zip(k, v)) for k, v in zip(map(keys.__getitem__, code_list), zip(*slots))]
    return _events(list(map(names.__getitem__, code_list)), columns.at.to_pylist(), made)


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
            problems.append((i, "properties", f"`{show_value(value)}` is not a JSON object", "bad_value"))
    return fields


def _property(table: TableReader, batch: Batch, objects: dict, prop: str, ftype: str, missing: tuple = ()):
    """A property typed from its top-level column and its `properties` key; a set key wins;
    `missing`: the property's placeholder texts."""
    inside = without_placeholders(objects.get(prop), missing)
    if inside is None:
        return table.col(batch, prop, ftype, missing=missing)
    values, bad = convert_column(inside, ftype)
    if prop not in batch.cols:
        return values, bad
    top, top_bad = table.col(batch, prop, ftype, missing=missing)
    present = present_mask(inside)
    given = present.to_pylist()
    return pc.if_else(present, values, top), {**{i: r for i, r in top_bad.items() if not given[i]}, **bad}

"""A replay bucket -> the Arrow tables engines/sql/instants.py reads: `lead_input`,
`event_input` and `change_input` (columns described there). The values are the bucket's,
already in the runtime's representation: datetimes stay epoch seconds, lists become lists.

The tables are made once per bucket and schema types and kept with the bucket: every round
of a replay, and every plan of a comparison or a sweep replaying the bucket, reads the same.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..dsl import types as t
from ..engines.sql.select import property_columns
from .history import Bucket, event_arrays, property_dicts

_ARROW_TYPES = {t.STRING: pa.string(), t.NUMBER: pa.float64(), t.BOOLEAN: pa.bool_(),
                t.DATETIME: pa.float64(), t.LIST: pa.list_(pa.string())}


def relation_types(schema) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The schema's field types and per-event property types, in schema order."""
    fields = {name: spec.type for name, spec in schema.fields.items()}
    properties = {event: {name: spec.type for name, spec in spec_.properties.items()}
                  for event, spec_ in schema.events.items()}
    return fields, properties


def _array(values: list, kind: str) -> pa.Array:
    if kind == t.LIST:
        values = [None if v is None else list(v) for v in values]
    return pa.array(values, type=_ARROW_TYPES[kind])


def _columns_of(dicts: list[dict], columns: dict[str, tuple[str, str]]) -> dict[str, pa.Array]:
    """Per (name -> (column, type)) of `columns`, the column of each dict's value under that
    name (null where it has none): one struct conversion in Arrow rather than a Python pass
    over the dicts (keys not declared are ignored, lists may be tuples)."""
    if not columns:
        return {}
    struct = pa.array(dicts, type=pa.struct([(name, _ARROW_TYPES[kind]) for name, (_, kind) in columns.items()]))
    return {column: struct.field(i) for i, (column, _) in enumerate(columns.values())}


def _property_columns(bucket: Bucket, columns: dict[str, tuple[str, str]]) -> dict[str, pa.Array]:
    """`_columns_of` the events' property dicts, each distinct dict converted once: the events
    of one type with equal properties share a dict, and a few thousand dicts usually serve
    millions of events."""
    if not columns:
        return {}
    dicts = property_dicts(bucket)
    numbers = pa.array(dicts.numbers)
    return {name: column.take(numbers) for name, column in _columns_of(dicts.distinct, columns).items()}


def bucket_tables(bucket: Bucket, schema) -> dict[str, pa.Table]:
    field_types, property_types = relation_types(schema)
    key = ("duckdb_tables", tuple(field_types.items()),
           tuple((event, tuple(properties.items())) for event, properties in property_types.items()))
    return bucket.kept(key, lambda: _tables(bucket, field_types, property_types))


def _tables(bucket: Bucket, field_types: dict[str, str], property_types: dict[str, dict[str, str]]) -> dict:
    leads = len(bucket)
    lead_input = pa.table({"lead": pa.array(np.arange(leads, dtype=np.int64)),
                           **_columns_of(bucket.fields, {name: (f"f{slot}", kind)
                                                         for slot, (name, kind) in enumerate(field_types.items())})})
    events = event_arrays(bucket)
    seq = np.arange(len(events.at), dtype=np.int64) - np.repeat(events.starts[:-1], np.diff(events.starts))
    # a lead's events are in time order, equal times in file order (Bucket): the events are
    # sorted by (lead, at, seq) already, so each one's place in that order is its index
    pos = np.arange(len(events.at), dtype=np.int64)
    event_input = pa.table({"lead": pa.array(events.lead), "type": events.kinds, "at": pa.array(events.at),
                            "seq": pa.array(seq), "pos": pa.array(pos),
                            **_property_columns(bucket, property_columns(property_types))})
    change_counts = np.diff(np.asarray(bucket.change_starts, dtype=np.int64))
    change_owners = np.repeat(np.arange(leads, dtype=np.int64), change_counts)
    change_input = pa.table({
        "lead": pa.array(change_owners), "at": pa.array([c[0] for c in bucket.changes], pa.float64()),
        # the bucket holds each lead's changes in the order they apply
        "seq": pa.array(np.arange(len(bucket.changes), dtype=np.int64)),
        "field": pa.array([c[1] for c in bucket.changes], pa.string()),
        **{f"f{slot}": _array([c[2] if c[1] == name else None for c in bucket.changes], kind)
           for slot, (name, kind) in enumerate(field_types.items())}})
    return {"lead_input": lead_input, "event_input": event_input, "change_input": change_input}

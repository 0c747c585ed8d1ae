"""Two schemas -> what changed in what the rules may use (docs/diff.md, "Schema").

A pure function of two parsed schemas. Lead fields, event types and their properties
are matched by name; a field or property is retyped when its type changed, and its
declared `values` are compared value by value. Declaration order and spans are not
changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator, Mapping

from ..dsl.schema import FieldSpec, Schema
from .compare import ADDED, CHANGED, REMOVED


@dataclass(frozen=True)
class SchemaChange:
    """One change of the schema. `old`/`new` are display text (a type, a value as a JSON
    string, a column name), None where there is nothing."""

    kind: str                    # added, removed, changed
    entity: str                  # lead field, event type, event property, value, id column, created column
    name: str                    # the field or event type (the column's role for a column)
    property: str | None = None  # the event property, for an event property or its value
    field: str | None = None     # for "changed": "type" or "values"
    old: str | None = None
    new: str | None = None


def compare_schemas(old: Schema, new: Schema) -> tuple[SchemaChange, ...]:
    """Every change from `old` to `new`: the lead's columns, its fields, then the event
    types, each in the new schema's order (removed ones after)."""
    out: list[SchemaChange] = []
    for role, was, now in (("id column", old.id_column, new.id_column),
                           ("created column", old.created, new.created)):
        if was != now:
            kind = ADDED if was is None else REMOVED if now is None else CHANGED
            out.append(SchemaChange(kind, role, role, old=was, new=now))
    out.extend(_specs(old.fields, new.fields, "lead field", None))
    for name in _names(old.events, new.events):
        was, now = old.events.get(name), new.events.get(name)
        if was is None or now is None:
            kind = ADDED if was is None else REMOVED
            spec = now or was
            text = _properties(spec.properties)
            out.append(SchemaChange(kind, "event type", name, old=None if kind == ADDED else text,
                                    new=text if kind == ADDED else None))
        else:
            out.extend(_specs(was.properties, now.properties, "event property", name))
    return tuple(out)


def _names(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    return [*new, *(name for name in old if name not in new)]


def _type(spec: FieldSpec) -> str:
    return spec.type if spec.values is None else f"{spec.type}, values {_values(spec.values)}"


def _values(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def _properties(properties: Mapping[str, FieldSpec]) -> str | None:
    """An event type's properties as `{url: string}`; None when it has none."""
    if not properties:
        return None
    return "{" + ", ".join(f"{name}: {_type(spec)}" for name, spec in properties.items()) + "}"


def _specs(old: Mapping[str, FieldSpec], new: Mapping[str, FieldSpec], entity: str,
           event: str | None) -> Iterator[SchemaChange]:
    """Fields (event None) or the properties of one event type."""
    def change(kind: str, name: str, **rest: str) -> SchemaChange:
        if event is None:
            return SchemaChange(kind, entity, name, **rest)
        return SchemaChange(kind, entity, event, name, **rest)

    for name in _names(old, new):
        was, now = old.get(name), new.get(name)
        if was is None:
            yield change(ADDED, name, new=_type(now))
        elif now is None:
            yield change(REMOVED, name, old=_type(was))
        else:
            if was.type != now.type:
                yield change(CHANGED, name, field="type", old=was.type, new=now.type)
            yield from _value_changes(was, now, entity, name, event)


def _value_changes(old: FieldSpec, new: FieldSpec, entity: str, name: str,
                   event: str | None) -> Iterator[SchemaChange]:
    """Declared values: each one added or removed; a restriction added or lifted whole."""
    owner, prop = (name, None) if event is None else (event, name)
    if old.values is None and new.values is None:
        return
    if old.values is None or new.values is None:
        yield SchemaChange(CHANGED, entity, owner, prop, "values",
                           "(any)" if old.values is None else _values(old.values),
                           "(any)" if new.values is None else _values(new.values))
        return
    for value in new.values:
        if value not in old.values:
            yield SchemaChange(ADDED, "value", owner, prop, new=json.dumps(value, ensure_ascii=False))
    for value in old.values:
        if value not in new.values:
            yield SchemaChange(REMOVED, "value", owner, prop, old=json.dumps(value, ensure_ascii=False))

"""The schema file (docs/language.md, "The schema file"): lead fields and event types.

`parse_schema` takes the file's text (no file I/O; the caller reads the file)
and returns a `Schema` plus diagnostics. The shape is checked by the JSON
Schema in `schema_format.json`; this module adds the rules that need more than
shape, with messages that say what to change:

* `values` only applies to `string` and `list` fields (LS602 on `values`).
* The same value listed twice in `values` is a warning (LS602): harmless, but
  usually a copy-paste slip.
* `created` must name a field declared under `fields` with type `datetime`
  (LS605 at the `created` value). An invalid `created` is left out of the
  Schema (None) so that nothing downstream relies on it.
* `id` may also be declared under `fields` (it is then a column like any
  other); when it is, its type must be `string` or `number`, the only types
  an id can sensibly have (LS605 at the `id` value).
* Names (fields, events, properties) are any non-empty text, spaces included.
* `missing` (any type) lists texts that mean "no value" in the data (`Select`,
  `N/A`); they are kept trimmed, without repeats.
* `fields` and `events` are optional; left out or empty means none.

A Schema is returned whenever the file holds a mapping at the top; entries
that are invalid are left out of it (a `values` item that YAML read as a
boolean or number is kept as the text written, after its LS604). Callers
should stop on errors before relying on the Schema being complete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from leadscore.cache import ValidYaml
from leadscore.dsl.diagnostics import Diagnostic, Severity, Span, make
from leadscore.dsl.yamlio import Origin, YamlList, YamlMap, known_text, load_yaml

FIELD_TYPES = ("string", "number", "boolean", "datetime", "list")
_TYPES_WITH_VALUES = ("string", "list")
_ID_TYPES = ("string", "number")
DEFAULT_ID_COLUMN = "lead_id"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str                          # one of FIELD_TYPES
    values: tuple[str, ...] | None     # the declared enum values, or None
    span: Span                         # where the field/property is declared
    missing: tuple[str, ...] = ()      # texts that mean "no value" in the data (`missing:`)


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    properties: Mapping[str, FieldSpec]   # declaration order
    span: Span


@dataclass(frozen=True, slots=True)
class Schema:
    file: str
    id_column: str                     # default "lead_id"
    created: str | None
    fields: Mapping[str, FieldSpec]    # declaration order
    events: Mapping[str, EventSpec]
    # Fields, properties and event types declared with an error (reported
    # here): a rule file's uses of them are not reported again.
    broken: frozenset[str] = frozenset()


@lru_cache(maxsize=1)
def schema_format() -> dict:
    """The JSON Schema for schema files, shipped beside this module."""
    return json.loads(Path(__file__).with_name("schema_format.json").read_text(encoding="utf-8"))


def parse_schema(text: str, file: str, valid: ValidYaml | None = None) -> tuple[Schema | None, list[Diagnostic]]:
    schema, diags, _ = parse_schema_and_excerpts(text, file, valid)
    return schema, diags


def parse_schema_and_excerpts(text: str, file: str, valid: ValidYaml | None = None
                              ) -> tuple[Schema | None, list[Diagnostic], str]:
    """`parse_schema`, and the text that may be shown under its diagnostics:
    only the lines (or parts of lines) of keys and values the schema format
    knows, since a rule file can name any file as its schema. `valid`: see `load_yaml`."""
    data, diags = load_yaml(text, file, schema_format(), valid)
    excerpts = known_text(text, data, schema_format())
    if not isinstance(data, YamlMap):
        return None, diags, excerpts
    extra: list[Diagnostic] = []

    lead = data.get("lead")
    lead = lead if isinstance(lead, YamlMap) else YamlMap(data.span)
    fields = _specs(lead.get("fields"), extra)

    events: dict[str, EventSpec] = {}
    raw_events = data.get("events")
    if isinstance(raw_events, YamlMap):
        for name, raw in raw_events.items():
            if not name:
                continue  # reported by the JSON Schema
            if raw is None:
                props: dict[str, FieldSpec] = {}
            elif isinstance(raw, YamlMap):
                props = _specs(raw.get("properties"), extra)
            else:
                continue  # not a mapping: reported by the JSON Schema
            events[name] = EventSpec(name, MappingProxyType(props), raw_events.origins[name].key_span)

    id_column = lead.get("id")
    if not isinstance(id_column, str) or not id_column:
        id_column = DEFAULT_ID_COLUMN
    elif id_column in fields and fields[id_column].type not in _ID_TYPES:
        extra.append(make(
            "LS605", f"the id column `{id_column}` is declared as a {fields[id_column].type} field; "
                     "an id must be a string or number field",
            lead.origins["id"].span, "change its type under `fields` to string"))

    created = lead.get("created")
    if not isinstance(created, str) or not created:
        created = None
    elif not _created_ok(created, fields, lead.origins["created"], extra):
        created = None

    schema = Schema(file, id_column, created, MappingProxyType(fields), MappingProxyType(events),
                    _declared_with_errors(lead, raw_events, fields, events))
    diags = sorted(diags + extra, key=lambda d: (d.span.line, d.span.column, d.code, d.message))
    return schema, diags, excerpts


def _declared_with_errors(lead: YamlMap, raw_events: object, fields: Mapping[str, FieldSpec],
                          events: Mapping[str, EventSpec]) -> frozenset[str]:
    """The names declared in the file that did not make it into the schema."""
    broken: set[str] = set()
    raw_fields = lead.get("fields")
    if isinstance(raw_fields, YamlMap):
        broken.update(n for n in raw_fields if n and n not in fields)
    if isinstance(raw_events, YamlMap):
        for name, raw in raw_events.items():
            if name and name not in events:
                broken.add(name)
            elif isinstance(raw, YamlMap) and isinstance(raw.get("properties"), YamlMap):
                broken.update(n for n in raw["properties"] if n and n not in events[name].properties)
    return frozenset(broken)


def _created_ok(created: str, fields: Mapping[str, FieldSpec], origin: Origin,
                diags: list[Diagnostic]) -> bool:
    if created not in fields:
        datetimes = [f.name for f in fields.values() if f.type == "datetime"]
        hint = (f"did you mean `{datetimes[0]}`?" if len(datetimes) == 1
                else f"the datetime fields are: {', '.join(datetimes)}" if datetimes
                else f"declare it under `fields`, e.g. `{created}: datetime`")
        diags.append(make("LS605", f"`created` names `{created}`, which is not declared under `fields`",
                          origin.span, hint))
        return False
    if fields[created].type != "datetime":
        diags.append(make("LS605", f"`created` must name a datetime field; `{created}` is declared "
                                   f"as {fields[created].type}", origin.span,
                          f"declare `{created}` as datetime, or point `created` at a datetime field"))
        return False
    return True


def _specs(raw: object, diags: list[Diagnostic]) -> dict[str, FieldSpec]:
    """Field or property declarations, in order; invalid ones are left out."""
    specs: dict[str, FieldSpec] = {}
    if not isinstance(raw, YamlMap):
        return specs
    for name, value in raw.items():
        spec = _spec(name, value, raw.origins[name], diags) if name else None
        if spec is not None:
            specs[name] = spec
    return specs


def _spec(name: str, raw: object, origin: Origin, diags: list[Diagnostic]) -> FieldSpec | None:
    if isinstance(raw, str):  # the shorthand `employees: number`
        return FieldSpec(name, raw, None, origin.key_span) if raw in FIELD_TYPES else None
    if not isinstance(raw, YamlMap) or raw.get("type") not in FIELD_TYPES:
        return None  # the JSON Schema has said what is wrong
    kind = raw["type"]
    missing = _placeholders(raw.get("missing"))
    values = raw.get("values")
    if values is None or not isinstance(values, YamlList):
        return FieldSpec(name, kind, None, origin.key_span, missing)
    if kind not in _TYPES_WITH_VALUES:
        diags.append(make("LS602", f"`values` only applies to string and list fields; `{name}` is a {kind} field",
                          raw.origins["values"].key_span, "remove `values`, or make the field a string"))
        return FieldSpec(name, kind, None, origin.key_span, missing)
    return FieldSpec(name, kind, _values(values, diags), origin.key_span, missing)


def _placeholders(items: object) -> tuple[str, ...]:
    if not isinstance(items, YamlList):
        return ()
    # As for `values`: an unquoted `no` or `0` was reported (LS604); keep the text written.
    texts = (item if isinstance(item, str) else where.plain for item, where in zip(items, items.origins))
    return tuple(dict.fromkeys(text.strip() for text in texts if text and text.strip()))


def _values(items: YamlList, diags: list[Diagnostic]) -> tuple[str, ...] | None:
    kept: dict[str, None] = {}   # ordered, and `in` is constant time (300,000 values)
    for item, where in zip(items, items.origins):
        # A bare `no` was read as False and already reported (LS604); the user
        # meant the text they wrote, so keep that.
        text = item if isinstance(item, str) else where.plain
        if not text:
            continue
        if text in kept:
            diags.append(make("LS602", f"`{text}` is listed twice in `values`", where.span,
                              "remove the repeated value", severity=Severity.WARNING))
            continue
        kept[text] = None
    return tuple(kept) or None

"""Test-file data (already shaped by the JSON Schema) + the checked ruleset -> a CaseFile.

This pass checks what needs the ruleset and its schema, each problem at the
test file's line:col with a did-you-mean where a name is close:

* names in `expect` must be scores, thresholds, segments (and their labels)
  and rules of the ruleset (LS300);
* lead fields and event properties must be declared in the schema (LS300,
  LS302), event types too (LS301); the lead's id column is accepted;
* values must fit the field's type as the runtime reads it (LS602), text
  fields must not be given a bare YAML yes/no or number (LS604), and text
  compared with declared `values` must be one of them (LS404);
* times are absolute ISO 8601 (no offset = UTC) or relative to the case's
  `as_of` (`-3d`, `+2h`, `-90m`, `-1w`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..compiler import runtime as rt
from ..dsl import ast
from ..dsl.checker import CheckedRuleset
from ..dsl.diagnostics import Diagnostic, Span, make
from ..dsl.expressions import suggest
from ..dsl.schema import FieldSpec
from ..dsl.yamlio import Origin, YamlList, YamlMap
from ..semantics import UNIT_SECONDS as LANGUAGE_UNITS
from .model import (DEFAULT_TOLERANCE, Case, CaseFile, FiringExpectation, OutcomeExpectation,
                    ScoreExpectation)

_RELATIVE = re.compile(r"([+-])(\d+(?:\.\d+)?)([mhdw])")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([mhdw])")
UNIT_SECONDS = {"m": 60.0, **LANGUAGE_UNITS}   # a test file may also step in minutes


def parse_instant(text: str) -> float | None:
    """An absolute ISO 8601 date or date-time (no offset = UTC) -> epoch seconds."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        parsed.astimezone(timezone.utc)   # 9999-12-31T23:00-05:00 lies past the last UTC year
    except OverflowError:
        return None
    return parsed.timestamp()


def parse_time(text: str, as_of: float) -> float | None:
    """An absolute time, or one relative to `as_of` (`-3d`) -> epoch seconds."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is None:
        return parse_instant(text)
    sign, amount, unit = relative.groups()
    at = as_of + (1 if sign == "+" else -1) * float(amount) * UNIT_SECONDS[unit]
    return at if math.isfinite(at) else None   # 400 nines would make an infinite time


def parse_duration(text: str) -> float | None:
    """`12h`, `1d`, `1.5w` -> seconds (positive), or None."""
    match = _DURATION.fullmatch(text.strip())
    seconds = float(match[1]) * UNIT_SECONDS[match[2]] if match else 0.0
    return seconds if 0 < seconds < math.inf else None


@dataclass
class Catalogue:
    """The names a test can speak of, from one checked ruleset."""

    scores: list[str] = field(default_factory=list)
    thresholds: list[str] = field(default_factory=list)
    segments: dict[str, list[str]] = field(default_factory=dict)   # segment -> labels
    rules: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)     # group -> its rules


def catalogue(checked: CheckedRuleset) -> Catalogue:
    out = Catalogue()
    for decl in checked.ruleset.declarations:
        if isinstance(decl, (ast.ScoreBlock, ast.DerivedScore)):
            out.scores.append(decl.name.name)
        if isinstance(decl, ast.ScoreBlock):
            out.rules.extend(rule.name.name for rule in ast.rules_of(decl))
            for item in decl.items:
                if isinstance(item, ast.Group):
                    out.groups[item.name.name] = [rule.name.name for rule in item.rules]
        elif isinstance(decl, ast.Threshold):
            out.thresholds.append(decl.name.name)
        elif isinstance(decl, ast.Segment):
            out.segments[decl.name.name] = [label.label.name for label in decl.labels]
    return out


def build_case_file(data: YamlMap, path: str, ruleset: str,
                    checked: CheckedRuleset) -> tuple[CaseFile, list[Diagnostic]]:
    """The cases of a test file. Any data is accepted (the JSON Schema has
    reported wrong shapes); cases with problems are left out, and the
    diagnostics say why."""
    builder = _Builder(path, checked)
    file_as_of = builder.instant(data, "as_of")
    builder.file_as_of_given = "as_of" in data
    file_tolerance = _tolerance(data.get("tolerance"), DEFAULT_TOLERANCE)
    cases: list[Case] = []
    invalid: list[tuple[str, Span]] = []
    seen: dict[str, int] = {}
    raw_cases = data.get("cases")
    for raw, origin in _items(raw_cases):
        if not isinstance(raw, YamlMap) or not isinstance(raw.get("name"), str):
            continue
        name = raw["name"]
        name_span = raw.origins["name"].span
        if name in seen:
            builder.error("LS602", f"a case named `{name}` is already at line {seen[name]}", name_span,
                          "give each case its own name")
            continue
        seen[name] = origin.span.line
        case = builder.case(raw, origin, file_as_of, file_tolerance)
        if case is not None:
            cases.append(case)
        else:
            invalid.append((name, Span.point(path, origin.span.line, origin.span.column)))
    return CaseFile(path, ruleset, tuple(cases), tuple(invalid)), builder.diags


class _Builder:
    def __init__(self, path: str, checked: CheckedRuleset) -> None:
        self.path = path
        self.schema = checked.schema
        self.names = catalogue(checked)
        self.diags: list[Diagnostic] = []
        self.file_as_of_given = False   # an unreadable file-level as_of is reported once, not per case

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diags.append(make(code, message, span, hint))

    def instant(self, mapping: YamlMap, key: str) -> float | None:
        text = mapping.get(key)
        if not isinstance(text, str):
            return None
        value = parse_instant(text)
        if value is None:
            hint = ("as_of is the instant other times are relative to; write it in full"
                    if _RELATIVE.fullmatch(text.strip()) else "write it like 2026-05-01T09:00:00Z")
            self.error("LS602", f"`{text}` is not a date-time", mapping.origins[key].span, hint)
        return value

    # --- one case ----------------------------------------------------------------------

    def case(self, raw: YamlMap, origin: Origin, file_as_of: float | None,
             file_tolerance: float) -> Case | None:
        before = len(self.diags)
        span = Span.point(self.path, origin.span.line, origin.span.column)
        as_of = self.instant(raw, "as_of") if "as_of" in raw else file_as_of
        if as_of is None and "as_of" not in raw and not self.file_as_of_given:
            self.error("LS602", f"the case `{raw['name']}` has no `as_of`", span,
                       "give the instant to score at, here or once at the top of the file")
        # Without a usable as_of the rest is still checked, relative times against 0.
        known_as_of = as_of
        as_of = 0.0 if as_of is None else as_of
        lead = self.lead(raw.get("lead"), as_of)
        events = self.events(raw.get("events"), as_of)
        expect = raw.get("expect")
        if not isinstance(expect, YamlMap):
            return None
        if not expect:
            self.error("LS602", "`expect` is empty", raw.origins["expect"].span,
                       "say what the case should give: scores, thresholds, segments, fires")
        tolerance = _tolerance(raw.get("tolerance"), file_tolerance)
        scores = self.scores(expect.get("scores"), tolerance)
        thresholds = self.outcomes(expect.get("thresholds"), self.names.thresholds, "threshold")
        segments = self.segment_labels(expect.get("segments"))
        firing = self.firing(expect)
        if len(self.diags) > before or known_as_of is None:
            return None
        return Case(raw["name"], span, as_of, lead, tuple(events), scores, thresholds, segments,
                    firing)

    # --- input: the lead and its events ------------------------------------------------------

    def lead(self, raw: object, as_of: float) -> dict[str, Any]:
        lead: dict[str, Any] = {}
        for name, value, origin in _entries(raw):
            spec = self.schema.fields.get(name)
            if spec is None:
                if name != self.schema.id_column:
                    self.error("LS300", f"the schema has no lead field `{name}`", origin.key_span,
                               suggest(name, self.schema.fields))
                continue
            lead[name] = self.value(spec, value, origin, as_of, "field")
        return lead

    def events(self, raw: object, as_of: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for event, _ in _items(raw):
            if not isinstance(event, YamlMap) or not isinstance(event.get("type"), str):
                continue
            kind = event["type"]
            spec = self.schema.events.get(kind)
            if spec is None:
                self.error("LS301", f"the schema has no event type `{kind}`",
                           event.origins["type"].span, suggest(kind, self.schema.events))
                continue
            at = self.time(event, "at", as_of)
            every = self.every(event)
            properties: dict[str, Any] = {}
            for name, value, where in _entries(event.get("properties")):
                declared = spec.properties.get(name)
                if declared is None:
                    self.error("LS302", f"the event type `{kind}` has no property `{name}`",
                               where.key_span, suggest(name, spec.properties))
                    continue
                properties[name] = self.value(declared, value, where, as_of, "property")
            if at is None:
                continue
            if not math.isfinite(at + (_times(event) - 1) * (every or 0.0)):
                self.error("LS602", "the repeated events would run past any date",
                           event.origins["every"].span, "use a shorter `every`")
                continue
            for index in range(_times(event)):
                events.append({"type": kind, "at": at + index * (every or 0.0),
                               "properties": properties})
        return events

    def time(self, mapping: YamlMap, key: str, as_of: float) -> float | None:
        text = mapping.get(key)
        if not isinstance(text, str):
            return None
        value = parse_time(text, as_of)
        if value is None:
            self.error("LS602", f"`{text}` is not a time", mapping.origins[key].span,
                       "write a date-time like 2026-05-01T09:00:00Z, or a time relative to "
                       "as_of like -3d, -12h, -90m, -1w or +0d")
        return value

    def every(self, event: YamlMap) -> float | None:
        text = event.get("every")
        if text is None:
            if _times(event) > 1:
                self.error("LS602", "`times` needs `every`: how far apart the events are",
                           event.origins["times"].span, "add e.g. `every: 1d`")
            return None
        if not isinstance(text, str):
            return None  # reported by the JSON Schema
        seconds = parse_duration(text)
        if seconds is None:
            self.error("LS602", f"`{text}` is not a duration", event.origins["every"].span,
                       "write a positive number and a unit m, h, d or w, like 1d or 12h")
        return seconds

    def value(self, spec: FieldSpec, value: object, origin: Origin, as_of: float, what: str) -> Any:
        """A field or property value as the API takes it; reports one that does not fit."""
        if value is None or value == "" or value == [] or isinstance(value, YamlMap):
            return None  # missing, or a mapping the JSON Schema has reported
        if spec.type == "datetime" and isinstance(value, str):
            at = parse_time(value, as_of)
            if at is None:
                self.error("LS602", f"`{value}` is not a time for the datetime {what} `{spec.name}`",
                           origin.span, "write a date-time like 2026-05-01T09:00:00Z, or a time "
                           "relative to as_of like -30d")
                return None
            return rt.from_epoch(at)   # a number is never a date-time to the API (docs/scoring.md)
        if spec.type == "string" and not isinstance(value, str) and origin.plain:
            reads_as = "the yes/no value " + str(value).lower() if isinstance(value, bool) else "a number"
            self.error("LS604", f"`{origin.plain}` is read by YAML as {reads_as}, not as text",
                       origin.span, f'put it in quotes: "{origin.plain}"')
            return None
        prepared = None if isinstance(value, list) and spec.type != "list" \
            else rt.normalise_value(value, spec.type)
        if prepared is None:
            shown = "a list" if isinstance(value, list) else f"`{origin.plain or value}`"
            self.error("LS602", f"`{spec.name}` is a {spec.type} {what}; {shown} is not a {spec.type}",
                       origin.span)
            return None
        if spec.values is not None:
            items = prepared if isinstance(prepared, tuple) else (prepared,)
            for item in items:
                if item not in spec.values:
                    self.error("LS404", f"`{item}` is not one of the declared values of `{spec.name}`",
                               origin.span, suggest(item, spec.values))
        return value

    # --- expectations --------------------------------------------------------------------

    def scores(self, raw: object, tolerance: float) -> tuple[ScoreExpectation, ...]:
        out: list[ScoreExpectation] = []
        for name, expected, origin in _entries(raw):
            if not self.known(name, self.names.scores, "score", origin.key_span):
                continue
            if isinstance(expected, YamlMap):
                value, own = expected.get("value"), _tolerance(expected.get("tolerance"), tolerance)
                span = expected.origins["value"].span if "value" in expected else origin.span
            else:
                value, own, span = expected, tolerance, origin.span
            if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
                continue  # reported by the JSON Schema
            out.append(ScoreExpectation(name, None if value is None else float(value), float(own), span))
        return tuple(out)

    def outcomes(self, raw: object, known: list[str], what: str) -> tuple[OutcomeExpectation, ...]:
        out: list[OutcomeExpectation] = []
        for name, expected, origin in _entries(raw):
            if self.known(name, known, what, origin.key_span) and isinstance(expected, bool):
                out.append(OutcomeExpectation(name, expected, origin.span))
        return tuple(out)

    def segment_labels(self, raw: object) -> tuple[OutcomeExpectation, ...]:
        out: list[OutcomeExpectation] = []
        for name, expected, origin in _entries(raw):
            if not self.known(name, list(self.names.segments), "segment", origin.key_span):
                continue
            if expected is not None and not isinstance(expected, str):
                continue  # reported by the JSON Schema
            labels = self.names.segments[name]
            if expected is not None and expected not in labels:
                self.error("LS300", f"the segment `{name}` has no label `{expected}`", origin.span,
                           suggest(expected, labels) or "its labels are: " + ", ".join(labels))
                continue
            out.append(OutcomeExpectation(name, expected, origin.span))
        return tuple(out)

    def firing(self, expect: YamlMap) -> tuple[FiringExpectation, ...]:
        out: list[FiringExpectation] = []
        first_seen: dict[str, bool] = {}
        for key, fires in (("fires", True), ("does_not_fire", False)):
            for name, origin in _items(expect.get(key)):
                if not isinstance(name, str) or not self.rule_name(name, origin.span):
                    continue
                if name in first_seen:
                    self.error("LS602", f"`{name}` is listed twice under `fires` and `does_not_fire`"
                               if first_seen[name] != fires else f"`{name}` is listed twice",
                               origin.span, "keep one")
                    continue
                first_seen[name] = fires
                out.append(FiringExpectation(name, fires, origin.span))
        return tuple(out)

    def rule_name(self, name: str, span: Span) -> bool:
        if name in self.names.rules:
            return True
        if name in self.names.groups:
            self.error("LS300", f"`{name}` is a group, not a rule", span,
                       "name one of its rules: " + ", ".join(self.names.groups[name]))
        elif name in self.names.scores:
            self.error("LS300", f"`{name}` is a score, not a rule", span,
                       "expect its value under `scores`, or name one of its rules")
        else:
            self.error("LS300", f"the ruleset has no rule `{name}`", span,
                       suggest(name, self.names.rules))
        return False

    def known(self, name: str, names: list[str], what: str, span: Span) -> bool:
        if name in names:
            return True
        self.error("LS300", f"the ruleset has no {what} `{name}`", span,
                   suggest(name, names) or (f"its {what}s are: " + ", ".join(names) if names
                                            else f"it declares no {what}"))
        return False


# The JSON Schema has reported any value of the wrong shape; these read what
# is there without assuming the shape, so that every other problem of the file
# is reported in the same run.

def _entries(raw: object) -> list[tuple[str, object, Origin]]:
    return [(k, v, raw.origins[k]) for k, v in raw.items()] if isinstance(raw, YamlMap) else []


def _items(raw: object) -> list[tuple[object, Origin]]:
    return list(zip(raw, raw.origins)) if isinstance(raw, YamlList) else []


def _tolerance(value: object, default: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else default


def _times(event: YamlMap) -> int:
    times = event.get("times", 1)
    return times if isinstance(times, int) and not isinstance(times, bool) and 1 <= times <= 10_000 else 1

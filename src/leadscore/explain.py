"""Why one lead has its scores, as a value (`leadscore explain` renders it).

The numbers come from the compiled scorer, the same code `leadscore score` runs. The reference
interpreter adds what the compiled code does not keep (each counted event's points after
decay, the value of any expression) and must agree with it: if it does not, that is a bug and
the explanation is refused rather than shown with numbers that do not add up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from .compiler import runtime as rt
from .dsl import ast
from .dsl import types as t


class ExplainError(Exception):
    """The explanation cannot be trusted (the scorer and the reference disagree)."""


@dataclass(frozen=True)
class CountedEvent:
    type: str
    at: float                 # epoch seconds
    properties: Mapping[str, Any]
    points: float             # after decay, before the rule's `max`


@dataclass(frozen=True)
class Contribution:
    rule: str                 # the rule, or the group / "inactivity" / "clamp"
    kind: str                 # "rule", "group", "inactivity" or "clamp"
    points: float
    source: str               # its first line as written in the rule file
    events: tuple[CountedEvent, ...] = ()   # per-event rules: the events counted
    uncapped: float | None = None           # per-event rules whose `max` cut the events' sum: that sum


@dataclass(frozen=True)
class Unfired:
    rule: str
    source: str
    why: str                  # the values the rule looked at, or why no event counted


@dataclass(frozen=True)
class ScoreExplanation:
    name: str
    value: float | None
    formula: str | None       # a derived score's expression, as written
    contributions: tuple[Contribution, ...]
    unfired: tuple[Unfired, ...]


@dataclass(frozen=True)
class Condition:
    """One part of a threshold's condition. For a comparison of numbers (`interest >= 50`):
    the compared value, the target, and how far the lead is from meeting it."""

    text: str
    met: bool
    subject: str | None = None
    value: float | None = None
    op: str | None = None
    target: float | None = None
    gap: float | None = None  # when not met: how much the subject must move


@dataclass(frozen=True)
class ThresholdExplanation:
    name: str
    met: bool
    condition: str
    joined_by: str | None     # "and"/"or" when the condition is several parts
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class TimelineEntry:
    at: float
    type: str
    properties: Mapping[str, Any]
    scores: Mapping[str, float | None]
    thresholds: Mapping[str, bool]


@dataclass(frozen=True)
class Explanation:
    lead: str
    ruleset: str
    version: str
    as_of: float
    fields: Mapping[str, Any]                 # the lead's fields as scored (runtime representation)
    scores: tuple[ScoreExplanation, ...]
    thresholds: tuple[ThresholdExplanation, ...]
    segments: Mapping[str, str | None]
    timeline: tuple[TimelineEntry, ...]       # empty unless asked for; the scores at as_of are `scores`
    timeline_omitted: int = 0                 # the earliest events with no timeline entry


# An entry is one evaluation over every earlier event (decay makes each of them count anew at
# every instant), so entries for all n events cost n²; bounding them by default keeps the cost linear.
TIMELINE_ROWS = 200


def explain(ruleset, scorer, source: str, lead: str, fields: dict, events: list[tuple[str, float, dict]],
            instant: float, *, timeline: bool = False, timeline_rows: int | None = TIMELINE_ROWS) -> Explanation:
    """`fields` and `events` ((type, at, properties) in file order) in the runtime's representation.
    With `timeline`, an entry for each of the last `timeline_rows` events (None: every event)."""
    events = [e for e in events if e[1] <= instant]
    grouped = _grouped(events, scorer.property_types)
    result = scorer.evaluate(fields, grouped, instant, explain=True)
    interpreter = ruleset.interpret()
    _agree(result, interpreter.evaluate(fields, grouped, instant, explain=True))
    view = _View(ruleset.checked, interpreter, source.splitlines(), fields, grouped, instant, result)
    entries, omitted = _timeline(scorer, fields, events, timeline_rows) if timeline else ((), 0)
    return Explanation(
        lead, ruleset.name, ruleset.version, instant, dict(fields),
        tuple(view.score(decl) for decl in ruleset.checked.ruleset.declarations
              if isinstance(decl, (ast.ScoreBlock, ast.DerivedScore))),
        tuple(view.threshold(decl) for decl in ruleset.checked.ruleset.declarations
              if isinstance(decl, ast.Threshold)),
        dict(result.segments), entries, omitted)


def _grouped(events: list[tuple[str, float, dict]], types: Mapping) -> dict[str, list]:
    grouped: dict[str, list] = {name: [] for name in types}
    for kind, at, properties in sorted(events, key=lambda e: e[1]):   # stable: ties in file order
        grouped[kind].append((at, properties))
    return grouped


def _agree(result: rt.Result, reference: rt.Result) -> None:
    def points(r: rt.Result) -> dict:
        return {(x.score, x.rule, x.kind): (x.points, x.events) for x in r.reasons}

    if (result.scores, result.thresholds, result.segments, points(result)) != \
            (reference.scores, reference.thresholds, reference.segments, points(reference)):
        raise ExplainError("the compiled scorer and the reference interpreter disagree on this lead; "
                           "this is a bug in leadscore: please report it with the rule file and the lead")


def _timeline(scorer, fields: dict, events: list[tuple[str, float, dict]],
              rows: int | None) -> tuple[tuple[TimelineEntry, ...], int]:
    """The scores right after each of the last `rows` events (None: all), at its instant (events
    in time order, ties in file order), and how many earlier events have no entry."""
    ordered = sorted(events, key=lambda e: e[1])
    omitted = 0 if rows is None else max(0, len(ordered) - rows)
    grouped: dict[str, list] = {name: [] for name in scorer.property_types}
    for kind, at, properties in ordered[:omitted]:
        grouped[kind].append((at, properties))
    entries = []
    for kind, at, properties in ordered[omitted:]:
        grouped[kind].append((at, properties))   # time order kept: each list stays sorted
        result = scorer.evaluate(fields, grouped, at)
        entries.append(TimelineEntry(at, kind, properties, result.scores, result.thresholds))
    return tuple(entries), omitted


class _View:
    """Builds the parts of an explanation for one lead."""

    def __init__(self, checked, interpreter, lines: list[str], fields: dict, grouped: dict, instant: float,
                 result: rt.Result):
        self.checked, self.interpreter, self.lines = checked, interpreter, lines
        self.fields, self.grouped, self.instant, self.result = fields, grouped, instant, result
        self.counted = interpreter.event_points(fields, grouped, instant)

    def text(self, span) -> str:
        """The source text of a span, on one line."""
        if span.line == span.end_line:
            return self.lines[span.line - 1][span.column - 1:span.end_column - 1]
        parts = [self.lines[span.line - 1][span.column - 1:], *self.lines[span.line:span.end_line - 1],
                 self.lines[span.end_line - 1][:span.end_column - 1]]
        return " ".join(part.strip() for part in parts)

    def first_line(self, span) -> str:
        return self.lines[span.line - 1].strip()

    def value(self, expr: ast.Expr) -> Any:
        return self.interpreter.value(expr, self.fields, self.grouped, self.instant, self.result)

    # --- scores -------------------------------------------------------------------------------

    def score(self, decl) -> ScoreExplanation:
        name = decl.name.name
        value = self.result.scores[name]
        if isinstance(decl, ast.DerivedScore):
            return ScoreExplanation(name, value, self.text(decl.expr.span), (), ())
        if value is None:   # its points overflowed (docs/scoring.md): no breakdown to show
            return ScoreExplanation(name, value, None, (), ())
        reasons = self.result.reasons_for(name)
        fired = {r.rule: r for r in reasons if r.kind == "rule"}
        contributions, unfired = [], []
        for item in decl.items:
            rules = item.rules if isinstance(item, ast.Group) else (item,)
            for rule in rules:
                if not isinstance(rule, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                    continue
                if rule.name.name in fired:
                    contributions.append(self.contribution(rule, fired[rule.name.name]))
                else:
                    unfired.append(Unfired(rule.name.name, self.first_line(rule.span), self.why_not(rule)))
        spans = {item.name.name: item.span for item in decl.items if isinstance(item, ast.Group)}
        spans.update({kind: item.span for item in decl.items
                      for kind, cls in (("inactivity", ast.InactivityOption), ("clamp", ast.ClampOption))
                      if isinstance(item, cls)})
        contributions.extend(Contribution(r.rule, r.kind, r.points, self.first_line(spans[r.rule]))
                             for r in reasons if r.kind != "rule")
        return ScoreExplanation(name, value, None, tuple(contributions), tuple(unfired))

    def contribution(self, rule, reason: rt.Reason) -> Contribution:
        source = self.first_line(rule.span)
        if isinstance(rule, ast.CaseRule):   # the branch that gave the points, not `case {`
            branch = next(b for b in rule.branches if b.condition is None or self.value(b.condition) is True)
            source = f"{rule.name.text}: case {self.first_line(branch.span)}"
        if not isinstance(rule, ast.EventRule):
            return Contribution(rule.name.name, "rule", reason.points, source)
        counted = tuple(CountedEvent(rule.event.name, event[0], event[1], points)
                        for event, points in self.counted[rule.name.name])
        total = sum(e.points for e in counted)
        return Contribution(rule.name.name, "rule", reason.points, source, counted,
                            total if total != reason.points else None)

    def why_not(self, rule) -> str:
        if isinstance(rule, ast.EventRule):
            kind = rule.event.name
            have = len(self.grouped.get(kind, ()))
            if not have:
                return f"no {kind} events"
            if not self.counted[rule.name.name]:
                return f"none of the {have} {kind} event{'s' * (have != 1)} counted"
            return "its events have decayed to 0 points"
        conditions = [rule.condition] if isinstance(rule, ast.ConditionRule) else \
            [b.condition for b in rule.branches if b.condition is not None]
        shown = {}
        for condition in conditions:
            for node in _operands(condition, self.checked.resolutions):
                value = self.value(node)
                if value is None:
                    text = "is missing"
                elif self.is_time(node):
                    text = "= " + instant_text(value)
                else:
                    text = "= " + show(value)
                shown.setdefault(node.name if isinstance(node, ast.Name) else self.text(node.span), text)
        return ", ".join(f"{label} {text}" for label, text in shown.items()) or "its condition does not hold"

    def is_time(self, expr: ast.Expr) -> bool:
        """Whether an operand is a date-time (epoch seconds inside, shown as an instant)."""
        if isinstance(expr, ast.DateTime):
            return True
        symbol = self.checked.resolutions.get(expr) if isinstance(expr, ast.Name) else None
        if symbol is None:
            return False
        if symbol.kind == t.FIELD:
            return self.checked.schema.fields[symbol.name].type == t.DATETIME
        return symbol.kind == t.CONSTANT and self.checked.constant_types[symbol.name].kind == t.DATETIME

    # --- thresholds ---------------------------------------------------------------------------

    def threshold(self, decl: ast.Threshold) -> ThresholdExplanation:
        condition = decl.condition
        joined = condition.op if isinstance(condition, ast.BoolOp) else None
        parts = condition.operands if joined else (condition,)
        return ThresholdExplanation(decl.name.name, self.result.thresholds[decl.name.name], self.text(condition.span),
                                    joined, tuple(self.part(p) for p in parts))

    def part(self, expr: ast.Expr) -> Condition:
        text, met = self.text(expr.span), self.value(expr) is True
        if not (isinstance(expr, ast.Compare) and expr.op in ("<", "<=", ">", ">=")):
            return Condition(text, met)
        value, target = self.value(expr.left), self.value(expr.right)
        if self.is_time(expr.left) or self.is_time(expr.right) or not isinstance(target, float) or \
                (value is not None and not isinstance(value, float)):
            return Condition(text, met)
        gap = None
        if not met and value is not None:
            gap = target - value if expr.op in (">", ">=") else value - target
        return Condition(text, met, self.text(expr.left.span), value, expr.op, target, gap)


def _operands(expr, resolutions) -> list:
    """The fields and event aggregates (count, days_since) a rule's condition reads, in order."""
    found: list = []

    def walk(node) -> None:
        if isinstance(node, ast.Name):
            symbol = resolutions.get(node)
            if symbol is not None and symbol.kind == t.FIELD and node not in found:
                found.append(node)
        elif isinstance(node, ast.Call) and node.func in ("count", "days_since"):
            found.append(node)
        elif isinstance(node, tuple):
            for item in node:
                walk(item)
        elif is_dataclass(node) and not isinstance(node, type):
            for f in fields(node):
                if f.name != "span":
                    walk(getattr(node, f.name))

    walk(expr)
    return found


def show(value: Any) -> str:
    """A value as a sales rep reads it: numbers to 2 decimals, text quoted, times in UTC."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


def number(value: float | None) -> str:
    """A score for display: rounded half away from zero to 2 decimals, no trailing zeros."""
    if value is None:
        return "missing"
    if not math.isfinite(value):
        return str(value)
    text = f"{rt.round_for_display(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def instant_text(seconds: float) -> str:
    """An instant in ISO 8601, UTC, with `Z`."""
    moment = rt.from_epoch(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if moment.microsecond else "") + "Z")

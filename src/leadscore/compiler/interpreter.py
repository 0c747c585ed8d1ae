"""The reference interpreter: a ScoringProgram walked as directly as possible.

It reads docs/language.md without caring for speed; the compiled backends are tested
against it. Every operation's meaning comes from semantics.py; where this module and a
backend disagree, this module is the one to read against the contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, assert_never

from .. import lower as lo
from .. import semantics as sem
from ..dsl import ast
from ..dsl.checker import CheckedRuleset
from . import runtime as rt
from .runtime import DAY, Event, Reason, Result


class Interpreter:
    """The reference backend (api.Backend)."""

    name = "interpreter"

    def __init__(self, checked: CheckedRuleset, program: lo.ScoringProgram | None = None) -> None:
        self.checked = checked
        self.program = program if program is not None else lo.lower(checked)
        self.field_types = self.program.field_types
        self.property_types = self.program.property_types
        # Without strict, only the properties some `where` reads are normalised, as the compiled
        # scorer's PROPERTIES_READ: a property nothing reads is never looked at (docs/scoring.md).
        self.properties_read = lo.properties_read(self.program)
        self.field_missing = self.program.field_missing
        self.property_missing = self.program.property_missing
        self.scores = self.program.scores
        self.blocks = tuple(b.name for b in self.program.blocks)
        self.thresholds = tuple(d.name for d in self.program.thresholds)
        self.segments = tuple(d.name for d in self.program.segments)
        self._patterns: dict[tuple[str, str], Any] = {}

    # --- the API ---------------------------------------------------------------

    def score(self, lead: Mapping[str, Any], events: Iterable[Any], as_of: Any, *,
              explain: bool = False, strict: bool = False) -> Result:
        if strict:
            schema = self.checked.schema
            events = rt.check_strict(lead, events, self.field_types, self.property_types,
                                     {n: f.values for n, f in schema.fields.items() if f.values is not None},
                                     {n: {p: f.values for p, f in e.properties.items() if f.values is not None}
                                      for n, e in schema.events.items()},
                                     self.field_missing, self.property_missing)
        instant = rt.to_epoch(as_of, "an as-of instant")
        fields = rt.prepare_fields(lead, self.field_types, self.field_missing)
        # Events after the instant are never looked at either (as the compiled scorer).
        grouped = rt.prepare_events(events, self.properties_read, instant, missing=self.property_missing)
        return self.evaluate(fields, grouped, instant, explain)

    def score_many(self, leads, events_by_lead=None, as_of: Any = None, *, explain: bool = False,
                   strict: bool = False):
        """As the compiled scorer's: (leads, events_by_lead, as_of) -> {lead id: result}, or the
        earlier (pairs, as_of) -> results, lazily."""
        if as_of is None:
            return (self.score(lead, events, events_by_lead, explain=explain, strict=strict)
                    for lead, events in leads)
        if not isinstance(leads, Mapping) or not isinstance(events_by_lead, Mapping):
            raise rt.InputError("score_many(leads, events_by_lead, as_of) takes two mappings keyed by lead id")
        return {key: self.score(lead, events_by_lead.get(key, ()), as_of, explain=explain, strict=strict)
                for key, lead in leads.items()}

    def score_table(self, leads, events, as_of: Any, *, explain: bool = False, strict: bool = False):
        """Leads and events as Arrow tables -> one Arrow table of results (arrow_scoring.py)."""
        from ..arrow_scoring import score_table

        return score_table(self, leads, events, as_of, explain=explain, strict=strict)

    def evaluate_many(self, fields: list[dict], grouped: list[dict], instant: float, explain: bool = False):
        """api.Backend.evaluate_many: each lead through `evaluate`."""
        from ..scored import ScoredLeads

        return ScoredLeads.of_results([self.evaluate(f, g, instant, explain) for f, g in zip(fields, grouped)],
                                      explain)

    def evaluate(self, fields: dict[str, Any], grouped: dict[str, list[Event]],
                 instant: float, explain: bool = False) -> Result:
        env = Env(fields, grouped, instant)
        reasons: list[Reason] = []
        program = self.program
        for block in program.blocks:
            env.scores[block.name] = self._score_block(block, env, reasons)
        for derived in program.derived:
            env.scores[derived.name] = rt.finite_or_missing(self.eval(derived.expr, env))
        for decision in program.decisions:
            if isinstance(decision, lo.Threshold):
                env.thresholds[decision.name] = self.eval(decision.condition, env) is True
            else:
                env.segments[decision.name] = next(
                    (label.label for label in decision.labels
                     if label.condition is None or self.eval(label.condition, env) is True), None)
        return Result({name: env.scores[name] for name in program.scores},
                      {name: env.thresholds[name] for name in self.thresholds},
                      {name: env.segments[name] for name in self.segments}, tuple(reasons) if explain else ())

    # --- scores --------------------------------------------------------------------

    def _score_block(self, block: lo.ScoreBlock, env: Env, reasons: list[Reason]) -> float | None:
        name = block.name
        total = 0.0
        for item in block.items:
            if isinstance(item, lo.Group):
                group_sum = 0.0
                for rule in item.rules:
                    group_sum += self._rule(rule, name, env, reasons)
                limited = rt.limit_group(group_sum, item.limit)
                if limited != group_sum:
                    reasons.append(Reason(name, item.name, limited - group_sum, "group"))
                total += limited
            else:
                total += self._rule(item, name, env, reasons)
        if not math.isfinite(total):   # too large to represent: missing, with no reasons
            reasons[:] = [r for r in reasons if r.score != name]
            return None
        inactivity = block.inactivity
        if inactivity is not None and total > 0:
            last = max((events[-1][0] for events in env.visible_events() if events), default=None)
            if last is not None:
                penalty = rt.idle_penalty(env.instant - last, inactivity.after, inactivity.points,
                                          inactivity.every)
                if penalty:
                    after = max(0.0, total - penalty)
                    reasons.append(Reason(name, "inactivity", after - total, "inactivity"))
                    total = after
        clamp = block.clamp
        if clamp is not None:
            low = clamp.low if clamp.low is not None else -math.inf
            high = clamp.high if clamp.high is not None else math.inf
            clamped = min(max(total, low), high)
            if clamped != total:
                reasons.append(Reason(name, "clamp", clamped - total, "clamp"))
                total = clamped
        return total

    def _rule(self, rule: lo.Rule, score: str, env: Env, reasons: list[Reason]) -> float:
        events_counted = None
        match rule:
            case lo.ConditionRule():
                points = rule.points if self.eval(rule.condition, env) is True else 0.0
            case lo.CaseRule():
                points = next((b.points for b in rule.branches
                               if b.condition is None or self.eval(b.condition, env) is True), 0.0)
            case lo.EventRule():
                points, events_counted = self._event_rule(rule, env)
            case _:
                assert_never(rule)
        if points != 0:
            reasons.append(Reason(score, rule.name, points, "rule", events_counted))
        return points

    def _event_rule(self, rule: lo.EventRule, env: Env) -> tuple[float, int]:
        chosen = self._counted(rule, env)
        magnitude = sum(abs(rule.points) * sem.decay_factor(rule.decay, (env.instant - e[0]) / DAY)
                        for e in chosen)
        if rule.cap is not None:
            magnitude = min(rule.cap, magnitude)
        return (math.copysign(magnitude, rule.points) if magnitude else 0.0), len(chosen)

    def _counted(self, rule: lo.EventRule, env: Env) -> list[Event]:
        """The events a per-event rule counts, in time order."""
        chosen = [e for e in env.events(rule.event)
                  if rule.where is None or self.eval(rule.where, env.with_event(e)) is True]
        if rule.once:
            chosen = chosen[:1]
        elif rule.at_most is not None:
            bucket = sem.bucket(rule.at_most.period)
            per_bucket: dict[int, int] = {}
            kept = []
            for event in chosen:
                key = bucket(event[0])
                if per_bucket.get(key, 0) < rule.at_most.count:
                    per_bucket[key] = per_bucket.get(key, 0) + 1
                    kept.append(event)
            chosen = kept
        if rule.within is not None:
            chosen = [e for e in chosen if env.instant - rule.within < e[0]]
        return chosen

    # --- for explanations (read-only: nothing here changes the interpreter) ----------------

    def event_points(self, fields: dict[str, Any], grouped: dict[str, list[Event]],
                     instant: float) -> dict[str, list[tuple[Event, float]]]:
        """Rule name -> each counted event of that per-event rule with its points after decay
        (signed, before the rule's `max`)."""
        env = Env(fields, grouped, instant)
        return {rule.name: [(e, math.copysign(abs(rule.points) * sem.decay_factor(rule.decay, (instant - e[0]) / DAY),
                                              rule.points))
                            for e in self._counted(rule, env)]
                for block in self.program.blocks for rule in block.rules() if isinstance(rule, lo.EventRule)}

    def chosen_branches(self, fields: dict[str, Any], grouped: dict[str, list[Event]],
                        instant: float) -> dict[str, int | None]:
        """Case rule name -> the index of the branch it takes (None: none holds). Rules see
        fields, events and constants only, so no score is needed."""
        env = Env(fields, grouped, instant)
        return {rule.name: next((i for i, b in enumerate(rule.branches)
                                 if b.condition is None or self.eval(b.condition, env) is True), None)
                for block in self.program.blocks for rule in block.rules() if isinstance(rule, lo.CaseRule)}

    def value(self, expr: ast.Expr, fields: dict[str, Any], grouped: dict[str, list[Event]], instant: float,
              result: Result) -> Any:
        """A checked expression's value for a lead at an instant, its scores, thresholds and
        segments taken from `result`."""
        return self.value_of(lo.lower_expr(self.checked, expr), fields, grouped, instant, result)

    def value_of(self, expr: lo.Expr, fields: dict[str, Any], grouped: dict[str, list[Event]], instant: float,
                 result: Result) -> Any:
        """The same, for an expression of the program (a replay atom)."""
        env = Env(fields, grouped, instant, None, dict(result.scores), dict(result.thresholds),
                  dict(result.segments))
        return self.eval(expr, env)

    # --- expressions (docs/language.md, missing = None) ----------------------------------

    def eval(self, e: lo.Expr, env: Env) -> Any:
        match e:
            case lo.Const():
                return e.value
            case lo.Field():
                return env.fields.get(e.name)
            case lo.Property():
                return env.event[1].get(e.name)
            case lo.ScoreRef():
                return env.scores.get(e.name)
            case lo.ThresholdRef():
                return env.thresholds.get(e.name)
            case lo.SegmentRef():
                return env.segments.get(e.name)
            case lo.ListOf():
                return tuple(self.eval(item, env) for item in e.items)
            case lo.Negate():
                value = self.eval(e.operand, env)
                return None if value is None else -value
            case lo.Not():
                return self.eval(e.operand, env) is not True
            case lo.Arithmetic():
                return self._arithmetic(e, env)
            case lo.Logic():
                test = all if e.op == "and" else any
                return test(self.eval(o, env) is True for o in e.operands)
            case lo.IsMissing():
                return (self.eval(e.operand, env) is None) != e.negated
            case lo.Compare():
                positive = sem.negated(e.op)
                if positive is not None:
                    return not sem.compare(positive, self.eval(e.left, env), self.eval(e.right, env))
                return sem.compare(e.op, self.eval(e.left, env), self.eval(e.right, env))
            case lo.Matches():
                value = self.eval(e.operand, env)
                return value is not None and self._pattern(e.pattern, e.flags).search(value) is not None
            case lo.Apply():
                return sem.apply(e.function, [self.eval(a, env) for a in e.args])
            case lo.Aggregate():
                return self._aggregate(e, env)
            case lo.DaysSinceField():
                at = env.fields.get(e.field.name)
                return None if at is None else (env.instant - at) / DAY
            case _:
                assert_never(e)

    def _arithmetic(self, e: lo.Arithmetic, env: Env) -> Any:
        left, right = self.eval(e.left, env), self.eval(e.right, env)
        if left is None or right is None:
            return None
        if e.op == "+":
            return left + right
        if e.op == "-":
            return left - right
        if e.op == "*":
            return left * right
        return None if right == 0 else left / right

    def _aggregate(self, e: lo.Aggregate, env: Env) -> Any:
        """count/days_since over the events of a type at or before the instant that pass the
        `where` and lie inside the window."""
        found = [ev for ev in env.events(e.event)
                 if e.where is None or self.eval(e.where, env.with_event(ev)) is True]
        if e.within is not None:
            found = [ev for ev in found if env.instant - e.within < ev[0]]
        if e.function is sem.Function.COUNT:
            return float(len(found))
        return (env.instant - found[-1][0]) / DAY if found else None

    def _pattern(self, pattern: str, flags: str):
        key = (pattern, flags)
        if key not in self._patterns:
            self._patterns[key] = rt.compile_pattern(*key)
        return self._patterns[key]


@dataclass
class Env:
    """What an expression sees at one instant for one lead."""

    fields: dict[str, Any]
    grouped: dict[str, list[Event]]
    instant: float
    event: Event | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    thresholds: dict[str, bool] = field(default_factory=dict)
    segments: dict[str, str | None] = field(default_factory=dict)

    def events(self, kind: str) -> list[Event]:
        return [e for e in self.grouped.get(kind, ()) if e[0] <= self.instant]

    def visible_events(self) -> list[list[Event]]:
        return [self.events(kind) for kind in self.grouped]

    def with_event(self, event: Event) -> Env:
        return replace(self, event=event)

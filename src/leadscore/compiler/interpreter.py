"""A tree-walking interpreter of a checked ruleset: the reference semantics.

It reads LANGUAGE.md §4-§6 as directly as possible, without caring for
speed; the compiled backends are tested against it. Where this module and
a backend disagree, this module is the one to read against the contract.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Iterable, Mapping

from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset
from . import runtime as rt
from .runtime import DAY, Event, Reason, Result


def constant_value(value: Any) -> Any:
    """A checked constant in the internal representation (datetimes as epoch seconds)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, tuple):
        return tuple(constant_value(v) for v in value)
    return value


class Interpreter:
    def __init__(self, checked: CheckedRuleset) -> None:
        self.checked = checked
        schema = checked.schema
        self.field_types = {name: spec.type for name, spec in schema.fields.items()}
        self.property_types = {name: {p: s.type for p, s in spec.properties.items()}
                               for name, spec in schema.events.items()}
        self.constants = {name: constant_value(v) for name, v in checked.constants.items()}
        self.resolutions = checked.resolutions
        self._patterns: dict[tuple[str, str], Any] = {}

    # --- the API ---------------------------------------------------------------

    def score(self, lead: Mapping[str, Any], events: Iterable[Any], as_of: Any) -> Result:
        fields = rt.prepare_fields(lead, self.field_types)
        grouped = rt.prepare_events(events, self.property_types)
        return self.evaluate(fields, grouped, rt.to_epoch(as_of, "an as-of instant"))

    def evaluate(self, fields: dict[str, Any], grouped: dict[str, list[Event]],
                 instant: float) -> Result:
        env = _Env(self, fields, grouped, instant)
        reasons: list[Reason] = []
        for decl in self.checked.ruleset.declarations:
            if isinstance(decl, ast.ScoreBlock):
                env.scores[decl.name.name] = self._score_block(decl, env, reasons)
        derived = {d.name.name: d for d in self.checked.ruleset.declarations
                   if isinstance(d, ast.DerivedScore)}
        for name in self.checked.derived_order:
            env.scores[name] = rt.finite_or_missing(self.eval(derived[name].expr, env))
        thresholds: dict[str, bool] = {}
        segments: dict[str, str | None] = {}
        for decl in self.checked.ruleset.declarations:
            if isinstance(decl, ast.Threshold):
                thresholds[decl.name.name] = env.thresholds[decl.name.name] = \
                    self.eval(decl.condition, env) is True
            elif isinstance(decl, ast.Segment):
                segments[decl.name.name] = env.segments[decl.name.name] = self._segment(decl, env)
        order = [d.name.name for d in self.checked.ruleset.declarations
                 if isinstance(d, (ast.ScoreBlock, ast.DerivedScore))]
        return Result({name: env.scores[name] for name in order}, thresholds, segments,
                      tuple(reasons))

    # --- scores --------------------------------------------------------------------

    def _score_block(self, block: ast.ScoreBlock, env: _Env, reasons: list[Reason]) -> float | None:
        name = block.name.name
        default_decay = next((i.decay for i in block.items if isinstance(i, ast.DecayOption)), None)
        total = 0.0
        for item in block.items:
            if isinstance(item, ast.Group):
                group_sum = 0.0
                for rule in item.rules:
                    group_sum += self._rule(rule, name, default_decay, env, reasons)
                limited = rt.limit_group(group_sum, self._number(item.limit))
                if limited != group_sum:
                    reasons.append(Reason(name, item.name.name, limited - group_sum, "group"))
                total += limited
            elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                total += self._rule(item, name, default_decay, env, reasons)

        if not math.isfinite(total):   # too large to represent: missing, with no reasons
            reasons[:] = [r for r in reasons if r.score != name]
            return None
        inactivity = next((i for i in block.items if isinstance(i, ast.InactivityOption)), None)
        if inactivity is not None and total > 0:
            last = max((events[-1][0] for events in env.visible_events() if events), default=None)
            if last is not None:
                penalty = rt.idle_penalty(env.instant - last, self._seconds(inactivity.after),
                                          self._number(inactivity.points),
                                          self._seconds(inactivity.every))
                if penalty:
                    after = max(0.0, total - penalty)
                    reasons.append(Reason(name, "inactivity", after - total, "inactivity"))
                    total = after
        clamp = next((i for i in block.items if isinstance(i, ast.ClampOption)), None)
        if clamp is not None:
            low = self._number(clamp.low) if clamp.low is not None else -math.inf
            high = self._number(clamp.high) if clamp.high is not None else math.inf
            clamped = min(max(total, low), high)
            if clamped != total:
                reasons.append(Reason(name, "clamp", clamped - total, "clamp"))
                total = clamped
        return total

    def _rule(self, rule: ast.Rule, score: str, default_decay: ast.Decay | None, env: _Env,
              reasons: list[Reason]) -> float:
        events_counted = None
        if isinstance(rule, ast.ConditionRule):
            points = self._points(rule.points) if self.eval(rule.condition, env) is True else 0.0
        elif isinstance(rule, ast.CaseRule):
            points = 0.0
            for branch in rule.branches:
                if branch.condition is None or self.eval(branch.condition, env) is True:
                    points = self._points(branch.points)
                    break
        else:
            points, events_counted = self._event_rule(rule, default_decay, env)
        if points != 0:
            reasons.append(Reason(score, rule.name.name, points, "rule", events_counted))
        return points

    def _event_rule(self, rule: ast.EventRule, default_decay: ast.Decay | None,
                    env: _Env) -> tuple[float, int]:
        chosen = self._counted(rule, env)
        decay = self._rule_decay(rule, default_decay)
        effective = self._points(rule.points)
        magnitude = sum(abs(effective) * self._decay(decay, (env.instant - e[0]) / DAY)
                        for e in chosen)
        modifiers = {type(m): m for m in rule.modifiers}
        if ast.MaxModifier in modifiers:
            magnitude = min(self._number(modifiers[ast.MaxModifier].limit), magnitude)
        return (math.copysign(magnitude, effective) if magnitude else 0.0), len(chosen)

    def _counted(self, rule: ast.EventRule, env: _Env) -> list[Event]:
        """The events a per-event rule counts, in time order."""
        chosen = [e for e in env.events(rule.event.name)
                  if rule.where is None or self.eval(rule.where, env.with_event(e)) is True]
        modifiers = {type(m): m for m in rule.modifiers}
        if ast.OnceModifier in modifiers:
            chosen = chosen[:1]
        elif ast.AtMostModifier in modifiers:
            at_most = modifiers[ast.AtMostModifier]
            limit = int(self._number(at_most.count))
            bucket = rt.day_bucket if at_most.period == "day" else rt.week_bucket
            per_bucket: dict[int, int] = {}
            kept = []
            for event in chosen:
                key = bucket(event[0])
                if per_bucket.get(key, 0) < limit:
                    per_bucket[key] = per_bucket.get(key, 0) + 1
                    kept.append(event)
            chosen = kept
        if rule.within is not None:
            window = self._seconds(rule.within)
            chosen = [e for e in chosen if env.instant - window < e[0]]
        return chosen

    @staticmethod
    def _rule_decay(rule: ast.EventRule, default_decay: ast.Decay | None) -> ast.Decay | None:
        modifier = {type(m): m for m in rule.modifiers}.get(ast.DecayModifier)
        return default_decay if modifier is None else modifier.decay

    # --- for explanations (read-only: nothing here changes the interpreter) ----------------

    def event_points(self, fields: dict[str, Any], grouped: dict[str, list[Event]],
                     instant: float) -> dict[str, list[tuple[Event, float]]]:
        """Rule name -> each counted event of that per-event rule with its points after decay
        (signed, before the rule's `max`)."""
        env = _Env(self, fields, grouped, instant)
        found: dict[str, list[tuple[Event, float]]] = {}
        for block in self.checked.ruleset.declarations:
            if not isinstance(block, ast.ScoreBlock):
                continue
            default_decay = next((i.decay for i in block.items if isinstance(i, ast.DecayOption)), None)
            for item in block.items:
                for rule in item.rules if isinstance(item, ast.Group) else (item,):
                    if isinstance(rule, ast.EventRule):
                        decay, effective = self._rule_decay(rule, default_decay), self._points(rule.points)
                        found[rule.name.name] = [
                            (e, math.copysign(abs(effective) * self._decay(decay, (instant - e[0]) / DAY), effective))
                            for e in self._counted(rule, env)]
        return found

    def value(self, expr: ast.Expr, fields: dict[str, Any], grouped: dict[str, list[Event]], instant: float,
              result: Result) -> Any:
        """An expression's value for a lead at an instant, its scores, thresholds and segments
        taken from `result`."""
        env = _Env(self, fields, grouped, instant, scores=dict(result.scores),
                   thresholds=dict(result.thresholds), segments=dict(result.segments))
        return self.eval(expr, env)

    def _decay(self, decay: ast.Decay | None, age_days: float) -> float:
        if decay is None or isinstance(decay, ast.DecayNone):
            return 1.0
        if isinstance(decay, ast.DecayHalfLife):
            return rt.decay_half_life(age_days, self._seconds(decay.half_life) / DAY)
        if isinstance(decay, ast.DecayLinear):
            return rt.decay_linear(age_days, self._seconds(decay.length) / DAY)
        ages = tuple(self._seconds(step.age) / DAY for step in decay.steps)
        fractions = tuple(step.percent.value / 100 for step in decay.steps)
        return rt.decay_steps(age_days, ages, fractions)

    def _segment(self, segment: ast.Segment, env: _Env) -> str | None:
        for label in segment.labels:
            if label.condition is None or self.eval(label.condition, env) is True:
                return label.label.name
        return None

    # --- constants in rule positions ---------------------------------------------------

    def _number(self, node: ast.Number | ast.Name) -> float:
        return node.value if isinstance(node, ast.Number) else self.constants[node.name]

    def _seconds(self, node: ast.Duration | ast.Name) -> float:
        return node.seconds if isinstance(node, ast.Duration) else self.constants[node.name]

    def _points(self, points: ast.Points) -> float:
        return points.sign * self._number(points.value)

    # --- expressions (LANGUAGE.md §5, missing = None) ----------------------------------

    def eval(self, expr: ast.Expr, env: _Env) -> Any:
        return getattr(self, "_e_" + type(expr).__name__)(expr, env)

    def _e_Number(self, e, env):
        return e.value

    def _e_String(self, e, env):
        return e.value

    def _e_Bool(self, e, env):
        return e.value

    def _e_DateTime(self, e, env):
        return e.value.timestamp()

    def _e_Duration(self, e, env):
        return e.seconds

    def _e_ListLit(self, e, env):
        return tuple(self.eval(item, env) for item in e.items)

    def _e_Name(self, e: ast.Name, env: _Env):
        symbol = self.resolutions[e]
        kind = symbol.kind
        if kind == t.FIELD:
            return env.fields.get(e.name)
        if kind == t.PROPERTY:
            return env.event[1].get(e.name)
        if kind == t.CONSTANT:
            return self.constants[e.name]
        if kind == t.SCORE:
            return env.scores.get(e.name)
        if kind == t.THRESHOLD:
            return env.thresholds.get(e.name)
        return env.segments.get(e.name)

    def _e_Unary(self, e: ast.Unary, env):
        value = self.eval(e.operand, env)
        if e.op == "not":
            return value is not True
        return None if value is None else -value

    def _e_Arith(self, e: ast.Arith, env):
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

    def _e_BoolOp(self, e: ast.BoolOp, env):
        if e.op == "and":
            return all(self.eval(o, env) is True for o in e.operands)
        return any(self.eval(o, env) is True for o in e.operands)

    def _e_IsMissing(self, e: ast.IsMissing, env):
        return (self.eval(e.operand, env) is None) != e.negated

    def _e_Compare(self, e: ast.Compare, env):
        op = e.op
        if op in ("!=", "not in"):
            return not self._compare("==" if op == "!=" else "in", e, env)
        return self._compare(op, e, env)

    def _compare(self, op: str, e: ast.Compare, env) -> bool:
        left = self.eval(e.left, env)
        if op == "matches":
            pattern = self._pattern(e.right)
            return left is not None and pattern.search(left) is not None
        right = self.eval(e.right, env)
        if left is None or right is None:
            return False
        if op == "==":
            return left == right
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        if op == ">=":
            return left >= right
        if op in ("in", "contains"):
            return (left in right) if op == "in" else (right in left)
        if op == "starts_with":
            return left.startswith(right)
        return left.endswith(right)

    def _pattern(self, node: ast.Regex | ast.Name):
        if isinstance(node, ast.Regex):
            key = (node.pattern, node.flags)
        else:
            key = (self.constants[node.name], "")
        if key not in self._patterns:
            self._patterns[key] = rt.compile_pattern(*key)
        return self._patterns[key]

    def _e_Call(self, e: ast.Call, env: _Env):
        func = e.func
        if func == "count":
            return float(len(self._matching(e.args[0], env)))
        if func == "days_since":
            arg = e.args[0]
            symbol = self.resolutions.get(arg.value) if isinstance(arg.value, ast.Name) else None
            if symbol is not None and symbol.kind == t.FIELD:
                at = env.fields.get(symbol.name)
            else:
                matching = self._matching(arg, env)
                at = matching[-1][0] if matching else None
            return None if at is None else (env.instant - at) / DAY
        values = [self.eval(arg.value, env) for arg in e.args]
        if func == "len":
            return 0.0 if values[0] is None else float(len(values[0]))
        if any(v is None for v in values):
            return None
        if func == "domain":
            return rt.domain(values[0])
        if func == "lower":
            return values[0].lower()
        if func == "upper":
            return values[0].upper()
        return min(values) if func == "min" else max(values)

    def _matching(self, arg: ast.CallArg, env: _Env) -> list[Event]:
        """Events of the argument's type at or before the instant that pass
        its `where` and lie inside its window, in time order."""
        found = [ev for ev in env.events(arg.value.name)
                 if arg.where is None or self.eval(arg.where, env.with_event(ev)) is True]
        if arg.within is not None:
            window = self._seconds(arg.within)
            found = [ev for ev in found if env.instant - window < ev[0]]
        return found


class _Env:
    """What an expression sees at one instant for one lead."""

    def __init__(self, interpreter: Interpreter, fields: dict[str, Any],
                 grouped: dict[str, list[Event]], instant: float, event: Event | None = None,
                 scores=None, thresholds=None, segments=None) -> None:
        self.interpreter = interpreter
        self.fields = fields
        self.grouped = grouped
        self.instant = instant
        self.event = event
        self.scores: dict[str, float | None] = {} if scores is None else scores
        self.thresholds: dict[str, bool] = {} if thresholds is None else thresholds
        self.segments: dict[str, str | None] = {} if segments is None else segments

    def events(self, kind: str) -> list[Event]:
        return [e for e in self.grouped.get(kind, ()) if e[0] <= self.instant]

    def visible_events(self) -> list[list[Event]]:
        return [self.events(kind) for kind in self.grouped]

    def with_event(self, event: Event) -> _Env:
        return _Env(self.interpreter, self.fields, self.grouped, self.instant, event,
                    self.scores, self.thresholds, self.segments)

"""The lowest and highest value each score can take, from its rules alone.

Rules that exclude each other must not be added up: in the acme example
`enterprise_finance` (Financial Services, 5000+ employees) and
`manufacturer` never fire together, so the highest fit is 72, not the sum
of every rule's points. So the condition rules and case rules of a score
are evaluated on every combination of the values that matter: for each
lead field compared with literals, missing plus one value on each side of
and between the literals it is compared with; every other condition part
(`matches`, `count(...)`, `domain(...)`) is taken as free, true or false,
which can only widen the range. Per-event rules contribute 0 up to their
`max` (no bound without one), groups at most their limit, `clamp` bounds
the total, and derived scores add, subtract and scale the ranges they use.
When the combinations are too many, each rule is bounded on its own.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Mapping

from . import ast
from . import types as t

Range = tuple[float, float]
UNBOUNDED: Range = (-math.inf, math.inf)

# Combinations evaluated per score before falling back to rule-by-rule bounds.
_MAX_COMBINATIONS = 50_000
_MISSING = object()
_OTHER = object()  # a string equal to none of the literals


def score_ranges(checked) -> dict[str, Range]:
    ranges: dict[str, Range] = {}
    derived: dict[str, ast.Expr] = {}
    for statement in checked.ruleset.statements:
        if isinstance(statement, ast.ScoreBlock):
            ranges[statement.name.name] = _block_range(statement, checked)
        elif isinstance(statement, ast.DerivedScore):
            derived[statement.name.name] = statement.expr
    for name in checked.derived_order:  # each after the ones it uses
        ranges[name] = _expr_range(derived[name], ranges, checked.constants)
    return ranges


# --- values -----------------------------------------------------------------------

def _number(value, constants: Mapping[str, object]) -> float | None:
    if isinstance(value, ast.Number):
        return value.value
    if isinstance(value, ast.Unary) and value.op == "-":
        inner = _number(value.operand, constants)
        return None if inner is None else -inner
    if isinstance(value, ast.Name) and isinstance(constants.get(value.name), float):
        return constants[value.name]
    return None


def _literal(value, constants: Mapping[str, object]) -> object:
    """A number, string, bool or tuple of them; None when not a literal."""
    number = _number(value, constants)
    if number is not None:
        return number
    if isinstance(value, ast.String):
        return value.value
    if isinstance(value, ast.Bool):
        return value.value
    if isinstance(value, ast.ListLit):
        items = [_literal(item, constants) for item in value.items]
        return None if any(i is None for i in items) else tuple(items)
    if isinstance(value, ast.Name) and isinstance(constants.get(value.name), (str, bool, tuple)):
        return constants[value.name]
    return None


def _points(points: ast.Points, constants) -> float:
    value = _number(points.value, constants)
    return math.nan if value is None else points.sign * value


# --- conditions on lead fields ------------------------------------------------------

_ORDERED = ("<", "<=", ">", ">=")
_FIELD_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")


class _Conditions:
    """The field comparisons and free parts of a score's conditions."""

    def __init__(self, checked) -> None:
        self.checked = checked
        self.literals: dict[str, list[object]] = {}  # field -> literals compared with
        self.free: dict[int, int] = {}  # id(node) -> index of its free boolean

    def field_compare(self, node) -> tuple[str, str, object] | None:
        if isinstance(node, ast.Compare) and node.op in _FIELD_OPS \
                and isinstance(node.left, ast.Name) and self._is_field(node.left):
            value = _literal(node.right, self.checked.constants)
            if value is not None and not (node.op in _ORDERED and not isinstance(value, float)):
                return node.left.name, node.op, value
        return None

    def _is_field(self, name: ast.Name) -> bool:
        symbol = self.checked.resolutions.get(name)
        return symbol is not None and symbol.kind == t.FIELD and symbol.type.kind in (
            t.NUMBER, t.STRING, t.BOOLEAN)

    def collect(self, expr) -> None:
        if isinstance(expr, ast.BoolOp):
            for operand in expr.operands:
                self.collect(operand)
        elif isinstance(expr, ast.Unary) and expr.op == "not":
            self.collect(expr.operand)
        elif (found := self.field_compare(expr)) is not None:
            name, _, value = found
            values = value if isinstance(value, tuple) else (value,)
            self.literals.setdefault(name, []).extend(values)
        else:
            self.free.setdefault(id(expr), len(self.free))

    def domains(self) -> dict[str, list[object]]:
        out: dict[str, list[object]] = {}
        for name, values in self.literals.items():
            numbers = sorted({v for v in values if isinstance(v, float)})
            others = list(dict.fromkeys(v for v in values if not isinstance(v, float)))
            candidates: list[object] = [_MISSING, _OTHER, *others]
            if numbers:
                candidates += [numbers[0] - 1, numbers[-1] + 1, *numbers]
                candidates += [(a + b) / 2 for a, b in zip(numbers, numbers[1:])]
            out[name] = candidates
        return out

    def evaluate(self, expr, fields: dict[str, object], free: tuple[bool, ...]) -> bool:
        if isinstance(expr, ast.BoolOp):
            results = (self.evaluate(o, fields, free) for o in expr.operands)
            return all(results) if expr.op == "and" else any(results)
        if isinstance(expr, ast.Unary) and expr.op == "not":
            return not self.evaluate(expr.operand, fields, free)
        found = self.field_compare(expr)
        if found is None:
            return free[self.free[id(expr)]]
        name, op, value = found
        return _compare(fields[name], op, value)


def _compare(actual: object, op: str, value: object) -> bool:
    if op in ("!=", "not in"):
        return not _compare(actual, "==" if op == "!=" else "in", value)
    if actual is _MISSING:
        return False  # a comparison with a missing value is false
    if op == "==":
        return actual == value
    if op == "in":
        return actual in value
    if not isinstance(actual, float):
        return False
    return {"<": actual < value, "<=": actual <= value,
            ">": actual > value, ">=": actual >= value}[op]


# --- one score block ------------------------------------------------------------------

def _block_range(block: ast.ScoreBlock, checked) -> Range:
    constants = checked.constants
    conditions = _Conditions(checked)
    for node in _conditions_of(block):
        conditions.collect(node)
    domains = conditions.domains()
    names = list(domains)
    count = math.prod(len(domains[n]) for n in names) * 2 ** len(conditions.free)
    if count > _MAX_COMBINATIONS:
        return _clamped(_sum_range(block, constants, lambda _expr: None), block, constants)
    low, high = math.inf, -math.inf
    for values in itertools.product(*(domains[n] for n in names)):
        fields = dict(zip(names, values))
        for free in itertools.product((False, True), repeat=len(conditions.free)):
            part = _sum_range(block, constants,
                              lambda expr: conditions.evaluate(expr, fields, free))
            low, high = min(low, part[0]), max(high, part[1])
    return _clamped((low, high), block, constants)


def _conditions_of(block: ast.ScoreBlock):
    for item in block.items:
        for rule in item.rules if isinstance(item, ast.Group) else (item,):
            if isinstance(rule, ast.ConditionRule):
                yield rule.condition
            elif isinstance(rule, ast.CaseRule):
                yield from (b.condition for b in rule.branches if b.condition is not None)


def _sum_range(block: ast.ScoreBlock, constants,
               holds: Callable[[ast.Expr], bool | None]) -> Range:
    """The block's range before clamp when each condition `holds` (None: unknown)."""
    low = high = 0.0
    for item in block.items:
        if isinstance(item, ast.Group):
            parts = [_rule_range(r, constants, holds) for r in item.rules]
            limit = _number(item.limit, constants)
            limit = math.inf if limit is None else limit
            low += max(-limit, sum(p[0] for p in parts))
            high += min(limit, sum(p[1] for p in parts))
        elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
            part = _rule_range(item, constants, holds)
            low, high = low + part[0], high + part[1]
    if math.isnan(low) or math.isnan(high):
        return UNBOUNDED
    return (low, high)


def _rule_range(rule, constants, holds: Callable[[ast.Expr], bool | None]) -> Range:
    if isinstance(rule, ast.ConditionRule):
        p = _points(rule.points, constants)
        fires = holds(rule.condition)
        return (p, p) if fires else (0.0, 0.0) if fires is False else (min(0.0, p), max(0.0, p))
    if isinstance(rule, ast.CaseRule):
        values = []
        for branch in rule.branches:
            fires = True if branch.condition is None else holds(branch.condition)
            if fires is False:
                continue
            values.append(_points(branch.points, constants))
            if fires:
                break  # the first branch that holds is chosen
        else:
            values.append(0.0)
        return (min(values), max(values))
    cap = next((_number(m.limit, constants) for m in rule.modifiers
                if isinstance(m, ast.MaxModifier)), None)
    p = _points(rule.points, constants)
    bound = math.inf if cap is None else cap
    return (-bound, 0.0) if p < 0 else (0.0, bound)


def _clamped(span: Range, block: ast.ScoreBlock, constants) -> Range:
    low, high = span
    if any(isinstance(item, ast.InactivityOption) for item in block.items):
        low = min(low, 0.0)  # the penalty can bring a positive score down to 0
    for item in block.items:
        if isinstance(item, ast.ClampOption):
            lo, hi = _number(item.low, constants), _number(item.high, constants)
            if lo is not None:
                low, high = max(low, lo), max(high, lo)
            if hi is not None:
                low, high = min(low, hi), min(high, hi)
    return (low, high)


# --- derived scores ---------------------------------------------------------------------

def _expr_range(expr: ast.Expr, ranges: dict[str, Range], constants) -> Range:
    if isinstance(expr, ast.Name) and expr.name in ranges:
        return ranges[expr.name]
    value = _number(expr, constants)
    if value is not None:
        return (value, value)
    if isinstance(expr, ast.Unary) and expr.op == "-":
        low, high = _expr_range(expr.operand, ranges, constants)
        return (-high, -low)
    if isinstance(expr, ast.Arith) and expr.op in "+-*":
        a = _expr_range(expr.left, ranges, constants)
        b = _expr_range(expr.right, ranges, constants)
        if expr.op == "+":
            return (a[0] + b[0], a[1] + b[1])
        if expr.op == "-":
            return (a[0] - b[1], a[1] - b[0])
        if any(math.isinf(x) for x in a + b):
            return UNBOUNDED
        products = [x * y for x in a for y in b]
        return (min(products), max(products))
    return UNBOUNDED

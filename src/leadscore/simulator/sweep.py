"""Sweeping one numeric constant (SIMULATION.md §4) without a replay per value.

When the constant appears only in thresholds and segments, the scores do not depend on it:
one replay records the scores (and the thresholds that do not use the constant) at every
instant where a swept threshold could first hold, and each value is then read off those
paths. The common forms are turned into a *margin* h over the paths, so that a threshold
holds at an instant exactly when `sign * value <= h` (or `<`, for a strict comparison):

    interest >= c                 h = interest                      sign +1
    fit >= 40 and interest >= c   h = interest where fit >= 40, -inf elsewhere
    interest < c                  h = -interest                     sign -1

`and` takes the smaller margin, `or` the larger, `not` turns the comparison around. The first
instant a value crosses is then a binary search on the running maximum of h, for all leads
at once. Any other condition over scores, thresholds and constants (`interest >= c + 10`,
`max(fit, c)`, `==`) is evaluated over the recorded rows once per value, with the same
float arithmetic as the scorer. Only a condition that also reads a field or an aggregate of
events (not recorded) is replayed once per value, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compiler.analysis import constant_users, tainted_by
from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset
from .engine import Recording


class Unsupported(Exception):
    """A condition the margin form cannot express."""


@dataclass(frozen=True)
class Margin:
    sign: int            # +1: holds for values up to h; -1: for values from -h
    strict: bool
    h: np.ndarray


def swept_thresholds(checked: CheckedRuleset, constant: str) -> tuple[int, ...] | None:
    """The thresholds whose crossing depends on the constant, when stored paths can answer
    for every value; None when the sweep must replay once per value."""
    if "score" in constant_users(checked, constant):
        return None
    evaluator = _MarginEvaluator(checked, constant, None)
    swept = []
    try:
        for i, decl in enumerate(evaluator.thresholds):
            if evaluator.involves(decl.condition):
                evaluator.check_plain(decl.condition)
                swept.append(i)
    except Unsupported:
        return None
    return tuple(swept)


def sweep_crossings(checked: CheckedRuleset, constant: str, recording: Recording, values: list[float],
                    leads: int) -> dict[int, np.ndarray]:
    """Threshold index -> (values, leads): the first recorded instant at which the threshold
    holds with each value of the constant, nan when none. Thresholds in margin form are a
    binary search; the others are evaluated over the rows once per value."""
    evaluator = _MarginEvaluator(checked, constant, recording)
    found: dict[int, np.ndarray] = {}
    evaluated: list[tuple[int, ast.Threshold]] = []
    for i, decl in enumerate(evaluator.thresholds):
        if not evaluator.involves(decl.condition):
            continue
        try:
            evaluator.check(decl.condition)
            margin = evaluator.margins[decl.name.name] = evaluator.margin(decl.condition)
        except Unsupported:
            evaluated.append((i, decl))
            continue
        found[i] = first_crossings(recording, margin, values, leads)
    for i, _ in evaluated:
        found[i] = np.full((len(values), leads), np.nan)
    for k, value in enumerate(values):
        evaluator.value, evaluator.holds = value, {}
        for name, margin in evaluator.margins.items():
            evaluator.holds[name] = (margin.sign * value < margin.h) if margin.strict else \
                (margin.sign * value <= margin.h)
        for i, decl in evaluated:
            holds = evaluator.holds[decl.name.name] = evaluator.boolean(decl.condition)
            rows = np.flatnonzero(holds)
            owners, first = np.unique(recording.lead[rows], return_index=True)
            found[i][k, owners] = recording.at[rows[first]]
    return found


def first_crossings(recording: Recording, margin: Margin, values: list[float], leads: int) -> np.ndarray:
    """(values, leads): the first recorded instant at which each value holds, nan when none.

    Ranks turn the margins of all leads into one non-decreasing key, `lead * rows + rank`, whose
    running maximum is every lead's running maximum at once; the first row of a lead at which
    it reaches a value's rank is one searchsorted for all leads."""
    rows = len(margin.h)
    out = np.full((len(values), leads), np.nan)
    if rows == 0:
        return out
    order = np.argsort(margin.h, kind="stable")
    ordered = margin.h[order]
    rank = np.empty(rows, np.int64)
    rank[order] = np.arange(rows)
    running = np.maximum.accumulate(recording.lead * rows + rank)
    ends = np.searchsorted(recording.lead, np.arange(leads), side="right")
    base = np.arange(leads, dtype=np.int64) * rows
    for k, value in enumerate(values):
        first_rank = np.searchsorted(ordered, margin.sign * value, side="right" if margin.strict else "left")
        found = np.searchsorted(running, base + first_rank, side="left")
        hit = found < ends
        out[k, hit] = recording.at[found[hit]]
    return out


class _MarginEvaluator:
    """Conditions over recorded columns (numpy): numbers as float arrays (nan when missing),
    booleans as bool arrays, parts using the constant as margins. `check` tells whether a
    condition has the margin form, reading no row."""

    def __init__(self, checked: CheckedRuleset, constant: str, recording: Recording | None) -> None:
        self.checked, self.constant, self.recording = checked, constant, recording
        decls = checked.ruleset.declarations
        self.thresholds = [d for d in decls if isinstance(d, ast.Threshold)]
        self.score_index = {name: i for i, name in enumerate(
            d.name.name for d in decls if isinstance(d, (ast.ScoreBlock, ast.DerivedScore)))}
        self.threshold_index = {d.name.name: i for i, d in enumerate(self.thresholds)}
        self.tainted = tainted_by(checked, constant)
        self.margins: dict[str, Margin] = {}
        # while one value is evaluated: the value, and the swept thresholds' rows where they hold
        self.value: float | None = None
        self.holds: dict[str, np.ndarray] = {}

    def _kind(self, name: ast.Name) -> str:
        return self.checked.resolutions[name].kind

    def involves(self, expr: ast.Expr) -> bool:
        """Uses the constant, or a score, threshold or segment that depends on it."""
        return any(isinstance(node, ast.Name) and (self._is_constant(node) or
                                                   (self._kind(node), node.name) in self.tainted)
                   for node in ast.walk(expr))

    def _is_constant(self, expr: ast.Expr) -> bool:
        return isinstance(expr, ast.Name) and self._kind(expr) == t.CONSTANT and expr.name == self.constant

    # --- checking the form (no data) --------------------------------------------------------

    def check(self, expr: ast.Expr) -> None:
        if not self.involves(expr):
            self.check_plain(expr)
        elif isinstance(expr, ast.BoolOp):
            for operand in expr.operands:
                self.check(operand)
        elif isinstance(expr, ast.Unary) and expr.op == "not":
            self.check(expr.operand)
        elif isinstance(expr, ast.Name) and self._kind(expr) == t.THRESHOLD:
            if expr.name not in self.margins:
                raise Unsupported   # a swept threshold declared before, evaluated per value
        elif isinstance(expr, ast.Compare) and expr.op in ("<", "<=", ">", ">="):
            left, right = self._is_constant(expr.left), self._is_constant(expr.right)
            if left == right:
                raise Unsupported
            self.check_plain(expr.right if left else expr.left)
        else:
            raise Unsupported

    def check_plain(self, expr: ast.Expr) -> None:
        """Only scores, constants, literals and thresholds, through arithmetic and logic."""
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and self._kind(node) not in (t.SCORE, t.CONSTANT, t.THRESHOLD):
                raise Unsupported
            if isinstance(node, ast.Name) and self._kind(node) == t.CONSTANT and \
                    not isinstance(self.checked.constants[node.name], (int, float, bool)):
                raise Unsupported
            if isinstance(node, ast.Call) and node.func not in ("min", "max"):
                raise Unsupported
            if isinstance(node, ast.Compare) and (node.op not in ("<", "<=", ">", ">=", "==", "!=") or
                                                  not (self._numeric(node.left) and self._numeric(node.right))):
                raise Unsupported
            if isinstance(node, (ast.String, ast.DateTime, ast.Duration, ast.ListLit, ast.Regex)):
                raise Unsupported

    def _numeric(self, expr: ast.Expr) -> bool:
        """Not a boolean operand (a threshold, a boolean constant or literal): the rows hold
        numbers for comparisons."""
        if isinstance(expr, ast.Bool):
            return False
        if isinstance(expr, ast.Name):
            kind = self._kind(expr)
            return kind == t.SCORE or kind == t.CONSTANT and not isinstance(self.checked.constants[expr.name], bool)
        return True

    # --- over the recorded rows ------------------------------------------------------------

    def margin(self, expr: ast.Expr) -> Margin:
        if isinstance(expr, ast.Name):
            return self.margins[expr.name]
        if isinstance(expr, ast.Unary):
            inner = self.margin(expr.operand)
            return Margin(-inner.sign, not inner.strict, -inner.h)
        if isinstance(expr, ast.BoolOp):
            return self._join(expr)
        left_constant = self._is_constant(expr.left)
        other = self.number(expr.right if left_constant else expr.left)
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[expr.op] if left_constant else expr.op
        # other OP c:  >= c <= other;  > c < other;  <= -c <= -other;  < -c < -other
        sign = 1 if op in (">", ">=") else -1
        h = np.where(np.isnan(other), -np.inf, sign * other)
        return Margin(sign, op in (">", "<"), h)

    def _join(self, expr: ast.BoolOp) -> Margin:
        plain = [self.boolean(o) for o in expr.operands if not self.involves(o)]
        found = [self.margin(o) for o in expr.operands if self.involves(o)]
        if any((m.sign, m.strict) != (found[0].sign, found[0].strict) for m in found):
            raise Unsupported
        h = found[0].h
        for m in found[1:]:
            h = np.minimum(h, m.h) if expr.op == "and" else np.maximum(h, m.h)
        for b in plain:
            h = np.where(b, h, -np.inf) if expr.op == "and" else np.where(b, np.inf, h)
        return Margin(found[0].sign, found[0].strict, h)

    def rows(self) -> int:
        return len(self.recording.at)

    def number(self, expr: ast.Expr) -> np.ndarray:
        if isinstance(expr, ast.Number):
            return np.full(self.rows(), float(expr.value))
        if isinstance(expr, ast.Name):
            kind = self._kind(expr)
            if kind == t.SCORE:
                return self.recording.scores[:, self.score_index[expr.name]]
            if self._is_constant(expr) and self.value is not None:
                return np.full(self.rows(), float(self.value))
            return np.full(self.rows(), float(self.checked.constants[expr.name]))
        if isinstance(expr, ast.Unary):
            return -self.number(expr.operand)
        if isinstance(expr, ast.Call):
            values = [self.number(a.value) for a in expr.args]
            out = values[0]
            for v in values[1:]:
                out = np.minimum(out, v) if expr.func == "min" else np.maximum(out, v)
            return out
        left, right = self.number(expr.left), self.number(expr.right)
        with np.errstate(divide="ignore", invalid="ignore"):
            if expr.op == "+":
                return left + right
            if expr.op == "-":
                return left - right
            if expr.op == "*":
                return left * right
            return np.where(right == 0, np.nan, left / np.where(right == 0, 1.0, right))

    def boolean(self, expr: ast.Expr) -> np.ndarray:
        if isinstance(expr, ast.Bool):
            return np.full(self.rows(), expr.value)
        if isinstance(expr, ast.Name):
            if expr.name in self.holds:
                return self.holds[expr.name]
            if self._kind(expr) == t.CONSTANT:
                return np.full(self.rows(), bool(self.checked.constants[expr.name]))
            return self.recording.thresholds[:, self.threshold_index[expr.name]]
        if isinstance(expr, ast.Unary):
            return ~self.boolean(expr.operand)
        if isinstance(expr, ast.IsMissing):
            if isinstance(expr.operand, ast.Name) and self._kind(expr.operand) == t.THRESHOLD:
                return np.full(self.rows(), expr.negated)   # a threshold is never missing
            return np.isnan(self.number(expr.operand)) != expr.negated
        if isinstance(expr, ast.BoolOp):
            parts = [self.boolean(o) for o in expr.operands]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if expr.op == "and" else (out | p)
            return out
        left, right = self.number(expr.left), self.number(expr.right)
        with np.errstate(invalid="ignore"):
            # nan compares false, and != is the negation of == (a missing value is unequal)
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
                    "==": left == right, "!=": ~(left == right)}[expr.op]

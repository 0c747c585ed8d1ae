"""Sweeping one numeric constant (docs/simulate.md) without a replay per value.

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

It reads the ScoringProgram (lower.py); comparisons and min/max over the columns are the
vectorised forms of semantics.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import lower as lo
from .. import semantics as sem
from ..compiler.analysis import constant_users, tainted_by
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
    evaluated: list[tuple[int, lo.Threshold]] = []
    for i, decl in enumerate(evaluator.thresholds):
        if not evaluator.involves(decl.condition):
            continue
        try:
            evaluator.check(decl.condition)
            margin = evaluator.margins[decl.name] = evaluator.margin(decl.condition)
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
            holds = evaluator.holds[decl.name] = evaluator.boolean(decl.condition)
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


_ORDERS = (sem.Comparison.LT, sem.Comparison.LE, sem.Comparison.GT, sem.Comparison.GE)
_NUMERIC = _ORDERS + (sem.Comparison.EQ, sem.Comparison.NE)
_TURNED = {sem.Comparison.LT: sem.Comparison.GT, sem.Comparison.LE: sem.Comparison.GE,
           sem.Comparison.GT: sem.Comparison.LT, sem.Comparison.GE: sem.Comparison.LE}


class _MarginEvaluator:
    """Conditions over recorded columns (numpy): numbers as float arrays (nan when missing),
    booleans as bool arrays, parts using the constant as margins. `check` tells whether a
    condition has the margin form, reading no row."""

    def __init__(self, checked: CheckedRuleset, constant: str, recording: Recording | None) -> None:
        self.constant, self.recording = constant, recording
        program = lo.lower(checked)
        self.thresholds = program.thresholds
        self.score_index = {name: i for i, name in enumerate(program.scores)}
        self.threshold_index = {d.name: i for i, d in enumerate(self.thresholds)}
        self.tainted = tainted_by(checked, constant)
        self.margins: dict[str, Margin] = {}
        # while one value is evaluated: the value, and the swept thresholds' rows where they hold
        self.value: float | None = None
        self.holds: dict[str, np.ndarray] = {}

    def involves(self, expr: lo.Expr) -> bool:
        """Uses the constant, or a score, threshold or segment that depends on it."""
        for node in lo.walk(expr):
            if self._is_constant(node):
                return True
            kind = {lo.ScoreRef: t.SCORE, lo.ThresholdRef: t.THRESHOLD, lo.SegmentRef: t.SEGMENT}.get(type(node))
            if kind is not None and (kind, node.name) in self.tainted:
                return True
        return False

    def _is_constant(self, expr: lo.Expr) -> bool:
        return isinstance(expr, lo.Const) and expr.name == self.constant

    # --- checking the form (no data) --------------------------------------------------------

    def check(self, expr: lo.Expr) -> None:
        if not self.involves(expr):
            self.check_plain(expr)
        elif isinstance(expr, lo.Logic):
            for operand in expr.operands:
                self.check(operand)
        elif isinstance(expr, lo.Not):
            self.check(expr.operand)
        elif isinstance(expr, lo.ThresholdRef):
            if expr.name not in self.margins:
                raise Unsupported   # a swept threshold declared before, evaluated per value
        elif isinstance(expr, lo.Compare) and expr.op in _ORDERS:
            left, right = self._is_constant(expr.left), self._is_constant(expr.right)
            if left == right:
                raise Unsupported
            self.check_plain(expr.right if left else expr.left)
        else:
            raise Unsupported

    def check_plain(self, expr: lo.Expr) -> None:
        """Only scores, numeric or boolean constants and thresholds, through arithmetic,
        min/max, numeric comparisons and logic."""
        for node in lo.walk(expr):
            match node:
                case lo.ScoreRef() | lo.ThresholdRef() | lo.Negate() | lo.Arithmetic() | lo.Logic() | \
                        lo.Not() | lo.IsMissing():
                    pass
                case lo.Const():
                    if not isinstance(node.value, (float, bool)):
                        raise Unsupported
                case lo.Apply() if node.function in (sem.Function.MIN, sem.Function.MAX):
                    pass
                case lo.Compare() if node.op in _NUMERIC and self._numeric(node.left) and self._numeric(node.right):
                    pass
                case _:
                    raise Unsupported

    def _numeric(self, expr: lo.Expr) -> bool:
        """Not a boolean operand (a threshold, a boolean constant or literal): the rows hold
        numbers for comparisons."""
        if isinstance(expr, lo.Const):
            return not isinstance(expr.value, bool)
        return not isinstance(expr, lo.ThresholdRef)

    # --- over the recorded rows ------------------------------------------------------------

    def margin(self, expr: lo.Expr) -> Margin:
        if isinstance(expr, lo.ThresholdRef):
            return self.margins[expr.name]
        if isinstance(expr, lo.Not):
            inner = self.margin(expr.operand)
            return Margin(-inner.sign, not inner.strict, -inner.h)
        if isinstance(expr, lo.Logic):
            return self._join(expr)
        left_constant = self._is_constant(expr.left)
        other = self.number(expr.right if left_constant else expr.left)
        op = _TURNED[expr.op] if left_constant else expr.op
        # other OP c:  >= c <= other;  > c < other;  <= -c <= -other;  < -c < -other
        sign = 1 if op in (sem.Comparison.GT, sem.Comparison.GE) else -1
        h = np.where(np.isnan(other), -np.inf, sign * other)
        return Margin(sign, op in (sem.Comparison.GT, sem.Comparison.LT), h)

    def _join(self, expr: lo.Logic) -> Margin:
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

    def number(self, expr: lo.Expr) -> np.ndarray:
        match expr:
            case lo.Const():
                value = self.value if self._is_constant(expr) and self.value is not None else expr.value
                return np.full(self.rows(), float(value))
            case lo.ScoreRef():
                return self.recording.scores[:, self.score_index[expr.name]]
            case lo.Negate():
                return -self.number(expr.operand)
            case lo.Apply():
                return sem.vectorised(expr.function, [self.number(a) for a in expr.args])
            case lo.Arithmetic():
                left, right = self.number(expr.left), self.number(expr.right)
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    if expr.op == "+":
                        return left + right
                    if expr.op == "-":
                        return left - right
                    if expr.op == "*":
                        return left * right
                    return np.where(right == 0, np.nan, left / np.where(right == 0, 1.0, right))
        raise Unsupported

    def boolean(self, expr: lo.Expr) -> np.ndarray:
        match expr:
            case lo.Const():
                return np.full(self.rows(), bool(expr.value))
            case lo.ThresholdRef():
                if expr.name in self.holds:
                    return self.holds[expr.name]
                return self.recording.thresholds[:, self.threshold_index[expr.name]]
            case lo.Not():
                return ~self.boolean(expr.operand)
            case lo.IsMissing():
                if isinstance(expr.operand, lo.ThresholdRef):
                    return np.full(self.rows(), expr.negated)   # a threshold is never missing
                return np.isnan(self.number(expr.operand)) != expr.negated
            case lo.Logic():
                parts = [self.boolean(o) for o in expr.operands]
                out = parts[0]
                for p in parts[1:]:
                    out = (out & p) if expr.op == "and" else (out | p)
                return out
            case lo.Compare():
                # nan compares false, and != is the negation of == (a missing value is unequal)
                return sem.compare_vectorised(expr.op, self.number(expr.left), self.number(expr.right))
        raise Unsupported

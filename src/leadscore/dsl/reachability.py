"""Warnings for rules that can never fire (LS509), where that is detectable.

Conditions are read as conjunctions of simple comparisons of one name with
a number or a string (`employees > 10 and employees < 5`). Two findings:
a conjunction whose constraints on one name cannot all hold, and a case
branch or segment label whose condition implies one of the first 128
conditions' (the earlier one is always chosen first). Anything not of that shape is left
alone: the analysis only warns when it is sure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from . import ast
from . import types as t
from .diagnostics import Diagnostic, make
from .types import Symbol

# A branch is compared with at most this many earlier ones: the pairwise test is quadratic,
# and a case of thousands of branches must still check in well under a second.
COMPARED_BRANCHES = 128

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass
class _Range:
    low: float = -math.inf
    low_closed: bool = False
    high: float = math.inf
    high_closed: bool = False
    equals: str | None = None  # for strings: the one value allowed
    excluded: set[str] = field(default_factory=set)
    string_conflict: bool = False

    def narrow(self, op: str, value: float | str) -> None:
        if isinstance(value, str):
            if op == "==":
                if self.equals is not None and self.equals != value:
                    self.string_conflict = True
                self.equals = value
            else:
                self.excluded.add(value)
            return
        if op in (">", ">=", "=="):
            closed = op != ">"
            if value > self.low or (value == self.low and not closed):
                self.low, self.low_closed = value, closed
        if op in ("<", "<=", "=="):
            closed = op != "<"
            if value < self.high or (value == self.high and not closed):
                self.high, self.high_closed = value, closed

    @property
    def empty(self) -> bool:
        if self.string_conflict or (self.equals is not None and self.equals in self.excluded):
            return True
        if self.low > self.high:
            return True
        return self.low == self.high and not (self.low_closed and self.high_closed) \
            and math.isfinite(self.low)

    def within(self, other: _Range) -> bool:
        """Every value allowed here is allowed by `other`."""
        if other.equals is not None and self.equals != other.equals:
            return False
        if other.excluded - self.excluded and self.equals is None:
            return False
        if self.equals is not None and self.equals in other.excluded:
            return False
        low_ok = self.low > other.low or (self.low == other.low and
                                          (other.low_closed or not self.low_closed))
        high_ok = self.high < other.high or (self.high == other.high and
                                             (other.high_closed or not self.high_closed))
        return low_ok and high_ok


class _Analysis:
    def __init__(self, resolutions: Mapping[ast.Name, Symbol], constants: Mapping[str, object]):
        self.resolutions = resolutions
        self.constants = constants

    def constraints(self, condition: ast.Expr) -> tuple[dict[Symbol, _Range], bool]:
        """Ranges per name implied by the condition, and whether every part
        of the condition was understood."""
        ranges: dict[Symbol, _Range] = {}
        complete = True
        for atom in _conjuncts(condition):
            parsed = self._atom(atom)
            if parsed is None:
                complete = False
                continue
            symbol, op, value = parsed
            ranges.setdefault(symbol, _Range()).narrow(op, value)
        return ranges, complete

    def _atom(self, atom: ast.Expr) -> tuple[Symbol, str, float | str] | None:
        if not isinstance(atom, ast.Compare) or atom.op not in _FLIP:
            return None
        for name, other, op in ((atom.left, atom.right, atom.op),
                                (atom.right, atom.left, _FLIP[atom.op])):
            symbol = self.resolutions.get(name) if isinstance(name, ast.Name) else None
            if symbol is None or symbol.kind == t.CONSTANT:
                continue
            value = self._value(other)
            if value is None or (isinstance(value, str) and op not in ("==", "!=")):
                continue
            if op == "!=" and not isinstance(value, str):
                return None
            return symbol, op, value
        return None

    def _value(self, node: ast.Expr) -> float | str | None:
        if isinstance(node, ast.Number):
            return node.value
        if isinstance(node, ast.String):
            return node.value
        if isinstance(node, ast.Name):
            symbol = self.resolutions.get(node)
            if symbol is not None and symbol.kind == t.CONSTANT:
                value = self.constants.get(node.name)
                if isinstance(value, (float, str)) and not isinstance(value, bool):
                    return value
        return None


def _conjuncts(condition: ast.Expr) -> list[ast.Expr]:
    if isinstance(condition, ast.BoolOp) and condition.op == "and":
        out: list[ast.Expr] = []
        for operand in condition.operands:
            out.extend(_conjuncts(operand))
        return out
    return [condition]


def find_impossible(ruleset: ast.Ruleset, resolutions: Mapping[ast.Name, Symbol],
                    constants: Mapping[str, object]) -> list[Diagnostic]:
    analysis = _Analysis(resolutions, constants)
    diagnostics: list[Diagnostic] = []

    def never_holds(condition: ast.Expr, what: str) -> bool:
        ranges, _ = analysis.constraints(condition)
        for symbol, found in ranges.items():
            if found.empty:
                diagnostics.append(make(
                    "LS509", f"{what} can never fire: its conditions on `{symbol.name}` "
                    "contradict each other", condition.span,
                    "check the comparison signs and numbers"))
                return True
        return False

    def check_branches(branches, what: str) -> None:
        earlier: list[tuple[dict[Symbol, _Range], bool, int]] = []
        for branch in branches:
            if branch.condition is None:
                continue
            if never_holds(branch.condition, what):
                continue
            ranges, complete = analysis.constraints(branch.condition)
            for prior_ranges, prior_complete, line in earlier:
                if prior_complete and prior_ranges and all(
                        symbol in ranges and ranges[symbol].within(prior)
                        for symbol, prior in prior_ranges.items()):
                    diagnostics.append(make(
                        "LS509", f"{what} can never be chosen: the branch on line {line} "
                        "matches every lead this one would", branch.span,
                        "order branches from the narrowest condition to the widest"))
                    break
            if len(earlier) < COMPARED_BRANCHES:
                earlier.append((ranges, complete, branch.span.line))

    for decl in ruleset.declarations:
        if isinstance(decl, ast.ScoreBlock):
            for rule in ast.rules_of(decl):
                if isinstance(rule, ast.ConditionRule):
                    never_holds(rule.condition, f"rule `{rule.name.name}`")
                elif isinstance(rule, ast.CaseRule):
                    check_branches(rule.branches, f"a branch of `{rule.name.name}`")
                elif rule.where is not None:
                    never_holds(rule.where, f"rule `{rule.name.name}`")
        elif isinstance(decl, ast.Segment):
            check_branches(decl.labels, f"a label of `{decl.name.name}`")
        elif isinstance(decl, ast.Threshold):
            never_holds(decl.condition, f"threshold `{decl.name.name}`")
    return diagnostics

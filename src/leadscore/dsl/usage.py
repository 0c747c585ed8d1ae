"""What `check --strict` adds: declarations nothing uses (LS513, LS514) and
segment labels that can never be chosen (LS515).

A label is unreachable when its condition compares a score with a number
outside the score's possible range (dsl/score_bounds.py). Only sure
findings are reported.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from . import ast
from . import types as t
from .checker import CheckedRuleset
from .diagnostics import Diagnostic, make
from .score_bounds import Range, score_ranges


USAGE_CODES = frozenset({"LS513", "LS514", "LS515"})


def usage_warnings(checked: CheckedRuleset) -> list[Diagnostic]:
    return (_unused_constants(checked) + _unused_schema_entries(checked)
            + _unreachable_labels(checked))


# --- unused declarations ---------------------------------------------------------

def _walk(node: object) -> Iterator[object]:
    """Every AST node below `node` (itself included), depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            yield item
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))


def _names_used(checked: CheckedRuleset) -> set[str]:
    """Every name written in a use position: constants, fields, scores, and
    event types (`per EVENT`, `count(EVENT)`)."""
    used: set[str] = set()
    for node in _walk(checked.ruleset.statements):
        if isinstance(node, ast.Name):
            used.add(node.name)
        elif isinstance(node, ast.EventRule):
            used.add(node.event.name)
    return used


def _unused_constants(checked: CheckedRuleset) -> list[Diagnostic]:
    used = _names_used(checked)
    return [make("LS513", f"constant `{s.name.name}` is not used", s.name.span,
                 "remove it, or use it in a rule, threshold or segment")
            for s in checked.ruleset.statements
            if isinstance(s, ast.ConstDecl) and s.name.name not in used]


def _unused_schema_entries(checked: CheckedRuleset) -> list[Diagnostic]:
    schema = checked.schema
    fields_used = {symbol.name for symbol in checked.resolutions.values() if symbol.kind == t.FIELD}
    # The id column and the creation field are read by `score` and `simulate`.
    fields_used |= {schema.id_column, schema.created}
    names = _names_used(checked)
    out = [make("LS514", f"lead field `{f.name}` is declared in the schema but no rule uses it",
                f.span, "remove it from the schema, or use it in a rule")
           for f in schema.fields.values() if f.name not in fields_used]
    out += [make("LS514", f"event type `{e.name}` is declared in the schema but no rule uses it",
                 e.span, "remove it from the schema, or score it with a `per` rule or `count(...)`")
            for e in schema.events.values() if e.name not in names]
    return out


# --- unreachable segment labels ---------------------------------------------------

def _unreachable_labels(checked: CheckedRuleset) -> list[Diagnostic]:
    ranges = score_ranges(checked)
    out: list[Diagnostic] = []
    for statement in checked.ruleset.statements:
        if not isinstance(statement, ast.Segment):
            continue
        for label in statement.labels:
            if label.condition is None:
                continue
            why = _never_true(label.condition, ranges)
            if why is not None:
                out.append(make("LS515", f"label `{label.label.name}` of segment "
                                f"`{statement.name.name}` can never be chosen: {why}",
                                label.label.span, "lower the number it compares with, "
                                "or change the rules of the score"))
    return out


def _never_true(condition: ast.Expr, ranges: dict[str, Range]) -> str | None:
    """Why `condition` can never hold, when a comparison of a score with a
    number is out of the score's range; None when not sure."""
    if isinstance(condition, ast.BoolOp) and condition.op == "and":
        return next((why for part in condition.operands
                     if (why := _never_true(part, ranges)) is not None), None)
    if not isinstance(condition, ast.Compare) or condition.op not in ("<", "<=", ">", ">="):
        return None
    name, op, number = _score_and_number(condition, ranges)
    if name is None:
        return None
    low, high = ranges[name]
    if (op == ">=" and high < number) or (op == ">" and high <= number):
        return f"the highest possible `{name}` is {_shown(high)}"
    if (op == "<=" and low > number) or (op == "<" and low >= number):
        return f"the lowest possible `{name}` is {_shown(low)}"
    return None


_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _score_and_number(c: ast.Compare, ranges: dict[str, Range]):
    if isinstance(c.left, ast.Name) and c.left.name in ranges and isinstance(c.right, ast.Number):
        return c.left.name, c.op, c.right.value
    if isinstance(c.right, ast.Name) and c.right.name in ranges and isinstance(c.left, ast.Number):
        return c.right.name, _FLIPPED[c.op], c.left.value
    return None, None, None


def _shown(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"

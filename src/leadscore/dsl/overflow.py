"""Points that cannot add up to a representable number (LS516).

A score block's total is bounded by the magnitudes of what its rules can give at once: each
condition rule's points, each case rule's largest branch, each per-event rule's `max`, each
group's members held to its limit. When that bound is already infinite from constants alone,
the block would overflow for some lead: that is known before anything runs, so it is an error.
A per-event rule without `max` can only overflow with the events a lead has; at run time such
a score is missing (docs/scoring.md).
"""

from __future__ import annotations

import math
from typing import Mapping

from . import ast
from .diagnostics import Diagnostic, make


def find_overflow(ruleset: ast.Ruleset, constants: Mapping[str, object]) -> list[Diagnostic]:
    def number(node: ast.Number | ast.Name) -> float:
        value = node.value if isinstance(node, ast.Number) else constants.get(node.name, 0.0)
        return abs(value) if isinstance(value, float) else 0.0

    def bound(rule: ast.Rule) -> float:
        if isinstance(rule, ast.ConditionRule):
            return number(rule.points.value)
        if isinstance(rule, ast.CaseRule):
            return max((number(b.points.value) for b in rule.branches), default=0.0)
        limit = next((m.limit for m in rule.modifiers if isinstance(m, ast.MaxModifier)), None)
        return 0.0 if limit is None else number(limit)

    diagnostics = []
    for block in ruleset.declarations:
        if not isinstance(block, ast.ScoreBlock):
            continue
        total = 0.0
        for item in block.items:
            if isinstance(item, ast.Group):
                total += min(number(item.limit), sum(bound(r) for r in item.rules))
            elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                total += bound(item)
        if not math.isfinite(total):
            diagnostics.append(make(
                "LS516", f"the points of score `{block.name.name}` can add up to more than the "
                "largest number (about 1.8e308)", block.name.span,
                "use smaller points; scores are ordinary numbers"))
    return diagnostics

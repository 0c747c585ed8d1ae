"""Inlay hints: at the end of each per-event rule whose points fade (a decay
or a window), what one event's points are worth 7, 30 and 90 days later."""

from __future__ import annotations

from dataclasses import dataclass

from ..dsl import ast
from ..dsl.diagnostics import Span
from .words import HINT_AGES_DAYS, constants, effective_decay, worth_after


@dataclass(frozen=True)
class DecayHint:
    at: Span      # the rule: the hint goes after its end
    label: str
    tooltip: str


def decay_hints(ruleset: ast.Ruleset, first_line: int, last_line: int) -> list[DecayHint]:
    """Hints for the rules that end within 1-based lines [first_line, last_line]."""
    consts = constants(ruleset)
    hints = []
    for block in (d for d in ruleset.declarations if isinstance(d, ast.ScoreBlock)):
        for rule in ast.rules_of(block):
            if not isinstance(rule, ast.EventRule) or not first_line <= rule.span.end_line <= last_line:
                continue
            decay = effective_decay(rule, block)
            if (decay is None or isinstance(decay, ast.DecayNone)) and rule.within is None:
                continue
            worth = [worth_after(rule, block, consts, age) for age in HINT_AGES_DAYS]
            if any(w is None for w in worth):
                continue
            label = " · ".join(f"{age}d: {_points(w)}" for age, w in zip(HINT_AGES_DAYS, worth))
            hints.append(DecayHint(rule.span, label,
                                   "what one event's points are worth this many days after it happened"))
    return hints


def _points(value: float) -> str:
    return f"{value:+.2f}".rstrip("0").rstrip(".") if value else "0"

"""Rule coverage: which rules, and which branches of case rules, some case made fire;
and which segment labels some case's lead got.

A rule fired in a case when it is among the result's reasons (it contributed
points). A case rule's reason does not say which branch contributed (two
branches may give the same points), so the branch is found here by
evaluating the branch conditions in order with the reference interpreter's
expression evaluator, exactly as docs/language.md defines the choice. Rules in
a score block see only fields, events and constants, so no score needs to be
computed first.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..compiler import runtime as rt
from ..compiler.interpreter import Interpreter
from ..dsl import ast
from ..dsl.checker import CheckedRuleset
from .model import Case, CaseOutcome, Coverage, CoverageItem, LabelItem
from .runner import fired_rules


def coverage_items(checked: CheckedRuleset, source: str) -> tuple[CoverageItem, ...]:
    """Every rule of the ruleset and every branch of its case rules, in file order.
    `source` is the rule file's text, for showing a branch as written."""
    lines = source.splitlines()
    items: list[CoverageItem] = []
    for decl in checked.ruleset.declarations:
        if not isinstance(decl, ast.ScoreBlock):
            continue
        for rule in ast.rules_of(decl):
            items.append(CoverageItem(decl.name.name, rule.name.name, None, rule.name.span, ""))
            if isinstance(rule, ast.CaseRule):
                items.extend(CoverageItem(decl.name.name, rule.name.name, index, branch.span,
                                          _written(lines, branch.span))
                             for index, branch in enumerate(rule.branches))
    return tuple(items)


def _written(lines: list[str], span) -> str:
    if not 1 <= span.line <= len(lines):
        return ""
    line = lines[span.line - 1]
    end = span.end_column - 1 if span.end_line == span.line else len(line)
    return " ".join(line[span.column - 1:end].split())


class BranchChooser:
    """Case -> {case rule: index of the branch it takes, or None}."""

    def __init__(self, checked: CheckedRuleset) -> None:
        self.interpreter = Interpreter(checked)

    def __call__(self, case: Case) -> dict[str, int | None]:
        interpreter = self.interpreter
        fields = rt.prepare_fields(case.lead, interpreter.field_types)
        grouped = rt.prepare_events(case.events, interpreter.property_types, until=case.as_of)
        return interpreter.chosen_branches(fields, grouped, case.as_of)


def measure(ruleset: str, checked: CheckedRuleset, items: tuple[CoverageItem, ...],
            outcomes: Iterable[CaseOutcome]) -> Coverage:
    """What the outcomes (of every case, passed or failed) made fire."""
    fired: set[CoverageItem] = set()
    seen: set[tuple[str, str]] = set()
    for outcome in outcomes:
        rules = fired_rules(outcome.result)
        fired.update(item for item in items if _fired(item, rules, outcome.branches))
        seen.update(outcome.result.segments.items())
    labels = tuple(LabelItem(decl.name.name, label.label.name, label.label.span)
                   for decl in checked.ruleset.declarations if isinstance(decl, ast.Segment)
                   for label in decl.labels)
    reached = frozenset(label for label in labels if (label.segment, label.label) in seen)
    return Coverage(ruleset, items, frozenset(fired), labels, reached)


def _fired(item: CoverageItem, rules: Mapping[str, float],
           branches: Mapping[str, int | None]) -> bool:
    if item.branch is None:
        return item.rule in rules
    return branches.get(item.rule) == item.branch

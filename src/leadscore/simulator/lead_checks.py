"""Guards against silent nonsense in a simulation (docs/simulate.md, "Notes"): lead fields the
history never gives a value, values a schema does not declare, and which rules ever gave points.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset

_SHOWN_VALUES = 5


def _rules(block: ast.ScoreBlock):
    for item in block.items:
        if isinstance(item, ast.Group):
            yield from item.rules
        elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
            yield item


def rule_names(checked: CheckedRuleset) -> list[str]:
    """`score.rule` for every rule of every score block, in the file's order."""
    return [f"{d.name.name}.{rule.name.name}" for d in checked.ruleset.declarations
            if isinstance(d, ast.ScoreBlock) for rule in _rules(d)]


def _fields_in(checked: CheckedRuleset, node) -> set[str]:
    return {n.name for n in ast.walk(node) if isinstance(n, ast.Name)
            and (symbol := checked.resolutions.get(n)) is not None and symbol.kind == t.FIELD}


def field_readers(checked: CheckedRuleset) -> dict[str, list[str]]:
    """Lead field -> the rules, derived scores, thresholds and segments that read it directly."""
    out: dict[str, list[str]] = {}
    for d in checked.ruleset.declarations:
        if isinstance(d, ast.ScoreBlock):
            parts = [(f"{d.name.name}.{rule.name.name}", rule) for rule in _rules(d)]
        elif isinstance(d, ast.DerivedScore):
            parts = [(f"score {d.name.name}", d)]
        elif isinstance(d, ast.Threshold):
            parts = [(f"threshold {d.name.name}", d)]
        elif isinstance(d, ast.Segment):
            parts = [(f"segment {d.name.name}", d)]
        else:
            continue
        for name, node in parts:
            for found in sorted(_fields_in(checked, node)):
                out.setdefault(found, []).append(name)
    return out


def fields_with_values(fields: list[dict]) -> set[str]:
    """The fields at least one lead has a value for (in the leads table)."""
    seen: set[str] = set()
    for values in fields:
        seen.update(name for name, value in values.items() if value is not None and name not in seen)
    return seen


def undeclared_values(fields: list[dict], schema) -> dict[str, Counter]:
    """Field with `values` -> the values (list items) the schema does not declare, with how many
    leads hold each."""
    declared = {name: set(spec.values) for name, spec in schema.fields.items() if spec.values}
    out: dict[str, Counter] = {name: Counter() for name in declared}
    for values in fields:
        for name, allowed in declared.items():
            value = values.get(name)
            items = value if isinstance(value, tuple) else () if value is None else (value,)
            for item in dict.fromkeys(items):
                if item not in allowed:
                    out[name][item] += 1
    return {name: found for name, found in out.items() if found}


def undeclared_note(name: str, found: Counter) -> str:
    shown = ", ".join(f"{value!r} ({count:,})" for value, count in found.most_common(_SHOWN_VALUES))
    more = f" and {len(found) - _SHOWN_VALUES:,} more" if len(found) > _SHOWN_VALUES else ""
    return (f"field `{name}`: {sum(found.values()):,} lead value(s) the schema's `values` do not declare: "
            f"{shown}{more}; no rule comparing with a declared value matches them")


def contributions(engine, bucket, plan, instants: np.ndarray, rows: list[int]) -> Counter:
    """`score.rule` -> the leads it gave points (not 0) at their instant (nan: no instant), from
    one bulk evaluation with reasons."""
    rows = np.asarray(rows, np.int64).reshape(-1)
    chosen = np.flatnonzero((rows >= 0) & ~np.isnan(instants))
    found = engine.evaluate_many(bucket, plan, rows[chosen], instants[chosen], reasons=True)
    given = (found.points != 0) & ~np.isnan(found.points)
    out: Counter = Counter()
    for name in dict.fromkeys(found.reasons):       # a name may head several columns: a lead counts once
        count = int(given[:, [j for j, other in enumerate(found.reasons) if other == name]].any(axis=1).sum())
        if count:
            out[name] = count
    return out

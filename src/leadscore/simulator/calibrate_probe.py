"""Which `where` variants one event passes, decided by the compiled scorer.

For each event type, a probe ruleset is built from the checked one: one
score block per `where` variant of that type, each holding the single rule
`+1 per EVENT where COND`. Scoring a lead holding only that event, at the
event's own instant, gives 1 for each variant it passes and 0 otherwise, so
the conditions run with exactly the semantics (and the code) of a real
scorer, through the public compile step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from ..api import Ruleset
from ..compiler import runtime as rt
from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset


def where_fields(checked: CheckedRuleset, wheres: list[ast.Expr]) -> tuple[str, ...]:
    """The lead fields the conditions read: the only ones a lead must keep for them."""
    found: dict[str, None] = {}
    for where in wheres:
        for node in ast.walk(where):
            symbol = checked.resolutions.get(node) if isinstance(node, ast.Name) else None
            if symbol is not None and symbol.kind == t.FIELD:
                found[symbol.name] = None
    return tuple(found)


def reads_other_events(checked: CheckedRuleset, where: ast.Expr) -> bool:
    """Whether a condition counts events (count/days_since of an event type):
    one event alone cannot decide it. days_since of a datetime field can."""
    for node in ast.walk(where):
        if isinstance(node, ast.Call) and node.func in ("count", "days_since") and node.args:
            value = node.args[0].value
            symbol = checked.resolutions.get(value) if isinstance(value, ast.Name) else None
            if node.func == "count" or symbol is None or symbol.kind != t.FIELD:
                return True
    return False


class WhereProbe:
    """The `where` variants of one event type, compiled; `bits[i]` is variant i's signal bit."""

    def __init__(self, checked: CheckedRuleset, event: str, variants: list[tuple[int, ast.Expr]]) -> None:
        wheres = [where for _, where in variants]
        span = wheres[0].span
        one = ast.Points(1, ast.Number(1.0, "1", span), span)
        kind = ast.Ident(event, event, span)
        blocks = tuple(
            ast.ScoreBlock(ast.Ident(f"where_{i}", f"where_{i}", span),
                           (ast.EventRule(ast.Ident(f"rule_{i}", f"rule_{i}", span), one, kind, where,
                                          None, (), span),), span)
            for i, where in enumerate(wheres))
        probe = replace(checked, ruleset=ast.Ruleset(checked.ruleset.file, blocks, ()), derived_order=())
        self.scorer = Ruleset(probe).compile()
        self.event = event
        self.bits = [bit for bit, _ in variants]
        self.all_bits = sum(self.bits)
        self.property_types = {p: s.type for p, s in checked.schema.events[event].properties.items()}
        # Without lead fields a condition depends only on the event's properties: remember
        # the answer per distinct property values (URLs, campaigns repeat), up to a bound.
        self.memo: dict[tuple, int] | None = None if where_fields(checked, wheres) else {}

    def passed(self, at: float, properties: Mapping[str, Any], fields: Mapping[str, Any]) -> int:
        """The bits of the variants the event passes. `fields` holds the lead's fields
        in the runtime's representation (rt.prepare_fields)."""
        key = None
        if self.memo is not None:
            key = tuple(tuple(v) if isinstance(v, list) else v for v in map(properties.get, self.property_types))
            found = self.memo.get(key)
            if found is not None:
                return found
        prepared = {name: rt.normalise_value(properties.get(name), kind)
                    for name, kind in self.property_types.items()}
        result = self.scorer.evaluate(fields, {self.event: [(at, prepared)]}, at)
        bits = sum(bit for bit, score in zip(self.bits, result.scores.values()) if score == 1.0)
        if key is not None and len(self.memo) < rt.MEMO_LIMIT:
            self.memo[key] = bits
        return bits

"""Document symbols: the outline of a ruleset (constants, scores with their
rules and groups, thresholds, segments with their labels)."""

from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types

from ..dsl import ast
from ..dsl import formatter as fmt
from ..dsl.diagnostics import Span

S = types.SymbolKind


def outline(ruleset: ast.Ruleset, to_range: Callable[[Span], types.Range]) -> list[types.DocumentSymbol]:
    def symbol(ident: ast.Ident, node, kind: S, detail: str, children=()) -> types.DocumentSymbol:
        return types.DocumentSymbol(ident.name, kind, to_range(node.span), to_range(ident.span), detail=detail,
                                    children=list(children))

    def rule(r: ast.Rule) -> types.DocumentSymbol:
        detail = "case" if isinstance(r, ast.CaseRule) else fmt.points(r.points) + (
            f" per {r.event.name}" if isinstance(r, ast.EventRule) else "")
        return symbol(r.name, r, S.Method, detail)

    found = []
    for decl in ruleset.declarations:
        if isinstance(decl, ast.ConstDecl):
            found.append(symbol(decl.name, decl, S.Constant, fmt.expr(decl.value)))
        elif isinstance(decl, ast.ScoreBlock):
            children = []
            for item in decl.items:
                if isinstance(item, ast.Group):
                    children.append(symbol(item.name, item, S.Namespace, f"group max {fmt.expr(item.limit)}",
                                           [rule(r) for r in item.rules]))
                elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                    children.append(rule(item))
            found.append(symbol(decl.name, decl, S.Class, "score", children))
        elif isinstance(decl, ast.DerivedScore):
            found.append(symbol(decl.name, decl, S.Function, "= " + fmt.expr(decl.expr)))
        elif isinstance(decl, ast.Threshold):
            found.append(symbol(decl.name, decl, S.Event, fmt.expr(decl.condition)))
        else:
            labels = [symbol(label.label, label, S.EnumMember,
                             fmt.expr(label.condition) if label.condition is not None else "otherwise")
                      for label in decl.labels]
            found.append(symbol(decl.name, decl, S.Enum, "segment", labels))
    return found

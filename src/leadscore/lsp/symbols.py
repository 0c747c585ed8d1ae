"""Every name of a ruleset with its span: what it is, where it is declared,
where it is used. Built from the AST alone, so it works on files that do not
check (the checker's own resolutions exist only for clean files)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..dsl import ast
from ..dsl.diagnostics import Span
from ..dsl.schema import Schema

# Kinds of names the editor knows about.
CONSTANT, SCORE, THRESHOLD, SEGMENT = "constant", "score", "threshold", "segment"
RULE, GROUP, LABEL = "rule", "group", "label"
FIELD, EVENT, PROPERTY = "field", "event", "property"

RENAMABLE = (CONSTANT, SCORE, THRESHOLD, SEGMENT, RULE, GROUP)
_EVENT_FUNCTIONS = ("count", "days_since")


@dataclass(frozen=True)
class Occurrence:
    kind: str
    name: str
    span: Span
    definition: bool
    event: str | None = None  # for properties: the event type they belong to

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.kind, self.name, self.event)


@dataclass(frozen=True)
class SymbolIndex:
    occurrences: tuple[Occurrence, ...]

    def at(self, line: int, column: int) -> Occurrence | None:
        """The name under a 1-based position (its end counts: the cursor
        often sits just after the word)."""
        for found in self.occurrences:
            s = found.span
            if s.line == line and s.end_line == line and s.column <= column <= s.end_column:
                return found
        return None

    def of(self, key: tuple[str, str, str | None]) -> list[Occurrence]:
        return [o for o in self.occurrences if o.key == key]

    def definition(self, key: tuple[str, str, str | None]) -> Occurrence | None:
        return next((o for o in self.of(key) if o.definition), None)


def index(ruleset: ast.Ruleset, schema: Schema | None) -> SymbolIndex:
    declared: dict[str, str] = {}
    for decl in ruleset.declarations:
        declared.setdefault(decl.name.name, _DECLARATION_KINDS[type(decl)])
    walker = _Walker(declared, schema)
    for decl in ruleset.declarations:
        walker.declaration(decl)
    return SymbolIndex(tuple(walker.found))


_DECLARATION_KINDS = {ast.ConstDecl: CONSTANT, ast.ScoreBlock: SCORE, ast.DerivedScore: SCORE,
                      ast.Threshold: THRESHOLD, ast.Segment: SEGMENT}


class _Walker:
    def __init__(self, declared: dict[str, str], schema: Schema | None) -> None:
        self.declared = declared
        self.schema = schema
        self.found: list[Occurrence] = []

    def define(self, kind: str, ident: ast.Ident) -> None:
        self.found.append(Occurrence(kind, ident.name, ident.span, True))

    def declaration(self, decl: ast.Declaration) -> None:
        self.define(_DECLARATION_KINDS[type(decl)], decl.name)
        if isinstance(decl, ast.ScoreBlock):
            for item in decl.items:
                if isinstance(item, ast.Group):
                    self.define(GROUP, item.name)
                    self.visit(item.limit, None)
                    for rule in item.rules:
                        self.item(rule)
                else:
                    self.item(item)
        elif isinstance(decl, ast.Segment):
            for label in decl.labels:
                self.define(LABEL, label.label)
                self.visit(label.condition, None)
        else:
            self.visit(decl.value if isinstance(decl, ast.ConstDecl) else
                       decl.expr if isinstance(decl, ast.DerivedScore) else decl.condition, None)

    def item(self, item: ast.ScoreItem) -> None:
        if isinstance(item, ast.EventRule):
            self.define(RULE, item.name)
            self.found.append(Occurrence(EVENT, item.event.name, item.event.span, False))
            self.visit(item.points, None)
            self.visit(item.where, item.event.name)
            self.visit(item.within, None)
            for modifier in item.modifiers:
                self.visit(modifier, None)
        else:
            if isinstance(item, (ast.ConditionRule, ast.CaseRule)):
                self.define(RULE, item.name)
            for f in fields(item):
                if f.name != "name":
                    self.visit(getattr(item, f.name), None)

    def visit(self, node, event: str | None) -> None:
        if node is None or isinstance(node, (Span, str, int, float, bool)):
            return
        if isinstance(node, tuple):
            for child in node:
                self.visit(child, event)
        elif isinstance(node, ast.Name):
            self.name(node, event)
        elif isinstance(node, ast.Call) and node.func in _EVENT_FUNCTIONS:
            for arg in node.args:
                named = arg.value if isinstance(arg.value, ast.Name) else None
                if named is not None and named.qualifier is None:
                    self.found.append(Occurrence(EVENT, named.name, named.span, False))
                else:
                    self.visit(arg.value, event)
                self.visit(arg.where, named.name if named else event)
                self.visit(arg.within, event)
        elif hasattr(node, "__dataclass_fields__"):
            for f in fields(node):
                self.visit(getattr(node, f.name), event)

    def name(self, node: ast.Name, event: str | None) -> None:
        kind, owner = self.resolve(node, event)
        if kind is not None:
            self.found.append(Occurrence(kind, node.name, node.span, False, owner))

    def resolve(self, node: ast.Name, event: str | None) -> tuple[str | None, str | None]:
        schema = self.schema
        properties = schema.events[event].properties if schema and event in schema.events else {}
        if node.qualifier == "event":
            return (PROPERTY, event) if event else (None, None)
        if node.qualifier == "lead":
            return FIELD, None
        if node.qualifier is not None:
            return None, None
        if node.name in properties:
            return PROPERTY, event
        if node.name in self.declared:
            return self.declared[node.name], None
        if schema is not None and node.name in schema.fields:
            return FIELD, None
        return None, None

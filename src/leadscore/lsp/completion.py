"""Completion from the text before the cursor: the file need not parse while
it is being typed, so the place is read from the line and the blocks that
are open above it, and the names come from the last analysis."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types

from ..dsl import ast
from ..dsl import formatter as fmt
from ..dsl.expressions import FUNCTIONS
from ..dsl.parser import decay_keywords
from .analysis import Analysis

K = types.CompletionItemKind
TOP_LEVEL = ("ruleset", "effective", "schema", "const", "score", "threshold", "segment")
SCORE_ITEMS = ("decay", "clamp", "inactivity", "group")
MODIFIERS = ("max", "decay", "once", "at most")
EXPRESSION_WORDS = ("and", "or", "not", "in", "contains", "starts_with", "ends_with", "matches",
                    "is missing", "is present", "true", "false")

_NAME = r"(?:`[^`]*`|[A-Za-z_][A-Za-z0-9_]*)"
_COMPARED_STRING = re.compile(rf"(?:(event|lead)\.)?({_NAME})\s*(?:==|!=|(?:not\s+)?in\s*\[[^\]]*)\s*\"[^\"]*\Z")
_EVENT_PLACE = re.compile(r"(?:\bper\s+|\b(?:count|days_since)\(\s*)[A-Za-z0-9_]*\Z")
_WHERE = re.compile(rf"(?:\bper\s+|\b(?:count|days_since)\(\s*)({_NAME})\s+where\b(?!.*\))")
_AFTER_POINTS = re.compile(rf"^\s*{_NAME}\s*:\s*[+-]\s*\w+\s+\w*\Z|^\s*[+-]\s*\w+\s+\w*\Z")
_AFTER_EVENT = re.compile(rf"\bper\s+{_NAME}\s+\w*\Z")
_AFTER_COMMA = re.compile(rf"\bper\s+{_NAME}\b.*,\s*\w*\Z")
_AFTER_DECAY = re.compile(r"\bdecay\s+\w*\Z")
_AT_MOST_PER = re.compile(r"\bat\s+most\s+\w+\s+per\s+\w*\Z")
_INACTIVITY = re.compile(r"^\s*inactivity\s+\w*\Z")
_INACTIVITY_POINTS = re.compile(r"^\s*inactivity\b.*:\s*-\s*\w+\s+\w*\Z")
_LINE_START = re.compile(r"^\s*[A-Za-z_]*\Z")
_STRINGS_AND_COMMENTS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#.*')


@dataclass(frozen=True)
class Place:
    before: str      # the line up to the cursor
    blocks: tuple[str, ...]  # the blocks open at the cursor, outermost first


def place(lines: list[str], line: int, column: int) -> Place:
    """Where a 1-based position stands."""
    blocks: list[str] = []
    for text in lines[: line - 1]:
        code = _STRINGS_AND_COMMENTS.sub("", text)
        for brace in re.finditer(r"[{}]", code):
            if brace.group() == "{":
                blocks.append(_opener(code[: brace.start()]))
            elif blocks:
                blocks.pop()
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    return Place(current[: column - 1], tuple(blocks))


def _opener(text: str) -> str:
    words = text.split()
    if "steps" in words:
        return "steps"
    if "case" in text:
        return "case"
    return words[0] if words and words[0] in ("score", "segment", "group") else "block"


def complete(analysis: Analysis | None, where: Place) -> list[types.CompletionItem]:
    before = where.before
    state = _state(before)
    if state == "string":
        found = _COMPARED_STRING.search(before)
        return _values(analysis, found.group(1), found.group(2).strip("`"), before) if found else []
    if state == "comment":
        return []
    names = _Names(analysis)
    if _AT_MOST_PER.search(before):
        return _keywords(("day", "week"))
    if _INACTIVITY.search(before):
        return _keywords(("after",))
    if _INACTIVITY_POINTS.search(before):
        return _keywords(("every",))
    if _EVENT_PLACE.search(before):
        return names.events()
    if _AFTER_DECAY.search(before):
        return _keywords(decay_keywords())
    if _AFTER_COMMA.search(before):
        return _keywords(MODIFIERS)
    if _AFTER_EVENT.search(before):
        return _keywords(("where", "within"))
    if _AFTER_POINTS.search(before):
        return _keywords(("if", "per", "otherwise") if where.blocks[-1:] == ("case",) else ("if", "per"))
    if _LINE_START.match(before):
        if not where.blocks:
            return _keywords(TOP_LEVEL)
        if where.blocks[-1] == "score":
            return _keywords(SCORE_ITEMS)
        if where.blocks[-1] == "segment":
            return _keywords(("otherwise",))
    event = _WHERE.search(before)
    in_score = "score" in where.blocks
    items = names.properties(event.group(1).strip("`")) if event else []
    return items + names.expression(scores=not in_score) + _keywords(EXPRESSION_WORDS)


def _state(before: str) -> str:
    """"string", "comment" or "code": what the cursor is in."""
    in_string = escaped = False
    for c in before:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == "#":
            return "comment"
    return "string" if in_string else "code"


def _keywords(words) -> list[types.CompletionItem]:
    return [types.CompletionItem(w, kind=K.Keyword) for w in words]


def _values(analysis: Analysis | None, qualifier: str | None, name: str, before: str):
    schema = analysis.schema if analysis else None
    values: tuple[str, ...] = ()
    event = _WHERE.search(before)
    if schema is not None:
        spec = None
        if event and qualifier != "lead":
            owner = schema.events.get(event.group(1).strip("`"))
            spec = owner.properties.get(name) if owner else None
        if spec is None and qualifier != "event":
            spec = schema.fields.get(name)
        values = spec.values or () if spec else ()
    if not values and analysis is not None:
        segment = next((d for d in analysis.ruleset.declarations
                        if isinstance(d, ast.Segment) and d.name.name == name), None)
        values = tuple(label.label.name for label in segment.labels) if segment else ()
    return [types.CompletionItem(v, kind=K.EnumMember, detail=f"a value of {name}") for v in values]


class _Names:
    def __init__(self, analysis: Analysis | None) -> None:
        self.schema = analysis.schema if analysis else None
        self.declarations = analysis.ruleset.declarations if analysis else ()

    def events(self) -> list[types.CompletionItem]:
        if self.schema is None:
            return []
        return [_item(name, K.Event, "event type") for name in self.schema.events]

    def properties(self, event: str) -> list[types.CompletionItem]:
        spec = self.schema.events.get(event) if self.schema else None
        if spec is None:
            return []
        return [_item(p.name, K.Property, f"{p.type} property of {event}") for p in spec.properties.values()]

    def expression(self, scores: bool) -> list[types.CompletionItem]:
        items = []
        if self.schema is not None:
            items += [_item(f.name, K.Field, f"{f.type} field") for f in self.schema.fields.values()]
        for decl in self.declarations:
            if isinstance(decl, ast.ConstDecl):
                items.append(_item(decl.name.name, K.Constant, f"const = {fmt.expr(decl.value)}"))
            elif scores and isinstance(decl, (ast.ScoreBlock, ast.DerivedScore)):
                items.append(_item(decl.name.name, K.Variable, "score"))
            elif scores and isinstance(decl, ast.Threshold):
                items.append(_item(decl.name.name, K.Variable, "threshold"))
            elif scores and isinstance(decl, ast.Segment):
                items.append(_item(decl.name.name, K.Enum, "segment"))
        items += [types.CompletionItem(f, kind=K.Function, insert_text=f"{f}(") for f in FUNCTIONS]
        return items


def _item(name: str, kind: K, detail: str) -> types.CompletionItem:
    return types.CompletionItem(name, kind=kind, detail=detail, insert_text=fmt.name(name))

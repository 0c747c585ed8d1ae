"""Semantic tokens: names coloured by what they are (a field, an event type,
a constant, a score...), which a TextMate grammar cannot know, plus keywords,
literals and comments."""

from __future__ import annotations

import re

from pygls.workspace.position_codec import PositionCodec

from ..dsl import ast
from ..dsl.diagnostics import Span
from ..dsl.parser import keywords
from . import symbols as sym
from .analysis import Analysis

TOKEN_TYPES = ["keyword", "variable", "property", "type", "class", "function", "enum", "enumMember",
               "method", "namespace", "number", "string", "regexp", "comment"]
TOKEN_MODIFIERS = ["declaration", "readonly"]

_BY_KIND = {sym.FIELD: ("variable", 0), sym.PROPERTY: ("property", 0), sym.EVENT: ("type", 0),
            sym.CONSTANT: ("variable", 2), sym.SCORE: ("class", 0), sym.THRESHOLD: ("function", 0),
            sym.SEGMENT: ("enum", 0), sym.LABEL: ("enumMember", 0), sym.RULE: ("method", 0),
            sym.GROUP: ("namespace", 0)}
_LITERALS = {ast.Number: "number", ast.Percent: "number", ast.Duration: "number", ast.DateTime: "number",
             ast.String: "string", ast.Regex: "regexp", ast.Bool: "keyword"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def semantic_tokens(analysis: Analysis, codec: PositionCodec) -> list[int]:
    found: list[tuple[int, int, int, str, int]] = []  # line, start, end (0-based characters), type, modifiers
    for o in analysis.symbols.occurrences:
        kind, modifiers = _BY_KIND[o.kind]
        _add(found, o.span, kind, modifiers | (1 if o.definition else 0))
    for node in _nodes(analysis.ruleset):
        if type(node) in _LITERALS:
            _add(found, node.span, _LITERALS[type(node)], 0)
        elif isinstance(node, ast.Call):
            _add(found, node.func_span, "function", 0)
    for comment in analysis.ruleset.comments:
        _add(found, comment.span, "comment", 0)
    lines = analysis.lines
    taken = _taken(found)
    for number, text in enumerate(lines):
        for word in _WORD.finditer(text):
            if word.group() in keywords() and not _overlaps(taken.get(number, ()), word.start(), word.end()):
                found.append((number, word.start(), word.end(), "keyword", 0))
    return _encode(sorted(found), lines, codec)


def _nodes(ruleset: ast.Ruleset):
    for statement in ruleset.statements:
        yield from ast.walk(statement)


def _add(found: list, span: Span, kind: str, modifiers: int) -> None:
    if span.line == span.end_line and span.end_column > span.column:
        found.append((span.line - 1, span.column - 1, span.end_column - 1, kind, modifiers))


def _taken(found: list) -> dict[int, list[tuple[int, int]]]:
    taken: dict[int, list[tuple[int, int]]] = {}
    for line, start, end, _, _ in found:
        taken.setdefault(line, []).append((start, end))
    return taken


def _overlaps(ranges, start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in ranges)


def _encode(found: list, lines: list[str], codec: PositionCodec) -> list[int]:
    """LSP's relative encoding; overlapping tokens (a name inside a literal's
    span cannot happen, but a comment's can) keep the first."""
    data: list[int] = []
    last_line = last_start = 0
    last_end = (-1, -1)
    for line, start, end, kind, modifiers in found:
        if (line, start) < last_end or line >= len(lines):
            continue
        text = lines[line]
        begin = codec.client_num_units(text[:start])
        length = codec.client_num_units(text[start:end])
        delta_line = line - last_line
        data += [delta_line, begin - (last_start if delta_line == 0 else 0), length,
                 TOKEN_TYPES.index(kind), modifiers]
        last_line, last_start, last_end = line, begin, (line, end)
    return data

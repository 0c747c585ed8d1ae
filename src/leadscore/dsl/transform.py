"""Lark parse tree -> AST (private to the parser).

Literal conversion happens here, so bad literals (escapes, impossible dates,
numbers beyond float64) become diagnostics next to the syntax errors.
"""

from __future__ import annotations

import contextvars
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from lark import Token, Transformer, v_args

from ..semantics import UNIT_SECONDS
from . import ast
from .diagnostics import Diagnostic, Span, make

# Deeper parse trees are refused before transforming: every later pass walks
# the AST recursively, and nobody writes a rule a hundred levels deep.
MAX_DEPTH = 100

_ESCAPE = re.compile(r'\\(u[0-9A-Fa-f]{4}|.)', re.DOTALL)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


@dataclass
class ParseState:
    """What one parse collects; the transformer runs inside Lark's LALR
    reductions (no parse tree is built), so it reaches this through a
    context variable rather than through arguments."""

    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    comments: list[Token] = field(default_factory=list)
    # Depth of each node built so far (by id), to refuse absurdly deep input
    # without walking the tree: every later pass recurses over it.
    depths: dict[int, int] = field(default_factory=dict)
    too_deep: tuple[int, int] | None = None
    # The `{` tokens the postlexer closed because the next line showed they
    # were never closed (dsl/parser.py reports them).
    unclosed: list[Token] = field(default_factory=list)


current_parse: contextvars.ContextVar[ParseState] = contextvars.ContextVar("current_parse")


def depth_violation(state: ParseState) -> tuple[int, int] | None:
    """(line, column) of the first node built deeper than MAX_DEPTH."""
    return state.too_deep


# Terminals whose text matters to the AST. The parser keeps every token
# (keep_all_tokens) so spans can start at a keyword and end at a bracket;
# the rest (keywords, punctuation, newlines) are dropped once spans are known.
_MEANINGFUL = frozenset({"PLUS", "MINUS", "STAR", "SLASH", "NAME", "QUOTED_NAME", "DATE",
                         "PERCENT", "DURATION", "NUMBER", "STRING", "REGEX", "COMPARE",
                         "WORD_OPERATOR", "PERIOD"})


def _token_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column)


def _edge(item) -> Span | None:
    if isinstance(item, Token):
        return None if item.type == "_NL" else _token_span(current_parse.get().file, item)
    if isinstance(item, _Tail):
        return item.span
    return getattr(item, "span", None)


def _spanned(method, _name, children, _meta):
    """Calls `method(span, meaningful_children)`; the span runs from the
    first to the last positioned child."""
    state = current_parse.get()
    edges = [e for e in map(_edge, children) if e is not None]
    span = edges[0].to(edges[-1]) if edges else Span.point(state.file, 1, 1)
    kept = [c for c in children if not (isinstance(c, Token) and c.type not in _MEANINGFUL)]
    result = method(span, kept)
    if isinstance(result, _NESTED):
        # Only expressions nest without bound; rules and blocks add a fixed
        # few levels, so the limit (and the report) is about the expression.
        depths = state.depths
        depth = 1 + max((depths.get(id(c), 0) for c in kept), default=0)
        depths[id(result)] = depth
        if depth > MAX_DEPTH and state.too_deep is None:
            state.too_deep = (span.line, span.column)
    return result


@dataclass(frozen=True, slots=True)
class _Tail:
    """One `OP right` piece of a comparison, before it is joined to its left side."""

    op: str
    right: object
    span: Span


# Node kinds that count towards the nesting limit.
_NESTED = (*ast.Expr.__args__, ast.CallArg, _Tail)


@v_args(wrapper=_spanned)
class ToAst(Transformer):
    @property
    def file(self) -> str:
        return current_parse.get().file

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return current_parse.get().diagnostics

    def _s(self, tok: Token) -> Span:
        return _token_span(self.file, tok)

    def _error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(make(code, message, span, hint))

    # --- literals ------------------------------------------------------------

    def _number(self, tok: Token, negative: bool = False) -> ast.Number:
        text = ("-" if negative else "") + str(tok)
        value = float(text.replace("_", ""))
        if not math.isfinite(value):
            self._error("LS105", "this number is too large", self._s(tok),
                        "numbers must fit a 64-bit float (about 1.8e308)")
            value = 0.0
        return ast.Number(value, text, self._s(tok))

    def _string(self, tok: Token) -> ast.String:
        text = str(tok)
        span = self._s(tok)

        def unescape(match: re.Match) -> str:
            body = match.group(1)
            if body in _SIMPLE_ESCAPES:
                return _SIMPLE_ESCAPES[body]
            if body.startswith("u") and len(body) == 5:
                code = int(body[1:], 16)
                if not 0xD800 <= code <= 0xDFFF:
                    return chr(code)
            column = span.column + 1 + match.start()  # + 1: the opening quote
            self._error("LS104", f"`\\{body[:1]}` is not an escape this language knows",
                        Span(self.file, span.line, column, span.line, column + 2),
                        'use \\" \\\\ \\n \\t or \\uXXXX (not a surrogate)')
            return match.group(0)

        return ast.String(_ESCAPE.sub(unescape, text[1:-1]), text, span)

    def _duration(self, tok: Token) -> ast.Duration:
        text = str(tok)
        amount = float(text[:-1].replace("_", ""))
        seconds = amount * UNIT_SECONDS[text[-1]]
        if not math.isfinite(seconds):
            self._error("LS105", "this duration is too large", self._s(tok))
            seconds = 0.0
        return ast.Duration(seconds, text, self._s(tok))

    def _date(self, tok: Token) -> ast.DateTime:
        text = str(tok)
        span = self._s(tok)
        is_date = "T" not in text
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self._error("LS109", f"`{text}` is not a real date", span,
                        "dates are YYYY-MM-DD; date-times are YYYY-MM-DDTHH:MM:SSZ")
            value = datetime(1970, 1, 1, tzinfo=timezone.utc)
        if value.tzinfo is None:
            if is_date:
                value = value.replace(tzinfo=timezone.utc)
            else:
                self._error("LS109", f"`{text}` has no time zone", span,
                            "end a date-time with `Z` (UTC) or an offset such as +02:00")
                value = value.replace(tzinfo=timezone.utc)
        return ast.DateTime(value, text, is_date, span)

    def _regex(self, tok: Token) -> ast.Regex:
        text = str(tok)
        body, _, flags = text[1:].rpartition("/")
        return ast.Regex(body.replace("\\/", "/"), flags, text, self._s(tok))

    def _ident(self, tok: Token) -> ast.Ident:
        text = str(tok)
        name = text[1:-1] if text.startswith("`") else text
        return ast.Ident(name, text, self._s(tok))

    # --- terminals that stand alone as expressions ----------------------------

    def number(self, span, children):
        return self._number(children[0])

    def string(self, span, children):
        return self._string(children[0])

    def date(self, span, children):
        return self._date(children[0])

    def duration(self, span, children):
        return self._duration(children[0])

    def true(self, span, children):
        return ast.Bool(True, span)

    def false(self, span, children):
        return ast.Bool(False, span)

    def ident(self, span, children):
        return self._ident(children[0])

    def list(self, span, children):
        return ast.ListLit(tuple(c for c in children if c is not None), span)

    def atom(self, span, children):
        # `( expr )`: no node for the parentheses, but the span covers them.
        return replace(children[0], span=span)

    def name_ref(self, span, children):
        idents = [c for c in children if c is not None]
        if len(idents) == 1:
            return ast.Name(idents[0].name, None, idents[0].span)
        qualifier, name = idents
        return ast.Name(name.name, qualifier.name, span)

    def call_arg(self, span, children):
        value, where, within = children
        return ast.CallArg(value, where, within, span)

    def call(self, span, children):
        func, *args = children
        return ast.Call(func.name, func.span, tuple(a for a in args if a is not None),
                        span)

    # --- operators -------------------------------------------------------------

    def negate(self, span, children):
        _, operand = children
        if isinstance(operand, ast.Number) and not operand.text.startswith("-"):
            return ast.Number(-operand.value, "-" + operand.text, span)
        return ast.Unary("-", operand, span)

    def not_op(self, span, children):
        return ast.Unary("not", children[0], span)

    def arith(self, span, children):
        left, op, right = children
        return ast.Arith(str(op), left, right, span)

    def or_expr(self, span, children):
        return ast.BoolOp("or", tuple(children), span)

    def and_expr(self, span, children):
        return ast.BoolOp("and", tuple(children), span)

    def comparison(self, span, children):
        left, *tails = children
        if len(tails) > 1:
            self._error("LS108", "comparisons do not chain", tails[1].span,
                        "join two comparisons with `and`, e.g. `a < b and b < c`")
        for tail in tails[:1]:
            if tail.op in ("is missing", "is present"):
                return ast.IsMissing(left, tail.op == "is present", span)
            return ast.Compare(tail.op, left, tail.right, span)
        return left  # pragma: no cover - the grammar inlines a lone operand

    def compare_op(self, span, children):
        return _Tail(str(children[0]), children[1], span)

    def in_op(self, span, children):
        return _Tail("in", children[0], span)

    def not_in_op(self, span, children):
        return _Tail("not in", children[0], span)

    def word_op(self, span, children):
        return _Tail(str(children[0]), children[1], span)

    def matches_op(self, span, children):
        pattern = children[0]
        if isinstance(pattern, Token):
            pattern = self._regex(pattern)
        return _Tail("matches", pattern, span)

    def is_missing_op(self, span, children):
        return _Tail("is missing", None, span)

    def is_present_op(self, span, children):
        return _Tail("is present", None, span)

    # --- rule pieces -------------------------------------------------------------

    def num_literal(self, span, children):
        return self._number(children[0])

    def num_name(self, span, children):
        ident = children[0]
        return ast.Name(ident.name, None, ident.span)

    def dur_literal(self, span, children):
        return self._duration(children[0])

    dur_name = num_name
    clamp_name = num_name

    def clamp_number(self, span, children):
        minus, number = children
        return self._number(number, negative=minus is not None)

    def points(self, span, children):
        sign, value = children
        return ast.Points(-1 if str(sign) == "-" else 1, value, span)

    def where_clause(self, span, children):
        return children[0]

    def within_clause(self, span, children):
        return children[0]

    def decay_none(self, span, children):
        return ast.DecayNone(span)

    def decay_half_life(self, span, children):
        return ast.DecayHalfLife(children[0], span)

    def decay_linear(self, span, children):
        return ast.DecayLinear(children[0], span)

    def decay_step(self, span, children):
        age, percent = children
        value = float(str(percent)[:-1].replace("_", ""))
        return ast.DecayStep(age, ast.Percent(value, str(percent), self._s(percent)),
                             span)

    def decay_steps(self, span, children):
        return ast.DecaySteps(tuple(c for c in children if c is not None), span)

    def max_modifier(self, span, children):
        return ast.MaxModifier(children[0], span)

    def decay_modifier(self, span, children):
        return ast.DecayModifier(children[0], span)

    def once_modifier(self, span, children):
        return ast.OnceModifier(span)

    def at_most_modifier(self, span, children):
        count, period = children
        return ast.AtMostModifier(count, str(period), span)

    def condition_rule(self, span, children):
        name, points, condition = children
        return ast.ConditionRule(name, points, condition, span)

    def case_branch(self, span, children):
        points, condition = children
        return ast.CaseBranch(points, condition, span)

    def case_otherwise(self, span, children):
        return ast.CaseBranch(children[0], None, span)

    def case_rule(self, span, children):
        name, *branches = children
        return ast.CaseRule(name, tuple(branches), span)

    def event_rule(self, span, children):
        name, points, event, where, within, *modifiers = children
        return ast.EventRule(name, points, event, where, within, tuple(modifiers), span)

    def group(self, span, children):
        name, limit, *rules = children
        return ast.Group(name, limit, tuple(rules), span)

    def decay_option(self, span, children):
        return ast.DecayOption(children[0], span)

    def clamp_option(self, span, children):
        low, high = children
        return ast.ClampOption(low, high, span)

    def inactivity_option(self, span, children):
        after, _minus, points, every = children
        return ast.InactivityOption(after, points, every, span)

    # --- statements ------------------------------------------------------------

    def ruleset_header(self, span, children):
        name, version = children
        version_node = self._string(version) if version.type == "STRING" else self._number(version)
        return ast.RulesetHeader(self._string(name), version_node, span)

    def effective_header(self, span, children):
        return ast.EffectiveHeader(self._date(children[0]), span)

    def schema_header(self, span, children):
        return ast.SchemaHeader(self._string(children[0]), span)

    def const_decl(self, span, children):
        name, value = children
        return ast.ConstDecl(name, value, span)

    def score_block(self, span, children):
        name, *items = children
        return ast.ScoreBlock(name, tuple(items), span)

    def derived_score(self, span, children):
        name, expr = children
        return ast.DerivedScore(name, expr, span)

    def threshold(self, span, children):
        name, condition = children
        return ast.Threshold(name, condition, span)

    def segment_label(self, span, children):
        label, condition = children
        return ast.SegmentLabel(label, condition, span)

    def segment_otherwise(self, span, children):
        return ast.SegmentLabel(children[0], None, span)

    def segment(self, span, children):
        name, *labels = children
        return ast.Segment(name, tuple(labels), span)

    def start(self, span, children):
        return children

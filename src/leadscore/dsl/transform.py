"""Lark parse tree -> AST (private to the parser).

Literal conversion happens here, so bad literals (escapes, impossible dates,
numbers beyond float64) become diagnostics next to the syntax errors.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from lark import Token, Transformer, Tree, v_args

from . import ast
from .diagnostics import Diagnostic, Span, make

# Deeper parse trees are refused before transforming: every later pass walks
# the AST recursively, and nobody writes a rule a hundred levels deep.
MAX_DEPTH = 100

_UNIT_SECONDS = {"h": 3600.0, "d": 86400.0, "w": 604800.0}
_ESCAPE = re.compile(r'\\(u[0-9A-Fa-f]{4}|.)', re.DOTALL)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def tree_depth_violation(tree: Tree) -> tuple[int, int] | None:
    """(line, column) of the first node deeper than MAX_DEPTH, iteratively."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            return (getattr(meta, "line", 1), getattr(meta, "column", 1))
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


def _span(file: str, item: Token | Tree | object) -> Span:
    if isinstance(item, Token):
        return Span(file, item.line, item.column, item.end_line, item.end_column)
    meta = item.meta if isinstance(item, Tree) else item
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


@v_args(meta=True)
class ToAst(Transformer):
    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def _s(self, item) -> Span:
        return _span(self.file, item)

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
            column = span.column + match.start()
            self._error("LS104", f"`\\{body[:1]}` is not an escape this language knows",
                        Span(self.file, span.line, column, span.line, column + 2),
                        'use \\" \\\\ \\n \\t or \\uXXXX (not a surrogate)')
            return match.group(0)

        return ast.String(_ESCAPE.sub(unescape, text[1:-1]), text, span)

    def _duration(self, tok: Token) -> ast.Duration:
        text = str(tok)
        amount = float(text[:-1].replace("_", ""))
        seconds = amount * _UNIT_SECONDS[text[-1]]
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

    def number(self, meta, children):
        return self._number(children[0])

    def string(self, meta, children):
        return self._string(children[0])

    def date(self, meta, children):
        return self._date(children[0])

    def duration(self, meta, children):
        return self._duration(children[0])

    def true(self, meta, children):
        return ast.Bool(True, self._s(meta))

    def false(self, meta, children):
        return ast.Bool(False, self._s(meta))

    def ident(self, meta, children):
        return self._ident(children[0])

    def list(self, meta, children):
        return ast.ListLit(tuple(c for c in children if c is not None), self._s(meta))

    def name_ref(self, meta, children):
        first, second = children
        if second is None:
            return ast.Name(first.name, None, first.span)
        return ast.Name(second.name, first.name, self._s(meta))

    def call_arg(self, meta, children):
        value, where, within = children
        return ast.CallArg(value, where, within, self._s(meta))

    def call(self, meta, children):
        func, *args = children
        return ast.Call(func.name, func.span, tuple(a for a in args if a is not None),
                        self._s(meta))

    # --- operators -------------------------------------------------------------

    def negate(self, meta, children):
        _, operand = children
        if isinstance(operand, ast.Number) and not operand.text.startswith("-"):
            return ast.Number(-operand.value, "-" + operand.text, self._s(meta))
        return ast.Unary("-", operand, self._s(meta))

    def not_op(self, meta, children):
        return ast.Unary("not", children[0], self._s(meta))

    def arith(self, meta, children):
        left, op, right = children
        return ast.Arith(str(op), left, right, self._s(meta))

    def or_expr(self, meta, children):
        return ast.BoolOp("or", tuple(children), self._s(meta))

    def and_expr(self, meta, children):
        return ast.BoolOp("and", tuple(children), self._s(meta))

    def comparison(self, meta, children):
        left, *tails = children
        if len(tails) > 1:
            self._error("LS108", "comparisons do not chain", tails[1][2],
                        "join two comparisons with `and`, e.g. `a < b and b < c`")
        for op, right, op_span in tails[:1]:
            span = left.span.to(right.span if right is not None else op_span)
            if op in ("is missing", "is present"):
                return ast.IsMissing(left, op == "is present", span)
            return ast.Compare(op, left, right, span)
        return left  # pragma: no cover - the grammar inlines a lone operand

    # Each tail is (operator, right operand or None, operator's span).
    def compare_op(self, meta, children):
        return (str(children[0]), children[1], self._s(children[0]))

    def in_op(self, meta, children):
        return ("in", children[0], self._s(meta))

    def not_in_op(self, meta, children):
        return ("not in", children[0], self._s(meta))

    def word_op(self, meta, children):
        return (str(children[0]), children[1], self._s(children[0]))

    def matches_op(self, meta, children):
        pattern = children[0]
        if isinstance(pattern, Token):
            pattern = self._regex(pattern)
        return ("matches", pattern, self._s(meta))

    def is_missing_op(self, meta, children):
        return ("is missing", None, self._s(meta))

    def is_present_op(self, meta, children):
        return ("is present", None, self._s(meta))

    # --- rule pieces -------------------------------------------------------------

    def num_literal(self, meta, children):
        return self._number(children[0])

    def num_name(self, meta, children):
        ident = children[0]
        return ast.Name(ident.name, None, ident.span)

    def dur_literal(self, meta, children):
        return self._duration(children[0])

    dur_name = num_name
    clamp_name = num_name

    def clamp_number(self, meta, children):
        minus, number = children
        return self._number(number, negative=minus is not None)

    def points(self, meta, children):
        sign, value = children
        return ast.Points(-1 if str(sign) == "-" else 1, value, self._s(meta))

    def where_clause(self, meta, children):
        return children[0]

    def within_clause(self, meta, children):
        return children[0]

    def decay_none(self, meta, children):
        return ast.DecayNone(self._s(meta))

    def decay_half_life(self, meta, children):
        return ast.DecayHalfLife(children[0], self._s(meta))

    def decay_linear(self, meta, children):
        return ast.DecayLinear(children[0], self._s(meta))

    def decay_step(self, meta, children):
        age, percent = children
        value = float(str(percent)[:-1].replace("_", ""))
        return ast.DecayStep(age, ast.Percent(value, str(percent), self._s(percent)),
                             self._s(meta))

    def decay_steps(self, meta, children):
        return ast.DecaySteps(tuple(c for c in children if c is not None), self._s(meta))

    def max_modifier(self, meta, children):
        return ast.MaxModifier(children[0], self._s(meta))

    def decay_modifier(self, meta, children):
        return ast.DecayModifier(children[0], self._s(meta))

    def once_modifier(self, meta, children):
        return ast.OnceModifier(self._s(meta))

    def at_most_modifier(self, meta, children):
        count, period = children
        return ast.AtMostModifier(count, str(period), self._s(meta))

    def condition_rule(self, meta, children):
        name, points, condition = children
        return ast.ConditionRule(name, points, condition, self._s(meta))

    def case_branch(self, meta, children):
        points, condition = children
        return ast.CaseBranch(points, condition, self._s(meta))

    def case_otherwise(self, meta, children):
        return ast.CaseBranch(children[0], None, self._s(meta))

    def case_rule(self, meta, children):
        name, *branches = children
        return ast.CaseRule(name, tuple(branches), self._s(meta))

    def event_rule(self, meta, children):
        name, points, event, where, within, *modifiers = children
        return ast.EventRule(name, points, event, where, within, tuple(modifiers), self._s(meta))

    def group(self, meta, children):
        name, limit, *rules = children
        return ast.Group(name, limit, tuple(rules), self._s(meta))

    def decay_option(self, meta, children):
        return ast.DecayOption(children[0], self._s(meta))

    def clamp_option(self, meta, children):
        low, high = children
        return ast.ClampOption(low, high, self._s(meta))

    def inactivity_option(self, meta, children):
        after, _minus, points, every = children
        return ast.InactivityOption(after, points, every, self._s(meta))

    # --- statements ------------------------------------------------------------

    def ruleset_header(self, meta, children):
        name, version = children
        version_node = self._string(version) if version.type == "STRING" else self._number(version)
        return ast.RulesetHeader(self._string(name), version_node, self._s(meta))

    def effective_header(self, meta, children):
        return ast.EffectiveHeader(self._date(children[0]), self._s(meta))

    def schema_header(self, meta, children):
        return ast.SchemaHeader(self._string(children[0]), self._s(meta))

    def const_decl(self, meta, children):
        name, value = children
        return ast.ConstDecl(name, value, self._s(meta))

    def score_block(self, meta, children):
        name, *items = children
        return ast.ScoreBlock(name, tuple(items), self._s(meta))

    def derived_score(self, meta, children):
        name, expr = children
        return ast.DerivedScore(name, expr, self._s(meta))

    def threshold(self, meta, children):
        name, condition = children
        return ast.Threshold(name, condition, self._s(meta))

    def segment_label(self, meta, children):
        label, condition = children
        return ast.SegmentLabel(label, condition, self._s(meta))

    def segment_otherwise(self, meta, children):
        return ast.SegmentLabel(children[0], None, self._s(meta))

    def segment(self, meta, children):
        name, *labels = children
        return ast.Segment(name, tuple(labels), self._s(meta))

    def start(self, meta, children):
        return children

"""Name resolution and type checking of expressions (docs/language.md)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Mapping

from ..semantics import Function, Signature, regex_error, signature
from . import ast
from . import types as t
from .diagnostics import Diagnostic, Span, make
from .schema import EventSpec, FieldSpec
from .types import Symbol, Type

FUNCTIONS = tuple(f.value for f in Function)
_EVENT_FUNCTIONS = tuple(f.value for f in Function if signature(f).on_events)
_ORDERED = (t.NUMBER, t.DATETIME)

# Words people write for true and false (`== yes`), and what to write instead.
_BOOLEAN_WORDS = {"yes": "true", "no": "false", "on": "true", "off": "false",
                  "true": "true", "false": "false"}


def suggest(name: str, candidates, what: str = "") -> str | None:
    """A did-you-mean hint for a near name, case differences first."""
    candidates = [c for c in candidates if isinstance(c, str)]
    folded = {c.lower(): c for c in candidates}
    if name.lower() in folded and folded[name.lower()] != name:
        return f"did you mean {what}`{folded[name.lower()]}`?"
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {what}`{close[0]}`?" if close else None


@dataclass
class Context:
    """Where an expression stands: what its names may refer to."""

    allow_scores: bool = False  # derived scores, thresholds, segments
    event: str | None = None  # inside a `where`: the event type its properties come from
    visible_thresholds: frozenset[str] = frozenset()
    visible_segments: frozenset[str] = frozenset()


@dataclass
class Environment:
    """Everything declared, for resolving names. `fields`/`events` are None
    when the schema could not be loaded: names are then not reported."""

    fields: Mapping[str, FieldSpec] | None
    events: Mapping[str, EventSpec] | None
    constants: dict[str, Type] = field(default_factory=dict)
    constant_values: dict[str, object] = field(default_factory=dict)
    scores: set[str] = field(default_factory=set)
    thresholds: set[str] = field(default_factory=set)
    segments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Names whose declaration (in the rule file or the schema) had an error,
    # already reported: a use of one is not reported again.
    unreported: frozenset[str] = frozenset()


class ExpressionChecker:
    def __init__(self, env: Environment, diagnostics: list[Diagnostic]) -> None:
        self.env = env
        self.diagnostics = diagnostics
        self.resolutions: dict[ast.Name, Symbol] = {}

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> Type:
        self.diagnostics.append(make(code, message, span, hint))
        return t.T_UNKNOWN

    # --- entry points ---------------------------------------------------------

    def check(self, expr: ast.Expr, ctx: Context) -> Type:
        method = getattr(self, "_" + type(expr).__name__.lower())
        return method(expr, ctx)

    def check_condition(self, expr: ast.Expr, ctx: Context, what: str = "a condition") -> None:
        found = self.check(expr, ctx)
        if found.kind not in (t.BOOLEAN, t.UNKNOWN):
            self.error("LS401", f"{what} must be true or false; this is {t.a_or_an(found)}",
                       expr.span, "compare it with something, e.g. `x >= 10` or `x is present`")

    def check_event_type(self, ident: ast.Ident | ast.Name) -> bool:
        events = self.env.events
        if events is None or ident.name in events:
            return True
        if ident.name in self.env.unreported:
            return False
        hint = suggest(ident.name, events)
        if hint is None and self.env.fields and ident.name in self.env.fields:
            hint = "this is a lead field; `per` and `count` take an event type from the schema"
        self.error("LS301", f"unknown event type `{ident.name}`", ident.span, hint)
        return False

    # --- literals ---------------------------------------------------------------

    def _number(self, e, ctx):
        return t.T_NUMBER

    def _string(self, e, ctx):
        return t.T_STRING

    def _bool(self, e, ctx):
        return t.T_BOOLEAN

    def _datetime(self, e, ctx):
        return t.T_DATETIME

    def _duration(self, e, ctx):
        return t.T_DURATION

    def _regex(self, e, ctx):
        return self.error("LS406", "a regex may only stand right after `matches`", e.span)

    def _listlit(self, e: ast.ListLit, ctx) -> Type:
        kinds = [self.check(item, ctx) for item in e.items]
        known = [k for k in kinds if not k.is_unknown]
        for item, kind in zip(e.items, kinds):
            if kind.kind in (t.LIST, t.REGEX):
                return self.error("LS410", "a list holds plain values, not lists", item.span)
            if known and kind.kind != known[0].kind and not kind.is_unknown:
                return self.error("LS410", f"this list mixes {known[0]}s and {kind}s", item.span,
                                  "every item of a list has the same type")
        return Type(t.LIST, item=known[0].kind if known else None)

    # --- names --------------------------------------------------------------------

    def _name(self, e: ast.Name, ctx: Context) -> Type:
        symbol = self.resolve(e, ctx)
        if symbol is None:
            return t.T_UNKNOWN
        self.resolutions[e] = symbol
        return symbol.type

    def resolve(self, e: ast.Name, ctx: Context) -> Symbol | None:
        env = self.env
        if e.qualifier is not None and e.qualifier not in ("event", "lead"):
            self.error("LS306", f"`{e.qualifier}.{e.name}`: only `event.` and `lead.` may qualify "
                       "a name", e.span)
            return None
        prop = self._property(e.name, ctx) if e.qualifier in (None, "event") else None
        lead_field = env.fields.get(e.name) if env.fields is not None and e.qualifier in (None, "lead") else None

        if e.qualifier == "event":
            if ctx.event is None:
                self.error("LS305", "`event.` names a property of the event, so it is only "
                           "allowed inside `where`", e.span)
                return None
            if prop is None and env.events is not None:
                self._unknown_property(e, ctx.event)
                return None
        if e.qualifier == "lead" and lead_field is None and env.fields is not None:
            self.error("LS300", f"unknown lead field `{e.name}`", e.span, suggest(e.name, env.fields))
            return None
        if prop is not None and lead_field is not None and e.qualifier is None:
            self.error("LS304", f"`{e.name}` is both a property of `{ctx.event}` events and a "
                       "lead field", e.span, f"write `event.{e.name}` or `lead.{e.name}`")
            return None
        if prop is not None:
            return Symbol(t.PROPERTY, e.name, t.of_field(prop.type, prop.values), ctx.event)
        if lead_field is not None:
            return Symbol(t.FIELD, e.name, t.of_field(lead_field.type, lead_field.values))
        if e.qualifier is not None:
            return None  # schema missing: already reported elsewhere
        if e.name in env.constants:
            return Symbol(t.CONSTANT, e.name, env.constants[e.name])
        if e.name in env.scores:
            if not ctx.allow_scores:
                self.error("LS305", f"`{e.name}` is a score; rules inside a score block use lead "
                           "fields, events and constants, never scores", e.span,
                           "combine scores in a derived score: `score total = fit + interest`")
                return None
            return Symbol(t.SCORE, e.name, t.T_NUMBER)
        if e.name in env.thresholds:
            if e.name not in ctx.visible_thresholds:
                return self._not_visible(e, "threshold")
            return Symbol(t.THRESHOLD, e.name, t.T_BOOLEAN)
        if e.name in env.segments:
            if e.name not in ctx.visible_segments:
                return self._not_visible(e, "segment")
            return Symbol(t.SEGMENT, e.name, Type(t.STRING, env.segments[e.name]))
        if env.fields is None:
            return None  # without a schema, an unknown name may well be a field
        self._unknown_name(e, ctx)
        return None

    def _not_visible(self, e: ast.Name, kind: str) -> None:
        self.error("LS305", f"`{e.name}` is a {kind} declared later or used where {kind}s are not "
                   "visible", e.span,
                   f"thresholds and segments may use {kind}s declared before them")
        return None

    def _property(self, name: str, ctx: Context) -> FieldSpec | None:
        if ctx.event is None or self.env.events is None or ctx.event not in self.env.events:
            return None
        return self.env.events[ctx.event].properties.get(name)

    def _unknown_property(self, e: ast.Name, event: str) -> None:
        if e.name in self.env.unreported:
            return
        props = self.env.events[event].properties if event in self.env.events else {}
        hint = suggest(e.name, props)
        if hint is None:
            hint = (f"`{event}` events have: " + ", ".join(props)) if props else \
                f"`{event}` events have no properties in the schema"
        self.error("LS302", f"`{event}` events have no property `{e.name}`", e.span, hint)

    def _unknown_name(self, e: ast.Name, ctx: Context) -> None:
        env = self.env
        if e.name in env.unreported:
            return
        if ctx.event is not None and env.events is not None and ctx.event in env.events:
            self._unknown_property(e, ctx.event)
            return
        candidates = list(env.fields or ()) + list(env.constants)
        if ctx.allow_scores:
            candidates += list(env.scores) + list(ctx.visible_thresholds) + list(ctx.visible_segments)
        hint = suggest(e.name, candidates)
        if hint is None and e.name.lower() in _BOOLEAN_WORDS:
            hint = f"true and false are written `{_BOOLEAN_WORDS[e.name.lower()]}`"
        if hint is None and env.events is not None and e.name in env.events:
            hint = f"`{e.name}` is an event type: count it with `count({e.name})`"
        self.error("LS300", f"unknown name `{e.name}`: not a lead field, constant or score",
                   e.span, hint)

    # --- operators ------------------------------------------------------------

    def _unary(self, e: ast.Unary, ctx) -> Type:
        if e.op == "not":
            self.check_condition(e.operand, ctx, "the operand of `not`")
            return t.T_BOOLEAN
        found = self.check(e.operand, ctx)
        if found.kind not in (t.NUMBER, t.UNKNOWN):
            return self.error("LS400", f"`-` needs a number; this is {t.a_or_an(found)}", e.span)
        return t.T_NUMBER

    def _arith(self, e: ast.Arith, ctx) -> Type:
        left, right = self.check(e.left, ctx), self.check(e.right, ctx)
        for side, found in ((e.left, left), (e.right, right)):
            if found.kind not in (t.NUMBER, t.UNKNOWN):
                hint = "days_since(...) gives a number of days: write 7, not 7d" \
                    if found.kind == t.DURATION else None
                return self.error("LS400", f"`{e.op}` works on numbers; this is "
                                  f"{t.a_or_an(found)}", side.span, hint)
        return t.T_NUMBER

    def _boolop(self, e: ast.BoolOp, ctx) -> Type:
        for operand in e.operands:
            self.check_condition(operand, ctx, f"each side of `{e.op}`")
        return t.T_BOOLEAN

    def _ismissing(self, e: ast.IsMissing, ctx) -> Type:
        self.check(e.operand, ctx)
        return t.T_BOOLEAN

    def _compare(self, e: ast.Compare, ctx) -> Type:
        if e.op == "matches":
            return self._matches(e, ctx)
        left, right = self.check(e.left, ctx), self.check(e.right, ctx)
        if left.is_unknown or right.is_unknown:
            return t.T_BOOLEAN
        op = e.op
        if op in ("in", "not in"):
            self._membership(e, left, right)
        elif op == "contains":
            if left.kind == t.LIST and right.kind != t.STRING:
                self._mismatch(e, "a list contains strings", right, e.right)
            elif left.kind == t.STRING and right.kind != t.STRING:
                self._mismatch(e, "`contains` on a string looks for a string", right, e.right)
            elif left.kind not in (t.LIST, t.STRING):
                self._mismatch(e, "`contains` works on strings and lists", left, e.left)
            else:
                self._check_enum(left if left.kind == t.LIST else None, e.right)
        elif op in ("starts_with", "ends_with"):
            for side, found in ((e.left, left), (e.right, right)):
                if found.kind != t.STRING:
                    self._mismatch(e, f"`{op}` works on strings", found, side)
        else:
            self._ordering_or_equality(e, left, right)
        return t.T_BOOLEAN

    def _ordering_or_equality(self, e: ast.Compare, left: Type, right: Type) -> None:
        if left.kind != right.kind:
            hint = None
            if t.DURATION in (left.kind, right.kind):
                hint = "days_since(...) gives a number of days: write 7, not 7d"
            elif t.STRING in (left.kind, right.kind) and t.NUMBER in (left.kind, right.kind):
                hint = "numbers are written without quotes"
            self.error("LS400", f"cannot compare {t.a_or_an(left)} with {t.a_or_an(right)}",
                       e.span, hint)
            return
        if e.op not in ("==", "!=") and left.kind not in _ORDERED:
            self.error("LS400", f"`{e.op}` orders numbers and dates; these are {left}s", e.span,
                       "use `==`, `!=` or `in` for strings")
            return
        if e.op in ("==", "!="):
            self._check_enum(left, e.right)
            self._check_enum(right, e.left)

    def _membership(self, e: ast.Compare, left: Type, right: Type) -> None:
        if right.kind != t.LIST:
            self.error("LS405", f"`{e.op}` needs a list on its right; this is "
                       f"{t.a_or_an(right)}", e.right.span,
                       'write a list such as ["a", "b"] or name a list constant')
            return
        if left.kind == t.LIST:
            self.error("LS400", f"`{e.op}` tests one value against a list; the left side is a list",
                       e.left.span, "to test a list field for an item, use `contains`")
            return
        if right.item is not None and left.kind != right.item:
            self.error("LS400", f"cannot look for {t.a_or_an(left)} in a list of {right.item}s",
                       e.span)
            return
        if isinstance(e.right, ast.ListLit):
            for item in e.right.items:
                self._check_enum(left, item)

    def _check_enum(self, declared: Type | None, literal: ast.Expr) -> None:
        if declared is None or not declared.values or not isinstance(literal, ast.String):
            return
        if literal.value in declared.values:
            return
        hint = suggest(literal.value, declared.values)
        if hint is None:
            shown = ", ".join(f'"{v}"' for v in declared.values[:8])
            hint = f"the declared values are {shown}" + (", ..." if len(declared.values) > 8 else "")
        else:
            hint = hint.replace("`", '"', 2)
        self.error("LS404", f'"{literal.value}" is not one of the declared values', literal.span,
                   hint)

    def _mismatch(self, e: ast.Compare, message: str, found: Type, side: ast.Expr) -> None:
        self.error("LS400", f"{message}; this is {t.a_or_an(found)}", side.span)

    def _matches(self, e: ast.Compare, ctx) -> Type:
        left = self.check(e.left, ctx)
        if left.kind not in (t.STRING, t.UNKNOWN):
            self.error("LS406", f"`matches` works on strings; this is {t.a_or_an(left)}",
                       e.left.span)
        pattern = e.right
        if isinstance(pattern, ast.Regex):
            self.check_regex(pattern.pattern, pattern.flags, pattern.span)
        elif isinstance(pattern, ast.Name) and pattern.qualifier is None \
                and pattern.name in self.env.constants:
            found = self._name(pattern, ctx)
            value = self.env.constant_values.get(pattern.name)
            if found.kind != t.STRING:
                self.error("LS406", f"the pattern of `matches` must be a string constant; "
                           f"`{pattern.name}` is {t.a_or_an(found)}", pattern.span)
            elif isinstance(value, str):
                self.check_regex(value, "", pattern.span)
        else:
            self.error("LS406", "the pattern of `matches` must be a regex such as /vp|chief/i "
                       "or a string constant", pattern.span,
                       "patterns are fixed in the rule file, so every one is checked before "
                       "anything runs; to compare with a field, use `==` or `contains`")
        return t.T_BOOLEAN

    def check_regex(self, pattern: str, flags: str, span: Span) -> None:
        problem = regex_error(pattern, flags)
        if problem is not None:
            self.error("LS407", f"invalid regex: {problem}", span,
                       "patterns use RE2 syntax: no backreferences or look-arounds")

    # --- calls ---------------------------------------------------------------------

    def _call(self, e: ast.Call, ctx: Context) -> Type:
        if e.func not in FUNCTIONS:
            for arg in e.args:
                self.check(arg.value, ctx)
            return self.error("LS303", f"unknown function `{e.func}`", e.func_span,
                              suggest(e.func, FUNCTIONS) or "functions: " + ", ".join(FUNCTIONS))
        if e.func not in _EVENT_FUNCTIONS:
            for arg in e.args:
                if arg.where is not None or arg.within is not None:
                    self.error("LS408", f"`where` and `within` belong to count(...) and "
                               f"days_since(...), not {e.func}(...)", arg.span)
        if e.func in _EVENT_FUNCTIONS:
            return getattr(self, "_fn_" + e.func)(e, ctx)
        return self._scalar_function(e, ctx, signature(Function(e.func)))

    def _arity(self, e: ast.Call, low: int, high: int | None) -> bool:
        n = len(e.args)
        if n < low or (high is not None and n > high):
            wanted = f"{low}" if low == high else f"at least {low}" if high is None else f"{low}-{high}"
            self.error("LS408", f"{e.func}(...) takes {wanted} argument{'s' if wanted != '1' else ''}, "
                       f"not {n}", e.span)
            return False
        return True

    def _event_argument(self, e: ast.Call, arg: ast.CallArg, ctx: Context) -> bool:
        """The first argument of count/days_since names an event type."""
        value = arg.value
        if not isinstance(value, ast.Name) or value.qualifier is not None:
            self.error("LS408", f"{e.func}(...) takes an event type, as in "
                       f"`{e.func}(page_view)`", value.span)
            return False
        if not self.check_event_type(value):
            return False
        # A `where` is about the event: it sees properties, fields and
        # constants, never scores (so aggregates can be computed up front).
        inner = Context(event=value.name)
        if arg.where is not None:
            self.check_condition(arg.where, inner, "`where`")
        return True

    def _fn_count(self, e: ast.Call, ctx) -> Type:
        if self._arity(e, 1, 1):
            arg = e.args[0]
            self._event_argument(e, arg, ctx)
            if arg.within is not None:
                self.check_duration(arg.within, "the window")
        return t.T_NUMBER

    def _fn_days_since(self, e: ast.Call, ctx) -> Type:
        if not self._arity(e, 1, 1):
            return t.T_NUMBER
        arg = e.args[0]
        value = arg.value
        fields = self.env.fields
        is_field = isinstance(value, ast.Name) and fields is not None and \
            value.name in fields and (value.qualifier == "lead" or
                                      self.env.events is None or value.name not in self.env.events)
        if is_field:
            found = self._name(value, ctx)
            if found.kind not in (t.DATETIME, t.UNKNOWN):
                self.error("LS408", f"days_since(...) takes an event type or a datetime field; "
                           f"`{value.name}` is {t.a_or_an(found)}", value.span)
            if arg.where is not None:
                self.error("LS408", "`where` filters events; days_since of a field takes none",
                           arg.where.span)
        else:
            self._event_argument(e, arg, ctx)
        if arg.within is not None:
            self.error("LS408", "days_since(...) takes no window", arg.within.span,
                       "compare the result instead: `days_since(demo_request) <= 30`")
        return t.T_NUMBER

    def _scalar_function(self, e: ast.Call, ctx, sig: Signature) -> Type:
        """Arity and argument types from the function's signature in semantics.py."""
        if self._arity(e, sig.low, sig.high):
            for arg in e.args:
                found = self.check(arg.value, ctx)
                if found.kind not in sig.accepts + (t.UNKNOWN,):
                    self.error("LS408", f"{e.func}(...) takes {' or '.join(sig.accepts)}s; this is "
                               f"{t.a_or_an(found)}", arg.span)
        return Type(sig.result)

    # --- numeric and duration references (points, limits, windows) -------------------

    def constant_number(self, node: ast.Number | ast.Name, what: str) -> float | None:
        """The value of a number literal or numeric constant, or None after an error."""
        if isinstance(node, ast.Number):
            return node.value
        found = self._name(node, Context())
        if found.is_unknown:
            return None
        if found.kind != t.NUMBER or node not in self.resolutions \
                or self.resolutions[node].kind != t.CONSTANT:
            self.error("LS403", f"{what} must be a number or a numeric constant; "
                       f"`{node.name}` is {t.a_or_an(found)}"
                       + (" field" if self.resolutions.get(node, None) and
                          self.resolutions[node].kind == t.FIELD else ""), node.span)
            return None
        value = self.env.constant_values.get(node.name)
        return value if isinstance(value, float) else None

    def check_duration(self, node: ast.Duration | ast.Name, what: str) -> float | None:
        """Seconds of a duration literal or duration constant; positive."""
        if isinstance(node, ast.Duration):
            seconds = node.seconds
        elif isinstance(node, ast.Name):
            found = self._name(node, Context())
            if found.is_unknown:
                return None
            if found.kind != t.DURATION or self.resolutions[node].kind != t.CONSTANT:
                self.error("LS409", f"{what} must be a duration such as 30d; `{node.name}` is "
                           f"{t.a_or_an(found)}", node.span)
                return None
            seconds = self.env.constant_values[node.name]
        else:
            self.error("LS409", f"{what} must be a duration such as 30d", node.span)
            return None
        if seconds <= 0:
            self.error("LS504", f"{what} must be longer than zero", node.span)
            return None
        return seconds

"""The syntax tree of a ruleset: frozen dataclasses, each carrying its span.

This is the one tree every later pass reads (checker, formatter, compilers,
differ). Literals keep the text as written so the formatter can reproduce it.
`eq=False` would break the round-trip property tests, so nodes compare by
value; `without_spans` in the tests strips spans when comparing structure.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Iterator, Union

from .diagnostics import Span


# --- expressions -----------------------------------------------------------

@dataclass(frozen=True)
class Number:
    value: float
    text: str
    span: Span


@dataclass(frozen=True)
class String:
    value: str
    text: str  # as written, quotes and escapes included
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class DateTime:
    value: datetime  # always timezone-aware (UTC for a bare date)
    text: str
    is_date: bool
    span: Span


@dataclass(frozen=True)
class Duration:
    seconds: float
    text: str
    span: Span


@dataclass(frozen=True)
class Percent:
    value: float  # 50% -> 50.0
    text: str
    span: Span


@dataclass(frozen=True)
class Regex:
    pattern: str  # with `\/` already turned into `/`
    flags: str  # "" or "i"
    text: str
    span: Span


@dataclass(frozen=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Name:
    """A name in an expression: field, constant, score, event property, ...

    `qualifier` is "event" or "lead" for `event.url` / `lead.industry`, or
    anything else the user wrote (the checker rejects it)."""

    name: str
    qualifier: str | None
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" or "or"
    operands: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Compare:
    # == != < <= > >= in "not in" contains starts_with ends_with matches
    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class IsMissing:
    operand: Expr
    negated: bool  # True for `is present` / `is not missing`
    span: Span


@dataclass(frozen=True)
class CallArg:
    """One argument; `where`/`within` are legal only on count/days_since."""

    value: Expr
    where: Expr | None
    within: Expr | None
    span: Span


@dataclass(frozen=True)
class Call:
    func: str
    func_span: Span
    args: tuple[CallArg, ...]
    span: Span


Expr = Union[Number, String, Bool, DateTime, Duration, Regex, ListLit, Name,
             Unary, Arith, BoolOp, Compare, IsMissing, Call]


# --- names and rule pieces ---------------------------------------------------

@dataclass(frozen=True)
class Ident:
    name: str
    text: str  # as written: `Lead Source` keeps its back-quotes
    span: Span


@dataclass(frozen=True)
class Points:
    sign: int  # +1 or -1, always written
    value: Number | Name  # a literal or a numeric constant
    span: Span


@dataclass(frozen=True)
class DecayNone:
    span: Span


@dataclass(frozen=True)
class DecayHalfLife:
    half_life: Duration | Name
    span: Span


@dataclass(frozen=True)
class DecayLinear:
    length: Duration | Name
    span: Span


@dataclass(frozen=True)
class DecayStep:
    age: Duration | Name
    percent: Percent
    span: Span


@dataclass(frozen=True)
class DecaySteps:
    steps: tuple[DecayStep, ...]
    span: Span


Decay = Union[DecayNone, DecayHalfLife, DecayLinear, DecaySteps]


@dataclass(frozen=True)
class MaxModifier:
    limit: Number | Name
    span: Span


@dataclass(frozen=True)
class DecayModifier:
    decay: Decay
    span: Span


@dataclass(frozen=True)
class OnceModifier:
    span: Span


@dataclass(frozen=True)
class AtMostModifier:
    count: Number | Name
    period: str  # "day" or "week"
    span: Span


Modifier = Union[MaxModifier, DecayModifier, OnceModifier, AtMostModifier]


@dataclass(frozen=True)
class ConditionRule:
    name: Ident
    points: Points
    condition: Expr
    span: Span


@dataclass(frozen=True)
class CaseBranch:
    points: Points
    condition: Expr | None  # None for `otherwise`
    span: Span


@dataclass(frozen=True)
class CaseRule:
    name: Ident
    branches: tuple[CaseBranch, ...]
    span: Span


@dataclass(frozen=True)
class EventRule:
    name: Ident
    points: Points
    event: Ident
    where: Expr | None
    within: Duration | Name | None
    modifiers: tuple[Modifier, ...]
    span: Span


Rule = Union[ConditionRule, CaseRule, EventRule]


@dataclass(frozen=True)
class Group:
    name: Ident
    limit: Number | Name
    rules: tuple[Rule, ...]
    span: Span


@dataclass(frozen=True)
class DecayOption:
    decay: Decay
    span: Span


@dataclass(frozen=True)
class ClampOption:
    low: Expr | None  # a (signed) number or a constant
    high: Expr | None
    span: Span


@dataclass(frozen=True)
class InactivityOption:
    after: Duration | Name
    points: Number | Name  # the `P` of `-P`; the minus is required
    every: Duration | Name
    span: Span


ScoreItem = Union[ConditionRule, CaseRule, EventRule, Group, DecayOption, ClampOption,
                  InactivityOption]


# --- declarations ------------------------------------------------------------

@dataclass(frozen=True)
class RulesetHeader:
    name: String
    version: Number | String
    span: Span


@dataclass(frozen=True)
class EffectiveHeader:
    date: DateTime
    span: Span


@dataclass(frozen=True)
class SchemaHeader:
    path: String
    span: Span


@dataclass(frozen=True)
class ConstDecl:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class ScoreBlock:
    name: Ident
    items: tuple[ScoreItem, ...]
    span: Span


@dataclass(frozen=True)
class DerivedScore:
    name: Ident
    expr: Expr
    span: Span


@dataclass(frozen=True)
class Threshold:
    name: Ident
    condition: Expr
    span: Span


@dataclass(frozen=True)
class SegmentLabel:
    label: Ident
    condition: Expr | None  # None for `otherwise`
    span: Span


@dataclass(frozen=True)
class Segment:
    name: Ident
    labels: tuple[SegmentLabel, ...]
    span: Span


Statement = Union[RulesetHeader, EffectiveHeader, SchemaHeader, ConstDecl, ScoreBlock,
                  DerivedScore, Threshold, Segment]
Declaration = Union[ConstDecl, ScoreBlock, DerivedScore, Threshold, Segment]


@dataclass(frozen=True)
class Comment:
    text: str  # from `#` to the end of the line
    own_line: bool  # alone on its line (else trailing after code)
    span: Span


@dataclass(frozen=True)
class Ruleset:
    file: str
    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...]
    # Names of declarations that failed to parse: their syntax error is
    # reported, so a use of one is not reported again as an unknown name.
    unparsed: tuple[str, ...] = ()

    @property
    def header(self) -> RulesetHeader | None:
        return next((s for s in self.statements if isinstance(s, RulesetHeader)), None)

    @property
    def schema(self) -> SchemaHeader | None:
        return next((s for s in self.statements if isinstance(s, SchemaHeader)), None)

    @property
    def effective(self) -> EffectiveHeader | None:
        return next((s for s in self.statements if isinstance(s, EffectiveHeader)), None)

    @property
    def declarations(self) -> tuple[Declaration, ...]:
        return tuple(s for s in self.statements
                     if isinstance(s, (ConstDecl, ScoreBlock, DerivedScore, Threshold, Segment)))


def rules_of(block: ScoreBlock) -> list[Rule]:
    """Every rule of a score block, groups flattened, in declaration order."""
    out: list[Rule] = []
    for item in block.items:
        if isinstance(item, Group):
            out.extend(item.rules)
        elif isinstance(item, (ConditionRule, CaseRule, EventRule)):
            out.append(item)
    return out


def walk(node) -> Iterator[object]:
    """Every node below and including `node`, parents first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children = []
        for f in fields(current):
            value = getattr(current, f.name)
            if isinstance(value, tuple):
                children.extend(v for v in value if hasattr(v, "__dataclass_fields__"))
            elif hasattr(value, "__dataclass_fields__") and not isinstance(value, Span):
                children.append(value)
        stack.extend(reversed(children))

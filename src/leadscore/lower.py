"""Checked ruleset -> ScoringProgram: the one form every evaluator reads.

The AST keeps what the user wrote (for the checker, the formatter and `diff`); this pass
decides everything the evaluators would otherwise each decide again. Names are resolved to
what they are (a field with its slot, an event property, a constant's value), constants are
folded to values (their names kept for output), every per-event rule carries its effective
decay, window, `once`, `at most` and `max`, and points carry their sign. Expressions are a
small closed set of operations whose meaning is in semantics.py.

A backend (the interpreter, the Python code generator, a SQL or columnar engine) walks the
program's dataclasses with `match`; nothing here depends on how it will be run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Iterator, Mapping, Union, assert_never

from .dsl import ast
from .dsl import types as t
from .dsl.checker import CheckedRuleset
from .semantics import DAY, Comparison, Decay, Function, Period, decided_decay

# --- expressions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    value: Any                 # the runtime representation: float, str, bool, epoch seconds, tuple
    name: str | None = None    # the constant's name, when it was one


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    slot: int                  # position in ScoringProgram.fields


@dataclass(frozen=True, slots=True)
class Property:
    name: str                  # of the event being filtered by a `where`


@dataclass(frozen=True, slots=True)
class ScoreRef:
    name: str


@dataclass(frozen=True, slots=True)
class ThresholdRef:
    name: str


@dataclass(frozen=True, slots=True)
class SegmentRef:
    name: str


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list literal with an item that is not a constant (`[industry, "Other"]`)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Arithmetic:
    op: str                    # + - * /   (a division by zero is missing)
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Logic:
    op: str                    # "and" / "or"
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: Comparison             # never MATCHES (see Matches)
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Matches:
    operand: Expr
    pattern: str
    flags: str


@dataclass(frozen=True, slots=True)
class IsMissing:
    operand: Expr
    negated: bool              # `is present`


@dataclass(frozen=True, slots=True)
class Apply:
    """A scalar function of semantics.py (not count/days_since of events)."""

    function: Function
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Aggregate:
    """count(...) or days_since(...) over one event type of the lead, at or before the instant."""

    function: Function
    event: str
    where: Expr | None
    within: float | None       # seconds
    line: int


@dataclass(frozen=True, slots=True)
class DaysSinceField:
    field: Field


Expr = Union[Const, Field, Property, ScoreRef, ThresholdRef, SegmentRef, ListOf, Negate, Arithmetic,
             Not, Logic, Compare, Matches, IsMissing, Apply, Aggregate, DaysSinceField]


# --- rules and declarations --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConditionRule:
    name: str
    line: int
    points: float              # signed
    condition: Expr


@dataclass(frozen=True, slots=True)
class CaseBranch:
    points: float
    condition: Expr | None     # None: otherwise


@dataclass(frozen=True, slots=True)
class CaseRule:
    name: str
    line: int
    branches: tuple[CaseBranch, ...]


@dataclass(frozen=True, slots=True)
class AtMost:
    count: int
    period: Period


@dataclass(frozen=True, slots=True)
class EventRule:
    """Per-event points, every modifier decided: the block's default decay applied, `once`
    winning over `at most` (LS512)."""

    name: str
    line: int
    points: float              # signed; each counted event gives |points| x decay
    event: str
    where: Expr | None
    within: float | None       # seconds
    decay: Decay
    once: bool
    at_most: AtMost | None
    cap: float | None          # `max`


Rule = Union[ConditionRule, CaseRule, EventRule]


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    line: int
    limit: float
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Inactivity:
    after: float               # seconds
    points: float              # the penalty per interval (positive)
    every: float               # seconds


@dataclass(frozen=True, slots=True)
class Clamp:
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class ScoreBlock:
    """Rules (and groups) add up; then inactivity, then clamp (docs/language.md)."""

    name: str
    line: int
    items: tuple[Rule | Group, ...]
    inactivity: Inactivity | None
    clamp: Clamp | None
    constants: frozenset[str]  # every constant the block names, folded values included (for sweeps)

    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for item in self.items for r in (item.rules if isinstance(item, Group) else (item,)))


@dataclass(frozen=True, slots=True)
class DerivedScore:
    name: str
    line: int
    expr: Expr


@dataclass(frozen=True, slots=True)
class Threshold:
    name: str
    line: int
    condition: Expr


@dataclass(frozen=True, slots=True)
class SegmentLabel:
    label: str
    condition: Expr | None


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    line: int
    labels: tuple[SegmentLabel, ...]


@dataclass(frozen=True)
class ScoringProgram:
    name: str
    version: str
    file: str
    field_types: Mapping[str, str]                     # every schema field, in schema order
    property_types: Mapping[str, Mapping[str, str]]    # event type -> property -> type
    field_missing: Mapping[str, tuple[str, ...]]       # field -> the texts that mean no value
    property_missing: Mapping[str, Mapping[str, tuple[str, ...]]]   # event type -> property -> texts
    scores: tuple[str, ...]                            # blocks and derived, declaration order
    blocks: tuple[ScoreBlock, ...]
    derived: tuple[DerivedScore, ...]                  # each after the scores it uses
    decisions: tuple[Threshold | Segment, ...]         # declaration order: each sees the earlier ones

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.field_types)

    @property
    def thresholds(self) -> tuple[Threshold, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Threshold))

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Segment))


def lower(checked: CheckedRuleset) -> ScoringProgram:
    lowering = _Lowering(checked)
    decls = checked.ruleset.declarations
    derived = {d.name.name: d for d in decls if isinstance(d, ast.DerivedScore)}
    schema = checked.schema
    return ScoringProgram(
        checked.name, checked.version, checked.ruleset.file,
        MappingProxyType({n: s.type for n, s in schema.fields.items()}),
        MappingProxyType({n: MappingProxyType({p: s.type for p, s in e.properties.items()})
                          for n, e in schema.events.items()}),
        MappingProxyType({n: s.missing for n, s in schema.fields.items() if s.missing}),
        MappingProxyType({n: MappingProxyType(m) for n, e in schema.events.items()
                          if (m := {p: s.missing for p, s in e.properties.items() if s.missing})}),
        tuple(d.name.name for d in decls if isinstance(d, (ast.ScoreBlock, ast.DerivedScore))),
        tuple(lowering.block(d) for d in decls if isinstance(d, ast.ScoreBlock)),
        tuple(DerivedScore(n, derived[n].span.line, lowering.expr(derived[n].expr))
              for n in checked.derived_order),
        tuple(lowering.decision(d) for d in decls if isinstance(d, (ast.Threshold, ast.Segment))))


def lower_expr(checked: CheckedRuleset, expr: ast.Expr) -> Expr:
    """One checked expression (for explanations and the replay analysis' atoms)."""
    return _Lowering(checked).expr(expr)


def runtime_constant(value: Any) -> Any:
    """A checked constant in the runtime representation (datetimes as epoch seconds)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, tuple):
        return tuple(runtime_constant(v) for v in value)
    return value


class _Lowering:
    def __init__(self, checked: CheckedRuleset) -> None:
        self.resolutions = checked.resolutions
        self.constants = {n: runtime_constant(v) for n, v in checked.constants.items()}
        self.slots = {name: i for i, name in enumerate(checked.schema.fields)}

    # --- constants in rule positions ---------------------------------------------------

    def number(self, node: ast.Number | ast.Name) -> float:
        return float(node.value if isinstance(node, ast.Number) else self.constants[node.name])

    def seconds(self, node: ast.Duration | ast.Name) -> float:
        return float(node.seconds if isinstance(node, ast.Duration) else self.constants[node.name])

    def points(self, points: ast.Points) -> float:
        return points.sign * self.number(points.value)

    def decay(self, decay: ast.Decay | None) -> Decay:
        decided = decided_decay(decay, lambda duration: self.seconds(duration) / DAY)
        if decided is None:   # the checker refuses what the registry cannot decide
            raise TypeError(f"not a decay: {decay!r}")
        return decided

    def decision(self, d: ast.Threshold | ast.Segment) -> Threshold | Segment:
        if isinstance(d, ast.Threshold):
            return Threshold(d.name.name, d.span.line, self.expr(d.condition))
        return Segment(d.name.name, d.span.line,
                       tuple(SegmentLabel(label.label.name, self.optional(label.condition))
                             for label in d.labels))

    # --- score blocks --------------------------------------------------------------------

    def block(self, block: ast.ScoreBlock) -> ScoreBlock:
        default = next((i.decay for i in block.items if isinstance(i, ast.DecayOption)), None)
        items: list[Rule | Group] = []
        inactivity = clamp = None
        for item in block.items:
            if isinstance(item, ast.Group):
                items.append(Group(item.name.name, item.span.line, self.number(item.limit),
                                   tuple(self.rule(r, default) for r in item.rules)))
            elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                items.append(self.rule(item, default))
            elif isinstance(item, ast.InactivityOption):
                inactivity = Inactivity(self.seconds(item.after), self.number(item.points),
                                        self.seconds(item.every))
            elif isinstance(item, ast.ClampOption):
                clamp = Clamp(None if item.low is None else self.number(item.low),
                              None if item.high is None else self.number(item.high))
        named = frozenset(n.name for n in ast.walk(block) if isinstance(n, ast.Name)
                          and (symbol := self.resolutions.get(n)) is not None and symbol.kind == t.CONSTANT)
        return ScoreBlock(block.name.name, block.span.line, tuple(items), inactivity, clamp, named)

    def rule(self, rule: ast.Rule, default: ast.Decay | None) -> Rule:
        name, line = rule.name.name, rule.span.line
        if isinstance(rule, ast.ConditionRule):
            return ConditionRule(name, line, self.points(rule.points), self.expr(rule.condition))
        if isinstance(rule, ast.CaseRule):
            return CaseRule(name, line, tuple(CaseBranch(self.points(b.points), self.optional(b.condition))
                                          for b in rule.branches))
        modifiers = {type(m): m for m in rule.modifiers}
        once = ast.OnceModifier in modifiers
        at_most = modifiers.get(ast.AtMostModifier)
        decay = modifiers[ast.DecayModifier].decay if ast.DecayModifier in modifiers else default
        cap = modifiers.get(ast.MaxModifier)
        return EventRule(
            name, line, self.points(rule.points), rule.event.name, self.optional(rule.where),
            None if rule.within is None else self.seconds(rule.within), self.decay(decay), once,
            None if once or at_most is None else AtMost(int(self.number(at_most.count)), Period(at_most.period)),
            None if cap is None else self.number(cap.limit))

    # --- expressions ---------------------------------------------------------------------

    def optional(self, expr: ast.Expr | None) -> Expr | None:
        return None if expr is None else self.expr(expr)

    def expr(self, e: ast.Expr) -> Expr:
        match e:
            case ast.Number() | ast.String() | ast.Bool():
                return Const(e.value)
            case ast.DateTime():
                return Const(e.value.timestamp())
            case ast.Duration():
                return Const(e.seconds)
            case ast.ListLit():
                items = tuple(self.expr(i) for i in e.items)
                if all(isinstance(i, Const) for i in items):
                    return Const(tuple(i.value for i in items))
                return ListOf(items)
            case ast.Name():
                return self.name(e)
            case ast.Unary(op="not"):
                return Not(self.expr(e.operand))
            case ast.Unary():
                return Negate(self.expr(e.operand))
            case ast.Arith():
                return Arithmetic(e.op, self.expr(e.left), self.expr(e.right))
            case ast.BoolOp():
                return Logic(e.op, tuple(self.expr(o) for o in e.operands))
            case ast.IsMissing():
                return IsMissing(self.expr(e.operand), e.negated)
            case ast.Compare(op="matches"):
                if isinstance(e.right, ast.Regex):
                    return Matches(self.expr(e.left), e.right.pattern, e.right.flags)
                return Matches(self.expr(e.left), self.constants[e.right.name], "")
            case ast.Compare():
                return Compare(Comparison(e.op), self.expr(e.left), self.expr(e.right))
            case ast.Call():
                return self.call(e)
        raise TypeError(f"not an expression: {e!r}")

    def name(self, e: ast.Name) -> Expr:
        symbol = self.resolutions[e]
        match symbol.kind:
            case t.FIELD:
                return Field(e.name, self.slots[e.name])
            case t.PROPERTY:
                return Property(e.name)
            case t.CONSTANT:
                return Const(self.constants[e.name], e.name)
            case t.SCORE:
                return ScoreRef(e.name)
            case t.THRESHOLD:
                return ThresholdRef(e.name)
            case t.SEGMENT:
                return SegmentRef(e.name)
        raise TypeError(f"a name of unknown kind: {symbol!r}")

    def call(self, e: ast.Call) -> Expr:
        function = Function(e.func)
        if function not in (Function.COUNT, Function.DAYS_SINCE):
            return Apply(function, tuple(self.expr(a.value) for a in e.args))
        arg = e.args[0]
        symbol = self.resolutions.get(arg.value) if isinstance(arg.value, ast.Name) else None
        if function is Function.DAYS_SINCE and symbol is not None and symbol.kind == t.FIELD:
            return DaysSinceField(Field(arg.value.name, self.slots[arg.value.name]))
        return Aggregate(function, arg.value.name, self.optional(arg.where),
                         None if arg.within is None else self.seconds(arg.within), e.span.line)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The expressions directly below `expr` (an aggregate's `where` included)."""
    match expr:
        case Const() | Field() | Property() | ScoreRef() | ThresholdRef() | SegmentRef():
            found: tuple[Expr | None, ...] = ()
        case Negate() | Not() | IsMissing() | Matches():
            found = (expr.operand,)
        case Arithmetic() | Compare():
            found = (expr.left, expr.right)
        case Logic():
            found = expr.operands
        case ListOf():
            found = expr.items
        case Apply():
            found = expr.args
        case Aggregate():
            found = (expr.where,)
        case DaysSinceField():
            found = (expr.field,)
        case _:
            assert_never(expr)
    return tuple(c for c in found if c is not None)


def walk(expr: Expr) -> Iterator[Expr]:
    """Every expression below and including `expr`, parents first (a `where` included)."""
    stack = [expr]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def roots(program: ScoringProgram) -> Iterator[tuple[int, str | None, Expr]]:
    """(rule-file line, the event type it is a `where` of or None, expression) of every
    condition, `where` and derived score of the program (`otherwise` has none)."""
    found: list[tuple[int, str | None, Expr | None]] = []
    for block in program.blocks:
        for rule in block.rules():
            if isinstance(rule, ConditionRule):
                found.append((rule.line, None, rule.condition))
            elif isinstance(rule, CaseRule):
                found += [(rule.line, None, branch.condition) for branch in rule.branches]
            else:
                found.append((rule.line, rule.event, rule.where))
    found += [(derived.line, None, derived.expr) for derived in program.derived]
    for decision in program.decisions:
        if isinstance(decision, Threshold):
            found.append((decision.line, None, decision.condition))
        else:
            found += [(decision.line, None, label.condition) for label in decision.labels]
    return ((line, event, root) for line, event, root in found if root is not None)


def properties_read(program: ScoringProgram) -> dict[str, dict[str, str]]:
    """Event type -> the properties (and their types) some `where` over that type reads: the
    only ones a scorer looks at without strict. A property belongs to the innermost `where`
    around it."""
    read: dict[str, set[str]] = {kind: set() for kind in program.property_types}

    def visit(expr: Expr, event: str | None) -> None:
        if isinstance(expr, Aggregate):
            if expr.where is not None:
                visit(expr.where, expr.event)
            return
        if isinstance(expr, Property) and event is not None:
            read[event].add(expr.name)
        for child in children(expr):
            visit(child, event)

    for _, event, root in roots(program):
        visit(root, event)
    return {kind: {name: kind_type for name, kind_type in types.items() if name in read[kind]}
            for kind, types in program.property_types.items()}

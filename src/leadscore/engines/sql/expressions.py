"""Lowered expressions -> sqlglot expressions (docs/language.md), missing = NULL.

SQL's three-valued logic is not the language's: a comparison with a missing side is false and
`!=`/`not in` are its negation (true), `not` of missing is true. So every condition is made
two-valued where it is used (`COALESCE(c, FALSE)`), and the negations are written as
`NOT COALESCE(positive, FALSE)`, never as SQL's `<>` or `NOT IN`.

User text (strings, patterns, list items) only enters as sqlglot literals, which the
generator escapes for each dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlglot import exp

from ... import lower as lo
from ... import semantics as sem
from ...dsl import types as t

DAY = sem.DAY


@dataclass
class Columns:
    """Where the values of one evaluation context live (internal column names only)."""

    field: Callable[[lo.Field], exp.Expression]
    instant: exp.Expression
    property: Callable[[lo.Property], exp.Expression] | None = None
    aggregate: Callable[[lo.Aggregate], exp.Expression] | None = None
    scores: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)


def column(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def truth(condition: exp.Expression) -> exp.Expression:
    """A condition in a boolean context: missing is false."""
    return exp.Coalesce(this=condition, expressions=[exp.false()])


class ExprBuilder:
    def __init__(self, program: lo.ScoringProgram) -> None:
        self.program = program
        self.where_event: str | None = None   # the event a `where` is about, while building one

    def kind(self, e: lo.Expr) -> str | None:
        """The value's type where it decides the SQL (list or string), else None."""
        match e:
            case lo.Field():
                return self.program.field_types[e.name]
            case lo.Property() if self.where_event is not None:
                return self.program.property_types[self.where_event].get(e.name)
            case lo.Const():
                return t.LIST if isinstance(e.value, tuple) else None
            case lo.ListOf():
                return t.LIST
        return None

    def condition(self, e: lo.Expr, cols: Columns) -> exp.Expression:
        return truth(self.value(e, cols))

    def value(self, e: lo.Expr, cols: Columns) -> exp.Expression:
        match e:
            case lo.Const():
                return self.const(e.value)
            case lo.Field():
                return cols.field(e)
            case lo.Property():
                assert cols.property is not None, "a property outside a where"
                return cols.property(e)
            case lo.ScoreRef():
                return column(cols.scores[e.name])
            case lo.ThresholdRef() | lo.SegmentRef():
                return column(cols.decisions[e.name])
            case lo.ListOf():
                return exp.Array(expressions=[self.value(i, cols) for i in e.items])
            case lo.Negate():
                return exp.Neg(this=exp.Paren(this=self.value(e.operand, cols)))
            case lo.Not():
                return exp.Not(this=self.condition(e.operand, cols))
            case lo.Arithmetic():
                return self.arithmetic(e, cols)
            case lo.Logic():
                join = exp.and_ if e.op == "and" else exp.or_
                return exp.Paren(this=join(*(self.condition(o, cols) for o in e.operands)))
            case lo.IsMissing():
                test = exp.Is(this=self.value(e.operand, cols), expression=exp.Null())
                return exp.Not(this=test) if e.negated else test
            case lo.Compare():
                return self.compare(e, cols)
            case lo.Matches():
                pattern = f"(?i){e.pattern}" if "i" in e.flags else e.pattern
                return exp.RegexpLike(this=self.value(e.operand, cols), expression=exp.Literal.string(pattern))
            case lo.Apply():
                list_argument = e.function is sem.Function.LEN and self.kind(e.args[0]) == t.LIST
                return sem.function_sql(e.function, [self.value(a, cols) for a in e.args], list_argument)
            case lo.Aggregate():
                assert cols.aggregate is not None, "an aggregate inside a where"
                return cols.aggregate(e)
            case lo.DaysSinceField():
                return exp.Div(this=exp.Paren(this=exp.Sub(this=cols.instant.copy(), expression=cols.field(e.field))),
                               expression=sem.sql_number(DAY))
        raise TypeError(f"not an expression: {e!r}")

    def const(self, value) -> exp.Expression:
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, (int, float)):
            return sem.sql_number(value)
        if isinstance(value, str):
            return exp.Literal.string(value)
        if isinstance(value, tuple):
            return exp.Array(expressions=[self.const(v) for v in value])
        if value is None:
            return exp.Null()
        raise TypeError(f"a constant of unknown type: {value!r}")

    def arithmetic(self, e: lo.Arithmetic, cols: Columns) -> exp.Expression:
        left, right = self.value(e.left, cols), self.value(e.right, cols)
        match e.op:
            case "+":
                return exp.Paren(this=exp.Add(this=left, expression=right))
            case "-":
                return exp.Paren(this=exp.Sub(this=left, expression=right))
            case "*":
                return exp.Paren(this=exp.Mul(this=left, expression=right))
        # division by zero is missing (SQL engines differ: an error, NULL or infinity)
        nonzero = exp.NEQ(this=right.copy(), expression=sem.sql_number(0.0))
        return exp.Case(ifs=[exp.If(this=nonzero, true=exp.Div(this=left, expression=right))])

    def compared(self, e: lo.Expr, cols: Columns) -> exp.Expression:
        """An operand of a comparison. A computed number can be NaN (an infinity minus an
        infinity): Python compares it false, but DuckDB, Postgres and Snowflake order NaN above
        every number and equal to itself, so here it is missing, which compares false too."""
        value = self.value(e, cols)
        computed = isinstance(e, (lo.Arithmetic, lo.Negate)) or (
            isinstance(e, lo.Apply) and e.function in (sem.Function.MIN, sem.Function.MAX))
        if not computed:
            return value
        return exp.Case(ifs=[exp.If(this=exp.IsNan(this=value.copy()), true=exp.Null())], default=value)

    def compare(self, e: lo.Compare, cols: Columns) -> exp.Expression:
        positive = sem.negated(e.op)
        op = positive or e.op
        left = self.compared(e.left, cols)
        if op is sem.Comparison.IN and isinstance(e.right, (lo.Const, lo.ListOf)):
            items = e.right.value if isinstance(e.right, lo.Const) else e.right.items
            right = [self.const(i) if isinstance(e.right, lo.Const) else self.value(i, cols) for i in items]
            found = sem.compare_sql(op, left, right)
        else:
            found = sem.compare_sql(op, left, self.compared(e.right, cols),
                                    left_list=self.kind(e.left) == t.LIST, right_list=self.kind(e.right) == t.LIST)
        return exp.Not(this=truth(found)) if positive is not None else exp.Paren(this=found)

"""Every operation of the language, defined once (docs/language.md).

For each function, decay kind, `at most` period and comparison: what the checker needs
(arity, argument and result types), the Python runtime form (a callable of
compiler/runtime.py for the interpreter, the source text the code generator writes), the
vectorised NumPy form the sweep and columnar engines use, and how the value can move as
time passes with the lead's inputs fixed (for the replay analysis).

Each table is over a closed enum and dispatched with `match` + `assert_never`, so a member
without a definition fails the type checker and the registry test, never silently at scoring
time. NumPy is imported inside the vectorised forms only: `leadscore check` never loads it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Callable, assert_never

from .compiler import runtime as rt
from .dsl import ast
from .dsl import types as t

DAY = rt.DAY
UNIT_SECONDS = {"h": 3600.0, "d": DAY, "w": 7 * DAY}   # the units of a duration literal


class Motion(Enum):
    """How a value can move while only the instant moves (inputs fixed)."""

    CONSTANT = "constant"
    RISES = "rises"     # never falls
    FALLS = "falls"     # never rises
    ANY = "any"


# --- functions ------------------------------------------------------------------------------

class Function(StrEnum):
    COUNT = "count"
    DAYS_SINCE = "days_since"
    DOMAIN = "domain"
    LOWER = "lower"
    UPPER = "upper"
    LEN = "len"
    MIN = "min"
    MAX = "max"


@dataclass(frozen=True)
class Signature:
    low: int                      # fewest arguments
    high: int | None              # most (None: any number)
    accepts: tuple[str, ...]      # argument kinds (types.py); () for an event argument
    result: str                   # the result's kind
    on_events: bool               # takes an event type, with `where` and `within`


def signature(function: Function) -> Signature:
    match function:
        case Function.COUNT:
            return Signature(1, 1, (), t.NUMBER, True)
        case Function.DAYS_SINCE:
            return Signature(1, 1, (), t.NUMBER, True)
        case Function.DOMAIN | Function.LOWER | Function.UPPER:
            return Signature(1, 1, (t.STRING,), t.STRING, False)
        case Function.LEN:
            return Signature(1, 1, (t.STRING, t.LIST), t.NUMBER, False)
        case Function.MIN | Function.MAX:
            return Signature(1, None, (t.NUMBER,), t.NUMBER, False)
        case _:
            assert_never(function)


def apply(function: Function, values: list[Any]) -> Any:
    """The Python runtime form of a scalar function (not count/days_since, which read events)."""
    match function:
        case Function.LEN:
            return 0.0 if values[0] is None else float(len(values[0]))
        case Function.DOMAIN:
            return rt.domain(values[0])
        case Function.LOWER:
            return None if values[0] is None else values[0].lower()
        case Function.UPPER:
            return None if values[0] is None else values[0].upper()
        case Function.MIN:
            return rt.min_or_missing(*values)
        case Function.MAX:
            return rt.max_or_missing(*values)
        case Function.COUNT | Function.DAYS_SINCE:
            raise ValueError(f"{function} reads events: it is not a scalar function")
        case _:
            assert_never(function)


def python_source(function: Function, args: list[tuple[str, str, bool]]) -> tuple[str, bool]:
    """Generated code of a scalar function: args are (code, name bound to its value, may be
    missing), the code binding the name on first use. Returns (code, may be missing)."""
    (first, name, missing), *_ = args
    match function:
        case Function.LEN:
            if not missing:
                return f"float(len({first}))", False
            return f"(0.0 if {first} is None else float(len({name})))", False
        case Function.DOMAIN:
            return f"_rt.domain({first})", True
        case Function.LOWER | Function.UPPER:
            if not missing:
                return f"{first}.{function.value}()", False
            return f"(None if {first} is None else {name}.{function.value}())", True
        case Function.MIN | Function.MAX:
            joined = ", ".join(code for code, _, _ in args)
            if not any(m for _, _, m in args):
                # Python's min/max of one argument wants an iterable
                return (f"{function.value}({joined})" if len(args) > 1 else first), False
            return f"_rt.{function.value}_or_missing({joined})", True
        case Function.COUNT | Function.DAYS_SINCE:
            raise ValueError(f"{function} reads events: it is not a scalar function")
        case _:
            assert_never(function)


def vectorised(function: Function, columns: list[Any]) -> Any:
    """The NumPy form over float columns (missing = nan); numeric functions only."""
    import numpy as np

    match function:
        case Function.MIN | Function.MAX:
            combine = np.minimum if function is Function.MIN else np.maximum
            out = columns[0]
            for column in columns[1:]:
                out = combine(out, column)   # nan in, nan out: missing stays missing
            return out
        case Function.COUNT | Function.DAYS_SINCE | Function.DOMAIN | Function.LOWER | \
                Function.UPPER | Function.LEN:
            raise ValueError(f"{function} has no form over recorded score columns")
        case _:
            assert_never(function)


def function_motion(function: Function, within: bool) -> Motion:
    """How an aggregate of fixed events moves as the instant passes (`within`: it has a
    window); scalar functions move as their arguments do (see the analysis)."""
    match function:
        case Function.COUNT:
            return Motion.FALLS if within else Motion.CONSTANT   # events leave the window
        case Function.DAYS_SINCE:
            return Motion.RISES
        case Function.DOMAIN | Function.LOWER | Function.UPPER | Function.LEN | Function.MIN | \
                Function.MAX:
            return Motion.ANY
        case _:
            assert_never(function)


# --- decay ------------------------------------------------------------------------------------

class DecayKind(StrEnum):
    NONE = "none"
    HALF_LIFE = "half_life"
    LINEAR = "linear"
    STEPS = "steps"


@dataclass(frozen=True)
class Decay:
    """A decided decay: parameters in days (steps: ages in days and fractions 0..1)."""

    kind: DecayKind
    days: float = 0.0
    ages: tuple[float, ...] = ()
    fractions: tuple[float, ...] = ()


NO_DECAY = Decay(DecayKind.NONE)


def decay_factor(decay: Decay, age_days: float) -> float:
    match decay.kind:
        case DecayKind.NONE:
            return 1.0
        case DecayKind.HALF_LIFE:
            return rt.decay_half_life(age_days, decay.days)
        case DecayKind.LINEAR:
            return rt.decay_linear(age_days, decay.days)
        case DecayKind.STEPS:
            return rt.decay_steps(age_days, decay.ages, decay.fractions)
        case _:
            assert_never(decay.kind)


def decay_source(decay: Decay, age: str, table: Callable[[str, tuple[float, ...]], str]) -> str:
    """The generated factor (with its leading ` * `) for an age in days given as code; `table`
    (what, values) -> the name of a module-level tuple the code generator writes once."""
    match decay.kind:
        case DecayKind.NONE:
            return " * 1.0"
        case DecayKind.HALF_LIFE:
            return f" * 0.5 ** ({age} / {decay.days!r})"
        case DecayKind.LINEAR:
            return f" * max(0.0, 1.0 - {age} / {decay.days!r})"
        case DecayKind.STEPS:
            return f" * _rt.decay_steps({age}, {table('ages', decay.ages)}, {table('fractions', decay.fractions)})"
        case _:
            assert_never(decay.kind)


def decay_vectorised(decay: Decay, age_days: Any) -> Any:
    import numpy as np

    match decay.kind:
        case DecayKind.NONE:
            return np.ones_like(age_days, dtype=float)
        case DecayKind.HALF_LIFE:
            return 0.5 ** (age_days / decay.days)
        case DecayKind.LINEAR:
            return np.maximum(0.0, 1.0 - age_days / decay.days)
        case DecayKind.STEPS:
            index = np.searchsorted(np.asarray(decay.ages), age_days, side="right")
            return np.concatenate(([1.0], decay.fractions))[index]
        case _:
            assert_never(decay.kind)


def decay_motion(decay: Decay) -> Motion:
    """How an event's factor moves as it ages."""
    match decay.kind:
        case DecayKind.NONE:
            return Motion.CONSTANT
        case DecayKind.HALF_LIFE | DecayKind.LINEAR | DecayKind.STEPS:
            return Motion.FALLS   # steps: LS502 only warns on rising percentages; see analysis
        case _:
            assert_never(decay.kind)


def decided_decay(written: ast.Decay | None, days: Callable[[ast.Duration | ast.Name], float | None]) -> Decay | None:
    """The decay a rule file writes (None: none written), decided: `days` reads a duration as
    written (a literal, or a constant's name) in days, or None when it cannot. None when the
    decay cannot be decided (a duration not known, a half-life or length not above zero: the
    checker reports those; the editor meets them in files that do not check yet)."""
    match written:
        case None | ast.DecayNone():
            return NO_DECAY
        case ast.DecayHalfLife(half_life=half_life):
            found = days(half_life)
            return Decay(DecayKind.HALF_LIFE, found) if found is not None and found > 0 else None
        case ast.DecayLinear(length=length):
            found = days(length)
            return Decay(DecayKind.LINEAR, found) if found is not None and found > 0 else None
        case ast.DecaySteps(steps=steps):
            ages = tuple(days(step.age) for step in steps)
            if any(age is None for age in ages):
                return None
            return Decay(DecayKind.STEPS, 0.0, ages, tuple(step.percent.value / 100 for step in steps))
        case _:
            assert_never(written)


def decay_words(written: ast.Decay | None, duration: Callable[[ast.Duration | ast.Name], str]) -> str:
    """What a decay does, in words (the editor's hover); `duration` shows a duration as written."""
    match written:
        case None | ast.DecayNone():
            return "do not decay"
        case ast.DecayHalfLife(half_life=half_life):
            return f"halve every {duration(half_life)}"
        case ast.DecayLinear(length=length):
            return f"fade evenly to nothing over {duration(length)}"
        case ast.DecaySteps(steps=steps):
            return "keep 100% at first, then " + ", ".join(f"{s.percent.text} from {duration(s.age)}" for s in steps)
        case _:
            assert_never(written)


# --- the calendar buckets of `at most` ----------------------------------------------------

class Period(StrEnum):
    DAY = "day"
    WEEK = "week"


def bucket(period: Period) -> Callable[[float], int]:
    match period:
        case Period.DAY:
            return rt.day_bucket
        case Period.WEEK:
            return rt.week_bucket
        case _:
            assert_never(period)


def bucket_source(period: Period, at: str) -> str:
    match period:
        case Period.DAY:
            return f"int({at} // 86400.0)"
        case Period.WEEK:
            return f"int(({at} // 86400.0 + 3) // 7)"   # ISO weeks: the epoch was a Thursday
        case _:
            assert_never(period)


def bucket_vectorised(period: Period, at: Any) -> Any:
    import numpy as np

    match period:
        case Period.DAY:
            return np.floor_divide(at, DAY).astype(np.int64)
        case Period.WEEK:
            return ((np.floor_divide(at, DAY) + 3) // 7).astype(np.int64)
        case _:
            assert_never(period)


# --- comparisons ------------------------------------------------------------------------------

class Comparison(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    MATCHES = "matches"


def negated(op: Comparison) -> Comparison | None:
    """`!=` and `not in` are the negation of `==` and `in`: true when a side is missing."""
    match op:
        case Comparison.NE:
            return Comparison.EQ
        case Comparison.NOT_IN:
            return Comparison.IN
        case Comparison.EQ | Comparison.LT | Comparison.LE | Comparison.GT | Comparison.GE | \
                Comparison.IN | Comparison.CONTAINS | Comparison.STARTS_WITH | \
                Comparison.ENDS_WITH | Comparison.MATCHES:
            return None
        case _:
            assert_never(op)


def compare(op: Comparison, left: Any, right: Any) -> bool:
    """A positive comparison (not `!=`, `not in`, `matches`): false when a side is missing."""
    if left is None or right is None:
        return False
    return _positive(op)(left, right)


def _positive(op: Comparison) -> Callable[[Any, Any], bool]:
    match op:
        case Comparison.EQ:
            return operator.eq
        case Comparison.LT:
            return operator.lt
        case Comparison.LE:
            return operator.le
        case Comparison.GT:
            return operator.gt
        case Comparison.GE:
            return operator.ge
        case Comparison.IN:
            return lambda left, right: left in right
        case Comparison.CONTAINS:
            return lambda left, right: right in left
        case Comparison.STARTS_WITH:
            return lambda left, right: left.startswith(right)
        case Comparison.ENDS_WITH:
            return lambda left, right: left.endswith(right)
        case Comparison.NE | Comparison.NOT_IN | Comparison.MATCHES:
            raise ValueError(f"{op} is not a positive comparison")
        case _:
            assert_never(op)


def compare_source(op: Comparison, left: str, right: str) -> str:
    """Generated code of a positive comparison of two present values."""
    match op:
        case Comparison.EQ | Comparison.LT | Comparison.LE | Comparison.GT | Comparison.GE:
            return f"{left} {op.value} {right}"
        case Comparison.IN:
            return f"{left} in {right}"
        case Comparison.CONTAINS:
            return f"{right} in {left}"
        case Comparison.STARTS_WITH:
            return f"{left}.startswith({right})"
        case Comparison.ENDS_WITH:
            return f"{left}.endswith({right})"
        case Comparison.NE | Comparison.NOT_IN | Comparison.MATCHES:
            raise ValueError(f"{op} is not a positive comparison")
        case _:
            assert_never(op)


def compare_vectorised(op: Comparison, left: Any, right: Any) -> Any:
    """Over float columns, missing = nan (nan compares false; `!=` negates `==`)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        match op:
            case Comparison.EQ | Comparison.LT | Comparison.LE | Comparison.GT | Comparison.GE:
                return _positive(op)(left, right)
            case Comparison.NE:
                return ~(left == right)
            case Comparison.IN | Comparison.NOT_IN | Comparison.CONTAINS | \
                    Comparison.STARTS_WITH | Comparison.ENDS_WITH | Comparison.MATCHES:
                raise ValueError(f"{op} has no form over recorded score columns")
            case _:
                assert_never(op)


def regex_error(pattern: str, flags: str = "") -> str | None:
    """Why RE2 refuses a `matches` pattern, or None when it compiles: every pattern runs on
    RE2 (runtime.compile_pattern), so the checker asks RE2 itself."""
    import re2

    try:
        rt.compile_pattern(pattern, flags)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else b""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return str(reason) or "RE2 cannot compile this pattern"
    except (TypeError, ValueError) as exc:  # e.g. a NUL byte in the pattern
        return str(exc)
    return None


# --- SQL forms (engines/sql): sqlglot expressions, missing = NULL ---------------------------
# Each takes and returns sqlglot expression trees; the statement builder never writes SQL
# text. sqlglot is imported inside, as NumPy is above.

def sql_number(value: float) -> Any:
    """A number literal read as a double by every dialect (DuckDB would read 0.1 as a DECIMAL)."""
    from sqlglot import exp

    return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.Type.DOUBLE)


def function_sql(function: Function, args: list[Any], list_argument: bool = False) -> Any:
    """A scalar function over present-or-NULL arguments (`list_argument`: len of a list)."""
    from sqlglot import exp

    first = args[0]
    match function:
        case Function.LEN:
            size = exp.ArraySize(this=first) if list_argument else exp.Length(this=first)
            return exp.Coalesce(this=exp.cast(size, exp.DataType.Type.DOUBLE), expressions=[sql_number(0.0)])
        case Function.DOMAIN:
            # the part after the last @, lower-cased; missing without an @ (runtime.domain)
            after = exp.RegexpExtract(this=first, expression=exp.Literal.string("@([^@]*)$"),
                                      group=exp.Literal.number(1))
            has_at = exp.GT(this=exp.StrPosition(this=first, substr=exp.Literal.string("@")),
                            expression=exp.Literal.number(0))
            return exp.Case(ifs=[exp.If(this=has_at, true=exp.Lower(this=after))])
        case Function.LOWER:
            return exp.Lower(this=first)
        case Function.UPPER:
            return exp.Upper(this=first)
        case Function.MIN | Function.MAX:
            if len(args) == 1:
                return first
            # LEAST/GREATEST skip NULLs in some dialects: missing in, missing out
            combined = (exp.Least if function is Function.MIN else exp.Greatest)(this=first, expressions=args[1:])
            any_missing = exp.or_(*(exp.Is(this=a.copy(), expression=exp.Null()) for a in args))
            return exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Paren(this=any_missing)), true=combined)])
        case Function.COUNT | Function.DAYS_SINCE:
            raise ValueError(f"{function} reads events: it is not a scalar function")
        case _:
            assert_never(function)


def decay_sql(decay: Decay, age_days: Any) -> Any:
    """The factor of one event for its age in days (an expression)."""
    from sqlglot import exp

    match decay.kind:
        case DecayKind.NONE:
            return sql_number(1.0)
        case DecayKind.HALF_LIFE:
            return exp.Pow(this=sql_number(0.5), expression=exp.Div(this=age_days, expression=sql_number(decay.days)))
        case DecayKind.LINEAR:
            remaining = exp.Sub(this=sql_number(1.0),
                                expression=exp.Div(this=age_days, expression=sql_number(decay.days)))
            return exp.Greatest(this=sql_number(0.0), expressions=[remaining])
        case DecayKind.STEPS:
            # bisect_right: 100% before the first step, then the last step whose age <= the age
            limits = (*decay.ages[1:], None)
            ifs = [exp.If(this=exp.LT(this=age_days.copy(), expression=sql_number(decay.ages[0])),
                          true=sql_number(1.0))]
            ifs += [exp.If(this=exp.LT(this=age_days.copy(), expression=sql_number(limit)), true=sql_number(fraction))
                    for limit, fraction in zip(limits[:-1], decay.fractions)]
            return exp.Case(ifs=ifs, default=sql_number(decay.fractions[-1]))
        case _:
            assert_never(decay.kind)


def bucket_sql(period: Period, at: Any) -> Any:
    """The `at most` bucket of epoch seconds, from the seconds themselves (never the session's
    time zone or calendar functions)."""
    from sqlglot import exp

    day = exp.Floor(this=exp.Div(this=at, expression=sql_number(DAY)))
    match period:
        case Period.DAY:
            return day
        case Period.WEEK:   # ISO weeks: the epoch was a Thursday
            return exp.Floor(this=exp.Div(this=exp.Paren(this=exp.Add(this=day, expression=sql_number(3.0))),
                                          expression=sql_number(7.0)))
        case _:
            assert_never(period)


def compare_sql(op: Comparison, left: Any, right: Any, *, left_list: bool = False,
                right_list: bool = False) -> Any:
    """A positive comparison (NULL when a side is missing: the caller makes that false).
    `in` takes a Python list of item expressions, or a list-valued expression (`right_list`);
    `contains` on a list (`left_list`) tests an element, on a string a substring."""
    from sqlglot import exp

    match op:
        case Comparison.EQ:
            return exp.EQ(this=left, expression=right)
        case Comparison.LT:
            return exp.LT(this=left, expression=right)
        case Comparison.LE:
            return exp.LTE(this=left, expression=right)
        case Comparison.GT:
            return exp.GT(this=left, expression=right)
        case Comparison.GE:
            return exp.GTE(this=left, expression=right)
        case Comparison.IN:
            if right_list:
                return exp.ArrayContains(this=right, expression=left)
            return exp.In(this=left, expressions=right) if right else exp.false()
        case Comparison.CONTAINS:
            if left_list:
                return exp.ArrayContains(this=left, expression=right)
            return exp.GT(this=exp.StrPosition(this=left, substr=right), expression=exp.Literal.number(0))
        case Comparison.STARTS_WITH:
            return exp.StartsWith(this=left, expression=right)
        case Comparison.ENDS_WITH:
            return exp.EndsWith(this=left, expression=right)
        case Comparison.NE | Comparison.NOT_IN | Comparison.MATCHES:
            raise ValueError(f"{op} is not a positive comparison")
        case _:
            assert_never(op)

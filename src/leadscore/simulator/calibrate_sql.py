"""Calibration counted in SQL (docs/calibrate.md, `--engine`): the Tally of calibrate.py's
count_signals, computed by a few SELECT statements built as sqlglot trees over the tables that
calibrate_tables.py loads:

    outcomes     lead_id, lead, stage (trimmed, lower case), at (epoch seconds)
    leads        lead, born (the `created` field), f<slot>: the fields read
    events       lead, type (its place in the schema's events), at, p<k>: the properties the
                 `where` variants read
    lead_status  the result of _Statements.status(), loaded back: per lead, whether it is counted

`lead` is a lead's place in the leads table (file order, a repeated id's first row); an outcome
of a lead not in the table has none. Joins are on these numbers, not on the ids' text.

Cells come from the project's readers, already in the runtime's representation (no empty text,
no empty list, finite numbers), times as epoch seconds, so a `where` condition translated by
engines/sql/expressions.py decides what the compiled scorer's probe decides. Identifiers are
the statements' own; user text (stages, declared values, a condition's strings and patterns)
enters only as literals, which sqlglot escapes.

    inputs = Inputs.of(plan)
    load_history(plan, inputs, tables, log, options, run)      (calibrate_tables.py)
    tally = tally_in_sql(plan, options, inputs, run)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
from sqlglot import exp

from .. import lower as lo
from .. import semantics as sem
from ..dsl import types as t
from ..engines.sql.expressions import Columns, ExprBuilder
from .calibrate import Options, Plan, Tally
from .calibrate_probe import where_fields

_TRUE, _FALSE = exp.true, exp.false


class Runner(Protocol):
    """Runs the statements on one engine (DuckDB here; Spark is one more runner)."""

    def load(self, name: str, schema: pa.Schema, parts: Iterable[pa.Table]) -> None:
        """Create table `name` from the parts, taken one at a time."""

    def select(self, statement: exp.Select) -> pa.Table:
        """The statement's rows."""


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _case(condition: exp.Expression, then: exp.Expression, otherwise: exp.Expression | None = None) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def _flag(condition: exp.Expression) -> exp.Expression:
    """1 when the condition holds, else 0 (a sum of these counts rows, in every dialect)."""
    return _case(condition, exp.Literal.number(1), exp.Literal.number(0))


def _sum(value: exp.Expression) -> exp.Expression:
    """A sum of counts as a 64-bit integer (DuckDB would give a 128-bit one, read as a Decimal)."""
    return exp.cast(exp.Sum(this=value), exp.DataType.Type.BIGINT)


def _is_null(value: exp.Expression) -> exp.Expression:
    return exp.Is(this=value, expression=exp.Null())


def _not_null(value: exp.Expression) -> exp.Expression:
    return exp.Not(this=_is_null(value))


def _join(select: exp.Select, table: str, alias: str, left: str, kind: str | None = None) -> exp.Select:
    on = exp.EQ(this=col("lead", alias), expression=col("lead", left))
    return select.join(exp.table_(table).as_(alias), on=on, join_type=kind)


def field_column(slot: int) -> str:
    return f"f{slot}"


@dataclass(frozen=True)
class Inputs:
    """What the statements read, from the plan."""

    fields: tuple[str, ...]                      # the lead fields to load, schema order
    properties: dict[tuple[str, str], str]       # (property, type) -> its events column
    wheres: dict[int, lo.Expr]                   # event signal -> its `where` condition, lowered

    @classmethod
    def of(cls, plan: Plan) -> Inputs:
        checked = plan.checked
        schema = checked.schema
        wheres = {i: lo.lower_expr(checked, s.where) for i, s in enumerate(plan.event_signals) if s.kind == "where"}
        wanted = {*plan.fields, *plan.numbers, *where_fields(checked, [s.where for s in plan.event_signals
                                                                       if s.kind == "where"])}
        if schema.created:
            wanted.add(schema.created)
        properties: dict[tuple[str, str], str] = {}
        for i, where in wheres.items():
            declared = schema.events[plan.event_signals[i].event].properties
            for node in lo.walk(where):
                if isinstance(node, lo.Property):
                    properties.setdefault((node.name, declared[node.name].type), f"p{len(properties)}")
        return cls(tuple(name for name in schema.fields if name in wanted), properties, wheres)


class _Statements:
    def __init__(self, plan: Plan, options: Options, inputs: Inputs) -> None:
        self.plan, self.options, self.inputs = plan, options, inputs
        self.as_of = None if options.as_of is None else sem.sql_number(options.as_of)
        self.slots = {name: i for i, name in enumerate(plan.checked.schema.fields)}
        self.types = {name: i for i, name in enumerate(plan.checked.schema.events)}
        self.event: str | None = None     # the event type whose `where` is being translated

    def _until(self, at: exp.Expression) -> exp.Expression:
        """At or before --as-of (always, without it)."""
        return _TRUE() if self.as_of is None else exp.LTE(this=at, expression=self.as_of.copy())

    def _stage_in(self, stages: list[str]) -> exp.Expression:
        return exp.In(this=col("stage"), expressions=[exp.Literal.string(s) for s in stages])

    def success(self) -> exp.Select:
        """Per lead, its first success at or before --as-of."""
        stage = self.options.success_stage.strip().lower()
        return (exp.select(col("lead"), exp.Min(this=col("at")).as_("won_at", quoted=True)).from_("outcomes")
                .where(exp.and_(_not_null(col("lead")), self._stage_in([stage]), self._until(col("at"))))
                .group_by(col("lead")))

    def status(self) -> exp.Select:
        """Per lead of the leads table: lead, won_at, present (it exists at --as-of), turn (its
        place in the order count_signals counts leads: those created by --as-of, then the others
        with an event by then, each in file order; NULL when not counted)."""
        options = self.options
        select = exp.select(col("lead", "l"), col("won_at", "s"))
        select = _join(select.from_(exp.table_("leads").as_("l")), "success", "s", "l", "left")
        if self.as_of is None:
            early, present = _TRUE(), _TRUE()
        else:
            early = exp.Coalesce(this=self._until(col("born", "l")), expressions=[_FALSE()])
            select = _join(select, "active", "a", "l", "left")
            present = exp.or_(early.copy(), _not_null(col("lead", "a")))
        counted = present.copy()
        if options.decided_only:
            select = _join(select, "decided", "d", "l", "left")
            counted = exp.and_(counted, _not_null(col("lead", "d")))
        inner = select.select(exp.Paren(this=early).as_("early", quoted=True),
                              exp.Paren(this=present).as_("present", quoted=True),
                              exp.Paren(this=counted).as_("counted", quoted=True))
        order = exp.Order(expressions=[exp.Ordered(this=col("early"), desc=True), exp.Ordered(this=col("lead"))])
        turn = exp.Window(this=exp.RowNumber(), partition_by=[col("counted")], order=order)
        outer = exp.select(col("lead"), col("won_at"), col("present"),
                           _case(col("counted"), turn).as_("turn", quoted=True)).from_(inner.subquery("c"))
        outer = outer.with_("success", as_=self.success())
        if self.as_of is not None:
            outer = outer.with_("active", as_=exp.select(col("lead")).distinct().from_("events")
                                .where(self._until(col("at"))))
        if options.decided_only:
            stages = [options.success_stage.strip().lower(), options.lost_stage.strip().lower()]
            outer = outer.with_("decided", as_=exp.select(col("lead")).distinct().from_("outcomes")
                                .where(exp.and_(self._stage_in(stages), self._until(col("at")))))
        return outer

    def totals(self) -> exp.Select:
        """leads, successes, not_yet, undecided, outcomes_unknown_lead."""
        counted = _not_null(col("turn"))
        stage = self.options.success_stage.strip().lower()
        ids = exp.Count(this=exp.Distinct(expressions=[col("lead_id")]))
        unknown = exp.select(ids).from_("outcomes").where(
            exp.and_(_is_null(col("lead")), self._stage_in([stage]), self._until(col("at"))))

        def total(condition: exp.Expression) -> exp.Expression:
            return exp.Coalesce(this=_sum(_flag(condition)), expressions=[exp.Literal.number(0)])
        return (exp.select(total(counted).as_("leads", quoted=True),
                           total(exp.and_(counted.copy(), _not_null(col("won_at")))).as_("successes", quoted=True),
                           total(exp.Not(this=col("present"))).as_("not_yet", quoted=True),
                           total(exp.and_(col("present"), _is_null(col("turn")))).as_("undecided", quoted=True),
                           exp.Subquery(this=unknown).as_("unknown", quoted=True))
                .from_("lead_status"))

    def events(self) -> exp.Select:
        """One row: n<i>, k<i> (leads, successes) per event signal i."""
        wheres = self.inputs.wheres
        builder = ExprBuilder(lo.lower(self.plan.checked))
        cols = Columns(lambda f: col(field_column(f.slot), "l"), col("at", "e"), property=self._property)
        shown = []
        for i, signal in enumerate(self.plan.event_signals):
            test = exp.EQ(this=col("type", "e"), expression=exp.Literal.number(self.types[signal.event]))
            if i in wheres:
                builder.where_event = self.event = signal.event
                test = exp.and_(test, builder.condition(wheres[i], cols))
            shown.append(exp.Max(this=_flag(test)).as_(f"m{i}", quoted=True))
        won = exp.Max(this=_flag(_not_null(col("won_at", "s")))).as_("won", quoted=True)
        before = exp.or_(_is_null(col("won_at", "s")), exp.LT(this=col("at", "e"), expression=col("won_at", "s")))
        inner = _join(exp.select(col("lead", "e"), won, *shown).from_(exp.table_("events").as_("e")),
                      "lead_status", "s", "e")
        if any(isinstance(n, lo.Field) for where in wheres.values() for n in lo.walk(where)):
            inner = _join(inner, "leads", "l", "e")
        inner = inner.where(exp.and_(_not_null(col("turn", "s")), self._until(col("at", "e")), before)) \
            .group_by(col("lead", "e"))
        sums = []
        for i in range(len(self.plan.event_signals)):
            sums.append(_sum(col(f"m{i}")).as_(f"n{i}", quoted=True))
            sums.append(_sum(exp.Mul(this=col(f"m{i}"), expression=col("won"))).as_(f"k{i}", quoted=True))
        return exp.select(*sums).from_(inner.subquery("shown"))

    def _property(self, p: lo.Property) -> exp.Expression:
        kind = self.plan.checked.schema.events[self.event].properties[p.name].type
        return col(self.inputs.properties[p.name, kind], "e")

    def values(self) -> exp.Select | None:
        """Per categorical field j and key: field, key ('value', 'missing', 'undeclared'), text or
        flag (the value), n, k, first (the turn of its first lead), nth (its place by first)."""
        parts = [self._field_values(j, name, ftype, declared)
                 for j, (name, (ftype, declared)) in enumerate(self.plan.fields.items())]
        if not parts:
            return None
        union = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=False)
        return exp.select(exp.Star()).from_(union.subquery("field_values"))

    def _field_values(self, j: int, name: str, ftype: str, declared: tuple[str, ...] | None) -> exp.Select:
        value = col(field_column(self.slots[name]), "l")
        if ftype == t.LIST:   # each item; a lead without the field once, as missing
            value = exp.Explode(this=_case(_is_null(value.copy()), exp.Array(expressions=[exp.Null()]), value))
        item = col("item")
        ifs = [exp.If(this=_is_null(item), true=exp.Literal.string("missing"))]
        if declared is not None and ftype != t.BOOLEAN:
            ifs.append(exp.If(this=exp.Not(this=exp.In(this=item.copy(), expressions=[
                exp.Literal.string(v) for v in declared])), true=exp.Literal.string("undeclared")))
        key = exp.Case(ifs=ifs, default=exp.Literal.string("value"))
        items = _join(exp.select(col("lead", "l"), col("won_at", "s"), col("turn", "s"),
                                 value.as_("item", quoted=True)).from_(exp.table_("leads").as_("l")),
                      "lead_status", "s", "l").where(_not_null(col("turn", "s")))
        keys = exp.select(col("lead"), col("won_at"), col("turn"), key.as_("key", quoted=True), item.copy()) \
            .from_(items.subquery("items"))
        # a lead shows each key once (a list can hold an item twice, or two undeclared items)
        kept = _case(exp.EQ(this=col("key"), expression=exp.Literal.string("value")), item.copy())
        distinct = exp.select(col("lead"), col("won_at"), col("turn"), col("key"), kept.as_("shown", quoted=True)) \
            .distinct().from_(keys.subquery("keys"))
        text, flag = ((exp.cast(exp.Null(), exp.DataType.Type.VARCHAR), col("shown")) if ftype == t.BOOLEAN
                      else (col("shown"), exp.cast(exp.Null(), exp.DataType.Type.BOOLEAN)))
        leads = exp.cast(exp.Count(this=exp.Star()), exp.DataType.Type.BIGINT)
        counts = (exp.select(exp.Literal.number(j).as_("field", quoted=True), col("key"), text.as_("text", quoted=True),
                             flag.as_("flag", quoted=True), leads.as_("n", quoted=True),
                             _sum(_flag(_not_null(col("won_at")))).as_("k", quoted=True),
                             exp.Min(this=col("turn")).as_("first", quoted=True))
                  .from_(distinct.subquery("distinct_keys")).group_by(col("key"), col("shown")))
        order = exp.Order(expressions=[exp.Ordered(this=col("first")), exp.Ordered(this=col("text"))])
        nth = exp.Window(this=exp.RowNumber(), partition_by=[col("key")], order=order)
        ranked = exp.select(exp.Star(), nth.as_("nth", quoted=True)).from_(counts.subquery("counts"))
        if declared is not None or ftype == t.BOOLEAN:
            return ranked
        # one value past --max-values tells that the field is dropped, and at which lead
        within = exp.LTE(this=col("nth"), expression=exp.Literal.number(self.plan.max_values + 1))
        return exp.select(exp.Star()).from_(ranked.subquery("ranked")).where(
            exp.or_(exp.NEQ(this=col("key"), expression=exp.Literal.string("value")), within))

    def numbers(self) -> exp.Select | None:
        """Per counted lead: won, and the value of each number field."""
        if not self.plan.numbers:
            return None
        values = [col(field_column(self.slots[name]), "l").as_(f"v{i}", quoted=True)
                  for i, name in enumerate(self.plan.numbers)]
        select = exp.select(exp.Paren(this=_not_null(col("won_at", "s"))).as_("won", quoted=True), *values)
        select = _join(select.from_(exp.table_("leads").as_("l")), "lead_status", "s", "l")
        return select.where(_not_null(col("turn", "s")))


def tally_in_sql(plan: Plan, options: Options, inputs: Inputs, run: Runner) -> Tally:
    """The tally, from the tables calibrate_tables.load_history loaded into `run`."""
    statements = _Statements(plan, options, inputs)
    status = run.select(statements.status())
    run.load("lead_status", status.schema, [status])
    totals = run.select(statements.totals()).to_pylist()[0]
    tally = Tally(leads=totals["leads"], successes=totals["successes"], not_yet=totals["not_yet"],
                  undecided=totals["undecided"], outcomes_unknown_lead=totals["unknown"])
    if plan.event_signals:
        row = run.select(statements.events()).to_pylist()[0]
        tally.events = [[row[f"n{i}"] or 0, row[f"k{i}"] or 0] for i in range(len(plan.event_signals))]
    _field_counts(plan, tally, statements.values(), run.select)
    numbers = statements.numbers()
    if numbers is not None:
        found = run.select(numbers)
        won = found.column("won").to_pylist()
        for i, name in enumerate(plan.numbers):
            if won:
                tally.numbers[name] = list(zip(found.column(f"v{i}").to_pylist(), won))
    return tally


def _field_counts(plan: Plan, tally: Tally, statement: exp.Select | None,
                  select: Callable[[exp.Select], pa.Table]) -> None:
    """tally.values, and the fields with more than max_values values in the order count_signals
    drops them: by the lead that brought the value one too many, then in field order."""
    names = list(plan.fields)
    tally.values = {name: {} for name in names}
    if statement is None:
        return
    dropped: dict[str, int] = {}
    for row in select(statement).to_pylist():
        name = names[row["field"]]
        ftype, declared = plan.fields[name]
        if row["key"] != "value":
            tally.values[name][(row["key"],)] = [row["n"], row["k"]]
            continue
        if declared is None and ftype != t.BOOLEAN and row["nth"] > plan.max_values:
            dropped[name] = row["first"]
            continue
        value = row["flag"] if ftype == t.BOOLEAN else row["text"]
        tally.values[name][("value", value)] = [row["n"], row["k"]]
    for name in sorted(dropped, key=lambda name: (dropped[name], names.index(name))):
        del tally.values[name]
        tally.too_many_values.append(name)

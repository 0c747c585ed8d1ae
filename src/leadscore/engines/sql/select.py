"""ScoringProgram -> one SQL SELECT statement, as a sqlglot expression tree.

It reads `leads` (the schema's id column and fields) and `events` (`lead_id`, `type`, `at`,
one column per declared property) and scores every lead at one instant, as docs/language.md
say, in a chain of CTEs:

    params          the instant, in epoch seconds
    lead_input      each lead's fields normalised (empty string/list, non-finite: NULL)
    event_input     the events of declared types at or before the instant, `at` in epoch seconds
    event_marks     per event: does it match each per-event rule / aggregate (`where`)? its
                    decay factor, one column per distinct decay (rules share it)
    event_ranks     per event: its place among the rule's matches (`once`), in its day/week (`at most`)
    event_totals    per lead: each rule's points after decay and its event count, each aggregate
                    (conditional aggregates: FILTER (WHERE ...), or the dialect's COUNT_IF/IFF)
    scored          leads joined with their totals
    block_N_rules   each rule's points, one column per rule (the reasons are read off them)
    block_N_groups  each group's sum, before its limit
    block_N_total   the block's total; block_N_inactivity after the penalty
    block_N         the score: clamped, non-finite -> NULL
    derived_N, decision_N   derived scores (non-finite -> NULL), thresholds and segments

Ages are epoch-second differences and `at most` buckets come from epoch seconds, so neither
the session time zone nor calendar functions matter. Events with equal times are ranked in
any order: they give the same points whichever is counted (same age, same window), so the
result does not depend on it. Only internal names are identifiers of the statement's own
making; user text enters as quoted identifiers (column names) and literals.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from sqlglot import exp

from ... import lower as lo
from ... import semantics as sem
from ...dsl import types as t
from .expressions import Columns, ExprBuilder, column

EVENT_COLUMNS = ("lead_id", "type", "at", "seq")   # the events relation's own columns
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class SqlUnsupported(ValueError):
    """A program (or a pattern in a dialect) the SQL form cannot express faithfully."""


def number(value: float) -> exp.Expression:
    return sem.sql_number(value)


def commented(node: exp.Expression, line: int, name: str) -> exp.Expression:
    """The rule file's line beside a rule; the name only when it is a plain identifier, so no
    user text can end the comment."""
    node.add_comments([f" line {line}" + (f": {name} " if _PLAIN_NAME.match(name) else " ")])
    return node


def epoch_seconds(value: exp.Expression) -> exp.Expression:
    """Epoch seconds with the microseconds, as datetime.timestamp() gives them."""
    micros = exp.cast(exp.UnixMicros(this=value), exp.DataType.Type.DOUBLE)
    return exp.Div(this=micros, expression=number(1_000_000.0))


def finite(value: exp.Expression) -> exp.Expression:
    """NULL unless finite: x - x is 0 for a finite x, NaN for infinities and NaN (never 0)."""
    test = exp.EQ(this=exp.Sub(this=value.copy(), expression=value.copy()), expression=number(0.0))
    return exp.Case(ifs=[exp.If(this=test, true=value)])


def case_when(condition: exp.Expression, then: exp.Expression, otherwise: exp.Expression | None) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def property_columns(property_types) -> dict[str, tuple[str, str]]:
    """Property name -> (internal column, type): one events column per property name."""
    found: dict[str, tuple[str, str]] = {}
    for event, properties in property_types.items():
        for name, kind in properties.items():
            if name in EVENT_COLUMNS:
                raise SqlUnsupported(f"the property `{name}` of `{event}` has the name of a column every "
                                     f"events row has ({', '.join(EVENT_COLUMNS)}): rename it in the schema")
            if name in found and found[name][1] != kind:
                raise SqlUnsupported(f"the property `{name}` is a {found[name][1]} in one event type and a "
                                     f"{kind} in `{event}`: the events table has one column per property")
            found.setdefault(name, (f"q{len(found)}", kind))
    return found


@dataclass
class Steps:
    """The CTE chain: each step selects everything of the previous one plus new columns."""

    ctes: list[tuple[str, exp.Select]] = field(default_factory=list)

    def add(self, name: str, select: exp.Select) -> None:
        self.ctes.append((name, select))

    def extend(self, name: str, columns: list[exp.Expression]) -> None:
        previous = self.ctes[-1][0]
        self.add(name, exp.select(exp.Star(), *columns).from_(previous))

    @property
    def last(self) -> str:
        return self.ctes[-1][0]


def build_select(program: lo.ScoringProgram, id_column: str, instant: float | exp.Placeholder | None,
                 reasons: bool = False) -> exp.Select:
    """The statement: `instant` in epoch seconds, None for the engine's current time, or a
    placeholder (the parameter bound when it runs). With `reasons`, the columns of
    reason_columns() follow the outputs (engines/reasons.py)."""
    return StatementBuilder(program, id_column).build(instant, reasons)


class StatementBuilder:
    def __init__(self, program: lo.ScoringProgram, id_column: str) -> None:
        self.program = program
        self.id_column = id_column
        self.exprs = ExprBuilder(program)
        self.event_rules = [r for b in program.blocks for r in b.rules() if isinstance(r, lo.EventRule)]
        self.aggregates: dict[lo.Aggregate, str] = {}
        self.properties = property_columns(program.property_types)
        self.steps = Steps()

    # --- inputs ------------------------------------------------------------------------

    @staticmethod
    def normalised(value: exp.Expression, kind: str) -> exp.Expression:
        """A cell as the runtime reads it (runtime.normalise_value, for native column types)."""
        match kind:
            case t.STRING:
                return exp.Nullif(this=value, expression=exp.Literal.string(""))
            case t.NUMBER:
                return finite(exp.cast(value, exp.DataType.Type.DOUBLE))
            case t.DATETIME:
                return epoch_seconds(value)
            case t.LIST:
                size = exp.GT(this=exp.ArraySize(this=value.copy()), expression=exp.Literal.number(0))
                return case_when(size, value, None)
        return value

    def _field_column(self, f: lo.Field) -> exp.Expression:
        return column(f"f{f.slot}")

    def _lead_input(self) -> exp.Select:
        source = exp.to_identifier(self.id_column, quoted=True)
        fields = [self.normalised(exp.column(exp.to_identifier(name, quoted=True), table="l"), kind).as_(f"f{slot}", quoted=True)
                  for slot, (name, kind) in enumerate(self.program.field_types.items())]
        lead_id = exp.cast(exp.column(source, table="l"), exp.DataType.Type.VARCHAR).as_("lead_id", quoted=True)
        return (exp.select(lead_id, *fields, exp.column("instant", table="p", quoted=True))
                .from_(exp.table_("leads").as_("l")).join(exp.table_("params").as_("p"), join_type="cross"))

    def _event_input(self, needs_fields: bool) -> exp.Select:
        at = epoch_seconds(exp.column("at", table="e", quoted=True))
        properties = [self.normalised(exp.column(exp.to_identifier(name, quoted=True), table="e"), kind).as_(internal, quoted=True)
                      for name, (internal, kind) in self.properties.items()]
        types = [exp.Literal.string(name) for name in self.program.property_types]
        fields = ([exp.column(f"f{slot}", table="li", quoted=True) for slot in range(len(self.program.field_types))]
                  if needs_fields else [])
        where = exp.and_(exp.In(this=exp.column("type", table="e", quoted=True), expressions=types) if types else exp.false(),
                         exp.LTE(this=at.copy(), expression=exp.column("instant", table="p", quoted=True)))
        select = (exp.select(exp.cast(exp.column("lead_id", table="e", quoted=True), exp.DataType.Type.VARCHAR).as_("lead_id", quoted=True),
                             exp.column("type", table="e", quoted=True).as_("type", quoted=True), at.as_("at_s", quoted=True),
                             *properties, *fields, exp.column("instant", table="p", quoted=True))
                  .from_(exp.table_("events").as_("e")).join(exp.table_("params").as_("p"), join_type="cross"))
        if needs_fields:
            select = select.join(exp.table_("lead_input").as_("li"),
                                 on=exp.EQ(this=exp.column("lead_id", table="li", quoted=True),
                                           expression=exp.cast(exp.column("lead_id", table="e", quoted=True), exp.DataType.Type.VARCHAR)))
        return select.where(where)

    # --- events ------------------------------------------------------------------------

    def _event_columns(self) -> Columns:
        def prop(p: lo.Property) -> exp.Expression:
            return column(self.properties[p.name][0])
        return Columns(self._field_column, column("instant"), property=prop)

    def event_match(self, event: str, where: lo.Expr | None, within: float | None) -> exp.Expression:
        test = exp.EQ(this=column("type"), expression=exp.Literal.string(event))
        if where is not None:
            self.exprs.where_event = event
            test = exp.and_(test, self.exprs.condition(where, self._event_columns()))
            self.exprs.where_event = None
        if within is not None:
            test = exp.and_(test, self._inside(within))
        return exp.Paren(this=test)

    @staticmethod
    def _inside(within: float) -> exp.Expression:
        # half-open: instant - within < at <= instant (the upper bound is event_input's)
        return exp.GT(this=column("at_s"), expression=exp.Sub(this=column("instant"), expression=number(within)))

    def _aggregate_column(self, a: lo.Aggregate) -> exp.Expression:
        name = self.aggregates.setdefault(a, f"a{len(self.aggregates)}")
        if a.function is sem.Function.COUNT:
            return column(name)
        return exp.Div(this=exp.Paren(this=exp.Sub(this=column("instant"), expression=column(name))),
                       expression=number(sem.DAY))

    def decay_columns(self) -> dict[sem.Decay, str]:
        """One column per distinct decay of the event rules (w<k>: the event's factor), so rules
        of equal decay share one computation per event; `decay none` needs none."""
        decays: dict[sem.Decay, str] = {}
        for rule in self.event_rules:
            if rule.decay.kind is not sem.DecayKind.NONE:
                decays.setdefault(rule.decay, f"w{len(decays)}")
        return decays

    @staticmethod
    def filtered(aggregate: exp.Expression, condition: exp.Expression) -> exp.Expression:
        """`aggregate` over the rows where `condition` holds: FILTER (WHERE ...), which sqlglot
        writes as the dialect's conditional aggregate where it has no FILTER (IFF, COUNTIF)."""
        return exp.Filter(this=aggregate, expression=exp.Where(this=condition))

    @classmethod
    def rule_total(cls, rule: lo.EventRule, counted: exp.Expression, decays: dict[sem.Decay, str]) -> exp.Expression:
        """The rule's points after decay, summed over the counted events (NULL or 0 for none).
        Where it rounds exactly as Python's event-by-event sum, the points multiply once per
        lead, so no product is computed per event and rules of one decay aggregate one column:
        undecayed points that are whole multiples of 2^-10 (the count times the points, every
        partial sum exact), and points 1, 2, 4, ... on a decay (scaling by a power of two is
        exact). Any other points (+5 x 80% ten times is 40 in Python, 5 x the sum of ten 0.8s
        is not) are multiplied per event, as Python adds them."""
        points = abs(rule.points)
        if rule.decay.kind is sem.DecayKind.NONE:
            if (points * 1024).is_integer():
                return exp.Mul(this=number(points), expression=cls.filtered(exp.Count(this=exp.Star()), counted))
            return cls.filtered(exp.Sum(this=number(points)), counted)
        factor = column(decays[rule.decay])
        if points >= 1.0 and math.frexp(points)[0] == 0.5:   # a power of two
            return exp.Mul(this=number(points), expression=cls.filtered(exp.Sum(this=factor), counted))
        return cls.filtered(exp.Sum(this=exp.Mul(this=number(points), expression=factor)), counted)

    def _event_steps(self) -> None:
        decays = self.decay_columns()
        age = exp.Div(this=exp.Paren(this=exp.Sub(this=column("instant"), expression=column("at_s"))),
                      expression=number(sem.DAY))
        marks = [commented(self.event_match(r.event, r.where, None), r.line, r.name).as_(f"m{i}", quoted=True)
                 for i, r in enumerate(self.event_rules)]
        marks += [self.event_match(a.event, a.where, a.within).as_(f"c{name[1:]}", quoted=True)
                  for a, name in self.aggregates.items()]
        marks += [sem.decay_sql(decay, age.copy()).as_(name, quoted=True) for decay, name in decays.items()]
        self.steps.extend("event_marks", marks)
        ranks = self.rank_columns("lead_id", [column("at_s")])
        if ranks:
            self.steps.extend("event_ranks", ranks)
        totals: list[exp.Expression] = [column("lead_id")]
        for i, rule in enumerate(self.event_rules):
            counted = self.counted(i, rule)
            if rule.within is not None:
                counted = exp.and_(counted, self._inside(rule.within))
            totals.append(self.rule_total(rule, counted.copy(), decays).as_(f"r{i}", quoted=True))
            totals.append(self.filtered(exp.Count(this=exp.Star()), counted.copy()).as_(f"n{i}", quoted=True))
        for a, name in self.aggregates.items():
            test = column(f"c{name[1:]}")
            if a.function is sem.Function.COUNT:
                count = exp.cast(self.filtered(exp.Count(this=exp.Star()), test), exp.DataType.Type.DOUBLE)
                totals.append(count.as_(name, quoted=True))
            else:
                totals.append(self.filtered(exp.Max(this=column("at_s")), test).as_(name, quoted=True))
        totals.append(exp.Max(this=column("at_s")).as_("last_at", quoted=True))
        self.steps.add("event_totals", exp.select(*totals).from_(self.steps.last).group_by(column("lead_id")))

    def rank_columns(self, key: str, order: list[exp.Expression]) -> list[exp.Expression]:
        """Per event, k<i>: its place among rule i's matches of its lead (`once`), in its day or
        week (`at most`), in `order`."""
        ranks = []
        for i, rule in enumerate(self.event_rules):
            partition = [column(key), column(f"m{i}")]
            if rule.at_most is not None:
                partition.append(sem.bucket_sql(rule.at_most.period, column("at_s")))
            if rule.once or rule.at_most is not None:
                ranks.append(exp.Window(this=exp.RowNumber(), partition_by=partition,
                                        order=exp.Order(expressions=[exp.Ordered(this=o) for o in order]))
                             .as_(f"k{i}", quoted=True))
        return ranks

    @staticmethod
    def counted(i: int, rule: lo.EventRule) -> exp.Expression:
        """Does the event count for rule i (its match, `once`, `at most`), before any window?"""
        counted: exp.Expression = column(f"m{i}")
        if rule.once:
            counted = exp.and_(counted, exp.EQ(this=column(f"k{i}"), expression=exp.Literal.number(1)))
        elif rule.at_most is not None:
            counted = exp.and_(counted, exp.LTE(this=column(f"k{i}"), expression=exp.Literal.number(rule.at_most.count)))
        return counted

    # --- scores ------------------------------------------------------------------------

    def _lead_columns(self, scores: dict[str, str], decisions: dict[str, str]) -> Columns:
        return Columns(self._field_column, column("instant"), aggregate=self._aggregate_column,
                       scores=scores, decisions=decisions)

    def _rule_points(self, rule: lo.Rule, cols: Columns) -> exp.Expression:
        match rule:
            case lo.ConditionRule():
                value = case_when(self.exprs.condition(rule.condition, cols), number(rule.points), number(0.0))
            case lo.CaseRule():
                ifs = [exp.If(this=self.exprs.condition(b.condition, cols), true=number(b.points))
                       for b in rule.branches if b.condition is not None]
                otherwise = next((b.points for b in rule.branches if b.condition is None), 0.0)
                value = exp.Case(ifs=ifs, default=number(otherwise)) if ifs else number(otherwise)
            case lo.EventRule():
                index = self.event_rules.index(rule)
                magnitude: exp.Expression = column(f"r{index}")
                if rule.cap is not None:   # `max` holds the points after decay
                    magnitude = exp.Least(this=number(rule.cap), expressions=[magnitude])
                value = magnitude if rule.points > 0 else exp.Neg(this=exp.Paren(this=magnitude))
        return value

    @staticmethod
    def _limited(total: exp.Expression, limit: float) -> exp.Expression:
        """runtime.limit_group: the sum held to +-limit, a non-finite sum left as it is."""
        negative = exp.LT(this=total.copy(), expression=number(0.0))
        held = case_when(negative, exp.Neg(this=exp.Least(this=number(limit), expressions=[exp.Neg(this=total.copy())])),
                     exp.Least(this=number(limit), expressions=[total.copy()]))
        test = exp.EQ(this=exp.Sub(this=total.copy(), expression=total.copy()), expression=number(0.0))
        return case_when(test, held, total.copy())

    @staticmethod
    def _sum(terms: list[exp.Expression]) -> exp.Expression:
        total: exp.Expression = number(0.0)   # the runtime adds from 0.0 in rule order
        for term in terms:
            total = exp.Add(this=total, expression=term)
        return total

    def _block_steps(self, index: int, block: lo.ScoreBlock, cols: Columns) -> None:
        """One column per rule (its points), the groups' sums, the total, the total after
        inactivity, then the score: each a column of its own, so the reasons can be read off."""
        rules = block.rules()
        self.steps.extend(f"block_{index}_rules", [commented(self._rule_points(rule, cols), rule.line, rule.name)
                                                   .as_(f"p{index}_{k}", quoted=True) for k, rule in enumerate(rules)])
        terms, groups, k = [], [], 0
        for item in block.items:
            if isinstance(item, lo.Group):
                name = f"b{index}g{len(groups)}"
                members = [column(f"p{index}_{k + j}") for j in range(len(item.rules))]
                groups.append(commented(exp.Paren(this=self._sum(members)), item.line, item.name).as_(name, quoted=True))
                terms.append(self._limited(column(name), item.limit))
                k += len(item.rules)
            else:
                terms.append(column(f"p{index}_{k}"))
                k += 1
        if groups:
            self.steps.extend(f"block_{index}_groups", groups)
        raw = f"b{index}"
        self.steps.extend(f"block_{index}_total",
                          [commented(exp.Paren(this=self._sum(terms)), block.line, block.name).as_(raw, quoted=True)])
        total: exp.Expression = column(raw)
        if block.inactivity is not None:
            ia = block.inactivity
            idle = exp.Paren(this=exp.Sub(this=column("instant"), expression=column("last_at")))
            penalty = exp.Mul(this=number(ia.points), expression=exp.Paren(this=exp.Add(
                this=number(1.0), expression=exp.Floor(this=exp.Div(
                    this=exp.Paren(this=exp.Sub(this=idle.copy(), expression=number(ia.after))), expression=number(ia.every))))))
            applies = exp.and_(exp.GT(this=column(raw), expression=number(0.0)),
                               exp.Not(this=exp.Is(this=column("last_at"), expression=exp.Null())),
                               exp.GTE(this=idle, expression=number(ia.after)))
            after = case_when(applies, exp.Greatest(this=number(0.0), expressions=[exp.Sub(this=column(raw), expression=penalty)]),
                          column(raw))
            self.steps.extend(f"block_{index}_inactivity", [after.as_(f"{raw}i", quoted=True)])
            total = column(f"{raw}i")
        if block.clamp is not None:
            if block.clamp.low is not None:
                total = exp.Greatest(this=total, expressions=[number(block.clamp.low)])
            if block.clamp.high is not None:
                total = exp.Least(this=total, expressions=[number(block.clamp.high)])
        # a total too large to represent is missing; inactivity and clamp never see it
        finite = exp.EQ(this=exp.Sub(this=column(raw), expression=column(raw)), expression=number(0.0))
        self.steps.extend(f"block_{index}", [case_when(finite, total, None).as_(f"s{index}", quoted=True)])

    def reason_columns(self) -> list[str]:
        """The internal columns the reasons are read from (ReasonLayout describes them)."""
        names = [name for index in range(len(self.program.blocks)) for name in self.block_columns(index)]
        names += [f"n{i}" for i in range(len(self.event_rules))]
        return names

    def block_columns(self, index: int) -> list[str]:
        """A block's columns the reasons read: its rules' points, group sums, total (and the
        total after inactivity)."""
        block = self.program.blocks[index]
        names = [f"p{index}_{k}" for k in range(len(block.rules()))]
        names += [f"b{index}g{g}" for g in range(sum(isinstance(i, lo.Group) for i in block.items))]
        names.append(f"b{index}")
        if block.inactivity is not None:
            names.append(f"b{index}i")
        return names

    # --- the statement ----------------------------------------------------------------

    def build(self, instant: float | exp.Placeholder | None, reasons: bool = False) -> exp.Select:
        lead_steps, scores, decisions = self.lead_steps()
        if isinstance(instant, exp.Placeholder):
            now = exp.cast(instant.copy(), exp.DataType.Type.DOUBLE)
        else:
            now = number(instant) if instant is not None else epoch_seconds(exp.CurrentTimestamp())
        self.steps.add("params", exp.select(now.as_("instant", quoted=True)))
        self.steps.add("lead_input", self._lead_input())
        self.steps.add("event_input", self._event_input(self.where_needs_fields()))
        self._event_steps()
        self.steps.add("scored", self._scored())
        return self.statement("lead_id", lead_steps, scores, decisions, reasons)

    def lead_steps(self, apart: frozenset[int] = frozenset(), apart_from: str = "") -> tuple[Steps, dict[str, str], dict[str, str]]:
        """The steps after `scored` (its columns: the key, f<slot>, instant, r<i>, n<i>, the
        aggregates, last_at), with the columns of each score and decision. They are built
        before the event steps: they register the aggregates (count, days_since) that the
        event steps compute, and come after them in the statement. The blocks numbered in
        `apart` (reading fields only) go to `self.apart_steps`, a chain after `apart_from`."""
        program = self.program
        scores: dict[str, str] = {}
        decisions: dict[str, str] = {}
        cols = self._lead_columns(scores, decisions)
        inputs, self.steps = self.steps, Steps([(apart_from, exp.select(exp.Star()))])
        for index in sorted(apart):
            self._block_steps(index, program.blocks[index], cols)
            scores[program.blocks[index].name] = f"s{index}"
        self.apart_steps = self.steps
        self.steps = Steps([("scored", exp.select(exp.Star()))])
        for index, block in enumerate(program.blocks):
            if index not in apart:
                self._block_steps(index, block, cols)
                scores[block.name] = f"s{index}"
        for index, derived in enumerate(program.derived):
            name = f"d{index}"
            self.steps.extend(f"derived_{index}_raw", [commented(self.exprs.value(derived.expr, cols), derived.line,
                                                                derived.name).as_(name, quoted=True)])
            self.steps.extend(f"derived_{index}", [finite(column(name)).as_(f"sd{index}", quoted=True)])
            scores[derived.name] = f"sd{index}"
        for index, decision in enumerate(program.decisions):
            decisions[decision.name] = f"t{index}"
            self.steps.extend(f"decision_{index}", [commented(self._decision(decision, cols), decision.line,
                                                             decision.name).as_(f"t{index}", quoted=True)])
        lead_steps, self.steps = self.steps, inputs
        return lead_steps, scores, decisions

    def where_needs_fields(self) -> bool:
        wheres = [r.where for r in self.event_rules] + [a.where for a in self.aggregates]
        return any(isinstance(n, lo.Field) for w in wheres if w is not None for n in lo.walk(w))

    def statement(self, key: str, lead_steps: Steps, scores: dict[str, str], decisions: dict[str, str],
                  reasons: bool) -> exp.Select:
        """The input steps so far, then `lead_steps`; the outputs: `key`, the scores, thresholds
        and segments (and the reason columns)."""
        program = self.program
        self.steps.ctes.extend(lead_steps.ctes[1:])
        outputs = [column(key)]
        outputs += [column(scores[name]).as_(name, quoted=True) for name in program.scores]
        # the columns of `leadscore score`: thresholds, then segments, each in declaration order
        outputs += [column(decisions[d.name]).as_(d.name, quoted=True) for d in (*program.thresholds, *program.segments)]
        if reasons:   # after the outputs, read by position: their names are internal
            outputs += [column(name) for name in self.reason_columns()]
        statement = exp.select(*outputs).from_(self.steps.last)
        for name, select in self.steps.ctes:
            statement = statement.with_(name, as_=select, copy=False)   # copying it each time costs O(n²)
        return statement

    def _decision(self, decision: lo.Threshold | lo.Segment, cols: Columns) -> exp.Expression:
        if isinstance(decision, lo.Threshold):
            return self.exprs.condition(decision.condition, cols)
        ifs = [exp.If(this=self.exprs.condition(label.condition, cols), true=exp.Literal.string(label.label))
               for label in decision.labels if label.condition is not None]
        otherwise = next((exp.Literal.string(label.label) for label in decision.labels if label.condition is None),
                         None)
        if ifs:
            return exp.Case(ifs=ifs, default=otherwise)
        return otherwise if otherwise is not None else exp.Null()

    def _scored(self) -> exp.Select:
        picked: list[exp.Expression] = [exp.column(c, table="li", quoted=True) for c in
                                        ["lead_id", *(f"f{s}" for s in range(len(self.program.field_types))), "instant"]]
        for i in range(len(self.event_rules)):
            picked.append(exp.Coalesce(this=exp.column(f"r{i}", table="et", quoted=True), expressions=[number(0.0)]).as_(f"r{i}", quoted=True))
            picked.append(exp.Coalesce(this=exp.column(f"n{i}", table="et", quoted=True), expressions=[exp.Literal.number(0)]).as_(f"n{i}", quoted=True))
        for a, name in self.aggregates.items():
            value = exp.column(name, table="et", quoted=True)
            if a.function is sem.Function.COUNT:
                value = exp.Coalesce(this=value, expressions=[number(0.0)])
            picked.append(value.as_(name, quoted=True))
        picked.append(exp.column("last_at", table="et", quoted=True))
        return (exp.select(*picked).from_(exp.table_("lead_input").as_("li"))
                .join(exp.table_("event_totals").as_("et"), join_type="left",
                      on=exp.EQ(this=exp.column("lead_id", table="et", quoted=True),
                                expression=exp.column("lead_id", table="li", quoted=True))))

"""ScoringProgram -> the two SQL SELECTs that score many (lead, instant) pairs, as sqlglot trees.

The replay (docs/simulate.md) asks for results at many instants of each lead, over several
rounds. Rather than re-reading a lead's events once per instant, or once per round, the work
is cut in two:

* `terms` (once per bucket): one row per event with its terms (below). The caller turns it
  into `running`, the running sum (or maximum) of every term over the lead's events up to
  each event, in (lead, pos) order (simulator/running_sums.py: SQL window functions were the
  slow part of a replay);
* `instants` (once per round): each instant reads the running sums at the lead's last event
  at or before `t - age`, for the few ages the program's windows and steps need: a sum over
  the events aged [low, high) is the running sum at `t - low` less the one at `t - high`.
  The caller finds those events (`instant_inputs` in simulator/duckdb_instants.py) and
  gives their positions with the instants; the statement only joins on them.

The relations read (internal column names, so no user text names a column):

    lead_input    `lead` BIGINT (the lead's number), then `f0`, `f1`... : the schema's fields
                  in schema order (string VARCHAR, number DOUBLE, boolean BOOLEAN, datetime
                  DOUBLE epoch seconds, list a list of VARCHAR)
    event_input   `lead`, `type` VARCHAR, `at` DOUBLE epoch seconds, `seq` BIGINT (input order
                  within the lead, for equal times), `pos` BIGINT (the event's place in the
                  bucket's (lead, at, seq) order, unique), then `q0`, `q1`... : one column per
                  declared property name (select.property_columns), typed as the fields
    change_input  `lead`, `at`, `seq` (file order, unique), `field` VARCHAR (the changed
                  field's name), then `f0`, `f1`... as lead_input: the new value in its column
    running       `lead`, `pos`, `hb<group>`..., per term its running sum or maximum up to the
                  event (InstantsStatements.running), and per half-life term `<term>_q1` and
                  `<term>_q2`: the totals of the lead's two blocks before the event's
    instants      `row_id` BIGINT, `lead`, `at` DOUBLE epoch seconds; `e<j>` BIGINT: the `pos`
                  of the lead's last event of a declared type at or before `at - ages[j]`
                  (NULL: none); per changed field slot `k<slot>`: the `seq` of the lead's latest
                  change of it at or before `at` (equal times: the last in file order), and
                  `h<slot>` 1 when the lead has any change of it (else NULL)

`instants` returns one row per row of `instants`: `row_id`, every score, threshold and segment
in declaration order (and, with reasons, select.py's reason columns: the rule points first).

At an instant t, events with `at` <= t count. A field with changes is missing before its
first change, then holds the latest change at or before t; other fields hold lead_input's.

What does not depend on the instant is computed per event, in `terms`: the `where` marks,
the `once` and `at most` ranks (among all of a lead's matching events, in time order: an
event's rank never depends on a later one), and each event's terms below.
Each rule's value at t is then a difference of running sums (windows are half-open: the
events exactly `high` old are out). Per decay kind:

* none: the sum of the points over the window (`within`, or the whole past);
* steps: one window per step, times its percentage;
* linear over L: with each event's block b = floor(at / L) and its start o_b = b*L, the
  events of the last L (they lie in the current block or the one before) give
  Σ p*(1 - (t - o)/L) + Σ p*(at - o)/L, summed separately for even and odd blocks so that
  every time is measured from a start less than 2L away (no cancellation of large terms);
* half_life h: Σ p*2^(-(t - at)/h), which one running sum from a fixed origin cannot hold
  (2^x overflows past x = 1024). Time is cut into blocks of 540 half-lives; each event is
  anchored at the start o_b of its block, p*2^((at - o_b)/h) <= p*2^540, and its running sum
  restarts with each block. Each event row also holds the totals of its lead's two blocks
  before its own. A block's part of a sum, anchored at its start o, is rescaled by
  2^((o - t)/h), applied as two half factors so neither underflows before the product does;
  over the whole past, the two blocks before the instant's are brought to its block's start
  by 2^-540 and 2^-1080 (exact powers of two). Terms older than that are over 1080
  half-lives old, below the smallest double (2^-1074), as in Python. With `within`, the
  window touches at most three blocks, each taken from its own start. Nothing overflows,
  and each term keeps its relative precision.

A score block whose rules read only fields that never change (no events, aggregates,
days_since, inactivity, changed fields) is computed once per lead, before the instants.

count is the number of matches in the window; days_since and inactivity read the running
maximum of the event times (days_since within a window: that maximum when it is inside).

A `where` that reads a field changed by change_input, or the instant (days_since of a
field), would make an event's mark depend on the instant: such a program is refused
(SqlUnsupported); `changed_fields` names the fields that have changes (None: all of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Collection

from sqlglot import exp

from ... import lower as lo
from ... import semantics as sem
from ...dsl import types as t
from .expressions import column
from .select import SqlUnsupported, StatementBuilder, Steps, case_when, commented, number

DAY = sem.DAY
HALF_LIVES_PER_BLOCK = 540.0
HALF_LIFE_REACH = 2 * HALF_LIVES_PER_BLOCK   # in half-lives: 2^-1080 is below every double
_PARITIES = 2
CARRIED_BLOCKS = 2   # the blocks before an instant's that a sum reads: older terms are below every double


@dataclass(frozen=True)
class RunningColumn:
    """A column of `running`: the running sum of the term of that name over the lead's events
    (restarting with each block hb<group> when a group is given), or its running maximum."""

    name: str
    group: int | None
    latest: bool


@dataclass(frozen=True)
class InstantsStatements:
    """The statements of the module docstring, and what the caller gives `instants`."""

    terms: exp.Select
    instants: exp.Select
    ages: tuple[float, ...]         # instants' e<j> is the last event at or before `at - ages[j]`
    changed: tuple[int, ...]        # the field slots with k<slot> and h<slot>
    running: tuple[RunningColumn, ...]
    groups: int                     # the half-life groups: terms' hb<group> columns


def instants_select(program: lo.ScoringProgram, *, reasons: bool = False,
                    changed_fields: Collection[str] | None = None) -> InstantsStatements:
    """The `terms` and `instants` statements (see the module docstring). `instants` returns
    one row per row of its relation: `row_id`, then every score (DOUBLE, NULL when missing),
    every threshold (BOOLEAN), every segment (VARCHAR label or NULL), in declaration order;
    with reasons=True also select.py's reason columns, first one DOUBLE column per rule: the
    rule's points at that instant (after its own max). `changed_fields`: the fields
    change_input has rows for (None: any field may have)."""
    return _InstantsBuilder(program, changed_fields).build_instants(reasons)


def _floor_div(value: exp.Expression, size: float) -> exp.Expression:
    return exp.Floor(this=exp.Div(this=value, expression=number(size)))


def _sub(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.Paren(this=exp.Sub(this=left, expression=right))


def _modulo(value: exp.Expression, modulus: int) -> exp.Expression:
    """value mod modulus in 0..modulus-1 for a whole number (negative ones too, in every dialect)."""
    return _sub(value, exp.Mul(this=number(float(modulus)), expression=_floor_div(value.copy(), float(modulus))))


def _zero_if_null(value: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=value, expressions=[number(0.0)])


def _qualified(name: str, table: str) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


@dataclass(frozen=True)
class _Term:
    """A per-event column of `terms` (its running sum or maximum is `running`'s)."""

    condition: exp.Expression
    value: exp.Expression
    group: int | None = None
    latest: bool = False


class _InstantsBuilder(StatementBuilder):
    def __init__(self, program: lo.ScoringProgram, changed_fields: Collection[str] | None) -> None:
        super().__init__(program, "lead")
        self.changed = [slot for slot, name in enumerate(program.field_types)
                        if changed_fields is None or name in changed_fields]
        self.half_lives: dict[float, int] = {}   # half-life (s) -> its group: blocks hb<group>
        self.terms: dict[str, _Term] = {}
        self.ages: dict[float, int] = {0.0: 0}    # age -> j: the instant's lookup e<j>, joined as r<j>
        self.now = _qualified("at", "i")

    @staticmethod
    def normalised(value: exp.Expression, kind: str) -> exp.Expression:
        if kind == t.DATETIME:   # epoch seconds already
            return value
        return StatementBuilder.normalised(value, kind)

    def build_instants(self, reasons: bool) -> InstantsStatements:
        self.fixed = self._fixed_blocks()
        lead_steps, scores, decisions = self.lead_steps(self.fixed, "lead_fields")
        self._refuse_instant_wheres()
        values = self._values(reasons)
        terms = self._event_terms()
        self.steps.add("lead_fields", self._lead_fields())
        self.steps.ctes.extend(self.apart_steps.ctes[1:])
        if self.changed:
            self.steps.add("change_rows", self._change_rows())
        self.steps.add("instant_values", self._instant_values(values))
        self.steps.add("scored", self._scored_instants([value.alias for value in values]))
        instants = self.statement("row_id", lead_steps, scores, decisions, reasons)
        running = tuple(RunningColumn(name, term.group, term.latest) for name, term in self.terms.items())
        return InstantsStatements(terms, instants, tuple(self.ages), tuple(self.changed), running,
                                  len(self.half_lives))

    # --- inputs --------------------------------------------------------------------------

    def _refuse_instant_wheres(self) -> None:
        changed = {name for slot, name in enumerate(self.program.field_types) if slot in self.changed}
        wheres = [(r.where, r.name) for r in self.event_rules] + [(a.where, a.event) for a in self.aggregates]
        for where, name in wheres:
            for node in lo.walk(where) if where is not None else ():
                if isinstance(node, lo.DaysSinceField) or (isinstance(node, lo.Field) and node.name in changed):
                    raise SqlUnsupported(f"the `where` of `{name}` reads a field that changes with time: "
                                         "the instants statement evaluates each event's `where` once")

    def _fixed_blocks(self) -> frozenset[int]:
        """The score blocks that read only fields that never change: computed once per lead,
        not at every instant."""
        changed = {name for slot, name in enumerate(self.program.field_types) if slot in self.changed}
        moving = (lo.Aggregate, lo.DaysSinceField, lo.ScoreRef, lo.ThresholdRef, lo.SegmentRef)
        fixed = set()
        for index, block in enumerate(self.program.blocks):
            conditions = []
            for rule in block.rules():
                match rule:
                    case lo.ConditionRule():
                        conditions.append(rule.condition)
                    case lo.CaseRule():
                        conditions += [b.condition for b in rule.branches if b.condition is not None]
                    case _:
                        conditions.append(None)   # an event rule moves with time
            if block.inactivity is None and None not in conditions and not any(
                    isinstance(node, moving) or (isinstance(node, lo.Field) and node.name in changed)
                    for condition in conditions for node in lo.walk(condition)):
                fixed.add(index)
        return frozenset(fixed)

    def _lead_fields(self) -> exp.Select:
        fields = [self.normalised(_qualified(f"f{slot}", "l"), kind).as_(f"f{slot}", quoted=True)
                  for slot, kind in enumerate(self.program.field_types.values())]
        return exp.select(_qualified("lead", "l").as_("lead", quoted=True), *fields) \
            .from_(exp.table_("lead_input").as_("l"))

    def _event_rows(self, needs_fields: bool) -> exp.Select:
        properties = [self.normalised(_qualified(internal, "e"), kind).as_(internal, quoted=True)
                      for internal, kind in self.properties.values()]
        types = [exp.Literal.string(name) for name in self.program.property_types]
        fields = ([_qualified(f"f{slot}", "lf") for slot in range(len(self.program.field_types))]
                  if needs_fields else [])
        select = exp.select(*(_qualified(c, "e") for c in ("lead", "type")),
                            _qualified("at", "e").as_("at_s", quoted=True),
                            *(_qualified(c, "e") for c in ("seq", "pos")), *properties, *fields) \
            .from_(exp.table_("event_input").as_("e"))
        if needs_fields:
            select = select.join(exp.table_("lead_fields").as_("lf"),
                                 on=exp.EQ(this=_qualified("lead", "lf"), expression=_qualified("lead", "e")))
        where = exp.In(this=_qualified("type", "e"), expressions=types) if types else exp.false()
        return select.where(where)

    def _change_rows(self) -> exp.Select:
        kinds = list(self.program.field_types.values())
        values = [self.normalised(column(f"f{slot}"), kinds[slot]).as_(f"f{slot}", quoted=True) for slot in self.changed]
        return exp.select(column("lead"), column("seq"), *values).from_("change_input")

    # --- per event: the terms and their running sums ------------------------------------

    def _event_terms(self) -> exp.Select:
        """The `terms` statement: per event, its lead, `pos`, half-life blocks and terms."""
        steps, self.steps = self.steps, Steps()
        needs_fields = self.where_needs_fields()
        if needs_fields:
            self.steps.add("lead_fields", self._lead_fields())
        self.steps.add("event_rows", self._event_rows(needs_fields))
        marks = [commented(self.event_match(r.event, r.where, None), r.line, r.name).as_(f"m{i}", quoted=True)
                 for i, r in enumerate(self.event_rules)]
        marks += [self.event_match(a.event, a.where, None).as_(f"c{name[1:]}", quoted=True)
                  for a, name in self.aggregates.items()]
        self.steps.extend("event_marks", marks)
        ranks = self.rank_columns("lead", [column("at_s"), column("seq")])
        if ranks:
            self.steps.extend("event_ranks", ranks)
        terms = [case_when(term.condition, term.value, None if term.latest else number(0.0)).as_(name, quoted=True)
                 for name, term in self.terms.items()]
        blocks = [_floor_div(column("at_s"), HALF_LIVES_PER_BLOCK * half).as_(f"hb{group}", quoted=True)
                  for half, group in self.half_lives.items()]
        statement = exp.select(column("lead"), column("pos"), *blocks, *terms).from_(self.steps.last)
        for name, cte in self.steps.ctes:
            statement = statement.with_(name, as_=cte, copy=False)
        self.steps = steps
        return statement

    def _term(self, name: str, condition: exp.Expression, value: exp.Expression, group: int | None = None,
              latest: bool = False) -> str:
        self.terms[name] = _Term(condition, value, group, latest)
        return name

    def _at(self, name: str, age: float, suffix: str = "") -> exp.Expression:
        """The running column `name` (+ suffix) at the lead's last event at or before t - age."""
        j = self.ages.setdefault(age, len(self.ages))
        return _qualified(name + suffix, f"r{j}")

    def _span(self, name: str, low: float, high: float | None) -> exp.Expression:
        """The sum of term `name` over the events aged [low, high) seconds (high None: no limit)."""
        total = _zero_if_null(self._at(name, low))
        if high is None:
            return total
        return _sub(total, _zero_if_null(self._at(name, high)))

    def _block_part(self, name: str, group: int, back: int, age: float) -> exp.Expression:
        """The running sum of a block-restarting term over the instant's block less `back`, at the
        last event at or before t - age: 0 when that event is older than the block."""
        block = exp.Sub(this=_floor_div(self.now.copy(), HALF_LIVES_PER_BLOCK * self._half(group)),
                        expression=number(float(back)))
        ifs = [exp.If(this=exp.EQ(this=self._at(f"hb{group}", age),
                                  expression=exp.Add(this=block.copy(), expression=number(float(d)))),
                      true=self._at(name, age, f"_q{d}" if d else ""))
               for d in range(CARRIED_BLOCKS + 1)]
        return exp.Case(ifs=ifs, default=number(0.0))

    def _half(self, group: int) -> float:
        return next(half for half, g in self.half_lives.items() if g == group)

    # --- per instant: the values read off the running sums ---------------------------------

    def _values(self, reasons: bool) -> list[exp.Alias]:
        """The values at each instant that select.py's lead steps read (r<i>, n<i>, the
        aggregates, last_at), registering the terms they need."""
        values: list[exp.Alias] = []
        for i, rule in enumerate(self.event_rules):
            counted = self.counted(i, rule)
            values.append(commented(self._rule_value(i, rule, counted), rule.line, rule.name)
                          .as_(f"r{i}", quoted=True))
            if reasons:
                count = self._span(self._term(f"x{i}n", counted.copy(), number(1.0)), 0.0, rule.within)
                values.append(exp.cast(count, exp.DataType.Type.BIGINT).as_(f"n{i}", quoted=True))
        for a, name in self.aggregates.items():
            mark = column(f"c{name[1:]}")
            if a.function is sem.Function.COUNT:
                values.append(self._span(self._term(f"x{name}", mark, number(1.0)), 0.0, a.within).as_(name, quoted=True))
                continue
            latest: exp.Expression = self._at(self._term(f"x{name}", mark, column("at_s"), latest=True), 0.0)
            if a.within is not None:   # the latest match, when it is inside the window
                inside = exp.GT(this=latest.copy(), expression=exp.Sub(this=self.now.copy(), expression=number(a.within)))
                latest = case_when(inside, latest, None)
            values.append(latest.as_(name, quoted=True))
        values.append(self._at(self._term("x_at", exp.true(), column("at_s"), latest=True), 0.0).as_("last_at", quoted=True))
        return values

    def _rule_value(self, i: int, rule: lo.EventRule, counted: exp.Expression) -> exp.Expression:
        points, within, decay = number(abs(rule.points)), rule.within, rule.decay
        at = column("at_s")
        match decay.kind:
            case sem.DecayKind.NONE:
                return self._span(self._term(f"x{i}", counted, points), 0.0, within)
            case sem.DecayKind.STEPS:
                x = self._term(f"x{i}", counted, points)
                bounds = [0.0, *(age * DAY for age in decay.ages), None]
                factors = [1.0, *decay.fractions]
                parts = []
                for low, high, factor in zip(bounds, bounds[1:], factors):
                    if within is not None:
                        if low >= within:
                            break
                        high = within if high is None else min(high, within)
                    if factor != 0.0 and (high is None or high > low):
                        parts.append(exp.Mul(this=number(factor), expression=self._span(x, low, high)))
                return self._total(parts)
            case sem.DecayKind.LINEAR:
                length = decay.days * DAY
                high = length if within is None else min(length, within)
                block = _floor_div(at.copy(), length)
                parity = _modulo(block, _PARITIES)
                from_start = exp.Div(this=_sub(at.copy(), exp.Mul(this=block.copy(), expression=number(length))),
                                     expression=number(length))
                parts = []
                for q in range(_PARITIES):
                    mine = exp.and_(counted.copy(), exp.EQ(this=parity.copy(), expression=number(float(q))))
                    sum_p = self._span(self._term(f"x{i}p{q}", mine, points.copy()), 0.0, high)
                    sum_pe = self._span(self._term(f"x{i}e{q}", mine.copy(),
                                                   exp.Mul(this=points.copy(), expression=from_start.copy())), 0.0, high)
                    start = self._block_start(q, _PARITIES, length)
                    remaining = _sub(number(1.0), exp.Div(this=_sub(self.now.copy(), start), expression=number(length)))
                    parts += [exp.Mul(this=sum_p, expression=remaining), sum_pe]
                return self._total(parts)
            case sem.DecayKind.HALF_LIFE:
                half = decay.days * DAY
                size = HALF_LIVES_PER_BLOCK * half
                block = _floor_div(at.copy(), size)
                anchored = exp.Mul(this=points, expression=exp.Pow(this=number(2.0), expression=exp.Div(
                    this=_sub(at.copy(), exp.Mul(this=block.copy(), expression=number(size))), expression=number(half))))
                group = self.half_lives.setdefault(half, len(self.half_lives))
                name = self._term(f"x{i}", counted, anchored, group)
                start = exp.Mul(this=_floor_div(self.now.copy(), size), expression=number(size))
                if within is None:   # the two blocks before the instant's, brought to its start exactly
                    parts = [self._block_part(name, group, d, 0.0) for d in range(CARRIED_BLOCKS + 1)]
                    total = parts[0]
                    for d, part in enumerate(parts[1:], start=1):
                        scaled = part
                        for _ in range(d):   # exact: powers of two
                            scaled = exp.Mul(this=scaled, expression=number(2.0 ** -HALF_LIVES_PER_BLOCK))
                        total = exp.Add(this=total, expression=scaled)
                    return self._rescaled(exp.Paren(this=total), start, half)
                high = min(HALF_LIFE_REACH * half, within)
                parts = []
                for d in range(math.ceil(high / size) + 1):   # the blocks the window can touch
                    inside = _sub(self._block_part(name, group, d, 0.0), self._block_part(name, group, d, high))
                    own_start = exp.Sub(this=start.copy(), expression=number(d * size))
                    parts.append(self._rescaled(inside, own_start, half))
                return self._total(parts)
        raise TypeError(f"a decay of unknown kind: {decay.kind!r}")

    def _block_start(self, residue: int, modulus: int, size: float) -> exp.Expression:
        """At an instant: the start of the latest block (of `size` seconds) at or before it whose
        number is `residue` mod `modulus`, computed as the events' starts are."""
        block = _floor_div(self.now.copy(), size)
        back = _modulo(_sub(block.copy(), number(float(residue))), modulus)
        return exp.Mul(this=_sub(block, back), expression=number(size))

    def _rescaled(self, total: exp.Expression, start: exp.Expression, half: float) -> exp.Expression:
        """A sum anchored at `start`, at the instant: times 2^((start - t)/h), as two half
        factors, so none underflows before the product does."""
        factor = exp.Pow(this=number(2.0), expression=exp.Div(this=_sub(start, self.now.copy()),
                                                              expression=number(2.0 * half)))
        return exp.Mul(this=exp.Mul(this=total, expression=factor), expression=factor.copy())

    @staticmethod
    def _total(parts: list[exp.Expression]) -> exp.Expression:
        if not parts:
            return number(0.0)
        total = parts[0]
        for part in parts[1:]:
            total = exp.Add(this=total, expression=part)
        return exp.Paren(this=total)

    def _instant_values(self, values: list[exp.Alias]) -> exp.Select:
        """Each instant with its values: `running` joined at each age's event."""
        changes = [_qualified(f"{prefix}{slot}", "i") for slot in self.changed for prefix in ("k", "h")]
        select = exp.select(*(_qualified(n, "i") for n in ("row_id", "lead")), self.now.copy().as_("instant", quoted=True),
                            *values, *changes).from_(exp.table_("instants").as_("i"))
        for j in self.ages.values():
            select = select.join(exp.table_("running").as_(f"r{j}"), join_type="left",
                                 on=exp.EQ(this=_qualified("pos", f"r{j}"), expression=_qualified(f"e{j}", "i")))
        return select

    def _fixed_columns(self) -> list[str]:
        """The columns of the fixed blocks: each one's score and the columns reasons read."""
        return [name for index in sorted(self.fixed) for name in (*self.block_columns(index), f"s{index}")]

    def _scored_instants(self, value_names: list[str]) -> exp.Select:
        """The instants' rows with the columns select.py's lead steps read."""
        fields = []
        for slot in range(len(self.program.field_types)):
            own = _qualified(f"f{slot}", "lf")
            if slot in self.changed:
                changed = exp.EQ(this=_qualified(f"h{slot}", "v"), expression=exp.Literal.number(1))
                own = case_when(changed, _qualified(f"f{slot}", f"c{slot}"), own)
            fields.append(own.as_(f"f{slot}", quoted=True))
        picked = [_qualified(n, "v") for n in ("row_id", "instant", *value_names)]
        fixed = [_qualified(n, "lf") for n in self._fixed_columns()]
        select = exp.select(*picked, *fields, *fixed).from_(exp.table_("instant_values").as_("v")).join(
            exp.table_(self.apart_steps.last).as_("lf"), join_type="left",
            on=exp.EQ(this=_qualified("lead", "lf"), expression=_qualified("lead", "v")))
        for slot in self.changed:
            on = exp.and_(exp.EQ(this=_qualified("lead", f"c{slot}"), expression=_qualified("lead", "v")),
                          exp.EQ(this=_qualified("seq", f"c{slot}"), expression=_qualified(f"k{slot}", "v")))
            select = select.join(exp.table_("change_rows").as_(f"c{slot}"), join_type="left", on=on)
        return select

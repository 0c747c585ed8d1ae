"""ScoringProgram -> one SQL SELECT scoring many (lead, instant) pairs, as a sqlglot tree.

The replay (docs/simulate.md) asks for results at many instants of each lead. Rather than
re-reading a lead's events once per instant, the statement puts the instants into each
lead's time-ordered stream of events and reads every rule's value at an instant off window
functions over that stream. An instant at one of its lead's event times reads the event's
row instead of adding its own (all rows at one time share their frames): a replay's jumps
are mostly event times, and each row of the stream costs its window sums. It reads four relations (internal column names, so no user text
names a column):

    lead_input    `lead` BIGINT (the lead's number), then `f0`, `f1`... : the schema's fields
                  in schema order (string VARCHAR, number DOUBLE, boolean BOOLEAN, datetime
                  DOUBLE epoch seconds, list a list of VARCHAR)
    event_input   `lead`, `type` VARCHAR, `at` DOUBLE epoch seconds, `seq` BIGINT (input order
                  within the lead, for equal times), then `q0`, `q1`... : one column per
                  declared property name (select.property_columns), typed as the fields
    change_input  `lead`, `at`, `seq` (file order), `field` VARCHAR (the changed field's name),
                  then `f0`, `f1`... as lead_input: the new value in its field's column
    instants      `row_id` BIGINT, `lead`, `at` DOUBLE epoch seconds

and returns one row per row of `instants`: `row_id`, every score, threshold and segment in
declaration order (and, with reasons, select.py's reason columns: the rule points first).

At an instant t, events with `at` <= t count (all of those at t: the frames are RANGE frames
ordered by time, and an instant's peers are the events at its time). A field with rows in
change_input is missing before its first change, then holds the latest change at or before
t (equal times: the last in file order); other fields hold lead_input's value.

What does not depend on the instant is computed once per event, before the stream: the
`where` marks, the `once` and `at most` ranks (among all of a lead's matching events, in
time order: an event's rank never depends on a later one), and each event's terms below.
Each rule's value at t is then a sum over frames of ages [lo, hi): a RANGE frame from `hi
PRECEDING` to `lo PRECEDING` (or the current row), less the frame of the events exactly at
age hi (windows are half-open). Per decay kind:

* none: the sum of the points over the frame (`within`, or the whole past);
* steps: one frame per step, times its percentage;
* linear over L: with each event's block b = floor(at / L) and its start o_b = b*L, the
  events of the last L (they lie in the current block or the one before) give
  Σ p*(1 - (t - o)/L) + Σ p*(at - o)/L, summed separately for even and odd blocks so that
  every time is measured from a start less than 2L away (no cancellation of large terms);
* half_life h: Σ p*2^(-(t - at)/h), which one prefix sum from a fixed origin cannot hold
  (2^x overflows past x = 1024). Time is cut into blocks of 540 half-lives; each event is
  anchored at the start o_b of its block, p*2^((at - o_b)/h) <= p*2^540, and a row's sum,
  anchored at its block's start o, is rescaled by 2^((o - t)/h), applied as two half factors
  so neither underflows before the product does. Over the whole past (no `within`), the
  sum is a running sum within the row's block, where each block also holds two carry rows
  at its start: the sums of the two blocks before it, times 2^-540 and 2^-1080 (exact
  powers of two). Terms older than that are over 1080 half-lives old, below the smallest
  double (2^-1074), as in Python. With `within`, the frame's terms are summed per block
  residue mod k, k the number of blocks the window can touch (2 for a window up to 540
  half-lives, at most 3), so a frame holds at most one block of each residue, each rescaled
  from its own start. Nothing overflows, and each term keeps its relative precision.

A score block whose rules read only fields that never change (no events, aggregates,
days_since, inactivity, changed fields) is computed once per lead, before the instants.

count is the number of matches in the frame; days_since and inactivity read the running
maximum of the event times (days_since within a window: that maximum when it is inside).

A `where` that reads a field changed by change_input, or the instant (days_since of a
field), would make an event's mark depend on the instant: such a program is refused
(SqlUnsupported); `changed_fields` names the fields that have changes (None: all of them).
"""

from __future__ import annotations

import math
from typing import Collection

from sqlglot import exp

from ... import lower as lo
from ... import semantics as sem
from ...dsl import types as t
from .expressions import column
from .select import SqlUnsupported, StatementBuilder, case_when, commented, number

DAY = sem.DAY
HALF_LIVES_PER_BLOCK = 540.0
HALF_LIFE_REACH = 2 * HALF_LIVES_PER_BLOCK   # in half-lives: 2^-1080 is below every double
_PARITIES = 2
_CARRIED_BLOCKS = 2   # a block's carry rows go to the next two: older terms are below every double


def instants_select(program: lo.ScoringProgram, *, reasons: bool = False,
                    changed_fields: Collection[str] | None = None) -> exp.Select:
    """One SELECT reading `lead_input`, `event_input`, `change_input` and `instants` (see the
    module docstring) that returns one row per row of `instants`: `row_id`, then every score
    (DOUBLE, NULL when missing), every threshold (BOOLEAN), every segment (VARCHAR label or
    NULL), in declaration order; with reasons=True also select.py's reason columns, first one
    DOUBLE column per rule: the rule's points at that instant (after its own max).
    `changed_fields`: the fields change_input has rows for (None: any field may have)."""
    return _InstantsBuilder(program, changed_fields).build_instants(reasons)


def _offset(seconds: float) -> exp.Expression:
    return exp.Literal.number(repr(float(seconds)))


def _sub(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.Paren(this=exp.Sub(this=left, expression=right))


def _floor_div(value: exp.Expression, size: float) -> exp.Expression:
    return exp.Floor(this=exp.Div(this=value, expression=number(size)))


def _modulo(value: exp.Expression, modulus: int) -> exp.Expression:
    """value mod modulus in 0..modulus-1 for a whole number (negative ones too, in every dialect)."""
    return _sub(value, exp.Mul(this=number(float(modulus)), expression=_floor_div(value.copy(), float(modulus))))


def _zero_if_null(value: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=value, expressions=[number(0.0)])


class _InstantsBuilder(StatementBuilder):
    def __init__(self, program: lo.ScoringProgram, changed_fields: Collection[str] | None) -> None:
        super().__init__(program, "lead")
        self.changed = [slot for slot, name in enumerate(program.field_types)
                        if changed_fields is None or name in changed_fields]
        self.half_lives: dict[float, int] = {}   # half-life (s) -> its group: blocks hb<group>
        self.carried: dict[int, list[str]] = {}  # group -> the terms its carry rows hold

    @staticmethod
    def normalised(value: exp.Expression, kind: str) -> exp.Expression:
        if kind == t.DATETIME:   # epoch seconds already
            return value
        return StatementBuilder.normalised(value, kind)

    def build_instants(self, reasons: bool) -> exp.Select:
        self.fixed = self._fixed_blocks()
        lead_steps, scores, decisions = self.lead_steps(self.fixed, "lead_fields")
        self._refuse_instant_wheres()
        self.steps.add("lead_fields", self._lead_fields())
        self.steps.ctes.extend(self.apart_steps.ctes[1:])
        self.steps.add("event_rows", self._event_rows())
        marks = [commented(self.event_match(r.event, r.where, None), r.line, r.name).as_(f"m{i}", quoted=True)
                 for i, r in enumerate(self.event_rules)]
        marks += [self.event_match(a.event, a.where, None).as_(f"c{name[1:]}", quoted=True)
                  for a, name in self.aggregates.items()]
        self.steps.extend("event_marks", marks)
        ranks = self.rank_columns("lead", [column("at_s"), column("seq")])
        if ranks:
            self.steps.extend("event_ranks", ranks)
        terms, values = self._terms(reasons)
        blocks = [_floor_div(column("at_s"), HALF_LIVES_PER_BLOCK * half).as_(f"hb{group}", quoted=True)
                  for half, group in self.half_lives.items()]
        self.steps.add("event_terms", exp.select(column("lead"), column("at_s").as_("at", quoted=True),
                                                 *terms, *blocks).from_(self.steps.last))
        if self.changed:
            self.steps.add("change_rows", self._change_rows())
        self.steps.add("instants_apart", self._instants_apart())
        self.steps.add("stream", self._stream([term.alias for term in terms]))
        changes = self._change_values()
        self.steps.add("running", exp.select(column("row_id"), column("lead"), column("at").as_("instant", quoted=True),
                                             *values, *changes).from_("stream"))
        self.steps.add("probed", self._probed([v.alias for v in (*values, *changes)]))
        self.steps.add("scored", self._scored_instants([value.alias for value in values]))
        return self.statement("row_id", lead_steps, scores, decisions, reasons)

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
        fields = [self.normalised(exp.column(f"f{slot}", table="l", quoted=True), kind).as_(f"f{slot}", quoted=True)
                  for slot, kind in enumerate(self.program.field_types.values())]
        return exp.select(exp.column("lead", table="l", quoted=True).as_("lead", quoted=True), *fields) \
            .from_(exp.table_("lead_input").as_("l"))

    def _event_rows(self) -> exp.Select:
        properties = [self.normalised(exp.column(internal, table="e", quoted=True), kind).as_(internal, quoted=True)
                      for internal, kind in self.properties.values()]
        types = [exp.Literal.string(name) for name in self.program.property_types]
        needs_fields = self.where_needs_fields()
        fields = ([exp.column(f"f{slot}", table="lf", quoted=True) for slot in range(len(self.program.field_types))]
                  if needs_fields else [])
        select = exp.select(*(exp.column(c, table="e", quoted=True) for c in ("lead", "type")),
                            exp.column("at", table="e", quoted=True).as_("at_s", quoted=True),
                            exp.column("seq", table="e", quoted=True), *properties, *fields) \
            .from_(exp.table_("event_input").as_("e"))
        if needs_fields:
            select = select.join(exp.table_("lead_fields").as_("lf"),
                                 on=exp.EQ(this=exp.column("lead", table="lf", quoted=True),
                                           expression=exp.column("lead", table="e", quoted=True)))
        where = exp.In(this=exp.column("type", table="e", quoted=True), expressions=types) if types else exp.false()
        return select.where(where)

    def _change_rows(self) -> exp.Select:
        order = exp.Order(expressions=[exp.Ordered(this=column("at")), exp.Ordered(this=column("seq"))])
        number_ = exp.Window(this=exp.RowNumber(), partition_by=[column("lead")], order=order)
        kinds = list(self.program.field_types.values())
        values = [self.normalised(column(f"f{slot}"), kinds[slot]).as_(f"f{slot}", quoted=True) for slot in self.changed]
        return exp.select(column("lead"), column("at"), column("field"), number_.as_("change", quoted=True),
                          *values).from_("change_input")

    # --- per event: the terms each frame sums ------------------------------------------------

    def _terms(self, reasons: bool) -> tuple[list[exp.Alias], list[exp.Alias]]:
        """The stream's per-event columns, and the values at each instant read off them."""
        terms: list[exp.Alias] = []
        values: list[exp.Alias] = []

        def term(name: str, condition: exp.Expression, value: exp.Expression) -> exp.Expression:
            terms.append(case_when(condition, value, None).as_(name, quoted=True))
            return column(name)

        for i, rule in enumerate(self.event_rules):
            counted = self.counted(i, rule)
            values.append(commented(self._rule_value(i, rule, counted, term), rule.line, rule.name)
                          .as_(f"r{i}", quoted=True))
            if reasons:
                ones = term(f"x{i}n", counted.copy(), number(1.0))
                count = self._span(ones, 0.0, rule.within)
                values.append(exp.cast(count, exp.DataType.Type.BIGINT).as_(f"n{i}", quoted=True))
        for a, name in self.aggregates.items():
            mark = column(f"c{name[1:]}")
            if a.function is sem.Function.COUNT:
                values.append(self._span(term(f"x{name}", mark, number(1.0)), 0.0, a.within).as_(name, quoted=True))
                continue
            latest = self._window(exp.Max(this=term(f"x{name}", mark, column("at_s"))), None, None)
            if a.within is not None:   # the latest match, when it is inside the window
                inside = exp.GT(this=latest.copy(), expression=exp.Sub(this=column("at"), expression=number(a.within)))
                latest = case_when(inside, latest, None)
            values.append(latest.as_(name, quoted=True))
        events = term("x_at", exp.true(), column("at_s"))
        values.append(self._window(exp.Max(this=events), None, None).as_("last_at", quoted=True))
        return terms, values

    def _rule_value(self, i: int, rule: lo.EventRule, counted: exp.Expression, term) -> exp.Expression:
        points, within, decay = number(abs(rule.points)), rule.within, rule.decay
        at = column("at_s")
        match decay.kind:
            case sem.DecayKind.NONE:
                return self._span(term(f"x{i}", counted, points), 0.0, within)
            case sem.DecayKind.STEPS:
                x = term(f"x{i}", counted, points)
                bounds = [0.0, *(age * DAY for age in decay.ages), None]
                factors = [1.0, *decay.fractions]
                parts = []
                for low, high, factor in zip(bounds, bounds[1:], factors):
                    if within is not None:
                        if low >= within:
                            break
                        high = within if high is None else min(high, within)
                    if factor != 0.0 and (high is None or high > low):
                        parts.append(exp.Mul(this=number(factor), expression=self._span(x.copy(), low, high)))
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
                    sum_p = self._span(term(f"x{i}p{q}", mine, points.copy()), 0.0, high)
                    sum_pe = self._span(term(f"x{i}e{q}", mine.copy(), exp.Mul(this=points.copy(), expression=from_start.copy())),
                                        0.0, high)
                    start = self._block_start(q, _PARITIES, length)
                    remaining = _sub(number(1.0), exp.Div(this=_sub(column("at"), start), expression=number(length)))
                    parts += [exp.Mul(this=sum_p, expression=remaining), sum_pe]
                return self._total(parts)
            case sem.DecayKind.HALF_LIFE:
                half = decay.days * DAY
                size = HALF_LIVES_PER_BLOCK * half
                block = _floor_div(at.copy(), size)
                anchored = exp.Mul(this=points, expression=exp.Pow(this=number(2.0), expression=exp.Div(
                    this=_sub(at.copy(), exp.Mul(this=block.copy(), expression=number(size))), expression=number(half))))
                if within is None:
                    return self._carried_value(i, half, counted, anchored, term)
                high = min(HALF_LIFE_REACH * half, within)
                residues = math.ceil(high / size) + 1   # a frame holds at most one block of each residue
                residue = _modulo(block, residues)
                parts = []
                for r in range(residues):
                    mine = exp.and_(counted.copy(), exp.EQ(this=residue.copy(), expression=number(float(r))))
                    total = self._span(term(f"x{i}h{r}", mine, anchored.copy()), 0.0, high)
                    parts.append(self._rescaled(total, self._block_start(r, residues, size), half))
                return self._total(parts)
        raise TypeError(f"a decay of unknown kind: {decay.kind!r}")

    @staticmethod
    def _block_start(residue: int, modulus: int, size: float) -> exp.Expression:
        """At an instant: the start of the latest block (of `size` seconds) at or before it whose
        number is `residue` mod `modulus`, computed as the events' starts are."""
        block = _floor_div(column("at"), size)
        back = _modulo(_sub(block.copy(), number(float(residue))), modulus)
        return exp.Mul(this=_sub(block, back), expression=number(size))

    @staticmethod
    def _rescaled(total: exp.Expression, start: exp.Expression, half: float) -> exp.Expression:
        """A sum anchored at `start`, at the row's instant: times 2^((start - t)/h), as two half
        factors, so none underflows before the product does."""
        factor = exp.Pow(this=number(2.0), expression=exp.Div(this=_sub(start, column("at")), expression=number(2.0 * half)))
        return exp.Mul(this=exp.Mul(this=total, expression=factor), expression=factor.copy())

    def _carried_value(self, i: int, half: float, counted: exp.Expression, anchored: exp.Expression, term) -> exp.Expression:
        """Half-life decay over the whole past: a running sum within the row's block (of
        HALF_LIVES_PER_BLOCK half-lives), where each block also holds the carry rows of the two
        blocks before it (_stream)."""
        group = self.half_lives.setdefault(half, len(self.half_lives))
        name = f"x{i}"
        self.carried.setdefault(group, []).append(name)
        total = _zero_if_null(self._window(exp.Sum(this=term(name, counted, anchored)), None, None,
                                           [column("lead"), column(f"hb{group}")]))
        size = HALF_LIVES_PER_BLOCK * half
        return self._rescaled(total, exp.Mul(this=column(f"hb{group}"), expression=number(size)), half)

    @staticmethod
    def _total(parts: list[exp.Expression]) -> exp.Expression:
        if not parts:
            return number(0.0)
        total = parts[0]
        for part in parts[1:]:
            total = exp.Add(this=total, expression=part)
        return exp.Paren(this=total)

    # --- the stream and its frames -----------------------------------------------------------

    @staticmethod
    def _window(aggregate: exp.Expression, start: float | None, end: float | None,
                partition: list[exp.Expression] | None = None) -> exp.Window:
        """The aggregate over the rows of the lead (or of `partition`) from `start` seconds
        before the row (None: the first) to `end` seconds before it (None: the row and its peers)."""
        spec = exp.WindowSpec(kind="RANGE", start="UNBOUNDED" if start is None else _offset(start),
                              start_side="PRECEDING", end="CURRENT ROW" if end is None else _offset(end),
                              end_side=None if end is None else "PRECEDING")
        return exp.Window(this=aggregate, partition_by=partition or [column("lead")],
                          order=exp.Order(expressions=[exp.Ordered(this=column("at"))]), spec=spec)

    def _span(self, x: exp.Expression, low: float, high: float | None, exclusive: bool = True) -> exp.Expression:
        """The sum of x over the events aged [low, high) seconds (high None: no limit)."""
        end = low if low > 0 else None
        total = _zero_if_null(self._window(exp.Sum(this=x), high, end))
        if high is not None and exclusive:   # half-open: the events exactly `high` old are out
            total = _sub(total, _zero_if_null(self._window(exp.Sum(this=x.copy()), high, high)))
        return total

    def _stream(self, term_names: list[str]) -> exp.Select:
        """Events, instants, field changes and carry rows of every lead in one relation: an
        event row has its terms, an instant row its row_id, a change row the number of its
        change under k<slot> and 1 under h<slot> of its field; every row its block hb<group> of
        each half-life group. A carry row of block b + d (d = 1, 2), at that block's start,
        holds the sums of block b's terms of the group scaled to that start (2^-(d*540)): the
        blocks' running sums then see every term newer than 1080 half-lives."""
        double, bigint = exp.DataType.Type.DOUBLE, exp.DataType.Type.BIGINT
        names = list(self.program.field_types)
        change_names = [name for slot in self.changed for name in (f"k{slot}", f"h{slot}")]
        sizes = {group: HALF_LIVES_PER_BLOCK * half for half, group in self.half_lives.items()}
        block_names = [f"hb{group}" for group in sizes]

        def rows(source: str, given: dict[str, exp.Expression]) -> exp.Select:
            nulls = {**{n: bigint for n in ("row_id", *change_names)}, **{n: double for n in (*term_names, *block_names)}}
            picked = [(given[n] if n in given else exp.cast(exp.Null(), nulls[n])).as_(n, quoted=True)
                      for n in ("lead", "at", "row_id", *term_names, *change_names, *block_names)]
            return exp.select(*picked).from_(source)

        common = {"lead": column("lead"), "at": column("at")}
        stream = exp.union(rows("event_terms", {**common, **{n: column(n) for n in (*term_names, *block_names)}}),
                           rows("instants_apart", {**common, "row_id": column("row_id"),
                                             **{f"hb{g}": _floor_div(column("at"), size) for g, size in sizes.items()}}),
                           distinct=False)
        if self.changed:
            keys: dict[str, exp.Expression] = {}
            for slot in self.changed:
                mine = exp.EQ(this=column("field"), expression=exp.Literal.string(names[slot]))
                keys[f"k{slot}"] = case_when(mine, column("change"), None)
                keys[f"h{slot}"] = case_when(mine.copy(), exp.Literal.number(1), None)
            stream = exp.union(stream, rows("change_rows", {**common, **keys}), distinct=False)
        for group, size in sizes.items():
            for d in range(1, _CARRIED_BLOCKS + 1):
                block = exp.Add(this=column(f"hb{group}"), expression=number(float(d)))
                carried = {}
                for name in self.carried[group]:
                    total: exp.Expression = exp.Sum(this=column(name))
                    for _ in range(d):   # exact: powers of two
                        total = exp.Mul(this=total, expression=number(2.0 ** -HALF_LIVES_PER_BLOCK))
                    carried[name] = total
                carry = rows("event_terms", {"lead": column("lead"),
                                             "at": exp.Mul(this=block.copy(), expression=number(size)),
                                             f"hb{group}": block, **carried})
                carry = carry.group_by(column("lead"), column(f"hb{group}"))
                stream = exp.union(stream, carry, distinct=False)
        return exp.select(exp.Star()).from_(stream.subquery("rows"))

    @staticmethod
    def _instants_apart() -> exp.Select:
        """The instants at no event time of their lead: only these join the stream. At an event
        time, the event's row has the instant's values (the frames end at the row's peers)."""
        same = exp.and_(exp.EQ(this=exp.column("lead", table="e", quoted=True),
                               expression=exp.column("lead", table="i", quoted=True)),
                        exp.EQ(this=exp.column("at", table="e", quoted=True),
                               expression=exp.column("at", table="i", quoted=True)))
        event = exp.select(exp.Literal.number(1)).from_(exp.table_("event_terms").as_("e")).where(same)
        return exp.select(exp.Star()).from_(exp.table_("instants").as_("i")).where(
            exp.Not(this=exp.Exists(this=event)))

    @staticmethod
    def _probed(names: list[str]) -> exp.Select:
        """Every instant's running values: an instant row's own, else those of a row at its
        time (all rows at one time have the same; `running` is read once)."""
        same = exp.and_(exp.Is(this=exp.column("row_id", table="r", quoted=True), expression=exp.Null()),
                        exp.EQ(this=exp.column("lead", table="i", quoted=True),
                               expression=exp.column("lead", table="r", quoted=True)),
                        exp.EQ(this=exp.column("at", table="i", quoted=True),
                               expression=exp.column("instant", table="r", quoted=True)))
        row_id = exp.Coalesce(this=exp.column("row_id", table="r", quoted=True),
                              expressions=[exp.column("row_id", table="i", quoted=True)])
        picked = [exp.AnyValue(this=exp.column(n, table="r", quoted=True)).as_(n, quoted=True)
                  for n in ("lead", "instant", *names)]
        return exp.select(row_id.as_("row_id", quoted=True), *picked) \
            .from_(exp.table_("running").as_("r")).join(exp.table_("instants").as_("i"), on=same, join_type="left") \
            .where(exp.Not(this=exp.Is(this=row_id.copy(), expression=exp.Null()))).group_by(row_id.copy())

    def _change_values(self) -> list[exp.Expression]:
        """Per changed field, at each row: the number of its latest change at or before the row
        (k<slot>), and whether the lead has any change of it (h<slot>)."""
        values = []
        for slot in self.changed:
            values.append(self._window(exp.Max(this=column(f"k{slot}")), None, None).as_(f"k{slot}", quoted=True))
            values.append(exp.Window(this=exp.Max(this=column(f"h{slot}")), partition_by=[column("lead")])
                          .as_(f"h{slot}", quoted=True))
        return values

    def _fixed_columns(self) -> list[str]:
        """The columns of the fixed blocks: each one's score and the columns reasons read."""
        return [name for index in sorted(self.fixed) for name in (*self.block_columns(index), f"s{index}")]

    def _scored_instants(self, value_names: list[str]) -> exp.Select:
        """The instants' rows with the columns select.py's lead steps read."""
        fields = []
        for slot in range(len(self.program.field_types)):
            own = exp.column(f"f{slot}", table="lf", quoted=True)
            if slot in self.changed:
                changed = exp.EQ(this=exp.column(f"h{slot}", table="r", quoted=True), expression=exp.Literal.number(1))
                own = case_when(changed, exp.column(f"f{slot}", table=f"c{slot}", quoted=True), own)
            fields.append(own.as_(f"f{slot}", quoted=True))
        picked = [exp.column(n, table="r", quoted=True) for n in ("row_id", "instant", *value_names)]
        fixed = [exp.column(n, table="lf", quoted=True) for n in self._fixed_columns()]
        select = exp.select(*picked, *fields, *fixed).from_(exp.table_("probed").as_("r")).join(
            exp.table_(self.apart_steps.last).as_("lf"), join_type="left",
            on=exp.EQ(this=exp.column("lead", table="lf", quoted=True), expression=exp.column("lead", table="r", quoted=True)))
        for slot in self.changed:
            on = exp.and_(exp.EQ(this=exp.column("lead", table=f"c{slot}", quoted=True),
                                 expression=exp.column("lead", table="r", quoted=True)),
                          exp.EQ(this=exp.column("change", table=f"c{slot}", quoted=True),
                                 expression=exp.column(f"k{slot}", table="r", quoted=True)))
            select = select.join(exp.table_("change_rows").as_(f"c{slot}"), join_type="left", on=on)
        return select

"""ScoringProgram -> the two SQL SELECTs that score many (lead, instant) pairs, as sqlglot trees.

The replay (docs/simulate.md) asks for results at many instants of each lead, over several
rounds. Rather than re-reading a lead's events once per instant, or once per round, the work
is cut in two:

* `terms` (once per bucket): one row per event with its terms (below). The caller turns them
  into running sums (or maxima) of every term over the lead's events up to each event, in
  (lead, pos) order (simulator/running_sums.py: SQL window functions were the slow part of a
  replay);
* `instants` (once per round): each instant's values (InstantsStatements.values: each rule's
  sum over its window with its decay, the counts, the latest matches) are read off those
  running sums by the caller (simulator/instant_values.py, with numpy): a sum over the events
  aged [low, high) is the running sum at the lead's last event at or before `t - low` less the
  one at `t - high`. The statement applies the rules to them (caps, groups, clamps,
  inactivity, thresholds, segments), from the lowered program through the registry.

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
    instants      `row_id` BIGINT, `lead`, `at` DOUBLE epoch seconds; one column per value of
                  InstantsStatements.values, named as it (DOUBLE; `n<i>` BIGINT; a latest time
                  NULL when none); per changed field slot `k<slot>`: the `seq` of the lead's
                  latest change of it at or before `at` (equal times: the last in file order),
                  and `h<slot>` 1 when the lead has any change of it (else NULL)

`terms` returns `lead`, `pos`, `at_s` (the event's `at`), `hb<group>`... and one column per
term (InstantsStatements.running: running sums, or maxima for `latest`).

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
  restarts with each block. Each event's running sums also hold the totals of its lead's two
  blocks before its own (`<term>_q1`, `<term>_q2`). A block's part of a sum, anchored at its start o, is rescaled by
  2^((o - t)/h), applied as two half factors so neither underflows before the product does;
  over the whole past, the two blocks before the instant's are brought to its block's start
  by 2^-540 and 2^-1080 (exact powers of two). Terms older than that are over 1080
  half-lives old, below the smallest double (2^-1074), as in Python. With `within`, the
  window touches at most three blocks, each taken from its own start. Nothing overflows,
  and each term keeps its relative precision.

Linear and half-life sums are exact only to a few units in the last place; a window holding
one match of such a rule is valued as Python values it instead (OneTerm: its points times the
decay factor at its age), so a lone event at its own instant counts its points exactly.

A score block whose rules read only fields that never change (no events, aggregates,
days_since, inactivity, changed fields) is computed once per lead, before the instants.

count is the number of matches in the window; days_since and inactivity read the running
maximum of the event times (days_since within a window: that maximum when it is inside).

A `where` that reads a field changed by change_input, or the instant (days_since of a
field), would make an event's mark depend on the instant: such a program is refused
(SqlUnsupported); `changed_fields` names the fields that have changes (None: all of them).
"""

from __future__ import annotations

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
    """A running column (simulator/running_sums.py): the running sum of the term of that name
    over the lead's events (restarting with each block hb<group> when a group is given), or
    (latest) its value at the lead's latest event that has one: the terms are event times."""

    name: str
    group: int | None
    latest: bool
    # not a column of `terms` when given: the running count (latest: the time) of the events at
    # which one of these terms is not 0 (a decayed rule's matches: its points are not 0)
    matches: tuple[str, ...] = ()
    # every term a whole number of at most this size (a count, whole points): the running sums
    # are then exact in any order of addition, while they stay below 2^53
    whole: float | None = None


@dataclass(frozen=True)
class OneTerm:
    """For a decayed rule: the running count and latest time of its matches, so that a window
    holding one match is valued as Python values it, `points` times its decay factor (the
    registry's), not from the block or window sums, which may miss that value by its last bits."""

    count: str
    latest: str
    high: float | None            # the window's oldest age (excluded); None: the whole past
    points: float
    decay: sem.Decay


@dataclass(frozen=True)
class WindowSum:
    """Σ factor × (the running sum of `term` at age `low` less at age `high`) over `parts`
    (high None: nothing less): decay none and steps, counts."""

    name: str
    term: str
    parts: tuple[tuple[float, float | None, float], ...]
    whole: bool = False           # an integer count (BIGINT)


@dataclass(frozen=True)
class LinearSum:
    """Linear decay over `length` seconds (module docstring): per block parity, the points term
    and the from-start term, summed over the events younger than `high`."""

    name: str
    parities: tuple[tuple[str, str], ...]
    length: float
    high: float
    one: OneTerm


@dataclass(frozen=True)
class HalfLifeSum:
    """Half-life decay of `half` seconds over the block-restarting term `term` of blocks
    hb<group> (module docstring); `within` None: the whole past."""

    name: str
    term: str
    group: int
    half: float
    within: float | None
    one: OneTerm


@dataclass(frozen=True)
class LatestAt:
    """The running maximum of `term` (an event time) at the instant: NULL when none, or when it
    is not inside `within` (None: no window)."""

    name: str
    term: str
    within: float | None


InstantValue = WindowSum | LinearSum | HalfLifeSum | LatestAt


@dataclass(frozen=True)
class InstantsStatements:
    """The statements of the module docstring, and what the caller gives `instants`."""

    terms: exp.Select
    instants: exp.Select
    values: tuple[InstantValue, ...]  # the `instants` relation's value columns, read off the running sums
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


def _qualified(name: str, table: str) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


@dataclass(frozen=True)
class _Term:
    """A per-event column of `terms` (its running sum or latest value is a RunningColumn)."""

    condition: exp.Expression
    value: exp.Expression
    group: int | None = None
    latest: bool = False
    whole: float | None = None   # RunningColumn.whole


class _InstantsBuilder(StatementBuilder):
    def __init__(self, program: lo.ScoringProgram, changed_fields: Collection[str] | None) -> None:
        super().__init__(program, "lead")
        self.changed = [slot for slot, name in enumerate(program.field_types)
                        if changed_fields is None or name in changed_fields]
        self.half_lives: dict[float, int] = {}   # half-life (s) -> its group: blocks hb<group>
        self.terms: dict[str, _Term] = {}
        self.matches: dict[str, tuple[tuple[str, ...], bool]] = {}   # RunningColumn.matches, latest
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
        self.steps.add("scored", self._scored_instants([value.name for value in values]))
        instants = self.statement("row_id", lead_steps, scores, decisions, reasons)
        running = tuple(RunningColumn(name, term.group, term.latest, whole=term.whole)
                        for name, term in self.terms.items()) + \
            tuple(RunningColumn(name, None, latest, matches) for name, (matches, latest) in self.matches.items())
        return InstantsStatements(terms, instants, tuple(values), tuple(self.changed), running,
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
        statement = exp.select(column("lead"), column("pos"), column("at_s"), *blocks, *terms).from_(self.steps.last)
        for name, cte in self.steps.ctes:
            statement = statement.with_(name, as_=cte, copy=False)
        self.steps = steps
        return statement

    def _term(self, name: str, condition: exp.Expression, value: exp.Expression, group: int | None = None,
              latest: bool = False, whole: float | None = None) -> str:
        self.terms[name] = _Term(condition, value, group, latest, whole)
        return name

    # --- per instant: the values read off the running sums ---------------------------------

    def _values(self, reasons: bool) -> list[InstantValue]:
        """The values at each instant that select.py's lead steps read (r<i>, n<i>, the
        aggregates, last_at), registering the terms they need."""
        values: list[InstantValue] = []
        for i, rule in enumerate(self.event_rules):
            counted = self.counted(i, rule)
            values.append(self._rule_value(i, rule, counted))
            if reasons:
                count = self._term(f"x{i}n", counted.copy(), number(1.0), whole=1.0)
                values.append(WindowSum(f"n{i}", count, ((0.0, rule.within, 1.0),), whole=True))
        for a, name in self.aggregates.items():
            mark = column(f"c{name[1:]}")
            if a.function is sem.Function.COUNT:
                values.append(WindowSum(name, self._term(f"x{name}", mark, number(1.0), whole=1.0), ((0.0, a.within, 1.0),)))
            else:
                values.append(LatestAt(name, self._term(f"x{name}", mark, column("at_s"), latest=True), a.within))
        values.append(LatestAt("last_at", self._term("x_at", exp.true(), column("at_s"), latest=True), None))
        return values

    def _one_term(self, i: int, rule: lo.EventRule, terms: tuple[str, ...], high: float | None) -> OneTerm:
        """The rule's matches are the events at which one of its `terms` is not 0: a rule of 0
        points has none, and its sums are 0 anyway."""
        self.matches[f"x{i}c"] = (terms, False)
        self.matches[f"x{i}t"] = (terms, True)
        return OneTerm(f"x{i}c", f"x{i}t", high, abs(rule.points), rule.decay)

    def _rule_value(self, i: int, rule: lo.EventRule, counted: exp.Expression) -> InstantValue:
        points, within, decay = number(abs(rule.points)), rule.within, rule.decay
        whole = abs(rule.points) if float(abs(rule.points)).is_integer() else None
        at = column("at_s")
        name = f"r{i}"
        match decay.kind:
            case sem.DecayKind.NONE:
                return WindowSum(name, self._term(f"x{i}", counted, points, whole=whole), ((0.0, within, 1.0),))
            case sem.DecayKind.STEPS:
                x = self._term(f"x{i}", counted, points, whole=whole)
                bounds = [0.0, *(age * DAY for age in decay.ages), None]
                factors = [1.0, *decay.fractions]
                parts = []
                for low, high, factor in zip(bounds, bounds[1:], factors):
                    if within is not None:
                        if low >= within:
                            break
                        high = within if high is None else min(high, within)
                    if factor != 0.0 and (high is None or high > low):
                        parts.append((low, high, factor))
                return WindowSum(name, x, tuple(parts))
            case sem.DecayKind.LINEAR:
                length = decay.days * DAY
                high = length if within is None else min(length, within)
                block = _floor_div(at.copy(), length)
                parity = _modulo(block, _PARITIES)
                from_start = exp.Div(this=_sub(at.copy(), exp.Mul(this=block.copy(), expression=number(length))),
                                     expression=number(length))
                parities = []
                for q in range(_PARITIES):
                    mine = exp.and_(counted.copy(), exp.EQ(this=parity.copy(), expression=number(float(q))))
                    sum_p = self._term(f"x{i}p{q}", mine, points.copy(), whole=whole)
                    sum_pe = self._term(f"x{i}e{q}", mine.copy(), exp.Mul(this=points.copy(), expression=from_start.copy()))
                    parities.append((sum_p, sum_pe))
                return LinearSum(name, tuple(parities), length, high,
                                 self._one_term(i, rule, tuple(p for p, _ in parities), high))
            case sem.DecayKind.HALF_LIFE:
                half = decay.days * DAY
                size = HALF_LIVES_PER_BLOCK * half
                block = _floor_div(at.copy(), size)
                anchored = exp.Mul(this=points, expression=exp.Pow(this=number(2.0), expression=exp.Div(
                    this=_sub(at.copy(), exp.Mul(this=block.copy(), expression=number(size))), expression=number(half))))
                group = self.half_lives.setdefault(half, len(self.half_lives))
                term = self._term(f"x{i}", counted, anchored, group)
                return HalfLifeSum(name, term, group, half, within, self._one_term(i, rule, (term,), within))
        raise TypeError(f"a decay of unknown kind: {decay.kind!r}")

    def _instant_values(self, values: list[InstantValue]) -> exp.Select:
        """Each instant with its values, as the caller computed them into the `instants` relation."""
        rules = {f"r{i}": rule for i, rule in enumerate(self.event_rules)}
        picked = []
        for value in values:
            read: exp.Expression = _qualified(value.name, "i")
            if value.name in rules:
                read = commented(read, rules[value.name].line, rules[value.name].name)
            picked.append(read.as_(value.name, quoted=True))
        changes = [_qualified(f"{prefix}{slot}", "i") for slot in self.changed for prefix in ("k", "h")]
        return exp.select(*(_qualified(n, "i") for n in ("row_id", "lead")), self.now.copy().as_("instant", quoted=True),
                          *picked, *changes).from_(exp.table_("instants").as_("i"))

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

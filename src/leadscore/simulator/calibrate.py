"""Calibration (docs/calibrate.md): how often the leads that show a signal
succeed, against the base rate, and the points that would follow.

Signals: each event type, each `where` variant the ruleset uses, and each
value of each categorical lead field. A lead shows an event signal when it
had such an event before its success (or at all, when it never succeeded,
up to `as_of`). Three passes over the history, each streaming: outcomes (a
success time per successful lead), leads (field values counted as they
pass), events (one small bitmask of signals per lead).

    plan = plan_signals(checked, max_values)
    tally = count_signals(plan, outcomes, leads, open_events, options)
    result = summarise(plan, tally, options)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from ..compiler import runtime as rt
from ..dsl import ast
from ..dsl.checker import CheckedRuleset
from . import calibrate_bins as bins
from . import calibrate_rules as lang
from .calibrate_probe import WhereProbe, reads_other_events, where_fields
from .stages import require_stage

Z95 = 1.959963984540054   # the 97.5th percentile of the standard normal


@dataclass(frozen=True)
class Options:
    success_stage: str = "won"
    as_of: float | None = None        # epoch seconds; None: the whole history
    scale: float = 10
    min_count: int = 30
    max_values: int = 20              # a field without `values` is categorical up to this many
    lost_stage: str = "lost"
    decided_only: bool = False        # count only leads with a success or a loss (by as_of)


@dataclass(frozen=True)
class Signal:
    kind: str                         # "event", "where" or "field"
    event: str | None = None
    where: ast.Expr | None = None
    used_by: tuple[str, ...] = ()     # the rules and declarations using a `where` variant
    field: str | None = None
    ftype: str | None = None
    value: str | bool | None = None   # None with `missing` or `undeclared`
    missing: bool = False
    undeclared: bool = False          # every value a `values` field does not declare, together
    low: float | None = None          # a number field's range [low, high), None for an open end
    high: float | None = None

    @property
    def condition(self) -> str | None:
        """The signal in the language (`per` part or `if` condition); None when it cannot be written."""
        if self.kind != "field":
            return lang.event_condition(self.event, self.where)
        if self.undeclared:
            return None
        if self.ftype == "number" and not self.missing:
            return bins.range_condition(self.field, self.low, self.high)
        return lang.field_condition(self.field, self.ftype, None if self.missing else self.value)

    @property
    def label(self) -> str:
        if self.condition is not None:
            return self.condition
        if self.undeclared:
            return f"{self.field}: values not declared in the schema"
        return f"{self.event if self.kind != 'field' else self.field} (a name the language cannot write)"


@dataclass(frozen=True)
class Plan:
    """What to count, from the ruleset and its schema."""

    checked: CheckedRuleset
    event_signals: tuple[Signal, ...]          # one per event type, then its `where` variants
    fields: dict[str, tuple[str, tuple[str, ...] | None]]   # categorical field -> (type, declared values)
    skipped_wheres: tuple[Signal, ...]         # variants one event cannot decide (they count events)
    max_values: int
    numbers: tuple[str, ...] = ()             # number fields, binned by quantiles


@dataclass
class Tally:
    leads: int = 0
    successes: int = 0
    events: list[list[int]] = field(default_factory=list)        # per event signal: [leads, successes]
    values: dict[str, dict[tuple, list[int]]] = field(default_factory=dict)  # field -> key -> [leads, successes]
    too_many_values: list[str] = field(default_factory=list)
    outcomes_unknown_lead: int = 0
    not_yet: int = 0                  # leads left out: they did not exist at --as-of
    undecided: int = 0                # leads left out by --decided-only
    numbers: dict[str, list[tuple[float | None, bool]]] = field(default_factory=dict)  # field -> (value, won)


@dataclass(frozen=True)
class Row:
    signal: Signal
    leads: int
    successes: int
    rate: float
    low: float
    high: float
    lift: float | None
    direction: str                    # "above", "below" (the interval excludes the base rate) or "unclear"
    points: int | None
    rule_name: str | None
    note: str | None


@dataclass(frozen=True)
class Calibration:
    ruleset: str
    version: str
    options: Options
    leads: int
    successes: int
    base_rate: float | None
    base_interval: tuple[float, float] | None
    best_lift: float | None
    divisor: float | None             # the log2 that maps a lift to `scale` points
    rows: tuple[Row, ...]
    suggestion: str | None            # the score block to paste, or None when nothing qualifies
    notes: tuple[str, ...]


# --- statistics ---------------------------------------------------------------------------------

def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (n > 0)."""
    p = successes / n
    spread = z * z / n
    centre = (p + spread / 2) / (1 + spread)
    half = z * math.sqrt(p * (1 - p) / n + spread / (4 * n)) / (1 + spread)
    # Exact at the ends: rounding must not put 0 outside [low, high] for 0 successes.
    return (0.0 if successes == 0 else min(p, centre - half)), (1.0 if successes == n else max(p, centre + half))


def round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def points_for(lift: float, divisor: float, scale: float) -> int:
    """round(S × log2(lift) / divisor), halves away from zero (docs/calibrate.md)."""
    return round_half_away(scale * math.log2(lift) / divisor)


# --- the plan -----------------------------------------------------------------------------------

def plan_signals(checked: CheckedRuleset, max_values: int = 20) -> Plan:
    schema = checked.schema
    variants: dict[str, dict[str, Signal]] = {name: {} for name in schema.events}
    for owner, node in _where_uses(checked.ruleset):
        event, where = node
        known = variants[event].get(lang.where_text(where))
        if known is None:
            variants[event][lang.where_text(where)] = Signal("where", event, where, (owner,))
        elif owner not in known.used_by:
            variants[event][lang.where_text(where)] = Signal("where", event, known.where, known.used_by + (owner,))
    signals: list[Signal] = []
    skipped: list[Signal] = []
    for event in schema.events:
        signals.append(Signal("event", event))
        for variant in variants[event].values():
            (skipped if reads_other_events(checked, variant.where) else signals).append(variant)
    fields = {name: (spec.type, spec.values) for name, spec in schema.fields.items()
              if name != schema.id_column and (spec.type == "boolean" or spec.type in ("string", "list"))}
    numbers = tuple(name for name, spec in schema.fields.items() if name != schema.id_column and spec.type == "number")
    return Plan(checked, tuple(signals), fields, tuple(skipped), max_values, numbers)


def _where_uses(ruleset: ast.Ruleset) -> Iterator[tuple[str, tuple[str, ast.Expr]]]:
    """(the rule or declaration, (event type, condition)) for every `where`, in file order."""
    for decl in ruleset.declarations:
        parts = ast.rules_of(decl) if isinstance(decl, ast.ScoreBlock) else [decl]
        for part in parts:
            for node in ast.walk(part):
                if isinstance(node, ast.EventRule) and node.where is not None:
                    yield part.name.name, (node.event.name, node.where)
                elif isinstance(node, ast.CallArg) and node.where is not None \
                        and isinstance(node.value, ast.Name):
                    yield part.name.name, (node.value.name, node.where)


# --- counting -----------------------------------------------------------------------------------

def count_signals(plan: Plan, outcomes: Iterable[tuple], leads: Iterable[tuple[str, dict]],
                  open_events: Callable[[set[str]], Iterable[tuple[str, object]]], options: Options) -> Tally:
    """Stream the three tables once each. `open_events(known lead ids)` gives the
    (lead id, Event) pairs of the events table."""
    as_of = math.inf if options.as_of is None else options.as_of
    stage = options.success_stage.strip().lower()
    lost_stage = options.lost_stage.strip().lower()
    success: dict[str, float] = {}
    decided: set[str] = set()
    seen: Counter = Counter()
    for lead, outcome_stage, at, _amount in outcomes:
        seen[outcome_stage] += 1
        if outcome_stage == stage and at <= as_of and at < success.get(lead, math.inf):
            success[lead] = at
        if outcome_stage in (stage, lost_stage) and at <= as_of:
            decided.add(lead)
    require_stage(seen, stage)
    if options.decided_only:
        require_stage(seen, lost_stage, "--lost")

    tally = Tally(events=[[0, 0] for _ in plan.event_signals],
                  values={name: {} for name in plan.fields})
    known: set[str] = set()
    wheres = [s.where for s in plan.event_signals if s.kind == "where"]
    needed = where_fields(plan.checked, wheres)
    field_types = {name: plan.checked.schema.fields[name].type for name in needed}
    lead_fields: dict[str, dict] = {}
    created = plan.checked.schema.created
    later: list[tuple[str, dict]] = []      # with --as-of: leads created after it, or when unknown
    counted: set[str] = set()

    def count(lead: str, values: dict) -> None:
        """A lead that exists at as_of: counted, unless --decided-only leaves it out."""
        if options.decided_only and lead not in decided:
            tally.undecided += 1
            return
        won = lead in success
        counted.add(lead)
        tally.leads += 1
        tally.successes += won
        _count_values(plan, tally, values, won)
        for name in plan.numbers:
            tally.numbers.setdefault(name, []).append((rt.normalise_value(values.get(name), "number"), won))

    for lead, values in leads:
        known.add(lead)
        if needed:
            lead_fields[lead] = rt.prepare_fields(values, field_types)
        born = rt.normalise_value(values.get(created), "datetime") if created else None
        if as_of == math.inf or (born is not None and born <= as_of):
            count(lead, values)
        else:
            later.append((lead, values))
    tally.outcomes_unknown_lead = sum(lead not in known for lead in success)

    active: set[str] = set()                # leads with an event at or before --as-of
    masks = _event_masks(plan, open_events(known), success, lead_fields, field_types, as_of, active)
    for lead, values in later:
        if lead in active:                  # a lead exists at T from its first instant on
            count(lead, values)
    tally.not_yet = len(later) - sum(lead in active for lead, _ in later)
    for lead, mask in masks.items():
        if lead not in counted:
            continue
        won = lead in success
        while mask:
            lowest = mask & -mask
            entry = tally.events[lowest.bit_length() - 1]
            entry[0] += 1
            entry[1] += won
            mask ^= lowest
    return tally


def _count_values(plan: Plan, tally: Tally, values: dict, won: bool) -> None:
    for name, (ftype, declared) in plan.fields.items():
        counts = tally.values.get(name)
        if counts is None:          # dropped: too many distinct values
            continue
        value = values.get(name)
        if value is None:
            keys = {("missing",)}
        elif ftype == "boolean":
            keys = {("value", value)}
        else:
            items = value if ftype == "list" else [value]
            keys = {("value", item) if declared is None or item in declared else ("undeclared",)
                    for item in items}
        for key in keys:
            entry = counts.get(key)
            if entry is None:
                if declared is None and ftype != "boolean" and key[0] == "value" \
                        and sum(k[0] == "value" for k in counts) >= plan.max_values:
                    del tally.values[name]
                    tally.too_many_values.append(name)
                    break
                entry = counts[key] = [0, 0]
            entry[0] += 1
            entry[1] += won


def _event_masks(plan: Plan, events: Iterable[tuple[str, object]], success: dict[str, float],
                 lead_fields: dict[str, dict], field_types: dict[str, str], as_of: float,
                 active: set[str]) -> dict[str, int]:
    """lead -> bitmask of the event signals it showed before its success; `active` gains the
    leads with an event at or before as_of."""
    type_bit = {s.event: 1 << i for i, s in enumerate(plan.event_signals) if s.kind == "event"}
    by_event: dict[str, list[tuple[int, ast.Expr]]] = {}
    for i, s in enumerate(plan.event_signals):
        if s.kind == "where":
            by_event.setdefault(s.event, []).append((1 << i, s.where))
    probes = {event: WhereProbe(plan.checked, event, variants) for event, variants in by_event.items()}
    no_fields = {name: None for name in field_types}
    masks: dict[str, int] = {}
    # Millions of events: dictionary methods bound once, outside the loop.
    known_mask, success_at, probe_of, fields_of = masks.get, success.get, probes.get, lead_fields.get
    seen = active.add
    for lead, event in events:
        at = event.at
        if at > as_of:
            continue
        seen(lead)
        if at >= success_at(lead, math.inf):
            continue
        mask = known_mask(lead, 0) | type_bit[event.type]
        probe = probe_of(event.type)
        if probe is not None and mask & probe.all_bits != probe.all_bits:
            mask |= probe.passed(at, event.properties, fields_of(lead, no_fields))
        masks[lead] = mask
    return masks


# --- summary ------------------------------------------------------------------------------------

def summarise(plan: Plan, tally: Tally, options: Options) -> Calibration:
    checked = plan.checked
    base = tally.successes / tally.leads if tally.leads else None
    measured = [(s, *tally.events[i]) for i, s in enumerate(plan.event_signals) if tally.events[i][0]]
    measured += _field_rows(plan, tally)
    eligible = [(s, n, k) for s, n, k in measured
                if n >= options.min_count and s.condition is not None and base]
    lifts = {id(s): _lift_for_points(n, k, base) for s, n, k in eligible}
    best = max(lifts.values(), default=None)
    divisor = None
    if best is not None:
        divisor = math.log2(best) if best > 1 else max(abs(math.log2(v)) for v in lifts.values()) or None

    taken = lang.declared_names(checked.ruleset)
    rows, rules = [], []
    ranged: dict[str, list[tuple]] = {}      # number field -> (low, high, points) per range
    for signal, n, k in measured:
        low, high = wilson(k, n)
        lift = (k / n) / base if base else None
        direction = "above" if base is not None and low > base else \
            "below" if base is not None and high < base else "unclear"
        points, name, note = None, None, None
        if signal.condition is None:
            note = ("add these values to the schema to score them" if signal.undeclared
                    else "the language cannot write this name")
        elif n < options.min_count:
            note = f"fewer than {options.min_count} leads"
        elif divisor is not None:
            points = points_for(lifts[id(signal)], divisor, options.scale)
            if signal.ftype == "number" and not signal.missing:
                # every range of the field, 0 included, goes into one `case` rule (below)
                ranged.setdefault(signal.field, []).append((signal.low, signal.high, points))
            elif points == 0:
                note = "0 points"
            else:
                name = lang.unique_name(lang.rule_name_base(_name_parts(plan, signal)), taken)
                body = (f"per {signal.condition}, once" if signal.kind != "field" else f"if {signal.condition}")
                comment = "uncertain" if direction == "unclear" else ""
                rules.append((name, points, body, comment))
        rows.append(Row(signal, n, k, k / n, low, high, lift, direction, points, name, note))
    ranges = Counter(s.field for s, _, _ in measured if s.ftype == "number" and not s.missing)
    cases, case_names = [], {}
    for name, branches in ranged.items():
        # a range without points would let its leads fall into the next branch: all or none
        lines = bins.case_lines(name, branches) if len(branches) == ranges[name] else None
        if lines:
            case_names[name] = lang.unique_name(lang.rule_name_base([name, "range"]), taken)
            cases.append((case_names[name], lines))
    rows = [replace(r, rule_name=case_names.get(r.signal.field)) if r.signal.ftype == "number"
            and not r.signal.missing and r.points is not None else r for r in rows]

    notes = _notes(plan, tally, base)
    suggestion = None
    if rules or cases:
        block = lang.unique_name("calibrated", taken)
        heading = [f"Suggested by `leadscore calibrate` from {tally.leads} leads, {tally.successes} "
                   f"successes (base rate {base:.1%}).",
                   f"points = round({_number(options.scale)} × log2(lift) / {divisor:.3f}); "
                   "a signal shown before success counts once.",
                   "`# uncertain`: the 95% interval of its success rate includes the base rate. "
                   "Review before adopting."]
        suggestion = lang.score_block(block, rules, heading, cases)
    return Calibration(checked.name, checked.version, options, tally.leads, tally.successes, base,
                       wilson(tally.successes, tally.leads) if tally.leads else None, best, divisor,
                       tuple(rows), suggestion, tuple(notes))


def _lift_for_points(n: int, k: int, base: float) -> float:
    """The lift; with no success among the n leads, the rate of half a success
    (so a signal never seen to succeed gets finite, strongly negative points)."""
    return (max(k, 0.5) / n) / base


def _field_rows(plan: Plan, tally: Tally) -> list[tuple[Signal, int, int]]:
    """Field signals in schema order: declared values in their order, then values seen
    (most leads first), `true`, `false`, the undeclared values together, missing last."""
    rows = []
    for name, (ftype, declared) in plan.fields.items():
        counts = tally.values.get(name)
        if not counts:
            continue
        seen = [key for key in counts if key[0] == "value"]
        if ftype == "boolean":
            order = [k for k in (("value", True), ("value", False)) if k in counts]
        elif declared is not None:
            order = [("value", v) for v in declared if ("value", v) in counts]
        else:
            order = sorted(seen, key=lambda key: (-counts[key][0], key[1]))
        order += [k for k in (("undeclared",), ("missing",)) if k in counts]
        for key in order:
            signal = Signal("field", field=name, ftype=ftype, value=key[1] if key[0] == "value" else None,
                            missing=key == ("missing",), undeclared=key == ("undeclared",))
            rows.append((signal, *counts[key]))
    for name in plan.numbers:
        found, n_missing, k_missing = bins.count(tally.numbers.get(name, []))
        for (low, high), n, k in found:
            rows.append((Signal("field", field=name, ftype="number", low=low, high=high), n, k))
        if found and n_missing:
            rows.append((Signal("field", field=name, ftype="number", missing=True), n_missing, k_missing))
    return rows


def _name_parts(plan: Plan, signal: Signal) -> list[str]:
    if signal.kind == "event":
        return ["ev", signal.event]
    if signal.kind == "where":
        # after the event type and its condition: `ev_page_view_url_starts_with_pricing`
        return ["ev", signal.event, lang.where_text(signal.where)]
    if signal.missing:
        return [signal.field, "missing"]
    value = signal.value
    return [signal.field, ("true" if value else "false") if isinstance(value, bool) else value]


def _notes(plan: Plan, tally: Tally, base: float | None) -> list[str]:
    notes = []
    if not tally.leads:
        notes.append("no leads: nothing to calibrate")
    elif not base:
        notes.append("no lead succeeded: every rate is 0 and no points can be suggested")
    elif base == 1:
        notes.append("every lead succeeded: no signal can do better than the base rate")
    for signal in plan.skipped_wheres:
        notes.append(f"`{lang.where_text(signal.where)}` (used by {', '.join(signal.used_by)}) counts other "
                     "events: one event cannot decide it, so it is not calibrated")
    for name in tally.too_many_values:
        notes.append(f"field `{name}` has more than {plan.max_values} values: not treated as categorical "
                     "(--max-values)")
    if tally.not_yet:
        notes.append(f"{tally.not_yet:,} lead(s) did not exist yet at --as-of (created later, or no instant "
                     "by then): left out")
    if tally.undecided:
        notes.append(f"{tally.undecided:,} lead(s) had neither a success nor a loss by then: left out "
                     "(--decided-only)")
    if tally.outcomes_unknown_lead:
        notes.append(f"{tally.outcomes_unknown_lead} successful outcome(s) name leads missing from the "
                     "leads table; they are left out")
    return notes


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)

"""What a replay may skip (docs/language.md): which results can change with time alone.

Between two instants at which a lead's inputs change (an event arrives, a field changes),
everything it is scored on is fixed except the instant itself. This pass tells, for each
threshold and each segment label's condition, which way such a gap can move it:

* `CONST`: not at all; `UP`: a condition can only become true (a number only rise);
  `DOWN`: only become false (only fall); `ANY`: either.
* `TRUE` / `FALSE`: a condition known for the whole gap, from the values of its *fixed atoms*:
  the parts that depend on lead fields and constants only (`fit >= mql_fit` when `fit` has no
  per-event rule), evaluated once per lead and again after each field change.

Per-event points fade with decay and leave their `within` window, so positive points only
fall with time and negative points only rise; `count(... within D)` only falls and
`days_since(...)` only rises; an inactivity penalty only grows. A rule can only move when the
lead has events of its type (`live`, a bit per event type of the schema). Everything here is
conservative: when in doubt the answer is `ANY`, which costs an evaluation, never a result.
It reads the ScoringProgram (lower.py), and how aggregates and decay move from semantics.py.

The same facts say which results a lead's *later* instants can still change (`future`):
a condition with a `FALSE` fixed atom in every way to hold can never hold again, events or
not, until a field changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import assert_never

from .. import lower as lo
from .. import semantics as sem
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset

CONST, UP, DOWN, ANY, TRUE, FALSE = range(6)
_FLIP = {CONST: CONST, UP: DOWN, DOWN: UP, ANY: ANY, TRUE: FALSE, FALSE: TRUE}
_MOTION = {sem.Motion.CONSTANT: CONST, sem.Motion.RISES: UP, sem.Motion.FALLS: DOWN, sem.Motion.ANY: ANY}


def combine(a: int, b: int) -> int:
    """The direction of a sum (or a conjunction without known parts) of two movements."""
    a, b = (CONST if d in (TRUE, FALSE) else d for d in (a, b))
    if a == CONST:
        return b
    if b == CONST or a == b:
        return a
    return ANY


def flip(direction: int) -> int:
    return _FLIP[direction]


@dataclass(frozen=True)
class Gap:
    """Directions over one gap: per threshold; per segment, per label (None for `otherwise`)."""

    thresholds: tuple[int, ...]
    segments: tuple[tuple[int | None, ...], ...]


@dataclass(frozen=True)
class Future:
    """What later instants can still bring: per threshold, whether it can hold; per segment,
    per label, whether it can be reached."""

    thresholds: tuple[bool, ...]
    labels: tuple[tuple[bool, ...], ...]


class ReplayAnalysis:
    """The facts of one program. `unknown` names constants whose value must not be relied on
    (a sweep's constant): parts using them are never fixed atoms. `atoms` are expressions of
    the program (lower.py), numbered by their bit."""

    def __init__(self, checked: CheckedRuleset, unknown: frozenset[str] = frozenset(),
                 program: lo.ScoringProgram | None = None) -> None:
        self.program = program = program if program is not None else lo.lower(checked)
        self.unknown = unknown
        self.event_bits = {name: 1 << i for i, name in enumerate(program.property_types)}
        self.blocks = {b.name: b for b in program.blocks}
        self.derived = {d.name: d for d in program.derived}
        self.thresholds = program.thresholds
        self.segments = program.segments
        self.fixed_names: set[tuple[str, str]] = set()
        self._find_fixed()
        self.tainted = set().union(*(_tainted(program, name) for name in unknown))
        atoms: dict[lo.Expr, None] = {}
        for condition in self._conditions():
            self._collect_atoms(condition, atoms)
        self.atoms: tuple[lo.Expr, ...] = tuple(atoms)
        self._atom_index = {atom: i for i, atom in enumerate(self.atoms)}
        self._live_mask, self._any_live = self._moving_events(), 1 << len(self.event_bits)
        self._gaps: dict[tuple[int, int], Gap] = {}
        self._futures: dict[int, Future] = {}

    # --- fixed parts: fields and constants only ------------------------------------------

    def _conditions(self):
        for d in self.thresholds:
            yield d.condition
        for s in self.segments:
            for label in s.labels:
                if label.condition is not None:
                    yield label.condition

    def _find_fixed(self) -> None:
        """Scores, thresholds and segments whose value depends on fields and constants only,
        in declaration order (derived scores in dependency order)."""
        for block in self.program.blocks:
            if all(self._fixed_rule(r) for r in block.rules()) and block.inactivity is None:
                self.fixed_names.add((t.SCORE, block.name))
        for derived in self.program.derived:
            if self.fixed(derived.expr):
                self.fixed_names.add((t.SCORE, derived.name))
        for decision in self.program.decisions:
            if isinstance(decision, lo.Threshold):
                if self.fixed(decision.condition):
                    self.fixed_names.add((t.THRESHOLD, decision.name))
            elif all(label.condition is None or self.fixed(label.condition) for label in decision.labels):
                self.fixed_names.add((t.SEGMENT, decision.name))

    def _fixed_rule(self, rule: lo.Rule) -> bool:
        if isinstance(rule, lo.ConditionRule):
            return self.fixed(rule.condition)
        if isinstance(rule, lo.CaseRule):
            return all(b.condition is None or self.fixed(b.condition) for b in rule.branches)
        return False

    def fixed(self, expr: lo.Expr) -> bool:
        """Depends on fields and constants only: no event, no instant."""
        for node in lo.walk(expr):
            if isinstance(node, (lo.Aggregate, lo.DaysSinceField)):
                return False
            key = _reference(node)
            if key is not None and key not in self.fixed_names:
                return False
        return True

    def _atom(self, expr: lo.Expr) -> bool:
        return self.fixed(expr) and not any(
            (isinstance(n, lo.Const) and n.name in self.unknown) or _reference(n) in self.tainted
            for n in lo.walk(expr))

    def _collect_atoms(self, expr: lo.Expr, out: dict) -> None:
        """The largest fixed parts of a condition, through `and`, `or` and `not`."""
        if isinstance(expr, lo.Const) and expr.name is None:
            return   # a literal true/false
        if self._atom(expr):
            out[expr] = None
        elif isinstance(expr, lo.Logic):
            for operand in expr.operands:
                self._collect_atoms(operand, out)
        elif isinstance(expr, lo.Not):
            self._collect_atoms(expr.operand, out)

    def _moving_events(self) -> int:
        """The bits of the event types whose presence can make a gap move: those of a rule that
        fades or has a window, or of an aggregate that is not constant over a gap."""
        mask = 0
        expressions = [*self._conditions(), *(d.expr for d in self.program.derived)]
        for block in self.program.blocks:
            for rule in block.rules():
                if isinstance(rule, lo.ConditionRule):
                    expressions.append(rule.condition)
                elif isinstance(rule, lo.CaseRule):
                    expressions.extend(b.condition for b in rule.branches if b.condition is not None)
                elif sem.decay_motion(rule.decay) is not sem.Motion.CONSTANT or rule.within is not None:
                    mask |= self.event_bits.get(rule.event, 0)
        for expr in expressions:
            for node in lo.walk(expr):
                if isinstance(node, lo.Aggregate) and \
                        sem.function_motion(node.function, node.within is not None) is not sem.Motion.CONSTANT:
                    mask |= self.event_bits.get(node.event, 0)
        return mask

    # --- over one gap ------------------------------------------------------------------------

    def relevant_live(self, live):
        """`live` (an int, or a numpy array of them) reduced to what a gap's directions depend
        on: the bits of the moving event types, and one bit for "any event at all" (inactivity).
        Gaps alike in it have equal directions, so they share one analysis."""
        return (live & self._live_mask) | (self._any_live * (live != 0))

    def gap(self, live: int, atoms: int) -> Gap:
        """Directions over a gap of a lead with events of the `live` types and these values of
        the fixed atoms (bit i: atom i holds)."""
        live = self.relevant_live(live)
        key = (live, atoms)
        found = self._gaps.get(key)
        if found is None:
            found = self._gaps[key] = _GapPass(self, live, atoms).run()
        return found

    def future(self, atoms: int) -> Future:
        found = self._futures.get(atoms)
        if found is None:
            found = self._futures[atoms] = self._future(atoms)
        return found

    def _future(self, atoms: int) -> Future:
        # every event type may still come: only the known values of fixed atoms decide
        gap = _GapPass(self, -1, atoms).run()
        labels = []
        for segment, dirs in zip(self.segments, gap.segments):
            reachable, blocked = [], False
            for direction in dirs:
                reachable.append(not blocked and direction != FALSE)
                blocked = blocked or direction in (None, TRUE)
            labels.append(tuple(reachable))
        return Future(tuple(d != FALSE for d in gap.thresholds), tuple(labels))


def _reference(node: lo.Expr) -> tuple[str, str] | None:
    """(kind, name) of a score, threshold or segment reference."""
    match node:
        case lo.ScoreRef():
            return t.SCORE, node.name
        case lo.ThresholdRef():
            return t.THRESHOLD, node.name
        case lo.SegmentRef():
            return t.SEGMENT, node.name
    return None


class _GapPass:
    """One evaluation of directions. `live` = -1 means every event type may still come: used
    for `future`, where only the known values of fixed atoms matter."""

    def __init__(self, facts: ReplayAnalysis, live: int, atoms: int) -> None:
        self.facts = facts
        self.live = live
        self.atoms = atoms
        self.scores: dict[str, int] = {}
        self.threshold_dirs: dict[str, int] = {}
        self.segment_dirs: dict[str, int] = {}

    def run(self) -> Gap:
        thresholds, segments = [], []
        for decision in self.facts.program.decisions:
            if isinstance(decision, lo.Threshold):
                direction = self.condition(decision.condition)
                self.threshold_dirs[decision.name] = direction
                thresholds.append(direction)
            else:
                dirs = tuple(None if label.condition is None else self.condition(label.condition)
                             for label in decision.labels)
                moving = any(d not in (None, CONST, TRUE, FALSE) for d in dirs)
                self.segment_dirs[decision.name] = ANY if moving else CONST
                segments.append(dirs)
        return Gap(tuple(thresholds), tuple(segments))

    # --- conditions, with the known atoms --------------------------------------------------------

    def condition(self, expr: lo.Expr) -> int:
        index = self.facts._atom_index.get(expr)
        if index is not None:
            return TRUE if self.atoms >> index & 1 else FALSE
        if isinstance(expr, lo.Logic):
            parts = [self.condition(o) for o in expr.operands]
            absorbing, neutral = (FALSE, TRUE) if expr.op == "and" else (TRUE, FALSE)
            if absorbing in parts:
                return absorbing
            parts = [p for p in parts if p != neutral]
            if not parts:
                return neutral
            direction = CONST
            for p in parts:
                direction = combine(direction, p)
            return direction
        if isinstance(expr, lo.Not):
            return flip(self.condition(expr.operand))
        if isinstance(expr, lo.Const) and expr.name is None and isinstance(expr.value, bool):
            return TRUE if expr.value else FALSE
        if isinstance(expr, lo.ThresholdRef):
            return self.threshold_dirs.get(expr.name, ANY)
        return self.value(expr)

    # --- values ----------------------------------------------------------------------------------

    def value(self, e: lo.Expr) -> int:
        match e:
            case lo.Const() | lo.Field() | lo.Property():
                return CONST   # fields are fixed within a gap
            case lo.ScoreRef():
                return self.score(e.name)
            case lo.ThresholdRef():
                direction = self.threshold_dirs.get(e.name, ANY)
                return CONST if direction in (TRUE, FALSE) else direction
            case lo.SegmentRef():
                return self.segment_dirs.get(e.name, ANY)
            case lo.ListOf():
                return CONST if all(self.value(i) == CONST for i in e.items) else ANY
            case lo.Negate():
                return flip(self.value(e.operand))
            case lo.Not():
                direction = self.condition(e.operand)
                return CONST if direction in (TRUE, FALSE) else flip(direction)
            case lo.Arithmetic():
                return self._arithmetic(e)
            case lo.Logic():
                direction = self.condition(e)
                return CONST if direction in (TRUE, FALSE) else direction
            case lo.IsMissing():
                # an operand that moves one way keeps whether it is missing (see the module doc)
                return ANY if self.value(e.operand) == ANY else CONST
            case lo.Compare():
                return self._compare(e)
            case lo.Matches():
                return CONST if self.value(e.operand) == CONST else ANY
            case lo.Apply():
                directions = [self.value(a) for a in e.args]
                if e.function in (sem.Function.MIN, sem.Function.MAX):
                    direction = CONST
                    for d in directions:
                        direction = combine(direction, d)
                    return direction
                return CONST if all(d == CONST for d in directions) else ANY
            case lo.Aggregate():
                if not self._live(e.event):
                    return CONST                    # no such event yet: 0, or missing
                return _MOTION[sem.function_motion(e.function, e.within is not None)]
            case lo.DaysSinceField():
                return UP                           # grows with the instant
            case _:
                assert_never(e)

    def _arithmetic(self, e: lo.Arithmetic) -> int:
        left, right = self.value(e.left), self.value(e.right)
        if e.op == "+":
            return combine(left, right)
        if e.op == "-":
            return combine(left, flip(right))
        if left == CONST and right == CONST:
            return CONST
        factor, moving = self._known_number(e.right), left
        if factor is None and e.op == "*":
            factor, moving = self._known_number(e.left), right
        if factor is None or not math.isfinite(factor) or (e.op == "/" and factor == 0):
            return ANY
        if factor == 0:
            return CONST
        return moving if factor > 0 else flip(moving)

    def _known_number(self, e: lo.Expr) -> float | None:
        if isinstance(e, lo.Const) and e.name not in self.facts.unknown and isinstance(e.value, float):
            return e.value
        if isinstance(e, lo.Negate):
            inner = self._known_number(e.operand)
            return None if inner is None else -inner
        return None

    def _compare(self, e: lo.Compare) -> int:
        left, right = self.value(e.left), self.value(e.right)
        if e.op in (sem.Comparison.GT, sem.Comparison.GE):
            return combine(left, flip(right))
        if e.op in (sem.Comparison.LT, sem.Comparison.LE):
            return flip(combine(left, flip(right)))
        return CONST if left == CONST and right == CONST else ANY

    def _live(self, event: str) -> bool:
        return bool(self.live & self.facts.event_bits.get(event, 0))

    # --- scores ------------------------------------------------------------------------------

    def score(self, name: str) -> int:
        if name not in self.scores:
            self.scores[name] = ANY   # a cycle cannot happen (checked); this guards recursion
            if name in self.facts.blocks:
                self.scores[name] = self._block(self.facts.blocks[name])
            else:
                self.scores[name] = self.value(self.facts.derived[name].expr)
        return self.scores[name]

    def _block(self, block: lo.ScoreBlock) -> int:
        direction = CONST
        for rule in block.rules():
            # a group's limit is a rising function of its sum: it keeps the direction
            direction = combine(direction, self._rule(rule))
        if block.inactivity is not None and self.live:
            # max(0, s - penalty) for s > 0: rises with s, falls as the penalty grows
            direction = DOWN if direction in (CONST, DOWN) else ANY
        return direction   # clamping keeps the direction

    def _rule(self, rule: lo.Rule) -> int:
        match rule:
            case lo.ConditionRule():
                direction = self.condition(rule.condition)
                direction = CONST if direction in (TRUE, FALSE) else direction
                return direction if rule.points >= 0 else flip(direction)
            case lo.CaseRule():
                directions = [self.condition(b.condition) for b in rule.branches if b.condition is not None]
                return CONST if all(d in (CONST, TRUE, FALSE) for d in directions) else ANY
            case lo.EventRule():
                if not self._live(rule.event):
                    return CONST
                fading = sem.decay_motion(rule.decay) is not sem.Motion.CONSTANT
                if not fading and rule.within is None:
                    return CONST
                # every term fades or leaves the window: the magnitude only falls
                return DOWN if rule.points > 0 else UP
            case _:
                assert_never(rule)


# --- what a sweep or a note needs to know -------------------------------------------------------

def constant_users(checked: CheckedRuleset, constant: str) -> set[str]:
    """The kinds of declaration ("score", "threshold", "segment") that use a constant, directly
    or through a score, threshold or segment that uses it."""
    return {kind for kind, _ in tainted_by(checked, constant)}


def tainted_by(checked: CheckedRuleset, constant: str) -> set[tuple[str, str]]:
    """The scores, thresholds and segments whose value depends on a constant."""
    return _tainted(lo.lower(checked), constant)


def _tainted(program: lo.ScoringProgram, constant: str) -> set[tuple[str, str]]:
    uses = _uses(program)
    tainted: set[tuple[str, str]] = set()
    changed = True
    while changed:
        changed = False
        for key, (constants, names, _) in uses.items():
            if key not in tainted and (constant in constants or names & tainted):
                tainted.add(key)
                changed = True
    return tainted


def fields_used(checked: CheckedRuleset) -> dict[str, set[str]]:
    """Threshold name -> the lead fields its value depends on, through scores and thresholds."""
    uses = _uses(lo.lower(checked))
    out: dict[str, set[str]] = {}
    for key in uses:
        if key[0] == t.THRESHOLD:
            seen, stack, found = set(), [key], set()
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                _, names, fields = uses.get(current, (set(), set(), set()))
                found |= fields
                stack.extend(names)
            out[key[1]] = found
    return out


def _uses(program: lo.ScoringProgram) -> dict[tuple[str, str], tuple[set[str], set[tuple[str, str]], set[str]]]:
    """Declaration -> (constants it names, scores/thresholds/segments it names, fields it reads),
    in declaration order within each kind."""
    out = {}
    for key, exprs, constants in _declarations(program):
        nodes = [n for e in exprs for n in lo.walk(e)]
        names = {r for n in nodes if (r := _reference(n)) is not None and r != key}
        out[key] = (constants | {n.name for n in nodes if isinstance(n, lo.Const) and n.name is not None},
                    names, {n.name for n in nodes if isinstance(n, lo.Field)})
    return out


def _declarations(program: lo.ScoringProgram):
    """(key, its expressions, the constants it names outside them)."""
    for block in program.blocks:
        exprs = []
        for rule in block.rules():
            if isinstance(rule, lo.ConditionRule):
                exprs.append(rule.condition)
            elif isinstance(rule, lo.CaseRule):
                exprs.extend(b.condition for b in rule.branches if b.condition is not None)
            elif rule.where is not None:
                exprs.append(rule.where)
        yield (t.SCORE, block.name), exprs, set(block.constants)
    for derived in program.derived:
        yield (t.SCORE, derived.name), [derived.expr], set()
    for decision in program.decisions:
        if isinstance(decision, lo.Threshold):
            yield (t.THRESHOLD, decision.name), [decision.condition], set()
        else:
            yield (t.SEGMENT, decision.name), [label.condition for label in decision.labels
                                               if label.condition is not None], set()

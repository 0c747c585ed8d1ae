"""What a replay may skip (LANGUAGE.md §9): which results can change with time alone.

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

The same facts say which results a lead's *later* instants can still change (`future`):
a condition with a `FALSE` fixed atom in every way to hold can never hold again, events or
not, until a field changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset
from ..lower import runtime_constant as constant_value

CONST, UP, DOWN, ANY, TRUE, FALSE = range(6)
_FLIP = {CONST: CONST, UP: DOWN, DOWN: UP, ANY: ANY, TRUE: FALSE, FALSE: TRUE}
_MOVING = (UP, ANY)


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
    """The facts of one checked ruleset. `unknown` names constants whose value must not be
    relied on (a sweep's constant): parts using them are never fixed atoms."""

    def __init__(self, checked: CheckedRuleset, unknown: frozenset[str] = frozenset()) -> None:
        self.checked = checked
        self.resolutions = checked.resolutions
        self.unknown = unknown
        self.constants = {n: constant_value(v) for n, v in checked.constants.items()}
        self.event_bits = {name: 1 << i for i, name in enumerate(checked.schema.events)}
        decls = checked.ruleset.declarations
        self.blocks = {d.name.name: d for d in decls if isinstance(d, ast.ScoreBlock)}
        self.derived = {d.name.name: d for d in decls if isinstance(d, ast.DerivedScore)}
        self.thresholds = [d for d in decls if isinstance(d, ast.Threshold)]
        self.segments = [d for d in decls if isinstance(d, ast.Segment)]
        self.fixed_names: set[tuple[str, str]] = set()
        self._find_fixed()
        self.tainted = set().union(*(tainted_by(checked, name) for name in unknown))
        atoms: dict[ast.Expr, None] = {}
        for condition in self._conditions():
            self._collect_atoms(condition, atoms)
        self.atoms: tuple[ast.Expr, ...] = tuple(atoms)
        self._atom_index = {atom: i for i, atom in enumerate(self.atoms)}
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
        for name, block in self.blocks.items():
            if all(self._fixed_rule(r) for r in ast.rules_of(block)) and \
                    not any(isinstance(i, ast.InactivityOption) for i in block.items):
                self.fixed_names.add((t.SCORE, name))
        for name in self.checked.derived_order:
            if self.fixed(self.derived[name].expr):
                self.fixed_names.add((t.SCORE, name))
        for decl in self.checked.ruleset.declarations:
            if isinstance(decl, ast.Threshold) and self.fixed(decl.condition):
                self.fixed_names.add((t.THRESHOLD, decl.name.name))
            elif isinstance(decl, ast.Segment) and all(
                    label.condition is None or self.fixed(label.condition) for label in decl.labels):
                self.fixed_names.add((t.SEGMENT, decl.name.name))

    def _fixed_rule(self, rule: ast.Rule) -> bool:
        if isinstance(rule, ast.ConditionRule):
            return self.fixed(rule.condition)
        if isinstance(rule, ast.CaseRule):
            return all(b.condition is None or self.fixed(b.condition) for b in rule.branches)
        return False

    def fixed(self, expr: ast.Expr) -> bool:
        """Depends on fields and constants only: no event, no instant."""
        for node in ast.walk(expr):
            if isinstance(node, ast.Call) and node.func in ("count", "days_since"):
                return False
            if isinstance(node, ast.Name):
                symbol = self.resolutions.get(node)
                if symbol is None:
                    continue
                if symbol.kind in (t.SCORE, t.THRESHOLD, t.SEGMENT) and \
                        (symbol.kind, node.name) not in self.fixed_names:
                    return False
        return True

    def _atom(self, expr: ast.Expr) -> bool:
        return self.fixed(expr) and not any(
            isinstance(n, ast.Name) and (symbol := self.resolutions.get(n)) is not None and
            ((symbol.kind == t.CONSTANT and n.name in self.unknown) or (symbol.kind, n.name) in self.tainted)
            for n in ast.walk(expr))

    def _collect_atoms(self, expr: ast.Expr, out: dict) -> None:
        """The largest fixed parts of a condition, through `and`, `or` and `not`."""
        if isinstance(expr, (ast.Bool,)):
            return
        if self._atom(expr):
            out[expr] = None
        elif isinstance(expr, ast.BoolOp):
            for operand in expr.operands:
                self._collect_atoms(operand, out)
        elif isinstance(expr, ast.Unary) and expr.op == "not":
            self._collect_atoms(expr.operand, out)

    # --- over one gap ------------------------------------------------------------------------

    def gap(self, live: int, atoms: int) -> Gap:
        """Directions over a gap of a lead with events of the `live` types and these values of
        the fixed atoms (bit i: atom i holds)."""
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
        facts = self.facts
        thresholds, segments = [], []
        for decl in facts.checked.ruleset.declarations:
            if isinstance(decl, ast.Threshold):
                direction = self.condition(decl.condition)
                self.threshold_dirs[decl.name.name] = direction
                thresholds.append(direction)
            elif isinstance(decl, ast.Segment):
                dirs = tuple(None if label.condition is None else self.condition(label.condition)
                             for label in decl.labels)
                moving = any(d not in (None, CONST, TRUE, FALSE) for d in dirs)
                self.segment_dirs[decl.name.name] = ANY if moving else CONST
                segments.append(dirs)
        return Gap(tuple(thresholds), tuple(segments))

    # --- conditions, with the known atoms --------------------------------------------------------

    def condition(self, expr: ast.Expr) -> int:
        index = self.facts._atom_index.get(expr)
        if index is not None:
            return TRUE if self.atoms >> index & 1 else FALSE
        if isinstance(expr, ast.BoolOp):
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
        if isinstance(expr, ast.Unary) and expr.op == "not":
            return flip(self.condition(expr.operand))
        if isinstance(expr, ast.Bool):
            return TRUE if expr.value else FALSE
        if isinstance(expr, ast.Name) and self.facts.resolutions[expr].kind == t.THRESHOLD:
            return self.threshold_dirs.get(expr.name, ANY)
        return self.value(expr)

    # --- values ----------------------------------------------------------------------------------

    def value(self, expr: ast.Expr) -> int:
        return getattr(self, "_d_" + type(expr).__name__, self._constant)(expr)

    def _constant(self, expr) -> int:
        return CONST

    def _d_Name(self, e: ast.Name) -> int:
        symbol = self.facts.resolutions[e]
        if symbol.kind == t.SCORE:
            return self.score(e.name)
        if symbol.kind == t.THRESHOLD:
            direction = self.threshold_dirs.get(e.name, ANY)
            return CONST if direction in (TRUE, FALSE) else direction
        if symbol.kind == t.SEGMENT:
            return self.segment_dirs.get(e.name, ANY)
        return CONST   # fields (fixed within a gap), properties, constants

    def _d_Unary(self, e: ast.Unary) -> int:
        if e.op == "not":
            direction = self.condition(e.operand)
            return CONST if direction in (TRUE, FALSE) else flip(direction)
        return flip(self.value(e.operand))

    def _d_Arith(self, e: ast.Arith) -> int:
        left, right = self.value(e.left), self.value(e.right)
        if e.op == "+":
            return combine(left, right)
        if e.op == "-":
            return combine(left, flip(right))
        if left == CONST and right == CONST:
            return CONST
        factor, moving = self._literal_number(e.right), left
        if factor is None and e.op == "*":
            factor, moving = self._literal_number(e.left), right
        if factor is None or not math.isfinite(factor) or (e.op == "/" and factor == 0):
            return ANY
        if factor == 0:
            return CONST
        return moving if factor > 0 else flip(moving)

    def _literal_number(self, e: ast.Expr) -> float | None:
        if isinstance(e, ast.Number):
            return e.value
        if isinstance(e, ast.Name) and self.facts.resolutions[e].kind == t.CONSTANT and \
                e.name not in self.facts.unknown and isinstance(self.facts.constants.get(e.name), float):
            return self.facts.constants[e.name]
        if isinstance(e, ast.Unary) and e.op == "-":
            inner = self._literal_number(e.operand)
            return None if inner is None else -inner
        return None

    def _d_BoolOp(self, e: ast.BoolOp) -> int:
        direction = self.condition(e)
        return CONST if direction in (TRUE, FALSE) else direction

    def _d_IsMissing(self, e: ast.IsMissing) -> int:
        # an operand that moves one way keeps whether it is missing (see the module doc)
        return ANY if self.value(e.operand) == ANY else CONST

    def _d_Compare(self, e: ast.Compare) -> int:
        left, right = self.value(e.left), self.value(e.right)
        if e.op in (">", ">="):
            return combine(left, flip(right))
        if e.op in ("<", "<="):
            return flip(combine(left, flip(right)))
        return CONST if left == CONST and right == CONST else ANY

    def _d_Call(self, e: ast.Call) -> int:
        if e.func in ("count", "days_since"):
            arg = e.args[0]
            symbol = self.facts.resolutions.get(arg.value) if isinstance(arg.value, ast.Name) else None
            if symbol is not None and symbol.kind == t.FIELD:
                return UP                       # days_since(field) grows with the instant
            if not self._live(arg.value.name):
                return CONST                    # no such event yet: 0, or missing
            if e.func == "days_since":
                return UP
            return DOWN if arg.within is not None else CONST
        directions = [self.value(a.value) for a in e.args]
        if e.func in ("min", "max"):
            direction = CONST
            for d in directions:
                direction = combine(direction, d)
            return direction
        return CONST if all(d == CONST for d in directions) else ANY

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

    def _block(self, block: ast.ScoreBlock) -> int:
        default_decay = next((i.decay for i in block.items if isinstance(i, ast.DecayOption)), None)
        direction = CONST
        for item in block.items:
            rules = item.rules if isinstance(item, ast.Group) else (item,)
            for rule in rules:
                if isinstance(rule, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                    # a group's limit is a rising function of its sum: it keeps the direction
                    direction = combine(direction, self._rule(rule, default_decay))
        if any(isinstance(i, ast.InactivityOption) for i in block.items) and self.live:
            # max(0, s - penalty) for s > 0: rises with s, falls as the penalty grows
            direction = DOWN if direction in (CONST, DOWN) else ANY
        return direction   # clamping keeps the direction

    def _rule(self, rule: ast.Rule, default_decay: ast.Decay | None) -> int:
        if isinstance(rule, ast.ConditionRule):
            direction = self.condition(rule.condition)
            direction = CONST if direction in (TRUE, FALSE) else direction
            return direction if self._points(rule.points) >= 0 else flip(direction)
        if isinstance(rule, ast.CaseRule):
            directions = [self.condition(b.condition) for b in rule.branches if b.condition is not None]
            return CONST if all(d in (CONST, TRUE, FALSE) for d in directions) else ANY
        if not self._live(rule.event.name):
            return CONST
        modifier = next((m.decay for m in rule.modifiers if isinstance(m, ast.DecayModifier)), None)
        decay = modifier if modifier is not None else default_decay
        fading = decay is not None and not isinstance(decay, ast.DecayNone)
        if not fading and rule.within is None:
            return CONST
        # every term fades or leaves the window: the magnitude only falls
        return DOWN if self._points(rule.points) > 0 else UP

    def _points(self, points: ast.Points) -> float:
        value = points.value
        number = value.value if isinstance(value, ast.Number) else self.facts.constants[value.name]
        return points.sign * number


# --- what a sweep or a note needs to know -------------------------------------------------------

def constant_users(checked: CheckedRuleset, constant: str) -> set[str]:
    """The kinds of declaration ("score", "threshold", "segment") that use a constant, directly
    or through a score, threshold or segment that uses it."""
    return {kind for kind, _ in tainted_by(checked, constant)}


def tainted_by(checked: CheckedRuleset, constant: str) -> set[tuple[str, str]]:
    """The scores, thresholds and segments whose value depends on a constant."""
    uses = _uses(checked)
    tainted: set[tuple[str, str]] = set()
    changed = True
    while changed:
        changed = False
        for key, (constants, names) in uses.items():
            if key not in tainted and (constant in constants or names & tainted):
                tainted.add(key)
                changed = True
    return tainted


def fields_used(checked: CheckedRuleset) -> dict[str, set[str]]:
    """Threshold name -> the lead fields its value depends on, through scores and thresholds."""
    uses = _uses(checked)
    fields = _direct_fields(checked)
    out: dict[str, set[str]] = {}
    for decl in checked.ruleset.declarations:
        if isinstance(decl, ast.Threshold):
            seen, stack, found = set(), [(t.THRESHOLD, decl.name.name)], set()
            while stack:
                key = stack.pop()
                if key in seen:
                    continue
                seen.add(key)
                found |= fields.get(key, set())
                stack.extend(uses.get(key, (set(), set()))[1])
            out[decl.name.name] = found
    return out


def _names(checked: CheckedRuleset, node) -> list[tuple[str, str]]:
    found = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and (symbol := checked.resolutions.get(n)) is not None:
            found.append((symbol.kind, n.name))
    return found


def _declarations(checked: CheckedRuleset):
    for decl in checked.ruleset.declarations:
        if isinstance(decl, (ast.ScoreBlock, ast.DerivedScore)):
            yield (t.SCORE, decl.name.name), decl
        elif isinstance(decl, ast.Threshold):
            yield (t.THRESHOLD, decl.name.name), decl
        elif isinstance(decl, ast.Segment):
            yield (t.SEGMENT, decl.name.name), decl


def _uses(checked: CheckedRuleset) -> dict[tuple[str, str], tuple[set[str], set[tuple[str, str]]]]:
    """Declaration -> (constants it names, scores/thresholds/segments it names)."""
    out = {}
    for key, decl in _declarations(checked):
        names = _names(checked, decl)
        out[key] = ({n for k, n in names if k == t.CONSTANT},
                    {(k, n) for k, n in names if k in (t.SCORE, t.THRESHOLD, t.SEGMENT) and (k, n) != key})
    return out


def _direct_fields(checked: CheckedRuleset) -> dict[tuple[str, str], set[str]]:
    return {key: {n for k, n in _names(checked, decl) if k == t.FIELD} for key, decl in _declarations(checked)}

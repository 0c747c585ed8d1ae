"""AST + schema -> checked ruleset (docs/language.md).

Collects every diagnostic of the file; never stops at the first. The result
is only built when there are no errors, so later passes (compilers,
simulator) can rely on every name being resolved and every type right.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from . import ast
from . import types as t
from .diagnostics import Diagnostic, has_errors, make
from .expressions import Context, Environment, ExpressionChecker
from .overflow import find_overflow
from .reachability import find_impossible
from .schema import Schema
from .types import Symbol, Type

RESERVED_OUTPUT_NAMES = ("lead_id", "reasons")
# Size limits (docs/language.md#limits, LS114): far above any real ruleset,
# and what the generated scorer is built and tested for.
MAX_CASE_BRANCHES = 1_000
MAX_SEGMENT_LABELS = 1_000
MAX_THRESHOLDS = 1_000
MAX_SEGMENTS = 1_000


@dataclass(frozen=True)
class CheckedRuleset:
    """A ruleset that passed the checker, with what later passes need."""

    ruleset: ast.Ruleset
    schema: Schema
    constants: Mapping[str, object]  # float, str, bool, datetime, seconds (durations), tuples
    constant_types: Mapping[str, Type]
    resolutions: Mapping[ast.Name, Symbol]
    derived_order: tuple[str, ...]  # derived scores, each after the ones it uses

    @property
    def name(self) -> str:
        header = self.ruleset.header
        return header.name.value if header else ""

    @property
    def version(self) -> str:
        header = self.ruleset.header
        if header is None:
            return ""
        version = header.version
        return version.value if isinstance(version, ast.String) else version.text


def check(ruleset: ast.Ruleset, schema: Schema | None) -> tuple[CheckedRuleset | None, list[Diagnostic]]:
    """Check a parsed ruleset against its schema (None when it did not load)."""
    checker = _Checker(ruleset, schema)
    checker.run()
    diagnostics = sorted(checker.diagnostics, key=lambda d: (d.span.line, d.span.column, d.code))
    if has_errors(diagnostics) or schema is None:
        return None, diagnostics
    env = checker.env
    checked = CheckedRuleset(
        ruleset, schema,
        MappingProxyType(dict(env.constant_values)), MappingProxyType(dict(env.constants)),
        MappingProxyType(dict(checker.exprs.resolutions)), tuple(checker.derived_order))
    return checked, diagnostics


class _Checker:
    def __init__(self, ruleset: ast.Ruleset, schema: Schema | None) -> None:
        self.ruleset = ruleset
        self.schema = schema
        self.diagnostics: list[Diagnostic] = []
        self.env = Environment(schema.fields if schema else None, schema.events if schema else None,
                               unreported=frozenset(ruleset.unparsed)
                               | (schema.broken if schema else frozenset()))
        self.exprs = ExpressionChecker(self.env, self.diagnostics)
        self.derived_order: list[str] = []

    def error(self, code: str, message: str, span, hint: str | None = None) -> None:
        self.diagnostics.append(make(code, message, span, hint))

    def run(self) -> None:
        self._check_header()
        if not self._within_limits():
            return  # checking past a limit costs time that grows faster than the file
        self._collect_names()
        for decl in self.ruleset.declarations:
            if isinstance(decl, ast.ConstDecl):
                self._check_constant(decl)
        visible_thresholds: set[str] = set()
        visible_segments: set[str] = set()
        derived: list[ast.DerivedScore] = []
        for decl in self.ruleset.declarations:
            if isinstance(decl, ast.ScoreBlock):
                self._check_score_block(decl)
            elif isinstance(decl, ast.DerivedScore):
                derived.append(decl)
                ctx = Context(allow_scores=True)
                found = self.exprs.check(decl.expr, ctx)
                if found.kind not in (t.NUMBER, t.UNKNOWN):
                    self.error("LS402", f"a derived score must be a number; this is "
                               f"{t.a_or_an(found)}", decl.expr.span,
                               "to flag leads, declare a threshold instead")
            elif isinstance(decl, ast.Threshold):
                ctx = Context(True, None, frozenset(visible_thresholds), frozenset(visible_segments))
                self.exprs.check_condition(decl.condition, ctx, "a threshold")
                visible_thresholds.add(decl.name.name)
            elif isinstance(decl, ast.Segment):
                ctx = Context(True, None, frozenset(visible_thresholds), frozenset(visible_segments))
                self._check_segment(decl, ctx)
                visible_segments.add(decl.name.name)
        self._order_derived(derived)
        self.diagnostics.extend(find_impossible(self.ruleset, self.exprs.resolutions,
                                                self.env.constant_values))
        self.diagnostics.extend(find_overflow(self.ruleset, self.env.constant_values))

    # --- header and names --------------------------------------------------------

    def _check_header(self) -> None:
        statements = self.ruleset.statements
        file = self.ruleset.file
        if not statements:
            from .diagnostics import Span
            self.error("LS200", "the file is empty", Span.point(file, 1, 1),
                       'start with `ruleset "NAME" version 1` and `schema "schema.yaml"`')
            return
        if not isinstance(statements[0], ast.RulesetHeader):
            self.error("LS200", 'the file must start with `ruleset "NAME" version N`',
                       statements[0].span)
        seen: dict[type, ast.Statement] = {}
        declarations_started = False
        for statement in statements:
            if isinstance(statement, (ast.RulesetHeader, ast.EffectiveHeader, ast.SchemaHeader)):
                kind = type(statement)
                if kind in seen:
                    self.error("LS202", "this header line is given twice", statement.span,
                               f"the first is on line {seen[kind].span.line}")
                elif declarations_started:
                    self.error("LS202", "header lines (ruleset, effective, schema) come before "
                               "the declarations", statement.span)
                seen.setdefault(kind, statement)
            else:
                declarations_started = True
        header = self.ruleset.header
        if header is not None and isinstance(header.version, ast.Number) \
                and not float(header.version.value).is_integer():
            self.error("LS206", "a version is a whole number or a string", header.version.span,
                       f'write version "{header.version.text}" to keep the dots')
        if self.ruleset.schema is None and statements:
            self.error("LS201", 'no `schema "FILE"` line: every name a ruleset uses is '
                       "declared in its schema", statements[0].span,
                       'add `schema "schema.yaml"` under the ruleset line')

    def _within_limits(self) -> bool:
        """LS114 at the first construct past each size limit; False if there is one."""
        before = len(self.diagnostics)

        def over(items: tuple | list, limit: int, what: str, where: str) -> None:
            if len(items) > limit:
                self.error("LS114", f"{where} has {len(items):,} {what}; the limit is {limit:,}",
                           items[limit].span, "split it up; see the size limits in docs/language.md#limits")

        declarations = self.ruleset.declarations
        over([d.name for d in declarations if isinstance(d, ast.Threshold)], MAX_THRESHOLDS,
             "thresholds", "this ruleset")
        over([d.name for d in declarations if isinstance(d, ast.Segment)], MAX_SEGMENTS,
             "segments", "this ruleset")
        for decl in declarations:
            if isinstance(decl, ast.Segment):
                over(decl.labels, MAX_SEGMENT_LABELS, "labels", f"segment `{decl.name.name}`")
            elif isinstance(decl, ast.ScoreBlock):
                for item in decl.items:
                    for rule in item.rules if isinstance(item, ast.Group) else (item,):
                        if isinstance(rule, ast.CaseRule):
                            over(rule.branches, MAX_CASE_BRANCHES, "branches",
                                 f"case rule `{rule.name.name}`")
        return len(self.diagnostics) == before

    def _collect_names(self) -> None:
        seen: dict[str, ast.Ident] = {}
        fields = self.env.fields or {}

        def declare(ident: ast.Ident, kind: str) -> None:
            if ident.name in seen:
                self.error("LS203", f"`{ident.name}` is already declared", ident.span,
                           f"names are unique across the file; the first is on line "
                           f"{seen[ident.name].span.line}")
                return
            seen[ident.name] = ident
            if kind in ("score", "threshold", "segment") and ident.name in RESERVED_OUTPUT_NAMES:
                self.error("LS204", f"`{ident.name}` names an output column; choose another name",
                           ident.span)
            if kind in ("constant", "score", "threshold", "segment") and ident.name in fields:
                self.error("LS205", f"`{ident.name}` is also a field in the schema", ident.span,
                           "rename the declaration so every name means one thing")

        for decl in self.ruleset.declarations:
            if isinstance(decl, ast.ConstDecl):
                declare(decl.name, "constant")
            elif isinstance(decl, (ast.ScoreBlock, ast.DerivedScore)):
                declare(decl.name, "score")
                self.env.scores.add(decl.name.name)
            elif isinstance(decl, ast.Threshold):
                declare(decl.name, "threshold")
                self.env.thresholds.add(decl.name.name)
            elif isinstance(decl, ast.Segment):
                declare(decl.name, "segment")
                labels = dict.fromkeys(label.label.name for label in decl.labels)
                self.env.segments[decl.name.name] = tuple(labels)
            if isinstance(decl, ast.ScoreBlock):
                for item in decl.items:
                    if isinstance(item, ast.Group):
                        declare(item.name, "group")
                        for rule in item.rules:
                            declare(rule.name, "rule")
                    elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                        declare(item.name, "rule")

    def _check_constant(self, decl: ast.ConstDecl) -> None:
        value, kind = self._literal(decl.value)
        if kind is None:
            return
        name = decl.name.name
        self.env.constants[name] = kind
        self.env.constant_values[name] = value

    def _literal(self, node: ast.Expr) -> tuple[object, Type | None]:
        if isinstance(node, ast.Number):
            return node.value, t.T_NUMBER
        if isinstance(node, ast.String):
            return node.value, t.T_STRING
        if isinstance(node, ast.Bool):
            return node.value, t.T_BOOLEAN
        if isinstance(node, ast.DateTime):
            return node.value, t.T_DATETIME
        if isinstance(node, ast.Duration):
            return node.seconds, t.T_DURATION
        if isinstance(node, ast.ListLit):
            items = [self._literal(item) for item in node.items]
            if any(kind is None for _, kind in items):
                return None, None
            kinds = {kind.kind for _, kind in items}
            if len(kinds) > 1 or kinds & {t.LIST, t.DURATION}:
                self.error("LS410", "a list constant holds strings, numbers, dates or booleans, "
                           "all of one type", node.span)
                return None, None
            return tuple(v for v, _ in items), Type(t.LIST, item=next(iter(kinds), None))
        self.error("LS207", "a constant's value is a literal: a number, string, date, "
                   "duration, true/false or a list", node.span,
                   "use a derived score for a computed value")
        return None, None

    # --- score blocks ------------------------------------------------------------

    def _check_score_block(self, block: ast.ScoreBlock) -> None:
        options: dict[type, ast.ScoreItem] = {}
        for item in block.items:
            if isinstance(item, (ast.DecayOption, ast.ClampOption, ast.InactivityOption)):
                if type(item) in options:
                    self.error("LS505", "this option is already set in this score", item.span,
                               f"the first is on line {options[type(item)].span.line}")
                options.setdefault(type(item), item)
            if isinstance(item, ast.DecayOption):
                self._check_decay(item.decay)
            elif isinstance(item, ast.ClampOption):
                self._check_clamp(item)
            elif isinstance(item, ast.InactivityOption):
                self.exprs.check_duration(item.after, "`inactivity after`")
                self.exprs.check_duration(item.every, "`every`")
                self._positive(item.points, "the inactivity penalty")
            elif isinstance(item, ast.Group):
                self._positive(item.limit, "a group's `max`")
                for rule in item.rules:
                    self._check_rule(rule)
            else:
                self._check_rule(item)

    def _positive(self, node: ast.Number | ast.Name, what: str) -> float | None:
        value = self.exprs.constant_number(node, what)
        if value is not None and value <= 0:
            self.error("LS504", f"{what} must be greater than zero", node.span)
            return None
        return value

    def _check_points(self, points: ast.Points) -> None:
        value = self.exprs.constant_number(points.value, "points")
        if value is None:
            return
        if value == 0:
            self.error("LS508", "points of 0 never change the score", points.span,
                       "remove the rule, or give it points")
        elif value < 0 and isinstance(points.value, ast.Name):
            self.error("LS510", f"`{points.value.name}` is negative, so the written sign is "
                       "flipped", points.span,
                       "keep constants used as points positive and write the sign in the rule")

    def _check_rule(self, rule: ast.Rule) -> None:
        if isinstance(rule, ast.ConditionRule):
            self._check_points(rule.points)
            self.exprs.check_condition(rule.condition, Context())
        elif isinstance(rule, ast.CaseRule):
            self._check_branches(rule.branches)
            for branch in rule.branches:
                self._check_points(branch.points)
                if branch.condition is not None:
                    self.exprs.check_condition(branch.condition, Context())
        else:
            self._check_event_rule(rule)

    def _check_branches(self, branches) -> None:
        for index, branch in enumerate(branches):
            if branch.condition is None and index != len(branches) - 1:
                self.error("LS511", "`otherwise` must be the last branch", branch.span,
                           "branches after it could never be chosen")

    def _check_event_rule(self, rule: ast.EventRule) -> None:
        self._check_points(rule.points)
        known_event = self.exprs.check_event_type(rule.event)
        if rule.where is not None and known_event:
            self.exprs.check_condition(rule.where, Context(event=rule.event.name), "`where`")
        if rule.within is not None:
            self.exprs.check_duration(rule.within, "the window")
        seen: dict[type, ast.Modifier] = {}
        for modifier in rule.modifiers:
            if type(modifier) in seen:
                self.error("LS505", "this modifier is already given for this rule", modifier.span)
            seen.setdefault(type(modifier), modifier)
            if isinstance(modifier, ast.MaxModifier):
                self._positive(modifier.limit, "`max`")
            elif isinstance(modifier, ast.DecayModifier):
                self._check_decay(modifier.decay)
            elif isinstance(modifier, ast.AtMostModifier):
                count = self._positive(modifier.count, "`at most`")
                if count is not None and not float(count).is_integer():
                    self.error("LS506", "`at most` counts whole events", modifier.count.span)
        if ast.OnceModifier in seen and ast.AtMostModifier in seen:
            self.error("LS512", "`once` already keeps a single event, so `at most` has no effect",
                       seen[ast.AtMostModifier].span, "remove one of the two")

    def _check_decay(self, decay: ast.Decay) -> None:
        if isinstance(decay, ast.DecayHalfLife):
            self.exprs.check_duration(decay.half_life, "the half-life")
        elif isinstance(decay, ast.DecayLinear):
            self.exprs.check_duration(decay.length, "the decay length")
        elif isinstance(decay, ast.DecaySteps):
            previous_age: float | None = None
            previous_percent: float | None = None
            for step in decay.steps:
                age = self.exprs.check_duration(step.age, "a step's age")
                if age is not None and previous_age is not None and age <= previous_age:
                    self.error("LS500", "decay step ages must increase", step.age.span,
                               "list the steps from youngest to oldest")
                previous_age = age if age is not None else previous_age
                percent = step.percent.value
                if not 0 <= percent <= 100:
                    self.error("LS501", f"{step.percent.text} is outside 0%-100%", step.percent.span)
                elif previous_percent is not None and percent > previous_percent:
                    self.error("LS502", "this step gives more than the one before it: older "
                               "events would count more", step.percent.span)
                previous_percent = percent

    def _check_clamp(self, clamp: ast.ClampOption) -> None:
        low = self.exprs.constant_number(clamp.low, "a clamp bound") if clamp.low else None
        high = self.exprs.constant_number(clamp.high, "a clamp bound") if clamp.high else None
        if low is not None and high is not None and low > high:
            self.error("LS503", f"the clamp's low bound ({low:g}) is above its high bound "
                       f"({high:g})", clamp.span)

    # --- segments and derived scores -------------------------------------------------

    def _check_segment(self, segment: ast.Segment, ctx: Context) -> None:
        seen: dict[str, ast.Ident] = {}
        for label in segment.labels:
            if label.label.name in seen:
                self.error("LS203", f"the label `{label.label.name}` is already in this segment",
                           label.label.span, f"the first is on line {seen[label.label.name].span.line}")
            seen.setdefault(label.label.name, label.label)
            if label.condition is not None:
                self.exprs.check_condition(label.condition, ctx, "a label's condition")
        self._check_branches(segment.labels)

    def _order_derived(self, derived: list[ast.DerivedScore]) -> None:
        """Topological order of derived scores; a cycle is an error."""
        by_name = {d.name.name: d for d in derived}
        resolutions = self.exprs.resolutions
        uses = {name: [n for n in ast.walk(d.expr) if isinstance(n, ast.Name)
                       and n in resolutions and resolutions[n].kind == t.SCORE
                       and resolutions[n].name in by_name]
                for name, d in by_name.items()}
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name):] + [name]
                self.error("LS507", "derived scores use each other in a cycle: "
                           + " -> ".join(cycle), by_name[name].name.span)
                return
            state[name] = 1
            for used in uses[name]:
                visit(used.name, path + [name])
            state[name] = 2
            self.derived_order.append(name)

        for name in by_name:
            visit(name, [])


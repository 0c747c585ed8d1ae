"""Two rulesets -> the list of changes a reviewer cares about (docs/diff.md).

A pure function of two syntax trees. Things are matched by name (names are unique
across a file), so a rule that moved to another score or group is one move, not a
removal and an addition; a rule whose body is unchanged under a new name is one
rename. Two nodes are the same when they mean the same: spans, comments and layout
are ignored, and so are the order of declarations, of the rules
and options of a score, of the rules of a group, of a rule's modifiers and of the
items of a list, and the spelling of one value (`5_000` and `5000`, `1w` and `7d`,
`` `fit` `` and `fit`). Order that decides a result is kept: case branches and
segment labels (the first that holds wins).

Old and new values are shown as the formatter writes them, so the diff reads like
the rule file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from datetime import timezone
from typing import Callable, Iterator

from ..dsl import ast
from ..dsl import formatter as fmt

ADDED, REMOVED, CHANGED, MOVED, RENAMED = "added", "removed", "changed", "moved", "renamed"
_RULES = (ast.ConditionRule, ast.CaseRule, ast.EventRule)
_OPTIONS = {ast.DecayOption: "decay", ast.ClampOption: "clamp", ast.InactivityOption: "inactivity"}
_MODIFIERS = ("max", "decay", "once", "at most")


@dataclass(frozen=True)
class Change:
    """One change. `old`/`new` are display text, None where there is nothing
    (the old side of an addition, an absent `within`, ...)."""

    kind: str            # added, removed, changed, moved, renamed
    section: str         # "header", "constants", "score NAME", "threshold NAME", "segment NAME"
    entity: str          # what `name` names: header, constant, list item, score, option, group,
                         # rule, threshold, segment, label
    name: str
    field: str | None = None   # the part that changed or moved; None for the thing as a whole
    old: str | None = None
    new: str | None = None


# --- meaning -----------------------------------------------------------------------------

# Fields that say how something was written or where, never what it means.
_SPELLING = frozenset({"span", "func_span", "text", "file", "is_date"})


def key(node) -> object:
    """What a node means, as a value to compare: no spans or spellings, and no order
    where order cannot change a result (list items; the nesting of `and`/`or`)."""
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, ast.Number):
        return ("Number", node.value + 0.0)  # -0 and 0 are one value
    if isinstance(node, ast.DateTime):
        return ("DateTime", node.value.astimezone(timezone.utc))
    if isinstance(node, ast.ListLit):
        return ("ListLit", tuple(sorted((key(item) for item in node.items), key=repr)))
    if isinstance(node, ast.BoolOp):
        return ("BoolOp", node.op, tuple(_operands(node)))
    if isinstance(node, tuple):
        return tuple(key(item) for item in node)
    if hasattr(node, "__dataclass_fields__"):
        return (type(node).__name__,) + tuple(
            key(getattr(node, f.name)) for f in fields(node) if f.name not in _SPELLING)
    return node


def _operands(node: ast.BoolOp) -> Iterator[object]:
    for operand in node.operands:
        if isinstance(operand, ast.BoolOp) and operand.op == node.op:
            yield from _operands(operand)
        else:
            yield key(operand)


# --- display -----------------------------------------------------------------------------

def _condition(condition: ast.Expr | None) -> str:
    """A branch's or label's condition as written: `if EXPR` or `otherwise`."""
    return "otherwise" if condition is None else f"if {fmt.expr(condition)}"


def _condition_text(condition: ast.Expr | None) -> str:
    """A condition as the old or new side of a change."""
    return "otherwise" if condition is None else fmt.expr(condition)


def _branch(branch: ast.CaseBranch) -> str:
    return f"{fmt.points(branch.points)} {_condition(branch.condition)}"


def _branches(branches: tuple[ast.CaseBranch, ...]) -> str:
    return "; ".join(_branch(b) for b in branches)


def definition(rule: ast.Rule) -> str:
    """A rule as written after its `NAME:` (a case rule on one line)."""
    if isinstance(rule, ast.CaseRule):
        return "case { " + _branches(rule.branches) + " }"
    return f"{fmt.points(rule.points)} {fmt.rule_body(rule)}"


def _option_text(option) -> str:
    return fmt.option(option).partition(" ")[2]  # without the option's own name


# --- what each ruleset holds ---------------------------------------------------------------

@dataclass(frozen=True)
class _Placed:
    """A rule or group and where it stands."""

    node: object
    score: str
    group: str | None = None


def _section(decl) -> str:
    kind = {ast.ScoreBlock: "score", ast.DerivedScore: "score", ast.Threshold: "threshold",
            ast.Segment: "segment"}[type(decl)]
    return f"{kind} {decl.name.name}"


def _declarations(ruleset: ast.Ruleset) -> dict[str, object]:
    # The first of a duplicated name wins, as in the checker's report.
    out: dict[str, object] = {}
    for decl in ruleset.declarations:
        if not isinstance(decl, ast.ConstDecl):
            out.setdefault(_section(decl), decl)
    return out


def _blocks(ruleset: ast.Ruleset) -> list[ast.ScoreBlock]:
    return [d for d in ruleset.declarations if isinstance(d, ast.ScoreBlock)]


def _rules(ruleset: ast.Ruleset) -> dict[str, _Placed]:
    out: dict[str, _Placed] = {}
    for block in _blocks(ruleset):
        for item in block.items:
            if isinstance(item, ast.Group):
                for rule in item.rules:
                    out.setdefault(rule.name.name, _Placed(rule, block.name.name, item.name.name))
            elif isinstance(item, _RULES):
                out.setdefault(item.name.name, _Placed(item, block.name.name))
    return out


def _groups(ruleset: ast.Ruleset) -> dict[str, _Placed]:
    out: dict[str, _Placed] = {}
    for block in _blocks(ruleset):
        for item in block.items:
            if isinstance(item, ast.Group):
                out.setdefault(item.name.name, _Placed(item, block.name.name))
    return out


def _options(block) -> dict[str, tuple[object, str]]:
    """Option name -> (meaning, text) of a score block; nothing for anything else."""
    out: dict[str, tuple[object, str]] = {}
    if isinstance(block, ast.ScoreBlock):
        for item in block.items:
            if type(item) in _OPTIONS:
                out.setdefault(_OPTIONS[type(item)], (key(item), _option_text(item)))
    return out


def _modifiers(rule: ast.EventRule) -> dict[str, tuple[object, str]]:
    out: dict[str, tuple[object, str]] = {"once": (False, "no")}
    for m in rule.modifiers:
        if isinstance(m, ast.MaxModifier):
            out.setdefault("max", (key(m.limit), fmt.expr(m.limit)))
        elif isinstance(m, ast.DecayModifier):
            out.setdefault("decay", (key(m.decay), fmt.decay(m.decay)))
        elif isinstance(m, ast.OnceModifier):
            out["once"] = (True, "yes")
        else:
            out.setdefault("at most", (key((m.count, m.period)), f"{fmt.expr(m.count)} per {m.period}"))
    return out


# --- comparing -------------------------------------------------------------------------------

def compare(old: ast.Ruleset, new: ast.Ruleset) -> tuple[Change, ...]:
    """Every semantic change from `old` to `new`, grouped by section: the header, the
    constants, then each declaration in the new file's order (removed ones last)."""
    old_decls, new_decls = _declarations(old), _declarations(new)
    changes = [*_header(old, new), *_constants(old, new),
               *_top_level(old_decls, new_decls), *_score_options(old_decls, new_decls),
               *_group_changes(old, new), *_rule_changes(old, new)]
    order = ["header", "constants", *new_decls, *(s for s in old_decls if s not in new_decls)]
    position = {section: i for i, section in enumerate(order)}
    return tuple(sorted(changes, key=lambda c: position[c.section]))


def _differ(field: str, old, new, show: Callable[[object], str]) -> list[tuple[str, str | None, str | None]]:
    """(field, old text, new text) when the two mean different things; None is absent."""
    if key(old) == key(new):
        return []
    return [(field, None if old is None else show(old), None if new is None else show(new))]


def _header(old: ast.Ruleset, new: ast.Ruleset) -> Iterator[Change]:
    def parts(r: ast.Ruleset) -> dict[str, object]:
        return {"ruleset": r.header.name if r.header else None,
                "version": r.header.version if r.header else None,
                "effective": r.effective.date if r.effective else None,
                "schema": r.schema.path if r.schema else None}

    before, after = parts(old), parts(new)
    for name in before:
        for _, was, now in _differ(name, before[name], after[name], lambda n: n.text):
            kind = ADDED if was is None else REMOVED if now is None else CHANGED
            yield Change(kind, "header", "header", name, None, was, now)


def _constants(old: ast.Ruleset, new: ast.Ruleset) -> Iterator[Change]:
    def values(r: ast.Ruleset) -> dict[str, ast.Expr]:
        out: dict[str, ast.Expr] = {}
        for d in r.declarations:
            if isinstance(d, ast.ConstDecl):
                out.setdefault(d.name.name, d.value)
        return out

    before, after = values(old), values(new)
    for name, value in after.items():
        was = before.get(name)
        if was is None:
            yield Change(ADDED, "constants", "constant", name, new=fmt.expr(value))
        elif key(was) == key(value):
            continue
        elif isinstance(was, ast.ListLit) and isinstance(value, ast.ListLit):
            # A long list is reviewed item by item, not as two long lines.
            for item in _missing_from(was.items, value.items):
                yield Change(REMOVED, "constants", "list item", name, old=fmt.expr(item))
            for item in _missing_from(value.items, was.items):
                yield Change(ADDED, "constants", "list item", name, new=fmt.expr(item))
        else:
            yield Change(CHANGED, "constants", "constant", name, None, fmt.expr(was), fmt.expr(value))
    for name, value in before.items():
        if name not in after:
            yield Change(REMOVED, "constants", "constant", name, old=fmt.expr(value))


def _missing_from(items: tuple[ast.Expr, ...], others: tuple[ast.Expr, ...]) -> list[ast.Expr]:
    """The items of `items` that `others` lacks, counting repeats."""
    available = Counter(key(item) for item in others)
    out = []
    for item in items:
        if available[key(item)]:
            available[key(item)] -= 1
        else:
            out.append(item)
    return out


def _top_level(before: dict[str, object], after: dict[str, object]) -> Iterator[Change]:
    """Scores, thresholds and segments as wholes; segment labels."""
    for section in [*after, *(s for s in before if s not in after)]:
        was, now = before.get(section), after.get(section)
        if was is not None and now is not None and type(was) is not type(now):
            # A base score that became a derived one (or back): its rules show as removed.
            yield _whole(REMOVED, section, was)
            yield _whole(ADDED, section, now)
        elif was is None or now is None:
            yield _whole(ADDED if was is None else REMOVED, section, now or was)
            if isinstance(now or was, ast.Segment):
                yield from _segment(section, was, now)
        elif isinstance(now, ast.DerivedScore):
            for field, a, b in _differ("expression", was.expr, now.expr, fmt.expr):
                yield Change(CHANGED, section, "score", now.name.name, field, a, b)
        elif isinstance(now, ast.Threshold):
            for field, a, b in _differ("condition", was.condition, now.condition, fmt.expr):
                yield Change(CHANGED, section, "threshold", now.name.name, field, a, b)
        elif isinstance(now, ast.Segment):
            yield from _segment(section, was, now)


def _whole(kind: str, section: str, decl) -> Change:
    entity, _, name = section.partition(" ")
    if isinstance(decl, ast.DerivedScore):
        text = fmt.expr(decl.expr)
    elif isinstance(decl, ast.Threshold):
        text = fmt.expr(decl.condition)
    else:
        text = None  # a score block or a segment: its rules or labels follow one by one
    return Change(kind, section, entity, name, None,
                  text if kind == REMOVED else None, text if kind == ADDED else None)


def _segment(section: str, old: ast.Segment | None, new: ast.Segment | None) -> Iterator[Change]:
    """Labels added, removed or changed, and the order of those kept (None: no segment)."""
    before, after = _labels(old), _labels(new)
    for name, label in after.items():
        if name not in before:
            yield Change(ADDED, section, "label", name, new=_condition(label.condition))
        elif key(before[name].condition) != key(label.condition):
            yield Change(CHANGED, section, "label", name, "condition",
                         _condition_text(before[name].condition), _condition_text(label.condition))
    for name, label in before.items():
        if name not in after:
            yield Change(REMOVED, section, "label", name, old=_condition(label.condition))
    if [n for n in before if n in after] != [n for n in after if n in before]:
        yield Change(CHANGED, section, "segment", new.name.name, "order", ", ".join(before), ", ".join(after))


def _labels(segment: ast.Segment | None) -> dict[str, ast.SegmentLabel]:
    out: dict[str, ast.SegmentLabel] = {}
    for label in segment.labels if segment else ():
        out.setdefault(label.label.name, label)
    return out


def _score_options(before: dict[str, object], after: dict[str, object]) -> Iterator[Change]:
    for section in [*after, *(s for s in before if s not in after)]:
        was, now = _options(before.get(section)), _options(after.get(section))
        for name in [*now, *(n for n in was if n not in now)]:
            if name not in was:
                yield Change(ADDED, section, "option", name, new=now[name][1])
            elif name not in now:
                yield Change(REMOVED, section, "option", name, old=was[name][1])
            elif was[name][0] != now[name][0]:
                yield Change(CHANGED, section, "option", name, None, was[name][1], now[name][1])


def _moves(section: str, entity: str, name: str, was: _Placed, now: _Placed) -> Iterator[Change]:
    if was.score != now.score:
        yield Change(MOVED, section, entity, name, "score", was.score, now.score)
    if was.group != now.group:
        yield Change(MOVED, section, entity, name, "group", was.group, now.group)


def _group_changes(old: ast.Ruleset, new: ast.Ruleset) -> Iterator[Change]:
    before, after = _groups(old), _groups(new)
    for name, now in after.items():
        section = f"score {now.score}"
        was = before.get(name)
        if was is None:
            yield Change(ADDED, section, "group", name, new=f"max {fmt.expr(now.node.limit)}")
            continue
        yield from _moves(section, "group", name, was, now)
        for field, a, b in _differ("max", was.node.limit, now.node.limit, fmt.expr):
            yield Change(CHANGED, section, "group", name, field, a, b)
    for name, was in before.items():
        if name not in after:
            yield Change(REMOVED, f"score {was.score}", "group", name,
                         old=f"max {fmt.expr(was.node.limit)}")


def _placed_definition(placed: _Placed) -> str:
    text = definition(placed.node)
    return text + (f" (in group {placed.group})" if placed.group else "")


def _body(rule: ast.Rule) -> object:
    """What a rule means, its name aside."""
    return (type(rule).__name__,) + tuple(key(getattr(rule, f.name)) for f in fields(rule)
                                          if f.name not in _SPELLING and f.name != "name")


def _renames(before: dict[str, _Placed], after: dict[str, _Placed]) -> dict[str, str]:
    """New name -> old name of each rule that only changed its name: a removed rule and an
    added one with the same body, paired in file order."""
    gone: dict[object, list[str]] = {}
    for name, was in before.items():
        if name not in after:
            gone.setdefault(_body(was.node), []).append(name)
    out = {}
    for name, now in after.items():
        if name not in before and gone.get(_body(now.node)):
            out[name] = gone[_body(now.node)].pop(0)
    return out


def _rule_changes(old: ast.Ruleset, new: ast.Ruleset) -> Iterator[Change]:
    before, after = _rules(old), _rules(new)
    renamed = _renames(before, after)
    for name, now in after.items():
        section = f"score {now.score}"
        was = before.get(name)
        if name in renamed:
            yield Change(RENAMED, section, "rule", name, None, renamed[name], name)
            yield from _moves(section, "rule", name, before[renamed[name]], now)
            continue
        if was is None:
            yield Change(ADDED, section, "rule", name, new=_placed_definition(now))
            continue
        yield from _moves(section, "rule", name, was, now)
        for field, a, b in _rule_fields(was.node, now.node):
            yield Change(CHANGED, section, "rule", name, field, a, b)
    kept = set(renamed.values())
    for name, was in before.items():
        if name not in after and name not in kept:
            yield Change(REMOVED, f"score {was.score}", "rule", name, old=_placed_definition(was))


def _rule_fields(old: ast.Rule, new: ast.Rule) -> list[tuple[str, str | None, str | None]]:
    if type(old) is not type(new):
        return [("definition", definition(old), definition(new))]
    if isinstance(new, ast.CaseRule):
        return _case_fields(old, new)
    out = _differ("points", old.points, new.points, fmt.points)
    if isinstance(new, ast.ConditionRule):
        return out + _differ("condition", old.condition, new.condition, fmt.expr)
    out += _differ("event", old.event, new.event, lambda ident: ident.text)
    out += _differ("where", old.where, new.where, fmt.expr)
    out += _differ("within", old.within, new.within, fmt.expr)
    was, now = _modifiers(old), _modifiers(new)
    for field in _MODIFIERS:
        a, b = was.get(field, (None, None)), now.get(field, (None, None))
        if a[0] != b[0]:
            out.append((field, a[1], b[1]))
    return out


def _case_fields(old: ast.CaseRule, new: ast.CaseRule) -> list[tuple[str, str | None, str | None]]:
    if key(old.branches) == key(new.branches):
        return []
    if len(old.branches) != len(new.branches):
        # Branch numbers no longer line up: show both lists whole.
        return [("branches", _branches(old.branches), _branches(new.branches))]
    out = []
    for number, (a, b) in enumerate(zip(old.branches, new.branches), 1):
        out += _differ(f"branch {number} points", a.points, b.points, fmt.points)
        if key(a.condition) != key(b.condition):
            out.append((f"branch {number} condition", _condition_text(a.condition),
                        _condition_text(b.condition)))
    return out

"""Rules in words, and what a per-event rule's points are worth as they age:
shared by hover and inlay hints. Durations and points written as constants
are looked up in the file's `const` lines."""

from __future__ import annotations

from ..dsl import ast
from ..dsl import formatter as fmt
from ..semantics import DAY, decay_factor, decay_words, decided_decay

HINT_AGES_DAYS = (7, 30, 90)


def constants(ruleset: ast.Ruleset) -> dict[str, ast.Expr]:
    return {d.name.name: d.value for d in ruleset.declarations if isinstance(d, ast.ConstDecl)}


def days(node: ast.Duration | ast.Name | None, consts: dict[str, ast.Expr]) -> float | None:
    if isinstance(node, ast.Name):
        node = consts.get(node.name)
    return node.seconds / DAY if isinstance(node, ast.Duration) else None


def number(node: ast.Number | ast.Name, consts: dict[str, ast.Expr]) -> float | None:
    if isinstance(node, ast.Name):
        node = consts.get(node.name)
    return node.value if isinstance(node, ast.Number) else None


def effective_decay(rule: ast.EventRule, block: ast.ScoreBlock | None) -> ast.Decay | None:
    """The rule's own decay, else its score's default; None means no decay."""
    own = next((m.decay for m in rule.modifiers if isinstance(m, ast.DecayModifier)), None)
    if own is not None or block is None:
        return own
    return next((i.decay for i in block.items if isinstance(i, ast.DecayOption)), None)


def fraction(decay: ast.Decay | None, age: float, consts: dict[str, ast.Expr]) -> float | None:
    """What share of its points an event keeps at `age` days (None: not known
    from the text, e.g. a constant that is not a duration). Each decay kind is
    read and applied by the registry (semantics.py), as in every scorer."""
    decided = decided_decay(decay, lambda duration: days(duration, consts))
    return None if decided is None else decay_factor(decided, age)


def worth_after(rule: ast.EventRule, block: ast.ScoreBlock | None, consts: dict[str, ast.Expr],
                age: float) -> float | None:
    """The points one event of `rule` is worth `age` days later (0 once it has
    left the rule's window)."""
    points = number(rule.points.value, consts)
    share = fraction(effective_decay(rule, block), age, consts)
    if points is None or share is None:
        return None
    window = days(rule.within, consts)
    if window is not None and age >= window:
        return 0.0
    return rule.points.sign * points * share


def rule_words(rule: ast.Rule, block: ast.ScoreBlock | None, consts: dict[str, ast.Expr]) -> str:
    """A rule in a sentence or two, for hover."""
    score = f" to `{block.name.name}`" if block is not None else ""
    if isinstance(rule, ast.ConditionRule):
        return f"{_points(rule.points, consts)}{score} while `{fmt.expr(rule.condition)}` holds."
    if isinstance(rule, ast.CaseRule):
        branches = [f"- {_points(b.points, consts)} " +
                    (f"if `{fmt.expr(b.condition)}`" if b.condition is not None else "otherwise")
                    for b in rule.branches]
        return f"The first branch that holds adds its points{score}:\n" + "\n".join(branches)
    parts = [f"{_points(rule.points, consts)}{score} for each `{rule.event.name}` event"]
    if rule.where is not None:
        parts[0] += f" where `{fmt.expr(rule.where)}`"
    if rule.within is not None:
        parts.append(f"only events of the last {_duration(rule.within, consts)} count")
    for m in rule.modifiers:
        if isinstance(m, ast.MaxModifier):
            parts.append(f"at most {_plain(number(m.limit, consts), m.limit)} points in total")
        elif isinstance(m, ast.OnceModifier):
            parts.append("only the first such event ever counts")
        elif isinstance(m, ast.AtMostModifier):
            parts.append(f"at most {_plain(number(m.count, consts), m.count)} events a {m.period} count")
    decay = effective_decay(rule, block)
    own = any(isinstance(m, ast.DecayModifier) for m in rule.modifiers)
    source = "" if own or decay is None else " (the score's decay)"
    parts.append(f"each event's points {decay_words(decay, lambda d: _duration(d, consts))}{source}")
    return "; ".join(parts) + "."


def _points(points: ast.Points, consts: dict[str, ast.Expr]) -> str:
    value = number(points.value, consts)
    sign = "+" if points.sign > 0 else "-"
    shown = _plain(value, points.value)
    named = f" (`{points.value.name}`)" if isinstance(points.value, ast.Name) else ""
    return f"{sign}{shown} point{'s' * (value != 1)}{named}"


def _plain(value: float | None, node) -> str:
    if value is None:
        return f"`{node.name}`" if isinstance(node, ast.Name) else "?"
    return f"{value:g}"


def _duration(node: ast.Duration | ast.Name, consts: dict[str, ast.Expr]) -> str:
    value = days(node, consts)
    if value is None:
        return f"`{node.name}`" if isinstance(node, ast.Name) else "?"
    text = f"{value:g} day{'s' * (value != 1)}"
    return text + (f" (`{node.name}`)" if isinstance(node, ast.Name) else "")

"""AST -> canonical text (`leadscore fmt`).

One layout: one rule per line; within a score block (and within a group)
the rule names and the points are aligned in columns; two-space indents;
normalised spacing; numbers, strings, regexes, dates and durations exactly as
written; minimal parentheses. Every comment is kept, in its order: own-line
comments before the line they preceded, a trailing comment after its line. A
rule written over several lines becomes one line, so the comments inside it
(after a trailing `and`, inside a list or decay steps) go on lines of their own
just above it, except the last one, which trails it if it trailed a line. Blank
lines between statements or items are kept (several collapse to one).

The properties held by the tests: parse(format(x)) equals parse(x) ignoring
spans and whether a comment trails a line, and format(format(x)) == format(x).
"""

from __future__ import annotations

import re

from . import ast

INDENT = "  "
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Words that the grammar may read as keywords where a name can stand in an
# expression; such names are written back-quoted.
_EXPRESSION_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "true", "false", "contains",
                                  "starts_with", "ends_with", "matches", "missing", "present",
                                  "where", "within", "if", "otherwise", "per"})

# Binding strength, loosest first (docs/language.md).
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)


def format_ruleset(ruleset: ast.Ruleset) -> str:
    return _Formatter(ruleset).run()


def in_layout_of(original: str, formatted: str) -> str:
    """`formatted` (LF line endings, no byte order mark) with the line endings of `original` (as
    its first line ends) and its byte order mark, if it has one."""
    first = original.find("\n")
    if first > 0 and original[first - 1] == "\r":
        formatted = formatted.replace("\n", "\r\n")
    return ("\ufeff" + formatted) if original.startswith("\ufeff") else formatted


class _Formatter:
    def __init__(self, ruleset: ast.Ruleset) -> None:
        self.ruleset = ruleset
        self.comments = sorted(ruleset.comments, key=lambda c: (c.span.line, c.span.column))
        self.next_comment = 0
        self.out: list[str] = []
        self.last_line = 0  # the last source line written so far

    # --- comments and blank lines ----------------------------------------------------

    def _leading(self, start_line: int, indent: str) -> None:
        """Own-line comments before `start_line`, and the blank lines
        between them, the previous line and the unit."""
        while self.next_comment < len(self.comments) and \
                self.comments[self.next_comment].span.line < start_line:
            comment = self.comments[self.next_comment]
            self.next_comment += 1
            self._blank_line_if(comment.span.line)
            self.out.append(indent + comment.text)
            self.last_line = comment.span.line
        self._blank_line_if(start_line)

    def _blank_line_if(self, line: int) -> None:
        if self.out and self.out[-1] != "" and line - self.last_line > 1 \
                and not self.out[-1].rstrip().endswith("{"):
            self.out.append("")

    def _comments_until(self, end_line: int) -> list[ast.Comment]:
        found = []
        while self.next_comment < len(self.comments) and \
                self.comments[self.next_comment].span.line <= end_line:
            found.append(self.comments[self.next_comment])
            self.next_comment += 1
        return found

    def _line(self, indent: str, text: str, span) -> None:
        self._unit(indent, text, span.line, span.end_line)

    def _unit(self, indent: str, text: str, first_line: int, last_line: int) -> None:
        """Source lines `first_line`..`last_line` written as one line: its last comment trails
        it if it trailed a line; the comments before that go above it (a line holds one)."""
        self._leading(first_line, indent)
        inside = self._comments_until(last_line)
        trailing = ""
        if inside and not inside[-1].own_line:
            trailing = "  " + inside.pop().text
        self.out.extend(indent + comment.text for comment in inside)
        self.out.append(indent + text + trailing)
        self.last_line = last_line

    def _open(self, indent: str, text: str, span) -> None:
        """The first line of a block."""
        self._unit(indent, text, span.line, span.line)

    def _close(self, indent: str, span) -> None:
        self._leading(span.end_line, indent + INDENT)
        self._unit(indent, "}", span.end_line, span.end_line)

    # --- statements ---------------------------------------------------------------

    def run(self) -> str:
        for statement in self.ruleset.statements:
            self._statement(statement)
        self._leading(10**9, "")  # comments after the last statement
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(line.rstrip() for line in self.out) + "\n" if self.out else ""

    def _statement(self, s: ast.Statement) -> None:
        if isinstance(s, ast.RulesetHeader):
            self._line("", f"ruleset {s.name.text} version {s.version.text}", s.span)
        elif isinstance(s, ast.EffectiveHeader):
            self._line("", f"effective {s.date.text}", s.span)
        elif isinstance(s, ast.SchemaHeader):
            self._line("", f"schema {s.path.text}", s.span)
        elif isinstance(s, ast.ConstDecl):
            self._line("", f"const {s.name.text} = {expr(s.value)}", s.span)
        elif isinstance(s, ast.DerivedScore):
            self._line("", f"score {s.name.text} = {expr(s.expr)}", s.span)
        elif isinstance(s, ast.Threshold):
            self._line("", f"threshold {s.name.text}: {expr(s.condition)}", s.span)
        elif isinstance(s, ast.Segment):
            self._open("", f"segment {s.name.text} {{", s.span)
            width = max((len(label.label.text) for label in s.labels), default=0)
            for label in s.labels:
                text = label.label.text.ljust(width)
                rest = "otherwise" if label.condition is None else f"if {expr(label.condition)}"
                self._line(INDENT, f"{text} {rest}", label.span)
            self._close("", s.span)
        else:
            self._score_block(s)

    def _score_block(self, block: ast.ScoreBlock) -> None:
        self._open("", f"score {block.name.text} {{", block.span)
        self._items(block.items, INDENT)
        self._close("", block.span)

    def _items(self, items, indent: str) -> None:
        rules = [i for i in items if isinstance(i, (ast.ConditionRule, ast.EventRule))]
        name_width = max((len(r.name.text) + 1 for r in rules), default=0)
        points_width = max((len(points(r.points)) for r in rules), default=0)
        for item in items:
            if isinstance(item, ast.Group):
                self._open(indent, f"group {item.name.text} max {expr(item.limit)} {{", item.span)
                self._items(item.rules, indent + INDENT)
                self._close(indent, item.span)
            elif isinstance(item, ast.CaseRule):
                self._open(indent, f"{item.name.text}: case {{", item.span)
                width = max(len(points(b.points)) for b in item.branches) if item.branches else 0
                for branch in item.branches:
                    rest = "otherwise" if branch.condition is None else f"if {expr(branch.condition)}"
                    self._line(indent + INDENT, f"{points(branch.points).ljust(width)} {rest}",
                               branch.span)
                self._close(indent, item.span)
            elif isinstance(item, (ast.ConditionRule, ast.EventRule)):
                head = f"{(item.name.text + ':').ljust(name_width)} {points(item.points).ljust(points_width)}"
                self._line(indent, f"{head} {rule_body(item)}", item.span)
            else:
                self._line(indent, option(item), item.span)


# --- pieces ----------------------------------------------------------------------------

def points(p: ast.Points) -> str:
    return ("+" if p.sign > 0 else "-") + expr(p.value)


def rule_body(rule: ast.ConditionRule | ast.EventRule) -> str:
    if isinstance(rule, ast.ConditionRule):
        return f"if {expr(rule.condition)}"
    text = f"per {rule.event.text}"
    if rule.where is not None:
        text += f" where {expr(rule.where)}"
    if rule.within is not None:
        text += f" within {expr(rule.within)}"
    return text + "".join(", " + modifier(m) for m in rule.modifiers)


def modifier(m: ast.Modifier) -> str:
    if isinstance(m, ast.MaxModifier):
        return f"max {expr(m.limit)}"
    if isinstance(m, ast.DecayModifier):
        return f"decay {decay(m.decay)}"
    if isinstance(m, ast.OnceModifier):
        return "once"
    return f"at most {expr(m.count)} per {m.period}"


def decay(d: ast.Decay) -> str:
    if isinstance(d, ast.DecayNone):
        return "none"
    if isinstance(d, ast.DecayHalfLife):
        return f"half_life {expr(d.half_life)}"
    if isinstance(d, ast.DecayLinear):
        return f"linear {expr(d.length)}"
    return "steps { " + ", ".join(f"{expr(s.age)}: {s.percent.text}" for s in d.steps) + " }"


def option(item) -> str:
    if isinstance(item, ast.DecayOption):
        return f"decay {decay(item.decay)}"
    if isinstance(item, ast.ClampOption):
        low = expr(item.low) if item.low is not None else ""
        high = expr(item.high) if item.high is not None else ""
        return f"clamp {low}..{high}"
    return (f"inactivity after {expr(item.after)}: -{expr(item.points)} "
            f"every {expr(item.every)}")


def name(text: str) -> str:
    if _IDENTIFIER.match(text) and text not in _EXPRESSION_KEYWORDS:
        return text
    return f"`{text}`"


def _level(e: ast.Expr) -> int:
    if isinstance(e, ast.BoolOp):
        return _OR if e.op == "or" else _AND
    if isinstance(e, ast.Unary):
        return _NOT if e.op == "not" else _UNARY
    if isinstance(e, (ast.Compare, ast.IsMissing)):
        return _COMPARE
    if isinstance(e, ast.Arith):
        return _SUM if e.op in "+-" else _PRODUCT
    if isinstance(e, ast.Number) and e.value < 0 or \
            isinstance(e, ast.Number) and e.text.startswith("-"):
        return _UNARY  # a folded negative literal prints as `-5`
    return _ATOM


def _wrapped(e: ast.Expr, needs_parens: bool) -> str:
    return f"({expr(e)})" if needs_parens else expr(e)


def expr(e: ast.Expr) -> str:
    """An expression with the fewest parentheses that parse back to `e`."""
    if isinstance(e, (ast.Number, ast.String, ast.DateTime, ast.Duration, ast.Regex)):
        return e.text
    if isinstance(e, ast.Bool):
        return "true" if e.value else "false"
    if isinstance(e, ast.ListLit):
        return "[" + ", ".join(expr(i) for i in e.items) + "]"
    if isinstance(e, ast.Name):
        return (name(e.qualifier) + "." if e.qualifier else "") + name(e.name)
    if isinstance(e, ast.Call):
        args = []
        for arg in e.args:
            text = expr(arg.value)
            if arg.where is not None:
                text += f" where {expr(arg.where)}"
            if arg.within is not None:
                text += f" within {expr(arg.within)}"
            args.append(text)
        return f"{name(e.func)}({', '.join(args)})"
    level = _level(e)
    if isinstance(e, ast.BoolOp):
        return f" {e.op} ".join(_wrapped(o, _level(o) <= level) for o in e.operands)
    if isinstance(e, ast.Unary):
        if e.op == "not":
            return "not " + _wrapped(e.operand, _level(e.operand) < _NOT)
        return "-" + _wrapped(e.operand, _level(e.operand) < _UNARY)
    if isinstance(e, ast.IsMissing):
        word = "is present" if e.negated else "is missing"
        return f"{_wrapped(e.operand, _level(e.operand) <= _COMPARE)} {word}"
    if isinstance(e, ast.Compare):
        left = _wrapped(e.left, _level(e.left) <= _COMPARE)
        right = _wrapped(e.right, _level(e.right) <= _COMPARE)
        return f"{left} {e.op} {right}"
    left = _wrapped(e.left, _level(e.left) < level)
    right = _wrapped(e.right, _level(e.right) <= level)
    return f"{left} {e.op} {right}"


def shape(node) -> object:
    """The structure of an AST without spans: what formatting must keep (every comment, in
    order; a comment inside a multi-line rule may move to a line of its own)."""
    if isinstance(node, ast.Ruleset):
        # the trailing spaces of a comment are not part of it: every written line is stripped
        return (shape(node.statements), tuple(c.text.rstrip() for c in node.comments))
    if hasattr(node, "__dataclass_fields__"):
        return (type(node).__name__,) + tuple(
            shape(getattr(node, f)) for f in node.__dataclass_fields__
            if f not in ("span", "func_span", "file"))
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    return node

"""Calibration signals written in the rule language (docs/language.md): names,
strings, conditions and the suggested score block, ready to paste.

Field values and event names come from data files and schemas, so they are
untrusted text: every one is written through `name_text` or `string_text`,
which quote and escape it, or refuse (None) when the language cannot write it.
"""

from __future__ import annotations

import re

from ..dsl import ast
from ..dsl.formatter import expr as expression_text

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SIMPLE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}
_LONGEST_RULE_NAME = 48


def _reserved() -> frozenset[str]:
    """Every keyword of the grammar, and the function names min/max: such a name is always
    written back-quoted, whatever its position in the rule."""
    from ..dsl.parser import keywords

    return keywords() | {"min", "max"}


def name_text(name: str) -> str | None:
    """A name as the language reads it back: plain, back-quoted, or None when
    it holds a back-quote or a line break (no way to write it)."""
    if _IDENTIFIER.match(name) and name not in _reserved():
        return name
    if not name or any(c in name for c in "`\r\n"):
        return None
    return f"`{name}`"


def string_text(value: str) -> str | None:
    """A double-quoted string literal; control characters as \\uXXXX. None for
    a lone surrogate (not valid text in a UTF-8 rule file)."""
    out = []
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return None
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif code < 0x20 or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def where_text(where: ast.Expr) -> str:
    """A `where` condition from the ruleset, as `leadscore fmt` writes it."""
    return expression_text(where)


def event_condition(event: str, where: ast.Expr | None) -> str | None:
    """`EVENT [where COND]`, the part of a per-event rule after `per`."""
    name = name_text(event)
    if name is None:
        return None
    return name if where is None else f"{name} where {where_text(where)}"


def field_condition(field: str, ftype: str, value: str | bool | None) -> str | None:
    """The condition a lead field meets: `== VALUE`, `contains VALUE` (lists),
    `is missing` (value None); None when the name or value cannot be written."""
    name = name_text(field)
    if name is None:
        return None
    if value is None:
        return f"{name} is missing"
    if isinstance(value, bool):
        return f"{name} == {'true' if value else 'false'}"
    literal = string_text(value)
    if literal is None:
        return None
    return f"{name} {'contains' if ftype == 'list' else '=='} {literal}"


def rule_name_base(parts: list[str]) -> str:
    """A readable identifier from the signal's parts: `ev_page_view_1`,
    `industry_financial_services`; always a plain (unquoted) identifier."""
    slug = "_".join(re.sub(r"[^a-z0-9]+", "_", part.lower()).strip("_") for part in parts)
    slug = re.sub(r"_+", "_", slug).strip("_")[:_LONGEST_RULE_NAME].rstrip("_") or "signal"
    if not slug[0].isalpha() or slug in _reserved():
        slug = "s_" + slug
    return slug


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`, ... : the first not in `taken` (which it joins)."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def declared_names(ruleset: ast.Ruleset) -> set[str]:
    """Every name in the file's one namespace (constants, scores, thresholds,
    segments, groups, rules): a pasted rule must not repeat one."""
    names: set[str] = set()
    for decl in ruleset.declarations:
        names.add(decl.name.name)
        if isinstance(decl, ast.ScoreBlock):
            for item in decl.items:
                if isinstance(item, ast.Group):
                    names.add(item.name.name)
                    names.update(rule.name.name for rule in item.rules)
                elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                    names.add(item.name.name)
    return names


def signed(points: int) -> str:
    return f"+{points}" if points >= 0 else str(points)


def score_block(name: str, rules: list[tuple[str, int, str, str]], heading: list[str],
                cases: list[tuple[str, list[str]]] = ()) -> str:
    """The suggested rules as one score block: `rules` holds (rule name, points,
    `if COND` or `per EVENT, once`, trailing comment or ""). Names and points
    are aligned in columns as `leadscore fmt` aligns them. `cases`: (rule name,
    its branches) for `case` rules, after the others."""
    lines = [f"# {line}" if line else "#" for line in heading]
    lines.append(f"score {name} {{")
    name_width = max((len(r[0]) for r in rules), default=0) + 1
    points_width = max((len(signed(r[1])) for r in rules), default=0)
    for rule, points, body, comment in rules:
        text = f"  {(rule + ':').ljust(name_width)} {signed(points).ljust(points_width)} {body}"
        lines.append(text + (f"  # {comment}" if comment else ""))
    for rule, branches in cases:
        lines += [f"  {rule}: case {{", *(f"    {branch}" for branch in branches), "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"

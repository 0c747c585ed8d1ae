"""The changes as text (one per line), Markdown (a pull-request comment) or JSON.

Names, expressions and strings come from the rule files, which are untrusted: every
output but JSON shows them through `leadscore.safe_text` (control and bidi characters as
escapes, no CI workflow command), and Markdown puts every piece of user text in a code
span, where it is neither markup nor an @mention.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import Sequence

from ..dsl.formatter import name as quoted
from ..safe_text import json_text, markdown_code, shown
from .compare import ADDED, CHANGED, MOVED, REMOVED, RENAMED, Change
from .schema import SchemaChange

_KINDS = (ADDED, REMOVED, CHANGED, MOVED, RENAMED)
# Entities whose name alone says what changed, with no "rule"/"label" word before it.
_BARE = ("header", "constant", "list item")
# Entities named by the language, not by the rule file: their names are never quoted.
_FIXED = ("header", "option")


def _own(change: Change) -> bool:
    """The change is about the section itself (a threshold's condition), not a part."""
    return change.section == f"{change.entity} {change.name}"


def _name(change: Change) -> str:
    """The name as the rule file would write it (`` `us based` ``), so that a name with
    spaces or colons cannot blur where it ends."""
    return change.name if change.entity in _FIXED else quoted(change.name)


def _section(change: Change) -> str:
    kind, _, name = change.section.partition(" ")
    return f"{kind} {quoted(name)}" if name else kind


def _subject(change: Change) -> str:
    if change.entity in _BARE:
        return _name(change)
    return "" if _own(change) else f"{change.entity} {_name(change)}"


def _show(value: str | None) -> str:
    return "(none)" if value is None else value


def _moved(change: Change) -> str:
    field = change.field
    old, new = (None if n is None else quoted(n) for n in (change.old, change.new))
    if field == "group" and old is None:
        return f"moved into group {new}"
    if field == "group" and new is None:
        return f"moved out of group {old}"
    return f"moved from {field} {old} to {field} {new}"


def line(change: Change) -> str:
    """One change in plain words: `score fit: rule enterprise_finance: points +30 → +25`."""
    subject = _subject(change)
    if change.kind in (ADDED, REMOVED):
        value = change.new if change.kind == ADDED else change.old
        if change.entity == "list item":
            body = f"{subject}: {change.kind} item {value}"
        else:
            body = f"{change.kind} {subject}".rstrip() + ("" if value is None else f": {value}")
    elif change.kind == MOVED:
        body = f"{subject}: {_moved(change)}"
    elif change.kind == RENAMED:
        body = f"{subject}: renamed from {quoted(change.old)}"
    else:
        what = f"{subject}: {change.field}" if subject and change.field else subject or change.field
        body = f"{what} {_show(change.old)} → {_show(change.new)}"
    return f"{_section(change)}: {body}"


def _schema_subject(change: SchemaChange) -> str:
    """`lead field industry`, `event page_view`, `event page_view: property url`, `id column`."""
    if change.entity in ("id column", "created column"):
        return change.entity
    if change.entity == "lead field" or (change.entity == "value" and change.property is None):
        return f"lead field {quoted(change.name)}"
    subject = f"event {quoted(change.name)}"
    return subject if change.property is None else f"{subject}: property {quoted(change.property)}"


def schema_line(change: SchemaChange) -> str:
    """One schema change in plain words: `schema: lead field employees: type number → string`."""
    subject = _schema_subject(change)
    value = change.new if change.kind == ADDED else change.old
    if change.entity == "value":
        return f"schema: {subject}: {change.kind} value {value}"
    if change.kind == CHANGED:
        what = f"{subject}: {change.field}" if change.field else subject
        return f"schema: {what} {_show(change.old)} → {_show(change.new)}"
    if change.entity == "event property":
        event, _, prop = subject.partition(": ")
        subject = f"{event}: {change.kind} {prop}"
    else:
        subject = f"{change.kind} {subject}"
    return f"schema: {subject}" + (f": {value}" if value else "")


def render_text(changes: Sequence[Change], schema: Sequence[SchemaChange] = (),
                new_ruleset: bool = False) -> str:
    head = "new ruleset: it did not exist at the old revision\n" if new_ruleset else ""
    if not changes and not schema:
        return head or "no semantic changes\n"
    return head + "".join(shown(line(c)) + "\n" for c in changes) \
        + "".join(shown(schema_line(c)) + "\n" for c in schema)


def render_json(changes: Sequence[Change], schema: Sequence[SchemaChange] = (),
                new_ruleset: bool = False) -> str:
    document = {"new_ruleset": new_ruleset, "changes": [asdict(c) for c in changes],
                "schema": [asdict(c) for c in schema]}
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


# --- Markdown ------------------------------------------------------------------------------

def _code(text: str, table: bool = True) -> str:
    """User text as a code span (in a GFM table cell unless `table` is false)."""
    return markdown_code(text, table)


def _where(change: Change) -> str:
    kind, _, name = change.section.partition(" ")
    return f"{kind} {_code(name)}" if name else kind


def _what(change: Change) -> str:
    if change.entity == "header":
        parts = [change.name]
    elif change.entity == "list item":
        parts = [f"{_code(change.name)} item"]
    elif change.entity == "constant":
        parts = [_code(change.name)]
    elif _own(change):
        return change.field or change.entity
    else:
        parts = [f"{change.entity} {_code(change.name)}"]
    if change.field:
        parts.append(change.field)
    return ": ".join(parts)


def _cell(value: str | None) -> str:
    return "" if value is None else _code(value)


def _summary(changes: Sequence) -> str:
    """`3 changes: 1 added, 2 changed`, or `no semantic changes`."""
    if not changes:
        return "no semantic changes"
    counts = Counter(c.kind for c in changes)
    parts = ", ".join(f"{counts[k]} {k}" for k in _KINDS if counts[k])
    return f"{len(changes)} change{'s' * (len(changes) != 1)}: {parts}"


def _schema_what(change: SchemaChange) -> str:
    """The subject as in the text, each name in a code span."""
    if change.entity in ("id column", "created column"):
        what = change.entity
    elif change.entity == "lead field" or (change.entity == "value" and change.property is None):
        what = f"lead field {_code(change.name)}"
    else:
        what = f"event {_code(change.name)}" + (
            "" if change.property is None else f" property {_code(change.property)}")
    if change.entity == "value":
        return f"{what}: value"
    return f"{what}: {change.field}" if change.field else what


def render_markdown(changes: Sequence[Change], old_label: str, new_label: str,
                    schema: Sequence[SchemaChange] = (), new_ruleset: bool = False) -> str:
    summary = _summary(changes)
    if new_ruleset:
        summary = f"new ruleset, {summary}"
    out = ["### leadscore diff", "",
           f"{_code(old_label, False)} → {_code(new_label, False)}: **{summary}**"]
    if changes:
        out += ["", "| change | where | what | old | new |", "|---|---|---|---|---|"]
        out += [f"| {c.kind} | {_where(c)} | {_what(c)} | {_cell(c.old)} | {_cell(c.new)} |"
                for c in changes]
    if schema:
        out += ["", f"Schema: **{_summary(schema)}**", "",
                "| change | what | old | new |", "|---|---|---|---|"]
        out += [f"| {c.kind} | {_schema_what(c)} | {_cell(c.old)} | {_cell(c.new)} |" for c in schema]
    return "\n".join(out) + "\n"

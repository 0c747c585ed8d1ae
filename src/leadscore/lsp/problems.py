"""Diagnostics for the editor, from the same `Diagnostic` values `check`
prints, and the quick fixes for the suggestions they make."""

from __future__ import annotations

import re

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from ..dsl import formatter as fmt
from ..dsl.diagnostics import Diagnostic, Severity

_SUGGESTION = re.compile(r"did you mean (`[^`]*`|\"(?:[^\"\\]|\\.)*\")\?")
_CURLY = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": '"', "\u2019": '"'})
SOURCE = "leadscore"


def replacement(d: Diagnostic) -> str | None:
    """The text a did-you-mean hint suggests, written as it goes in the file."""
    found = _SUGGESTION.search(d.hint or "")
    if found is None:
        return None
    suggested = found.group(1)
    return fmt.name(suggested[1:-1]) if suggested.startswith("`") else suggested


def message(d: Diagnostic, elsewhere: bool) -> str:
    """The message, the hint on its own line; a problem in another file (the
    schema) says where it is."""
    s = d.span
    where = f"{s.file}:{s.line}:{s.column}: " if elsewhere else ""
    return where + d.message + (f"\nhint: {d.hint}" if d.hint else "")


def severity(d: Diagnostic) -> types.DiagnosticSeverity:
    return types.DiagnosticSeverity.Error if d.severity is Severity.ERROR else types.DiagnosticSeverity.Warning


def quick_fixes(uri: str, diagnostics: list[types.Diagnostic], lines: list[str],
                codec: PositionCodec) -> list[types.CodeAction]:
    actions = []
    for d in diagnostics:
        if d.source != SOURCE:
            continue
        suggested = (d.data or {}).get("replacement") if isinstance(d.data, dict) else None
        if suggested:
            actions.append(_action(f"Change to {suggested}", uri, d, [types.TextEdit(d.range, suggested)]))
        line = d.range.start.line
        text = lines[line] if line < len(lines) else ""
        straight = text.translate(_CURLY)
        if straight != text:
            whole = types.Range(types.Position(line, 0), types.Position(line, codec.client_num_units(text)))
            actions.append(_action("Use straight quotes", uri, d, [types.TextEdit(whole, straight)]))
    return actions


def _action(title: str, uri: str, d: types.Diagnostic, edits: list[types.TextEdit]) -> types.CodeAction:
    return types.CodeAction(title, kind=types.CodeActionKind.QuickFix, diagnostics=[d], is_preferred=True,
                            edit=types.WorkspaceEdit(changes={uri: edits}))

"""Go to definition, find references and rename, over the symbol index.

Declarations live in the document; fields, event types and properties live
in the schema file, so their definition is a line of schema.yaml."""

from __future__ import annotations

import re

from ..dsl import formatter as fmt
from ..dsl.diagnostics import Span
from . import symbols as sym
from .analysis import Analysis
from .symbols import Occurrence

# A new name: any text without back-quotes or line breaks (it is written
# back-quoted when it is not a plain identifier).
_NEW_NAME = re.compile(r"[^`\r\n]+")


def definition(analysis: Analysis, found: Occurrence) -> Span | None:
    schema = analysis.schema
    if found.kind == sym.FIELD:
        spec = schema.fields.get(found.name) if schema else None
        return spec.span if spec else None
    if found.kind == sym.EVENT:
        spec = schema.events.get(found.name) if schema else None
        return spec.span if spec else None
    if found.kind == sym.PROPERTY:
        event = schema.events.get(found.event) if schema else None
        spec = event.properties.get(found.name) if event else None
        return spec.span if spec else None
    declared = analysis.symbols.definition(found.key)
    return declared.span if declared else None


def references(analysis: Analysis, found: Occurrence, include_declaration: bool) -> list[Span]:
    spans = [o.span for o in analysis.symbols.of(found.key) if include_declaration or not o.definition]
    if include_declaration and found.kind in (sym.FIELD, sym.EVENT, sym.PROPERTY):
        declared = definition(analysis, found)
        if declared is not None:
            spans.insert(0, declared)
    return spans


def renamable(found: Occurrence | None) -> bool:
    return found is not None and found.kind in sym.RENAMABLE


def rename_edits(analysis: Analysis, found: Occurrence, new_name: str) -> list[tuple[Span, str]] | None:
    """Every (span, text) to change, or None when `new_name` cannot be a name."""
    if not _NEW_NAME.fullmatch(new_name) or new_name.strip() != new_name:
        return None
    text = fmt.name(new_name)
    if found.kind in (sym.RULE, sym.GROUP):
        # Rule and group names are never referred to: only the one spelled here changes.
        return [(found.span, text)]
    return [(o.span, text) for o in analysis.symbols.of(found.key)]

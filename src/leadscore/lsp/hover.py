"""Hover: what the name under the cursor is — a field's type and values, a
constant's value, a rule's points, decay and window in words."""

from __future__ import annotations

import os

from ..dsl import ast
from ..dsl import formatter as fmt
from ..dsl.schema import FieldSpec
from . import symbols as sym
from .analysis import Analysis
from .symbols import Occurrence
from .words import constants, rule_words


def hover_text(analysis: Analysis, found: Occurrence) -> str | None:
    schema = analysis.schema
    if found.kind == sym.FIELD and schema and found.name in schema.fields:
        return f"**field** {_field(schema.fields[found.name])}" + _where(schema.fields[found.name], analysis)
    if found.kind == sym.EVENT and schema and found.name in schema.events:
        event = schema.events[found.name]
        props = ", ".join(_field(p) for p in event.properties.values()) or "none"
        return f"**event type** `{found.name}`\n\nproperties: {props}" + _where(event, analysis)
    if found.kind == sym.PROPERTY and schema and found.event in schema.events:
        spec = schema.events[found.event].properties.get(found.name)
        if spec is not None:
            return f"**property** of `{found.event}`: {_field(spec)}" + _where(spec, analysis)
        return None
    return _declared(analysis.ruleset, found)


def _declared(ruleset: ast.Ruleset, found: Occurrence) -> str | None:
    consts = constants(ruleset)
    for decl in ruleset.declarations:
        if isinstance(decl, ast.ScoreBlock):
            for item in decl.items:
                if isinstance(item, ast.Group) and found.kind == sym.GROUP and item.name.span == found.span:
                    return f"**group** `{item.name.name}` in `{decl.name.name}`: its rules add up " \
                           f"to at most {fmt.expr(item.limit)} points"
                for rule in item.rules if isinstance(item, ast.Group) else (item,):
                    if found.kind == sym.RULE and getattr(rule, "name", None) and rule.name.span == found.span:
                        return f"**rule** `{rule.name.name}`\n\n" + rule_words(rule, decl, consts)
        if decl.name.name != found.name or _KINDS.get(type(decl)) != found.kind:
            continue
        if isinstance(decl, ast.ConstDecl):
            return f"**const** `{decl.name.name}` = `{fmt.expr(decl.value)}`"
        if isinstance(decl, ast.ScoreBlock):
            count = len(ast.rules_of(decl))
            return f"**score** `{decl.name.name}`: the sum of {count} rule{'s' * (count != 1)}"
        if isinstance(decl, ast.DerivedScore):
            return f"**score** `{decl.name.name}` = `{fmt.expr(decl.expr)}`"
        if isinstance(decl, ast.Threshold):
            return f"**threshold** `{decl.name.name}`: crossed when `{fmt.expr(decl.condition)}`"
        if isinstance(decl, ast.Segment):
            labels = ", ".join(f"`{label.label.name}`" for label in decl.labels)
            return f"**segment** `{decl.name.name}`: the first of {labels} whose condition holds"
    return None


_KINDS = {ast.ConstDecl: sym.CONSTANT, ast.ScoreBlock: sym.SCORE, ast.DerivedScore: sym.SCORE,
          ast.Threshold: sym.THRESHOLD, ast.Segment: sym.SEGMENT}


def _field(spec: FieldSpec) -> str:
    values = f", one of: {', '.join(spec.values)}" if spec.values else ""
    return f"`{spec.name}`: {spec.type}{values}"


def _where(spec, analysis: Analysis) -> str:
    # The schema's name as the rule file's `schema` line would write it.
    shown = os.path.relpath(spec.span.file, os.path.dirname(analysis.path)) if analysis.path else spec.span.file
    return f"\n\ndeclared in {shown}, line {spec.span.line}"

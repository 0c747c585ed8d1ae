"""`render_each`, the one way commands print diagnostics: each under its own file's line."""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import leadscore
from leadscore.dsl import diagnostics
from leadscore.dsl.diagnostics import Span, make, render_each

_SOURCES = {"a.score": "first line\nsecond line\n", "schema.yaml": "lead:\n  fields: {}\n"}


def test_each_diagnostic_shows_the_line_of_its_own_file():
    shown = render_each([make("LS200", "in a", Span("a.score", 2, 1, 2, 7)),
                         make("LS602", "in the schema", Span("schema.yaml", 2, 3, 2, 9))], _SOURCES)
    assert shown[0].splitlines()[1:] == ["  second line", "  ^^^^^^"]
    assert shown[1].splitlines()[1:] == ["    fields: {}", "    ^^^^^^"]


def test_a_file_without_text_shows_only_the_message():
    [shown] = render_each([make("LS600", "cannot read it", Span.point("gone.score", 1, 1))], _SOURCES)
    assert shown == "gone.score:1:1: error[LS600]: cannot read it"


def test_control_characters_in_a_source_line_are_shown_as_question_marks():
    [shown] = render_each([make("LS200", "here", Span("x.score", 1, 3, 1, 4))], {"x.score": "a\x1b[2Jb\n"})
    assert shown.splitlines()[1] == "  a?[2Jb"


@given(st.lists(st.tuples(st.sampled_from(sorted(_SOURCES)), st.integers(1, 3), st.integers(1, 12)), max_size=8))
def test_each_diagnostic_renders_as_it_would_alone(places):
    found = [make("LS200", "m", Span.point(file, line, column)) for file, line, column in places]
    assert render_each(found, _SOURCES) == [render_each([d], _SOURCES)[0] for d in found]


def _renderer_names_used(tree: ast.AST) -> set[str]:
    """The names a module takes from dsl.diagnostics that render one diagnostic on their own."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("diagnostics"):
            used |= {alias.name for alias in node.names if alias.name == "render_text" or alias.name.startswith("_")}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "diagnostics" and node.attr.startswith("_render"):
            used.add(node.attr)
    return used


def test_no_module_but_the_renderer_renders_a_diagnostic_itself():
    assert not hasattr(diagnostics, "render_text")   # one public way: render_each
    source = Path(leadscore.__file__).parent
    offenders = {str(path.relative_to(source)): names for path in sorted(source.rglob("*.py"))
                 if path.name != "diagnostics.py" or path.parent.name != "dsl"
                 if (names := _renderer_names_used(ast.parse(path.read_text(encoding="utf-8"))))}
    assert offenders == {}


def test_the_guard_sees_a_module_rendering_on_its_own():
    assert _renderer_names_used(ast.parse("from ..dsl.diagnostics import render_text, _render")) == \
        {"render_text", "_render"}
    assert _renderer_names_used(ast.parse("from .dsl import diagnostics\ndiagnostics._render(d, [])")) == {"_render"}

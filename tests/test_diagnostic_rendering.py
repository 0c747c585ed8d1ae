"""`render_each`, the one way commands print diagnostics: each under its own file's line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from leadscore.dsl.diagnostics import Span, make, render_each, render_text

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
def test_render_each_is_render_text_with_the_files_lines(places):
    diagnostics = [make("LS200", "m", Span.point(file, line, column)) for file, line, column in places]
    assert render_each(diagnostics, _SOURCES) == [render_text(d, _SOURCES[d.span.file].splitlines())
                                                  for d in diagnostics]

"""Properties of the language server's analysis, on rulesets hypothesis
writes: the names it indexes are where it says, its decay hints are what the
scorer computes, and completion copes with every half-typed line; and where
the threshold lens may look for a history."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.dsl import ast
from leadscore.lsp.analysis import analyse
from leadscore.lsp.completion import complete, place
from leadscore.lsp.lens import history_folder
from leadscore.lsp.words import worth_after
from scoring_helpers import AS_OF, SCHEMA, build, event
from test_backend_agreement import rulesets

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def analysed(tmp_path, body: str):
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "schema.yaml").write_text(SCHEMA)
    text = f'ruleset "t" version 1\nschema "schema.yaml"\n{body}\n'
    return analyse(text, str(folder / "t.score"), "t.score")


@SETTINGS
@given(body=rulesets())
def test_every_indexed_name_is_written_at_its_span(tmp_path, body):
    analysis = analysed(tmp_path, body)
    assert not [d for d in analysis.diagnostics if d.is_error]
    lines = analysis.lines
    assert analysis.symbols.occurrences
    for o in analysis.symbols.occurrences:
        written = lines[o.span.line - 1][o.span.column - 1:o.span.end_column - 1]
        assert written in (o.name, f"`{o.name}`", f"event.{o.name}", f"lead.{o.name}")


@SETTINGS
@given(body=rulesets(), data=st.data())
def test_completion_copes_with_every_prefix(tmp_path, body, data):
    analysis = analysed(tmp_path, body)
    lines = analysis.lines
    line = data.draw(st.integers(1, len(lines)))
    column = data.draw(st.integers(1, len(lines[line - 1]) + 1))
    items = complete(analysis, place(lines, line, column))
    assert all(item.label for item in items)


@SETTINGS
@given(points=st.sampled_from(["+10", "-4", "+2.5"]),
       default=st.sampled_from(["", "  decay half_life 10d", "  decay linear 40d"]),
       own=st.sampled_from(["", ", decay none", ", decay half_life 7d", ", decay steps { 5d: 80%, 20d: 30% }"]),
       window=st.sampled_from(["", " within 30d", " within 8d"]),
       age=st.sampled_from([7, 30, 90]))
def test_a_decay_hint_is_what_the_scorer_gives_one_event(tmp_path, points, default, own, window, age):
    body = f"score s {{\n{default}\n  e: {points} per page_view{window}{own}\n}}"
    ruleset = build(tmp_path, body)
    block = ruleset.checked.ruleset.declarations[0]
    (rule,) = ast.rules_of(block)
    shown = worth_after(rule, block, {}, age)
    at = (AS_OF - timedelta(days=age)).isoformat()
    scored = ruleset.compile().score({"lead_id": "L"}, [event("page_view", at, url="/")], AS_OF).scores["s"]
    assert abs(shown - scored) < 1e-9


def test_the_history_folder_stays_inside_the_rule_files_folder(tmp_path):
    rules = tmp_path / "rules"
    (rules / "history").mkdir(parents=True)
    (rules / "data").mkdir()
    (tmp_path / "outside").mkdir()
    (rules / "escape").symlink_to(tmp_path / "outside")
    path = str(rules / "t.score")
    assert history_folder(path, None) == str((rules / "history").resolve())
    assert history_folder(path, "data") == str((rules / "data").resolve())
    assert history_folder(path, "../outside") is None
    assert history_folder(path, "escape") is None
    assert history_folder(path, str(tmp_path / "outside")) is None
    assert history_folder(path, "missing") is None
    assert history_folder(None, None) is None

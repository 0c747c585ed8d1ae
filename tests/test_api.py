"""The Python API: one Backend interface, chosen by Ruleset.compile(backend=...)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import leadscore
from leadscore.api import BACKENDS
from scoring_helpers import AS_OF, ago, build, event

RULES = """score interest {
  visit: +1 per page_view
  big: +5 if employees > 100
}
threshold hot: interest >= 6
segment tier {
  high if hot
  low otherwise
}"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_reasons_only_when_asked(tmp_path, backend):
    scorer = build(tmp_path, RULES).compile(backend=backend)
    assert scorer.name == backend
    lead, events = {"employees": 500}, [event("page_view", ago(1))]
    plain = scorer.score(lead, events, AS_OF)
    explained = scorer.score(lead, events, AS_OF, explain=True)
    assert plain.reasons == () and plain.scores == explained.scores == {"interest": 6.0}
    assert [(r.rule, r.points) for r in explained.reasons] == [("visit", 1.0), ("big", 5.0)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_score_many_keys_results_by_lead(tmp_path, backend):
    scorer = build(tmp_path, RULES).compile(backend=backend)
    leads = {"b": {"employees": 500}, "a": {}, 3: {"employees": 1}}
    events = {"b": [event("page_view", ago(1))], "a": [event("page_view", ago(d)) for d in (1, 2)]}
    results = scorer.score_many(leads, events, AS_OF)
    assert list(results) == ["b", "a", 3]
    assert [r.scores["interest"] for r in results.values()] == [6.0, 2.0, 0.0]
    assert [r.segments["tier"] for r in results.values()] == ["high", "low", "low"]
    assert results["b"] == scorer.score(leads["b"], events["b"], AS_OF)
    assert all(r.reasons for r in scorer.score_many(leads, events, AS_OF, explain=True).values()
               if r.scores["interest"])


def test_every_backend_names_the_same_outputs(tmp_path):
    ruleset = build(tmp_path, RULES)
    python, *others = (ruleset.compile(backend=b) for b in BACKENDS)
    for other in others:
        for attribute in ("scores", "blocks", "thresholds", "segments"):
            assert tuple(getattr(python, attribute)) == tuple(getattr(other, attribute))
        assert dict(python.field_missing) == dict(other.field_missing)
        assert {k: dict(v) for k, v in python.property_missing.items()} == \
            {k: dict(v) for k, v in other.property_missing.items()}
        assert dict(python.field_types) == dict(other.field_types)
        assert {k: dict(v) for k, v in python.property_types.items()} == \
            {k: dict(v) for k, v in other.property_types.items()}


def test_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown backend 'sparks': use one of python, interpreter, duckdb, spark"):
        build(tmp_path, RULES).compile(backend="sparks")


def test_a_ruleset_that_does_not_check_raises_its_diagnostics_rendered(tmp_path):
    with pytest.raises(leadscore.RulesetError) as raised:
        build(tmp_path, "score interest {\n  big: +5 if employes > 100\n}")
    text = str(raised.value)
    assert raised.value.diagnostics and text.splitlines()[0].endswith(": 1 error(s)")
    # as every command prints it: file:line:col, the line itself, a caret under the name
    assert ":4:14: error[LS300]" in text.splitlines()[1]
    assert text.splitlines()[2:4] == ["    big: +5 if employes > 100", "               ^^^^^^^^"]


_SCORE_VALUES = st.dictionaries(st.text(max_size=5), st.none() | st.floats(allow_nan=False))


@given(_SCORE_VALUES, st.dictionaries(st.text(max_size=5), st.booleans()),
       st.dictionaries(st.text(max_size=5), st.none() | st.text(max_size=5)))
def test_the_fast_result_constructor_builds_the_same_frozen_result(scores, thresholds, segments):
    from dataclasses import FrozenInstanceError

    from leadscore.compiler.runtime import Reason, Result, new_result

    reasons = (Reason("s", "r", 1.0),)
    built = new_result(scores, thresholds, segments, reasons)
    assert built == Result(scores, thresholds, segments, reasons) and repr(built) == repr(Result(
        scores, thresholds, segments, reasons))
    assert new_result(scores, thresholds, segments) == Result(scores, thresholds, segments)
    with pytest.raises(FrozenInstanceError):
        built.scores = {}


def test_a_one_point_rule_adds_its_decay_factor_alone(tmp_path):
    source = build(tmp_path, RULES + "\nscore recent {\n  decay half_life 7d\n  seen: +1 per page_view\n}").compile().source
    assert "1.0 * 0.5 **" not in source and "+= 0.5 ** (" in source


def test_only_the_python_backend_calls_its_generated_function():
    """Everything else goes through the Backend interface (score, score_many, score_table,
    evaluate, evaluate_many): api.Scorer and its replay loop are the Python backend."""
    from pathlib import Path

    source = Path(leadscore.__file__).parent
    callers = {str(path.relative_to(source)) for path in source.rglob("*.py")
               if "evaluate_prepared" in path.read_text(encoding="utf-8")}
    assert callers == {"api.py", "simulator/python_backend.py"}

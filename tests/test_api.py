"""The Python API: one Backend interface, chosen by Ruleset.compile(backend=...)."""

from __future__ import annotations

import pytest

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
        for attribute in ("scores", "thresholds", "segments"):
            assert tuple(getattr(python, attribute)) == tuple(getattr(other, attribute))
        assert dict(python.field_types) == dict(other.field_types)
        assert {k: dict(v) for k, v in python.property_types.items()} == \
            {k: dict(v) for k, v in other.property_types.items()}


def test_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown backend 'sparks': use one of python, interpreter, duckdb, spark"):
        build(tmp_path, RULES).compile(backend="sparks")

"""Semantics the conformance suite (tests/conformance/, run by test_conformance.py) cannot
state as data: how the Python API takes its arguments."""

from __future__ import annotations

from scoring_helpers import AS_OF, ago, build, event


def test_as_of_may_be_an_iso_string(tmp_path):
    ruleset = build(tmp_path, "score interest {\n  visit: +1 per page_view\n}")
    scorer = ruleset.compile()
    assert scorer.score({}, [event("page_view", ago(1))], AS_OF.isoformat()).scores["interest"] == 1

"""semantics.py: every member of every closed set has every form, and the forms agree
(the Python runtime callable, the generated source, the vectorised NumPy form)."""

from __future__ import annotations

import ast as python_ast
import math
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import leadscore
from leadscore import semantics as sem
from leadscore.compiler import runtime as rt
from leadscore.dsl import ast
from leadscore.dsl.diagnostics import Span
from leadscore.dsl.expressions import FUNCTIONS

DECAYS = [sem.NO_DECAY, sem.Decay(sem.DecayKind.HALF_LIFE, 7.0), sem.Decay(sem.DecayKind.LINEAR, 20.0),
          sem.Decay(sem.DecayKind.STEPS, 0.0, (3.0, 10.0, 30.0), (0.8, 0.4, 0.0))]
AGES = st.floats(0, 400, allow_nan=False)
INSTANTS = st.floats(-2e10, 2e10, allow_nan=False)


def test_the_checker_knows_every_function_of_the_registry():
    assert FUNCTIONS == tuple(f.value for f in sem.Function)
    for function in sem.Function:
        found = sem.signature(function)
        assert found.low >= 1 and (found.high is None or found.high >= found.low)
        assert isinstance(sem.function_motion(function, within=True), sem.Motion)


def test_every_decay_kind_has_every_form():
    assert {d.kind for d in DECAYS} == set(sem.DecayKind)
    for decay in DECAYS:
        assert isinstance(sem.decay_motion(decay), sem.Motion)


_AT = Span.point("r.score", 1, 1)
_WRITTEN = {  # one of each decay a rule file can write, and how the registry decides it
    ast.DecayNone: (ast.DecayNone(_AT), sem.NO_DECAY),
    ast.DecayHalfLife: (ast.DecayHalfLife(ast.Name("half", None, _AT), _AT), sem.Decay(sem.DecayKind.HALF_LIFE, 7.0)),
    ast.DecayLinear: (ast.DecayLinear(ast.Name("fade", None, _AT), _AT), sem.Decay(sem.DecayKind.LINEAR, 20.0)),
    ast.DecaySteps: (ast.DecaySteps((ast.DecayStep(ast.Name("a", None, _AT), ast.Percent(80.0, "80%", _AT), _AT),
                                     ast.DecayStep(ast.Name("b", None, _AT), ast.Percent(0.0, "0%", _AT), _AT)), _AT),
                     sem.Decay(sem.DecayKind.STEPS, 0.0, (3.0, 10.0), (0.8, 0.0))),
}
_DAYS = {"half": 7.0, "fade": 20.0, "a": 3.0, "b": 10.0}


def test_every_decay_a_rule_file_writes_is_decided_and_worded_by_the_registry():
    assert set(_WRITTEN) == set(typing.get_args(ast.Decay))
    assert {decided.kind for _, decided in _WRITTEN.values()} == set(sem.DecayKind)
    for written, decided in _WRITTEN.values():
        assert sem.decided_decay(written, lambda d: _DAYS[d.name]) == decided
        assert sem.decay_words(written, lambda d: f"<{d.name}>")
    assert sem.decided_decay(None, _DAYS.get) == sem.NO_DECAY
    assert sem.decay_words(None, str) == "do not decay"


@pytest.mark.parametrize("kind", [ast.DecayHalfLife, ast.DecayLinear, ast.DecaySteps])
def test_a_decay_with_a_duration_not_known_or_not_positive_is_not_decided(kind):
    written, _ = _WRITTEN[kind]
    assert sem.decided_decay(written, lambda d: None) is None
    if kind is not ast.DecaySteps:   # a step's age may be zero: 'from 0d'
        assert sem.decided_decay(written, lambda d: 0.0) is None


def test_an_unknown_decay_fails_loudly():
    with pytest.raises(AssertionError):
        sem.decided_decay(object(), _DAYS.get)
    with pytest.raises(AssertionError):
        sem.decay_words(object(), str)


@pytest.mark.parametrize("module", ["lower.py", "lsp/words.py", "compiler/python.py"])
def test_evaluators_and_the_editor_name_no_decay_kind(module):
    """A new decay kind needs no edit here: they take each decay from the registry."""
    tree = python_ast.parse((Path(leadscore.__file__).parent / module).read_text(encoding="utf-8"))
    named = {node.attr for node in python_ast.walk(tree) if isinstance(node, python_ast.Attribute)} | \
        {node.id for node in python_ast.walk(tree) if isinstance(node, python_ast.Name)}
    kinds = {cls.__name__ for cls in typing.get_args(ast.Decay)} | {kind.name for kind in sem.DecayKind} | {"DecayStep"}
    assert named & kinds == set()


@pytest.mark.parametrize("decay", DECAYS, ids=[d.kind.value for d in DECAYS])
@given(ages=st.lists(AGES, min_size=1, max_size=20))
def test_decay_forms_agree(decay, ages):
    tables: dict[str, tuple] = {}

    def table(what: str, values: tuple) -> str:   # as the code generator's module-level constants
        tables[f"_{what}"] = values
        return f"_{what}"

    source = sem.decay_source(decay, "age", table)
    namespace = {"_rt": rt, **tables}
    vector = sem.decay_vectorised(decay, np.array(ages))
    for age, vectorised in zip(ages, vector):
        factor = sem.decay_factor(decay, age)
        assert 0.0 <= factor <= 1.0
        assert eval("1.0" + source, {**namespace, "age": age}) == factor
        assert vectorised == pytest.approx(factor, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("period", list(sem.Period))
@given(instants=st.lists(INSTANTS, min_size=1, max_size=20))
def test_bucket_forms_agree(period, instants):
    vector = sem.bucket_vectorised(period, np.array(instants))
    for at, vectorised in zip(instants, vector):
        key = sem.bucket(period)(at)
        assert eval(sem.bucket_source(period, "at"), {"at": at}) == key == vectorised


def test_a_week_starts_on_monday_utc():
    monday, sunday = 1_764_547_200.0, 1_764_547_199.0   # 2025-12-01T00:00Z and the second before
    week = sem.bucket(sem.Period.WEEK)
    assert week(monday) == week(monday + 6 * sem.DAY + 86399) == week(sunday) + 1


VALUES = st.one_of(st.none(), st.floats(-5, 5, allow_nan=False), st.sampled_from([0.0, 1.0, 2.5]))


@pytest.mark.parametrize("op", [c for c in sem.Comparison if c.value in ("==", "<", "<=", ">", ">=")])
@given(left=VALUES, right=VALUES)
def test_numeric_comparison_forms_agree(op, left, right):
    python = sem.compare(op, left, right)
    if left is not None and right is not None:
        assert eval(sem.compare_source(op, "a", "b"), {"a": left, "b": right}) is python
    column = np.array([math.nan if left is None else left]), np.array([math.nan if right is None else right])
    assert bool(sem.compare_vectorised(op, *column)[0]) is python
    negation = {sem.Comparison.EQ: sem.Comparison.NE}.get(op)
    if negation is not None:
        assert bool(sem.compare_vectorised(negation, *column)[0]) is not python


@given(left=st.sampled_from(["crm", "Head of", "a@b.io"]), right=st.sampled_from(["crm", "Head", ".io", ""]))
def test_text_comparison_forms_agree(left, right):
    for op in (sem.Comparison.STARTS_WITH, sem.Comparison.ENDS_WITH, sem.Comparison.CONTAINS):
        assert eval(sem.compare_source(op, "a", "b"), {"a": left, "b": right}) is sem.compare(op, left, right)
        assert sem.compare(op, None, right) is False


def test_every_comparison_is_positive_or_the_negation_of_one():
    for op in sem.Comparison:
        positive = sem.negated(op)
        if positive is not None:
            assert sem.negated(positive) is None
        elif op is not sem.Comparison.MATCHES:
            assert callable(sem._positive(op))


@given(values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=4))
def test_min_and_max_forms_agree(values):
    for function in (sem.Function.MIN, sem.Function.MAX):
        python = sem.apply(function, values)
        names = [f"v{i}" for i in range(len(values))]
        code, _ = sem.python_source(function, [(n, n, v is None) for n, v in zip(names, values)])
        assert eval(code, {"_rt": rt, **dict(zip(names, values))}) == python
        vector = sem.vectorised(function, [np.array([math.nan if v is None else v]) for v in values])[0]
        assert (python is None and math.isnan(vector)) or vector == python


@given(text=st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["Ann@Corp.EXAMPLE", "a@b@c"])))
def test_string_function_forms_agree(text):
    for function in (sem.Function.DOMAIN, sem.Function.LOWER, sem.Function.UPPER, sem.Function.LEN):
        code, _ = sem.python_source(function, [("(x := v)", "x", True)])
        assert eval(code, {"_rt": rt, "v": text}) == sem.apply(function, [text])


def test_event_functions_have_no_scalar_form():
    for function in (sem.Function.COUNT, sem.Function.DAYS_SINCE):
        assert sem.signature(function).on_events
        with pytest.raises(ValueError):
            sem.apply(function, [None])


def test_the_editor_and_the_rule_writer_take_their_keywords_from_the_grammar():
    from leadscore.dsl.parser import decay_keywords, keywords
    from leadscore.simulator.calibrate_rules import name_text

    assert len(decay_keywords()) == len(typing.get_args(ast.Decay))   # one word per kind of decay
    assert set(decay_keywords()) <= keywords()
    assert {"ruleset", "half_life", "day", "week", "contains", "starts_with", "ends_with"} <= keywords()
    assert [name_text(n) for n in ("half_life", "week", "min", "plain")] == ["`half_life`", "`week`", "`min`", "plain"]
    for module in ("lsp/completion.py", "lsp/tokens.py", "simulator/calibrate_rules.py"):
        text = (Path(leadscore.__file__).parent / module).read_text(encoding="utf-8")
        assert "half_life" not in text and "linear" not in text, module

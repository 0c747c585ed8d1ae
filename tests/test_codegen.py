"""Code generation edge cases. Large rulesets compile (issue 10, item 7): the generated Python
never nests per branch (a case or segment as long as the checker allows compiles: CPython would
not compile an `elif` chain of that length), and replay's atom bit masks have no size limit."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.compiler.analysis import ReplayAnalysis
from leadscore.compiler.python import CHAIN, generate
from leadscore.dsl.checker import MAX_CASE_BRANCHES, MAX_SEGMENT_LABELS
from scoring_helpers import AS_OF, build, score_both


def _both(ruleset):
    """Score with one compiled scorer and the interpreter (a big ruleset compiles once)."""
    compiled, interpreted = ruleset.compile(), ruleset.interpret()

    def score(lead):
        result = compiled.score(lead, [], AS_OF)
        assert result == interpreted.score(lead, [], AS_OF)
        return result
    return score


def _case_rule(cuts: list[int], otherwise: bool) -> str:
    branches = "\n".join(f"    +{i + 1} if employees >= {cut}" for i, cut in enumerate(cuts))
    tail = "\n    -1 otherwise" if otherwise else ""
    return f"score fit {{\n  size: case {{\n{branches}{tail}\n  }}\n}}"


def test_the_longest_case_rule_compiles_and_picks_the_first_match(tmp_path):
    n = MAX_CASE_BRANCHES - 1     # and `otherwise`
    cuts = list(range(n, 0, -1))
    score = _both(build(tmp_path, _case_rule(cuts, otherwise=True)))
    for employees, expected in ((5000, 1.0), (n - 1, 2.0), (1, float(n)), (0, -1.0), (None, -1.0)):
        assert score({"employees": employees}).scores["fit"] == expected


def test_the_longest_segment_compiles(tmp_path):
    n = MAX_SEGMENT_LABELS
    labels = "\n".join(f"  l{i} if employees >= {n - i}" for i in range(n))
    score = _both(build(tmp_path, f"score fit {{\n  a: +1 if employees > 0\n}}\nsegment size {{\n{labels}\n}}"))
    for employees, expected in ((n, "l0"), (1, f"l{n - 1}"), (0, None)):
        assert score({"employees": employees}).segments["size"] == expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(-5, 400), min_size=1, max_size=3 * CHAIN + 7),
       otherwise=st.booleans(), employees=st.one_of(st.none(), st.integers(-10, 410)))
def test_case_rules_of_any_length_agree_with_the_interpreter(tmp_path, cuts, otherwise, employees):
    ruleset = build(tmp_path, _case_rule(cuts, otherwise), name=f"c{len(cuts)}{otherwise}")
    expected = next((float(i + 1) for i, cut in enumerate(cuts)
                     if employees is not None and employees >= cut), -1.0 if otherwise else 0.0)
    assert score_both(ruleset, {"employees": employees}, []).scores["fit"] == expected


def test_replay_atoms_beyond_the_int_to_text_digit_limit(tmp_path):
    # 2**14300 has more than the 4,300 digits Python converts to text by default.
    ruleset = build(tmp_path, "score fit {\n  a: +1 if employees > 3\n}\nthreshold high: fit >= 1")
    (atom,) = ReplayAnalysis(ruleset.checked).atoms
    count = 14_400
    namespace: dict = {}
    exec(compile(generate(ruleset.checked, (atom,) * count).source, "<test>", "exec"), namespace)
    assert namespace["atoms"]({"employees": 9.0}, (1.0,), (True,), ()) == (1 << count) - 1
    assert namespace["atoms"]({"employees": 1.0}, (0.0,), (False,), ()) == 0


def test_min_and_max_of_one_present_value(tmp_path):
    # Python's min/max of a single number is a TypeError: the generated code must not call it.
    ruleset = build(tmp_path, "const bonus = 4\nscore fit {\n  a: +1 if max(bonus) > 3 and min(bonus, 9) < 5\n}\n"
                              "score d = max(fit)")
    assert score_both(ruleset, {}, []).scores == {"fit": 1.0, "d": 1.0}

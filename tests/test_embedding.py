"""For engineers embedding the scorer: InputError, strict=True, score_many, and the
standalone module's API (named constants, __all__, the RE2 install hint)."""

from __future__ import annotations

import keyword
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import leadscore
from leadscore import api
from leadscore.cli import main
from leadscore.compiler import runtime as rt
from leadscore.compiler.entry_points import constant_identifier
from scoring_helpers import AS_OF, ago, build, event

RULES = """const `mql fit` = 40
const `Größe 2` = 3
score fit {
  software: +30 if industry == "Software"
  big: +20 if employees > `Größe 2`
  pricing: +5 per page_view where url == "/pricing"
}
threshold hot: fit >= `mql fit`
"""
BACKENDS = api.BACKENDS   # every backend, DuckDB included


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    return build(tmp_path_factory.mktemp("embed"), RULES)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    folder = tmp_path_factory.mktemp("standalone")
    build(folder, RULES)
    result = CliRunner().invoke(main, ["compile", str(folder / "t" / "rules.score"), "-o", str(folder / "scorer.py")])
    assert result.exit_code == 0, result.output
    return folder


def run_standalone(folder, program: str) -> subprocess.CompletedProcess:
    # -S: no site-packages, so neither leadscore nor any third-party package.
    return subprocess.run([sys.executable, "-S", "-c", "import scorer\n" + program], cwd=folder,
                          capture_output=True, text=True)


# --- bad input is an InputError, never an AttributeError ---------------------------

def test_input_error_is_public():
    assert "InputError" in leadscore.__all__
    assert issubclass(leadscore.InputError, ValueError)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lead", [None, "industry=Software", ["Software"], 3])
def test_a_lead_that_is_not_a_mapping_is_an_input_error(ruleset, backend, lead):
    with pytest.raises(leadscore.InputError, match="a lead must be a mapping"):
        ruleset.compile(backend).score(lead, [], AS_OF)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("events, message", [
    (None, "events must be a list"), ("page_view", "events must be a list"),
    ({"type": "page_view"}, "events must be a list"), ([None], "an event must be a mapping"),
    (["page_view"], "an event must be a mapping"), ([{"type": ["x"], "at": AS_OF}], "an event must be a mapping"),
    ([{"type": "page_view", "at": AS_OF, "properties": ["/pricing"]}], "properties of a 'page_view' event"),
])
def test_events_that_are_not_mappings_are_input_errors(ruleset, backend, events, message):
    with pytest.raises(leadscore.InputError, match=message):
        ruleset.compile(backend).score({}, events, AS_OF)


# --- strict=True ------------------------------------------------------------------------

STRICT_CASES = [
    ({"industri": "Software"}, [], "unknown field 'industri'"),
    ({"industry": "Banking"}, [], "field 'industry': 'Banking' is not one of its declared values"),
    ({"industry": "software"}, [], "'software' is not one of"),   # values are exact, as `==` is
    ({"employees": "many"}, [], "field 'employees': 'many' is not a number"),
    ({"has_budget": "maybe"}, [], "field 'has_budget': 'maybe' is not a boolean"),
    ({"created_at": 1780000000}, [], "field 'created_at': 1780000000 is not a datetime"),
    ({}, [event("pageview", ago(days=1))], "unknown event type 'pageview'"),
    ({}, [event("page_view", ago(days=1), path="/x")], "unknown property 'path' of event type 'page_view'"),
    ({}, [event("page_view", ago(days=1), url=["/a"])], "property 'url' of a 'page_view' event: \\['/a'\\] is not a string"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lead, events, message", STRICT_CASES)
def test_strict_names_what_does_not_fit(ruleset, backend, lead, events, message):
    scorer = ruleset.compile(backend)
    scorer.score(lead, events, AS_OF)   # the default stays lenient
    with pytest.raises(leadscore.InputError, match=message):
        scorer.score(lead, events, AS_OF, strict=True)
    with pytest.raises(leadscore.InputError, match=message):
        scorer.score_many({"a": lead}, {"a": events}, AS_OF, strict=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_strict_accepts_missing_values_and_what_normalises(ruleset, backend):
    scorer = ruleset.compile(backend)
    lead = {"industry": "Software", "employees": "12", "title": None, "email": "", "has_budget": "yes",
            "tech": ["a", None], "created_at": "2026-01-01T00:00:00Z"}
    events = [event("page_view", ago(days=1), url="/pricing"), event("demo_request", ago(days=2))]
    assert scorer.score(lead, events, AS_OF, strict=True) == scorer.score(lead, events, AS_OF)
    assert scorer.score(lead, events, AS_OF, strict=True).scores["fit"] == 55.0


# --- score_many ------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_score_many_refuses_leads_that_are_not_a_mapping(ruleset, backend):
    with pytest.raises(leadscore.InputError, match="two mappings keyed by lead id"):
        ruleset.compile(backend).score_many([{}], {}, AS_OF)


# --- the standalone module ----------------------------------------------------------------------

def test_standalone_score_many_both_forms_match_the_api(ruleset, standalone):
    leads = {"a": {"industry": "Software", "employees": 5}, "b": {}}
    events = {"a": [event("page_view", ago(days=1), url="/pricing")]}
    expected = ruleset.compile().score_many(leads, events, AS_OF)
    program = (f"r = scorer.score_many({leads!r}, {events!r}, {AS_OF.isoformat()!r})\n"
               "print(list(r), [x.scores['fit'] for x in r.values()], [x.thresholds['hot'] for x in r.values()])\n"
               f"pairs = scorer.score_many([({leads['a']!r}, {events['a']!r})], {AS_OF.isoformat()!r})\n"
               "print(type(pairs).__name__, [x.scores['fit'] for x in pairs])")
    run = run_standalone(standalone, program)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    assert first == repr(["a", "b"]) + " " + repr([r.scores["fit"] for r in expected.values()]) + " " + \
        repr([r.thresholds["hot"] for r in expected.values()])
    assert second == f"generator [{expected['a'].scores['fit']!r}]"


@pytest.mark.parametrize("call", [
    "scorer.score({'industry': 'Banking'}, [], '2026-06-01T12:00:00Z', strict=True)",
    "scorer.score_many({'x': {}}, {'x': [{'type': 'pageview', 'at': '2026-06-01T00:00:00Z'}]}, "
    "'2026-06-01T12:00:00Z', strict=True)",
    "scorer.score(None, [], '2026-06-01T12:00:00Z')",
])
def test_standalone_raises_its_own_input_error(standalone, call):
    program = (f"try:\n    {call}\nexcept scorer.InputError as error:\n"
               "    print('InputError', isinstance(error, ValueError), error)\n")
    run = run_standalone(standalone, program)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("InputError True ")


def test_standalone_exports_only_its_api(standalone):
    run = run_standalone(standalone, "print(sorted(scorer.__all__))\nns = {}\nexec('from scorer import *', ns)\n"
                                     "print(sorted(k for k in ns if k != '__builtins__'))")
    assert run.returncode == 0, run.stderr
    exported = ["InputError", "RULESET", "Reason", "Result", "SCORES", "SEGMENTS", "THRESHOLDS", "VERSION",
                "score", "score_many"]
    assert run.stdout.splitlines() == [repr(exported), repr(exported)]


def test_standalone_keeps_constants_as_named_values(standalone):
    source = (standalone / "scorer.py").read_text()
    assert "MQL_FIT = 40.0  # 'mql fit'" in source
    assert "GR_E_2 = 3.0  # 'Größe 2'" in source
    assert "s0 >= MQL_FIT)" in source and "> GR_E_2)" in source   # the generated code uses the names
    run = run_standalone(standalone, "print(scorer.MQL_FIT, scorer.GR_E_2)")
    assert run.stdout.split() == ["40.0", "3.0"]


def test_standalone_without_re2_says_what_to_install(tmp_path):
    build(tmp_path, 'score fit {\n  exec: +10 if title matches /chief|vp/i\n}')
    result = CliRunner().invoke(main, ["compile", str(tmp_path / "t" / "rules.score"), "-o", str(tmp_path / "scorer.py")])
    assert result.exit_code == 0, result.output
    # Hide RE2 even when it is installed: an import finder that refuses it.
    program = ("import sys\nclass Hide:\n    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 're2': raise ImportError('hidden')\n"
               "sys.meta_path.insert(0, Hide())\n"
               "try:\n    import scorer\nexcept ImportError as error:\n    print(error)\n")
    run = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "pip install google-re2" in run.stdout


@given(st.text(min_size=1, max_size=20), st.sets(st.sampled_from(["A", "MQL_FIT", "C_1", "X_2", "CONSTANT"])))
def test_a_constant_name_becomes_a_safe_unused_identifier(name, taken):
    before = set(taken)
    identifier = constant_identifier(name, taken)
    assert identifier.isidentifier() and identifier.isascii() and not keyword.iskeyword(identifier)
    assert identifier not in before and not identifier.startswith("_") and identifier in taken
    assert identifier not in {"DAY", "SCORES", "RULESET", "FIELD_TYPES", "MEMO_LIMIT", "NO_PROPERTIES"}
    assert not re.fullmatch(r"[A-Z]{1,2}[0-9]*", identifier)   # the generated functions' locals


@pytest.mark.parametrize("name", ["R", "S", "TH", "SG", "L", "G", "E0", "T", "F", "no properties"])
def test_a_constant_named_like_a_generated_local_is_not_shadowed(tmp_path, name):
    # found by the fuzz test: `const R = 10` compiled to `s0 >= R`, R being evaluate's reasons
    scorer = build(tmp_path, f"const `{name}` = 10\nscore interest {{\n  view: +10 per page_view, decay none\n}}\n"
                             f"threshold mql: interest >= `{name}`").compile()
    for explain in (False, True):
        result = scorer.score({"lead_id": "a"}, [event("page_view", ago(days=1), url="/")], AS_OF, explain=explain)
        assert result.thresholds == {"mql": True}


# --- the fast paths give what the general normaliser gives --------------------------------

VALUES = st.one_of(
    st.none(), st.text(max_size=6), st.sampled_from(["", " ", "yes", "1", "2026-01-02", "n/a", "Software"]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(),
    st.sampled_from([10**308, 2 * 10**308, -(10**400), 2**53 + 1]),   # at and past the float range
    st.datetimes(timezones=st.none() | st.just(AS_OF.tzinfo)),
    st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers()), max_size=3),
)


# Reads every field of the schema (prepare_lead prepares only the fields the rules read).
READS_EVERY_FIELD = """score s {
  a: +1 if industry == "Software" and employees > 3 and title == "x" and email == "y"
  b: +1 if tech contains "crm" and has_budget == true and days_since(created_at) > 1
}"""


@pytest.fixture(scope="module")
def scorer_namespace(tmp_path_factory):
    scorer = build(tmp_path_factory.mktemp("fields"), READS_EVERY_FIELD).compile()
    namespace: dict = {}
    exec(compile(scorer.source, "<scorer>", "exec"), namespace)
    return scorer, namespace


@given(lead=st.dictionaries(st.sampled_from(["industry", "employees", "title", "email", "tech", "created_at",
                                             "has_budget", "unknown"]), VALUES))
def test_the_generated_lead_preparation_agrees_with_the_runtime(scorer_namespace, lead):
    scorer, namespace = scorer_namespace
    expected = rt.prepare_fields(lead, scorer.field_types, scorer.field_missing)
    assert namespace["FIELDS_READ"] == tuple(scorer.field_types)
    assert namespace["prepare_lead"](lead) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_property_values_of_different_types_are_not_confused(tmp_path, backend):
    # True, 1 and 1.0 are equal dict keys; as text they are "true", "1" and "1".
    scorer = build(tmp_path, 'score s {\n  ones: +1 per page_view where url == "1"\n}').compile(backend)
    events = [event("page_view", ago(days=1), url=True), event("page_view", ago(days=2), url=1),
              event("page_view", ago(days=3), url=1.0)]
    assert scorer.score({}, events, AS_OF).scores["s"] == 2.0
    assert scorer.score({}, events[::-1], AS_OF).scores["s"] == 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_strict_scores_events_given_as_an_iterator(ruleset, backend):
    # strict reads the events to check them; an iterator must still be scored in full.
    events = [event("page_view", ago(days=1), url="/pricing")]
    scorer = ruleset.compile(backend)
    assert scorer.score({}, iter(events), AS_OF, strict=True).scores["fit"] == 5.0
    assert scorer.score({}, (e for e in events), AS_OF).scores["fit"] == 5.0

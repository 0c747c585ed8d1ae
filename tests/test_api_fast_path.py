"""The compiled scorer's fast reading of Python input (the generated prepare_lead and
group_events, which prepare only the fields and properties the rules read and keep property
dicts that are already normalised as they are) scores exactly as the exact normaliser
(runtime.prepare_fields over every declared field, prepare_events) does, on
valid and invalid input alike; the reference interpreter (backend="interpreter") gives the
same results or the same error, strict or not; and the standalone module's score_many gives
score's results."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.compiler import runtime as rt

SCHEMA = """
lead:
  fields:
    industry: {type: string, missing: ["N/A"]}
    employees: number
    partner: boolean
    tech: list
    created_at: datetime
    notes: string
    budget: number
events:
  page_view: {properties: {url: string, referrer: string}}
  form_submit: {properties: {country: {type: string, missing: ["--"]}, size: number, paid: boolean}}
  trial: {properties: {seats: number, paid: boolean}}
  demo_request: {}
  email_open: {properties: {campaign: string}}
"""
# Reads industry, employees, partner, tech and created_at, not notes or budget; reads url (not
# referrer), every property of form_submit and trial, no property of email_open.
RULES = """ruleset "fast" version 1
schema "schema.yaml"
score s {
  decay half_life 7d
  inactivity after 10d: -1 every 1d
  software: +10 if industry == "Software" and employees > 10
  partner:  +5 if partner == true or tech contains "crm"
  fresh:    +3 if days_since(created_at) < 30
  pricing:  +5 per page_view where url starts_with "/pricing"
  form:     +3 per form_submit where country == "DE" and size > 10 and paid == true
  trial:    +2 per trial where seats >= 2 and paid == true
  opened:   +1 per email_open, max 4
  demo:     +20 if count(demo_request) >= 1
}
"""
AS_OF = datetime(2026, 6, 1, tzinfo=timezone.utc)

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 20), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["/pricing", "/pricing/x", "/blog", "", " ", "--", "N/A", "DE", "Software", "12", "yes", "crm"]),
    st.lists(st.sampled_from(["crm", " crm", "erp", None, 3]), max_size=3),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 7, 1),
                 timezones=st.none() | st.just(timezone.utc)),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 7, 1)))
TIMES = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 7, 1),
                 timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))])),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 7, 1)),   # naive: UTC
    st.sampled_from(["2026-05-01", "2026-05-20T10:00:00Z", "later", None, True]),
    st.floats(1.77e9, 1.79e9))
PROPERTY_NAMES = ["url", "referrer", "country", "size", "paid", "seats", "campaign", "other"]
PROPERTIES = st.one_of(st.dictionaries(st.sampled_from(PROPERTY_NAMES), VALUES, max_size=4),
                       st.none(), st.just(["url"]))
LEADS = st.one_of(
    st.dictionaries(st.sampled_from(["industry", "employees", "partner", "tech", "created_at", "notes",
                                     "budget", "unknown"]), VALUES, max_size=8),
    st.sampled_from([None, "lead", ["industry"]]))


@st.composite
def an_event(draw):
    event = {"type": draw(st.sampled_from(["page_view", "form_submit", "trial", "demo_request", "email_open",
                                           "webinar"])),
             "at": draw(TIMES)}
    if draw(st.booleans()):
        event["properties"] = draw(PROPERTIES)
    return event if draw(st.integers(0, 40)) else draw(st.sampled_from([None, "event", {"at": AS_OF}]))


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fast")
    (folder / "schema.yaml").write_text(SCHEMA)
    (folder / "rules.score").write_text(RULES)
    return leadscore.load(str(folder / "rules.score"))


@pytest.fixture(scope="module")
def compiled(ruleset):
    scorer = ruleset.compile()
    namespace: dict = {}
    exec(compile(scorer.source, "<fast>", "exec"), namespace)   # the module, as a standalone one runs
    return scorer, namespace


@pytest.fixture(scope="module")
def interpreter(ruleset):
    return ruleset.compile(backend="interpreter")


def _outcome(call):
    try:
        return call()
    except rt.InputError as error:
        return ("InputError", str(error))


def _exactly_normalised(scorer, namespace, lead, events, as_of):
    """What the runtime's general normaliser gives: every declared field prepared, and the
    properties the rules read (those of other types are never looked at without strict=True,
    so properties that are not a mapping are no error there: README, "Speed")."""
    instant = rt.to_epoch(as_of, "an as-of instant")
    fields = rt.prepare_fields(lead, scorer.field_types, scorer.field_missing)
    grouped = rt.prepare_events(events, namespace["PROPERTIES_READ"], instant, None, scorer.property_missing)
    return scorer.evaluate(fields, grouped, instant, explain=True)


def test_the_rules_read_only_some_fields_and_properties(compiled):
    _, namespace = compiled
    assert namespace["FIELDS_READ"] == ("industry", "employees", "partner", "tech", "created_at")
    assert namespace["PROPERTIES_READ"]["page_view"] == {"url": "string"}
    assert namespace["PROPERTIES_READ"]["email_open"] == {}


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lead=LEADS, events=st.lists(an_event(), max_size=8))
def test_the_fast_reader_scores_as_the_exact_normaliser(compiled, lead, events):
    scorer, namespace = compiled
    expected = _outcome(lambda: _exactly_normalised(scorer, namespace, lead, events, AS_OF))
    assert _outcome(lambda: scorer.score(lead, events, AS_OF, explain=True)) == expected
    assert _outcome(lambda: namespace["score"](lead, events, AS_OF)) == expected
    many = _outcome(lambda: namespace["score_many"]({"a": lead}, {"a": events}, AS_OF))
    assert many == (expected if isinstance(expected, tuple) else {"a": expected})


def _result_or_error_type(call):
    """The result, or the type of the error (the backends word their messages apiece)."""
    try:
        return call()
    except Exception as error:   # any type: a backend raising another than InputError differs
        return type(error)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lead=LEADS, events=st.lists(an_event(), max_size=8), strict=st.booleans())
@example(lead={}, events=[{"type": "email_open", "at": AS_OF, "properties": ["url"]}], strict=False)
@example(lead={}, events=[{"type": "trial", "at": AS_OF + timedelta(days=1), "properties": "x"}], strict=False)
def test_the_interpreter_scores_as_the_compiled_scorer(compiled, interpreter, lead, events, strict):
    scorer, _ = compiled
    expected = _result_or_error_type(lambda: scorer.score(lead, events, AS_OF, explain=True, strict=strict))
    assert expected is rt.InputError or isinstance(expected, rt.Result)   # bad input is an InputError
    assert _result_or_error_type(lambda: interpreter.score(lead, events, AS_OF, explain=True,
                                                           strict=strict)) == expected


@pytest.mark.parametrize("properties", [None, ["url"], "url", {"campaign": ["not", "text"]}, {"other": 1}])
def test_the_interpreter_never_looks_at_properties_no_rule_reads_unless_strict(compiled, interpreter,
                                                                                properties):
    scorer, _ = compiled
    events = [{"type": "email_open", "at": AS_OF - timedelta(days=1), "properties": properties},
              {"type": "demo_request", "at": AS_OF - timedelta(days=1)}]
    result = interpreter.score({}, events, AS_OF, explain=True)
    assert result == scorer.score({}, events, AS_OF, explain=True)
    assert result.scores["s"] == pytest.approx(20 + 2 ** (-1 / 7))   # the demo, one decayed open
    if properties is not None:
        with pytest.raises(leadscore.InputError, match="'email_open'"):
            interpreter.score({}, events, AS_OF, strict=True)


NESTED_RULES = """ruleset "nested" version 1
schema "schema.yaml"
score s {
  nested: +1 per page_view where count(trial where seats > 1) >= 1 and referrer == "ad"
}
"""


@pytest.mark.parametrize("backend", ["python", "interpreter"])
def test_a_property_after_a_nested_where_is_read(tmp_path, backend):
    (tmp_path / "schema.yaml").write_text(SCHEMA)
    (tmp_path / "rules.score").write_text(NESTED_RULES)
    scorer = leadscore.load(str(tmp_path / "rules.score")).compile(backend=backend)
    events = [{"type": "trial", "at": "2026-05-01", "properties": {"seats": 3}},
              {"type": "page_view", "at": "2026-05-02", "properties": {"referrer": "ad", "url": ["x"]}},
              {"type": "page_view", "at": "2026-05-03", "properties": {"referrer": "mail"}}]
    assert scorer.score({}, events, AS_OF).scores["s"] == 1.0


@pytest.mark.parametrize("unread", [{"notes": ["not", "a", "string"]}, {"budget": "lots"}, {"unknown": 1}])
def test_a_bad_field_no_rule_reads_changes_nothing_unless_strict(compiled, unread):
    scorer, _ = compiled
    lead = {"industry": "Software", "employees": 50}
    assert scorer.score({**lead, **unread}, [], AS_OF) == scorer.score(lead, [], AS_OF)
    with pytest.raises(leadscore.InputError, match=repr(next(iter(unread)))):
        scorer.score({**lead, **unread}, [], AS_OF, strict=True)


@pytest.mark.parametrize("properties", [{"url": "/pricing", "referrer": ["x"]}, {"url": "/pricing", "other": 1}])
def test_a_bad_property_no_rule_reads_changes_nothing_unless_strict(compiled, properties):
    scorer, namespace = compiled
    events = [{"type": "page_view", "at": AS_OF - timedelta(days=1), "properties": properties}]
    plain = [{"type": "page_view", "at": AS_OF - timedelta(days=1), "properties": {"url": "/pricing"}}]
    assert scorer.score({}, events, AS_OF) == scorer.score({}, plain, AS_OF)
    assert scorer.score({}, events, AS_OF).scores["s"] > 0
    with pytest.raises(leadscore.InputError, match="property '(referrer|other)'"):
        scorer.score({}, events, AS_OF, strict=True)
    with pytest.raises(leadscore.InputError, match="property '(referrer|other)'"):
        namespace["score_many"]({"a": {}}, {"a": events}, AS_OF, strict=True)


def test_properties_already_normalised_are_kept_and_others_normalised(compiled):
    _, namespace = compiled
    kept = {"seats": 3.0, "paid": True}
    events = [{"type": "trial", "at": AS_OF, "properties": kept},
              {"type": "trial", "at": AS_OF, "properties": {"seats": 3, "paid": "yes"}},
              {"type": "trial", "at": AS_OF, "properties": {"seats": float("inf"), "paid": True}},
              {"type": "trial", "at": AS_OF, "properties": {"seats": 3.0}}]
    trials = [properties for _, properties in namespace["group_events"](events, AS_OF.timestamp())["trial"]]
    assert trials[0] is kept
    assert trials[1:] == [{"seats": 3.0, "paid": True}, {"seats": None, "paid": True}, {"seats": 3.0, "paid": None}]


def test_the_standalone_score_many_gives_scores_results_and_refuses_a_bad_instant(compiled):
    _, namespace = compiled
    leads = {"a": {"industry": "Software", "employees": 50}, "b": {}}
    events = {"a": [{"type": "demo_request", "at": "2026-05-30"}]}
    results = namespace["score_many"](leads, events, "2026-06-01T00:00:00Z", explain=False)
    assert results == {key: namespace["score"](lead, events.get(key, ()), AS_OF, explain=False)
                       for key, lead in leads.items()}
    assert results["a"].scores["s"] == 30.0
    with pytest.raises(rt.InputError, match="'soon' is not an as-of instant"):
        namespace["score_many"](leads, events, "soon")


def test_score_remembers_the_last_as_of_by_identity_only(compiled):
    scorer, _ = compiled
    events = [{"type": "demo_request", "at": "2026-05-30"}]
    with pytest.raises(leadscore.InputError, match="None is not an as-of instant"):
        scorer.score({}, events, None)
    assert scorer.score({}, events, AS_OF).scores["s"] == 20.0
    assert scorer.score({}, events, "2026-05-01T00:00:00Z").scores["s"] == 0.0   # before the demo
    assert scorer.score({}, events, AS_OF).scores["s"] == 20.0
    with pytest.raises(leadscore.InputError, match="None is not an as-of instant"):
        scorer.score({}, events, None)

"""The generated `group_events` (the API's one-pass reading of a lead's events, specialised to
the schema) gives exactly what runtime.prepare_events gives for the same events: the same groups,
order and normalised properties, the same skipped events and the same InputError."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.compiler import runtime as rt

SCHEMA = """
lead:
  fields:
    industry: string
events:
  page_view: {properties: {url: string}}
  form_submit: {properties: {country: {type: string, missing: ["--"]}, size: number, paid: boolean}}
  demo_request: {}
  email_open: {properties: {campaign: string}}
"""
RULES = """ruleset "g" version 1
schema "schema.yaml"
score s {
  pricing: +5 per page_view where url starts_with "/pricing"
  form: +3 per form_submit where country == "DE" and size > 10 and paid == true
  demo: +20 if count(demo_request) >= 1
  opened: +1 per email_open
}
"""
T = datetime(2026, 6, 1, tzinfo=timezone.utc)

TIMES = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 7, 1), timezones=st.just(timezone.utc)),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 7, 1)),   # naive: UTC
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 7, 1),
                 timezones=st.just(timezone(timedelta(hours=2)))),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 7, 1)),
    st.sampled_from(["2026-05-01", "2026-05-01T10:00:00Z", "2026-06-01T00:00:00+00:00", "soon", ""]),
    st.floats(1.76e9, 1.79e9), st.integers(1_760_000_000, 1_790_000_000), st.none(), st.booleans())
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 20), st.floats(allow_nan=True),
                   st.sampled_from(["/pricing", "/pricing/x", "/blog", "", " ", "--", " -- ", "DE", "1", "yes"]),
                   st.lists(st.sampled_from(["a", "b"]), max_size=2))
PROPERTIES = st.one_of(
    st.dictionaries(st.sampled_from(["url", "country", "size", "paid", "campaign", "other"]), VALUES, max_size=4),
    st.none(), st.just([]), st.just("url=/pricing"))
KINDS = st.sampled_from(["page_view", "form_submit", "demo_request", "email_open", "unknown", 3, ["page_view"]])


@st.composite
def an_event(draw):
    event = {}
    if draw(st.integers(0, 20)):
        event["type"] = draw(KINDS)
    if draw(st.integers(0, 20)):
        event["at"] = draw(TIMES)
    if draw(st.booleans()):
        event["properties"] = draw(PROPERTIES)
    return draw(st.one_of(st.just(event), st.sampled_from([None, "event", ("page_view",)]))) \
        if not draw(st.integers(0, 30)) else event


def _outcome(read, *args):
    try:
        return read(*args)
    except rt.InputError as error:
        return ("InputError", str(error))


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("g")
    (folder / "schema.yaml").write_text(SCHEMA)
    (folder / "rules.score").write_text(RULES)
    scorer = leadscore.load(str(folder / "rules.score")).compile()
    namespace: dict = {}
    exec(compile(scorer.source, "<g>", "exec"), namespace)   # the module as the API runs it
    return namespace


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(an_event(), max_size=8), sequence=st.sampled_from([list, tuple, iter]))
def test_group_events_reads_every_event_as_the_runtime_does(module, events, sequence):
    instant = T.timestamp()
    expected = _outcome(rt.prepare_events, list(events), module["PROPERTIES_READ"], instant, {},
                        module["PROPERTY_MISSING"])
    assert _outcome(module["group_events"], sequence(events), instant) == expected


def test_properties_are_normalised_with_their_placeholders(module):
    events = [{"type": "form_submit", "at": T, "properties": {"country": " -- ", "size": 12, "paid": 1}},
              {"type": "form_submit", "at": T - timedelta(days=1), "properties": {"country": "DE", "size": "12"}},
              {"type": "page_view", "at": "2026-05-01", "properties": {"url": ""}},
              {"type": "demo_request", "at": T + timedelta(seconds=1)},
              {"type": "webinar", "at": "never"}]
    grouped = module["group_events"](events, T.timestamp())
    assert grouped["form_submit"] == [
        (T.timestamp() - 86400, {"country": "DE", "size": 12.0, "paid": None}),
        (T.timestamp(), {"country": None, "size": 12.0, "paid": True})]
    assert grouped["page_view"] == [(datetime(2026, 5, 1, tzinfo=timezone.utc).timestamp(), {"url": None})]
    assert grouped["demo_request"] == [] and grouped["email_open"] == []   # after T; no property read


def test_a_value_of_another_type_is_not_taken_for_an_equal_one_already_seen(module):
    read = module["group_events"]
    seen = read([{"type": "form_submit", "at": T, "properties": {"country": "DE", "size": 1, "paid": True}}], 1e10)
    again = read([{"type": "form_submit", "at": T, "properties": {"country": "DE", "size": True, "paid": 1}}], 1e10)
    assert seen["form_submit"][0][1] == {"country": "DE", "size": 1.0, "paid": True}
    assert again["form_submit"][0][1] == {"country": "DE", "size": None, "paid": True}   # True is no number


@pytest.mark.parametrize("events, message", [
    ([{"type": "page_view", "at": "soon"}], "'soon' is not an event time"),
    ([{"type": "page_view"}], "None is not an event time"),
    ([{"type": "page_view", "at": T, "properties": ["url"]}], "the properties of a 'page_view' event must be a mapping"),
    (["page_view"], "an event must be a mapping"),
    ([{"type": ["page_view"], "at": T}], "an event must be a mapping"),
    ({"type": "page_view"}, "a lead's events must be a list"),
])
def test_bad_events_raise_the_runtimes_input_error(module, events, message):
    with pytest.raises(rt.InputError, match=message.replace("(", r"\(")):
        module["group_events"](events, T.timestamp())

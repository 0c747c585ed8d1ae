"""`Backend.score_table`: Arrow tables in, one Arrow table out, on every backend; the same results
as the same values given to `score_many`, and bad tables refused with InputError."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.api import BACKENDS
from scoring_helpers import AS_OF, build

RULES = """score fit {
  big: +10 if employees > 100
  software: +5 if industry == "Software"
  tooling: +3 if "crm" in tech
}
score interest {
  visit: +2 per page_view where url starts_with "/pricing"
  demo: +20 per demo_request
}
threshold hot: interest >= 20
segment tier {
  high if hot and fit >= 10
  low otherwise
}"""

_EVENT_TYPES = ("page_view", "demo_request", "email_open", "no_such_type")


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tables"), RULES)


def _events(rows: list[tuple]) -> pa.Table:
    """(lead id, type, days before AS_OF, url) rows as an events table."""
    return pa.table({"lead_id": pa.array([r[0] for r in rows], pa.string()),
                     "type": pa.array([r[1] for r in rows], pa.string()),
                     "at": pa.array([AS_OF - timedelta(days=r[2]) for r in rows], pa.timestamp("us", tz="UTC")),
                     "url": pa.array([r[3] for r in rows], pa.string())})


_LEADS = pa.table({"lead_id": ["b", "a", "c"], "employees": [500.0, None, 20.0],
                   "industry": ["Software", "Retail", None], "tech": [["crm"], None, []]})
_EVENTS = _events([("a", "page_view", 1, "/pricing"), ("b", "demo_request", 2, None),
                   ("b", "page_view", 3, "/blog"), ("zz", "demo_request", 1, None)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_row_per_lead_in_the_leads_order_with_named_typed_columns(ruleset, backend):
    table = ruleset.compile(backend=backend).score_table(_LEADS, _EVENTS, AS_OF)
    assert table.column_names == ["lead_id", "fit", "interest", "hot", "tier"]
    assert [f.type for f in table.schema] == [pa.string(), pa.float64(), pa.float64(), pa.bool_(), pa.string()]
    assert table.to_pylist() == [
        {"lead_id": "b", "fit": 18.0, "interest": 20.0, "hot": True, "tier": "high"},
        {"lead_id": "a", "fit": 0.0, "interest": 2.0, "hot": False, "tier": "low"},
        {"lead_id": "c", "fit": 0.0, "interest": 0.0, "hot": False, "tier": "low"}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_explain_adds_the_reasons_as_json(ruleset, backend):
    scorer = ruleset.compile(backend=backend)
    table = scorer.score_table(_LEADS, _EVENTS, AS_OF, explain=True)
    assert table.column_names[-1] == "reasons"
    single = scorer.score({"employees": 500.0, "industry": "Software", "tech": ["crm"]},
                          [{"type": "demo_request", "at": AS_OF - timedelta(days=2)},
                           {"type": "page_view", "at": AS_OF - timedelta(days=3), "properties": {"url": "/blog"}}],
                          AS_OF, explain=True)
    assert json.loads(table.column("reasons")[0].as_py()) == [r.as_dict() for r in single.reasons]


_IDS = st.sampled_from(["a", "b", "c", "d"])
_EVENT_ROWS = st.lists(st.tuples(_IDS, st.sampled_from(_EVENT_TYPES), st.floats(-2, 60),
                                 st.none() | st.sampled_from(["/pricing", "/pricing/x", "/blog", ""])), max_size=12)
_LEAD_ROWS = st.lists(st.tuples(st.none() | st.floats(0, 1000), st.none() | st.sampled_from(["Software", "Retail", ""]),
                                st.none() | st.lists(st.sampled_from(["crm", "erp"]), max_size=2)), max_size=4)


@settings(max_examples=40, deadline=None)
@given(lead_rows=_LEAD_ROWS, event_rows=_EVENT_ROWS)
def test_a_table_scores_as_its_values_given_to_score_many(ruleset, lead_rows, event_rows):
    ids = ["a", "b", "c", "d"][:len(lead_rows)]
    leads = pa.table({"lead_id": pa.array(ids, pa.string()),
                      "employees": pa.array([r[0] for r in lead_rows], pa.float64()),
                      "industry": pa.array([r[1] for r in lead_rows], pa.string()),
                      "tech": pa.array([r[2] for r in lead_rows], pa.list_(pa.string()))})
    events = _events(event_rows)
    by_lead = {key: [{"type": kind, "at": AS_OF - timedelta(days=days),
                      "properties": {} if url is None else {"url": url}}
                     for lead, kind, days, url in event_rows if lead == key] for key in ids}
    values = {key: {"employees": e, "industry": i, "tech": t} for key, (e, i, t) in zip(ids, lead_rows)}
    for backend in ("python", "interpreter"):
        scorer = ruleset.compile(backend=backend)
        table = scorer.score_table(leads, events, AS_OF, explain=True)
        expected = scorer.score_many(values, by_lead, AS_OF, explain=True)
        assert table.column("lead_id").to_pylist() == ids
        for row, result in zip(table.to_pylist(), expected.values()):
            assert [row[name] for name in scorer.scores] == list(result.scores.values())
            assert [row[name] for name in scorer.thresholds] == list(result.thresholds.values())
            assert [row[name] for name in scorer.segments] == list(result.segments.values())
            assert json.loads(row["reasons"]) == [r.as_dict() for r in result.reasons]


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_leads_give_an_empty_table_with_every_column(ruleset, backend):
    empty = pa.table({"lead_id": pa.array([], pa.string())})
    table = ruleset.compile(backend=backend).score_table(empty, _EVENTS, AS_OF)
    assert table.num_rows == 0 and table.column_names == ["lead_id", "fit", "interest", "hot", "tier"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("leads, events, message", [
    ([{"lead_id": "a"}], _EVENTS, "the leads must be a pyarrow Table, not a list"),
    (_LEADS, None, "the events must be a pyarrow Table, not None"),
    (pa.table({"id": ["a"]}), _EVENTS, "the leads table has no 'lead_id' column"),
    (_LEADS, _EVENTS.drop_columns(["at"]), "the events table has no 'at' column"),
    (pa.table({"lead_id": ["a", "a"]}), _EVENTS, "lead_id 'a' appears more than once"),
    (pa.table({"lead_id": ["a", None]}), _EVENTS, "a lead without a lead_id"),
    (pa.table({"lead_id": [["a"]]}), _EVENTS, "a lead_id must be a text or a number, not a list"),
    (pa.Table.from_arrays([pa.array(["a"]), pa.array([1.0]), pa.array([2.0])],
                          names=["lead_id", "employees", "employees"]), _EVENTS, "more than one column named"),
    (_LEADS, pa.table({"lead_id": ["a"], "type": ["demo_request"], "at": pa.array([None], pa.string())}),
     "an event time"),
    (_LEADS, pa.table({"lead_id": ["a"], "type": ["demo_request"], "at": ["yesterday"]}), "an event time"),
])
def test_bad_tables_are_refused_with_input_error(ruleset, backend, leads, events, message):
    with pytest.raises(leadscore.InputError, match=message):
        ruleset.compile(backend=backend).score_table(leads, events, AS_OF)


@pytest.mark.parametrize("backend", BACKENDS)
def test_strict_names_an_unknown_column_the_default_ignores(ruleset, backend):
    scorer = ruleset.compile(backend=backend)
    leads = _LEADS.append_column("employes", pa.array([1.0, 2.0, 3.0]))
    assert scorer.score_table(leads, _EVENTS, AS_OF) == scorer.score_table(_LEADS, _EVENTS, AS_OF)
    with pytest.raises(leadscore.InputError, match="unknown field 'employes'"):
        scorer.score_table(leads, _EVENTS, AS_OF, strict=True)
    with pytest.raises(leadscore.InputError, match="unknown event type 'no_such_type'"):
        scorer.score_table(_LEADS, _events([("a", "no_such_type", 1, None)]), AS_OF, strict=True)

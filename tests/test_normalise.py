"""One input normaliser (issue 11, point 4): a value given to the Python API (or the compiled
standalone module) and the same value in a CSV, JSONL or Parquet cell become the same value."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadscore.compiler.runtime import normalise_list, normalise_value
from leadscore.tables.convert import _cell
from scoring_helpers import build

KINDS = ["string", "number", "boolean", "datetime", "list"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "1", "0", "1.0", "yes", "No", " true ", "2026-05-01", "2026-05-01T10:00:00+02:00",
                     "a; b;;", "nan", "inf", "1e3", "x"]),
    st.text(max_size=12),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)))
VALUES = st.one_of(SCALARS, st.lists(st.one_of(st.none(), st.booleans(), st.floats(-1e6, 1e6), st.text(max_size=5)),
                                     max_size=4))


def _as_runtime(value):
    """A table reader's typed cell in the runtime's representation."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, list):
        return tuple(value)
    return value


@pytest.mark.parametrize("kind", KINDS)
@given(value=VALUES)
def test_the_api_and_the_table_readers_agree_on_every_value(kind, value):
    assert normalise_value(value, kind) == _as_runtime(_cell(value, kind)[0])


@pytest.mark.parametrize("value, kind, expected", [
    (1.0, "boolean", True), (0, "boolean", False), (2, "boolean", None),
    ([None, "x", " "], "list", ("x",)), ([True, 2.0], "list", ("true", "2")),
    (1_700_000_000, "datetime", None), (True, "string", "true"), (3.0, "string", "3"),
    (date(2026, 5, 1), "datetime", datetime(2026, 5, 1, tzinfo=timezone.utc).timestamp()),
    (10**400, "number", None), (10**400, "boolean", None), (-0.0, "boolean", False),
])
def test_decided_cases(value, kind, expected):
    assert normalise_value(value, kind) == expected


def test_a_float_budget_answer_counts_in_the_api_as_in_leadscore_score(tmp_path):
    scorer = build(tmp_path, "score bant {\n  budget: +20 if has_budget == true\n}").compile()
    assert scorer.score({"has_budget": 1.0}, [], "2026-06-01").scores["bant"] == 20


def test_events_with_equal_properties_share_nothing_across_types_or_values():
    from leadscore.compiler.runtime import prepare_events

    types = {"view": {"url": "string"}, "open": {"url": "number"}}
    memo: dict = {}
    events = [{"type": "view", "at": "2026-01-02", "properties": {"url": "7"}},
              {"type": "open", "at": "2026-01-01", "properties": {"url": "7"}},
              {"type": "view", "at": "2026-01-01", "properties": {"url": ["a"]}},
              {"type": "view", "at": "2026-01-03", "properties": {"url": " 7"}}]
    for _ in range(2):   # the second call reads the memo
        grouped = prepare_events(events, types, None, memo)
        assert [p for _, p in grouped["view"]] == [{"url": None}, {"url": "7"}, {"url": " 7"}]
        assert [p for _, p in grouped["open"]] == [{"url": 7.0}]


@given(value=st.one_of(VALUES, st.lists(st.sampled_from(["a", " a", "b ", "", "x;y", "a"]), max_size=4).map(tuple)))
def test_the_list_fast_path_reads_every_value_as_normalise_value(value):
    assert normalise_list(value) == normalise_value(value, "list")

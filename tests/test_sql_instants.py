"""Many (lead, instant) pairs in one SQL statement (engines/sql/instants.py) on DuckDB: the
conformance suite through it, agreement with the Python replay's evaluate_at at random
instants, half-life decay over decades, and a lead with 100k events."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.compiler import runtime as rt
from leadscore.engines.duckdb_engine import connect
from leadscore.engines.reasons import ReasonReader
from leadscore.engines.sql import SqlUnsupported
from leadscore.engines.sql.instants import instants_select
from leadscore.lower import lower
from leadscore.simulator.duckdb_backend import near_round
from leadscore.simulator.duckdb_bucket import bucket_tables
from leadscore.simulator.duckdb_instants import evaluate_instants
from leadscore.simulator.engine import Plan
from leadscore.simulator.history import Bucket
from leadscore.simulator.python_backend import PythonEngine
import test_backend_agreement as agreement
from scoring_helpers import AS_OF, build
from test_conformance import CASES, run_case
from test_simulator_skip import LEADS, bodies, histories
from test_simulator_support import bucket_of, ruleset, ts

DAY = 86400.0
START = ts("2026-03-01")


@pytest.fixture(scope="module")
def connection():
    return connect()


def raw_bucket(checked, program, leads: list[dict], events: list[list]) -> Bucket:
    """A bucket of leads and events as a user gives them (each lead's events in a list)."""
    fields = [rt.prepare_fields(lead, program.field_types, program.field_missing) for lead in leads]
    at, kinds, pairs, starts = [], [], [], [0]
    for mine in events:
        grouped = rt.prepare_events(mine, program.property_types, missing=program.property_missing)
        for when, kind, properties in sorted(((when, kind, properties) for kind, found in grouped.items()
                                              for when, properties in found), key=lambda e: e[0]):
            at.append(when)
            kinds.append(kind)
            pairs.append((when, properties))
        starts.append(len(at))
    created = [f.get(checked.schema.created) if checked.schema.created else None for f in fields]
    return Bucket([f"L{k}" for k in range(len(leads))], list(range(len(leads))), fields, created, at, kinds, pairs,
                  starts, [], [0] * (len(leads) + 1))


class InstantsScorer:
    """The conformance suite's scorer interface on top of evaluate_instants."""

    def __init__(self, ruleset: leadscore.Ruleset, connection) -> None:
        self.checked, self.program, self.connection = ruleset.checked, lower(ruleset.checked), connection

    def score(self, lead, events, as_of, explain: bool = False) -> rt.Result:
        instant = rt.to_epoch(as_of, "an as-of instant")
        bucket = raw_bucket(self.checked, self.program, [lead], [list(events)])
        tables = bucket_tables(bucket, self.checked.schema)
        table = evaluate_instants(self.connection, self.program, tables, np.array([0]), np.array([instant]),
                                  reasons=True)
        row = [column[0].as_py() for column in table.columns]
        assert row[0] == 0
        program = self.program
        scores = dict(zip(program.scores, row[1:]))
        decisions = row[1 + len(scores):]
        thresholds = dict(zip((d.name for d in program.thresholds), decisions))
        segments = dict(zip((d.name for d in program.segments), decisions[len(thresholds):]))
        found = ReasonReader(program).reasons(scores, row[1 + len(scores) + len(program.decisions):])
        return rt.Result(scores, thresholds, segments, tuple(rt.Reason(*r) for r in found))


@pytest.mark.parametrize("case", CASES)
def test_conformance_through_the_instants_statement(tmp_path, case, connection):
    run_case(tmp_path, case, lambda ruleset: InstantsScorer(ruleset, connection))


# --- agreement with the Python replay at random instants ---------------------------------------

def assert_same_results(table, plan: Plan, bucket: Bucket, leads: list[int], instants: list[float]) -> None:
    columns = [column.to_pylist() for column in table.columns]
    assert columns[0] == list(range(len(instants)))
    n_scores, n_thresholds = len(plan.scores), len(plan.thresholds)
    # a row whose score lies a few bits off a round value is one the DuckDB replay evaluates
    # again in Python (near_round): the statement's sums may miss 3 or 0 there, and a threshold
    # at 3 or a division by 0 would then differ
    with np.errstate(invalid="ignore"):
        near = near_round(np.array([[math.nan if v is None else v for v in columns[1 + i]] for i in range(n_scores)],
                                   float).T.reshape(len(instants), n_scores))
    for row, (lead, instant) in enumerate(zip(leads, instants)):
        if near[row]:
            continue
        scores, thresholds, segments, _ = PythonEngine().evaluate_at(bucket, lead, plan, instant)
        where = (lead, instant, row)
        found = [columns[1 + i][row] for i in range(n_scores)]
        for got, expected in zip(found, scores):
            if expected is None:
                assert got is None, where
            else:
                assert got is not None and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9), (where, found, scores)
        assert [columns[1 + n_scores + i][row] for i in range(n_thresholds)] == list(thresholds), (where, found, scores)
        assert [columns[1 + n_scores + n_thresholds + s][row] for s in range(len(segments))] == list(segments), where


@st.composite
def instants_of(draw, bucket: Bucket, start: float = START):
    """Lead and instant pairs: event times (ties), midnights, hours, before the first event."""
    pairs = []
    for _ in range(draw(st.integers(1, 25))):
        lead = draw(st.integers(0, len(bucket) - 1))
        events = bucket.at[bucket.starts[lead]:bucket.starts[lead + 1]]
        changes = [c[0] for c in bucket.changes[bucket.change_starts[lead]:bucket.change_starts[lead + 1]]]
        choices = [st.integers(-48, 24 * 10).map(lambda h: start + h * 3600.0),
                   st.integers(-2, 10).map(lambda d: start - start % DAY + d * DAY),
                   st.integers(-10**6, 10**6).map(lambda s: start + s + 0.25)]
        if events or changes:
            choices.append(st.sampled_from([*events, *changes]))
        if events:   # the edges of windows and decays: whole days after an event
            choices.append(st.sampled_from([at + days * DAY for at in events for days in (1, 2, 3, 4, 6)]))
        pairs.append((lead, draw(st.one_of(choices))))
    return pairs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(body=bodies(), data=st.data())
def test_the_statement_agrees_with_the_python_replay_at_every_instant(tmp_path, body, data, connection):
    loaded = leadscore.load(str(ruleset(tmp_path, body)))
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(3)]
    events, changes = data.draw(histories(3))
    bucket = bucket_of(loaded.checked, leads, events, changes)
    plan = Plan.of("t", loaded.checked)
    pairs = data.draw(instants_of(bucket))
    lead_rows, instants = [p[0] for p in pairs], [p[1] for p in pairs]
    table = evaluate_instants(connection, lower(loaded.checked), bucket_tables(bucket, loaded.checked.schema),
                              np.array(lead_rows, np.int64), np.array(instants), reasons=data.draw(st.booleans()))
    assert_same_results(table, plan, bucket, lead_rows, instants)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=agreement.rulesets(), data=st.data())
def test_the_statement_agrees_on_conditions_groups_and_event_options(tmp_path, body, data, connection):
    """The richer rulesets of the backend agreement test: where, once, at most, lists, regexes."""
    loaded = build(tmp_path, body)
    program = lower(loaded.checked)
    bucket = raw_bucket(loaded.checked, program, [data.draw(agreement.LEADS) for _ in range(3)],
                        [data.draw(agreement.histories()) for _ in range(3)])
    pairs = data.draw(instants_of(bucket, AS_OF.timestamp()))
    lead_rows, instants = [p[0] for p in pairs], [p[1] for p in pairs]
    table = evaluate_instants(connection, program, bucket_tables(bucket, loaded.checked.schema),
                              np.array(lead_rows, np.int64), np.array(instants), reasons=True)
    assert_same_results(table, Plan.of("t", loaded.checked), bucket, lead_rows, instants)


# --- extremes -----------------------------------------------------------------------------------

FAST_FADING = """score a {
  visit: +3 per page_view, decay half_life 1d
  recent: +2 per email_open within 2d, decay half_life 1d
}
threshold t1: a >= 4
threshold faded: a > 0   # true while any term is above the smallest double
"""


def test_half_life_over_twenty_years_of_daily_events_neither_overflows_nor_drifts(tmp_path, connection):
    loaded = leadscore.load(str(ruleset(tmp_path, FAST_FADING)))
    first = ts("2006-01-01")
    days = 20 * 365
    events = [("L0", "page_view", first + d * DAY + 3600.0, {}) for d in range(days)]
    events += [("L0", "email_open", first + d * DAY, {}) for d in range(0, days, 97)]
    bucket = bucket_of(loaded.checked, [("L0", {})], events)
    instants = [first + d * DAY + offset for d in range(0, days + 3000, 211) for offset in (0.0, 3600.0, 7200.5)]
    table = evaluate_instants(connection, lower(loaded.checked), bucket_tables(bucket, loaded.checked.schema),
                              np.zeros(len(instants), np.int64), np.array(instants))
    assert all(v is not None and math.isfinite(v) for v in table.column("a").to_pylist()[:-30])
    assert_same_results(table, Plan.of("t", loaded.checked), bucket, [0] * len(instants), instants)


def test_a_lead_with_100k_events_is_evaluated_at_100k_instants(tmp_path, connection):
    loaded = leadscore.load(str(ruleset(tmp_path, "score a {\n  v: +1 per page_view within 7d\n"
                                                  "  o: +2 per email_open, decay linear 30d\n}\n")))
    n = 100_000
    times = START + np.arange(n) * 600.0
    events = [("L0", "page_view" if k % 3 else "email_open", float(at), {}) for k, at in enumerate(times)]
    bucket = bucket_of(loaded.checked, [("L0", {})], events)
    table = evaluate_instants(connection, lower(loaded.checked), bucket_tables(bucket, loaded.checked.schema),
                              np.zeros(n, np.int64), times)
    assert table.num_rows == n
    visits = table.column("a").to_numpy()
    # at the last event: the page views of the last 7 days (1008 events of 600 s, two in three)
    expected_views = sum(1 for k in range(n - 1008, n) if k % 3)
    fading = sum(2.0 * max(0.0, 1.0 - (times[-1] - times[k]) / (30 * DAY)) for k in range(0, n, 3))
    assert visits[-1] == pytest.approx(expected_views + fading, rel=1e-9)


def test_a_where_reading_a_changing_field_is_refused(tmp_path):
    loaded = leadscore.load(str(ruleset(tmp_path, "score a {\n  v: +1 per page_view where employees > 10\n}\n")))
    program = lower(loaded.checked)
    assert instants_select(program, changed_fields={"industry"}) is not None
    with pytest.raises(SqlUnsupported, match="changes with time"):
        instants_select(program, changed_fields={"employees"})


EDGES = """score a {
  windowed: -5 per email_open within 2d
  stepped: -15 per unsubscribe, decay steps { 1d: 50%, 3d: 0% }
  fading: +4 per page_view, decay linear 3d
  brief: +6 per page_view within 1d, decay half_life 1d, max 8
  first: +20 per demo_request, once
  daily: +3 per page_view, at most 1 per day, decay half_life 2d
  fits: +2 per page_view where industry == "Software"
  funded: +5 if has_budget == true
}
threshold t1: count(email_open within 1d) >= 1
threshold t2: days_since(page_view) >= 2
segment s {
  seen if count(page_view within 2d) >= 2
  other otherwise
}
"""


def test_every_edge_of_windows_steps_and_decays_agrees_with_python(tmp_path, connection):
    """Instants exactly at, just before and just after each window's and step's edge."""
    loaded = leadscore.load(str(ruleset(tmp_path, EDGES)))
    times = [START, START + 3600.0, START + 3600.0, START + DAY, START + 2.5 * DAY]
    events = [("L0", kind, at, {"url": "/p"} if kind == "page_view" else {}) for at in times
              for kind in ("page_view", "email_open", "unsubscribe", "demo_request")]
    changes = [("L0", "has_budget", True, START + DAY), ("L0", "has_budget", False, START + DAY),
               ("L0", "has_budget", True, START + 2 * DAY)]
    bucket = bucket_of(loaded.checked, [("L0", {"industry": "Software", "has_budget": True})], events, changes)
    instants = sorted({at + days * DAY + nudge for at in times for days in (0, 1, 2, 3, 4)
                       for nudge in (-1e-6, 0.0, 1e-6, -1.0, 1.0)} | {START - DAY})
    table = evaluate_instants(connection, lower(loaded.checked), bucket_tables(bucket, loaded.checked.schema),
                              np.zeros(len(instants), np.int64), np.array(instants), reasons=True)
    assert_same_results(table, Plan.of("t", loaded.checked), bucket, [0] * len(instants), instants)


@pytest.mark.parametrize("dialect", ["duckdb", "spark", "snowflake", "postgres"])
def test_the_statement_is_written_for_other_dialects_without_unsupported_constructs(dialect):
    loaded = leadscore.load(str(Path(__file__).resolve().parent.parent / "rulesets" / "acme" / "scoring.score"))
    statements = instants_select(lower(loaded.checked), reasons=True)
    terms, instants = (select.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
                       for select in (statements.terms, statements.instants))
    assert sqlglot.parse_one(terms, read=dialect).find(exp.Case) is not None
    # each round reads its values off the running sums in numpy (instant_values.py): the
    # statement has no window to compute again, no join to the running sums, no decay's powers
    parsed = sqlglot.parse_one(instants, read=dialect)
    assert parsed.find(exp.Window) is None and parsed.find(exp.Pow) is None
    assert {table.name for table in parsed.find_all(exp.Table)} >= {"instants", "lead_input"}
    assert "running" not in {table.name for table in parsed.find_all(exp.Table)}

"""The event totals of the SQL statement: one decay factor per distinct decay, conditional
aggregates in each dialect's form, and points multiplied once per lead only where that rounds
as Python's event-by-event sum."""

from __future__ import annotations

import math

import pytest
import sqlglot
from sqlglot import exp

from leadscore.engines.sql import DIALECTS, build_select, to_sql
from scoring_helpers import AS_OF, ago, build, event

SHARED = ("score fit {\n  decay half_life 10d\n"
          "  visit: +3 per page_view\n  opened: +2 per email_open\n"
          "  pricing: +1 per page_view where url starts_with \"/p\", decay linear 20d\n"
          "  demo: +5 per demo_request, decay none\n}")


def _cte(statement: exp.Select, name: str) -> exp.Select:
    return next(c.this for c in statement.find_all(exp.CTE) if c.alias == name)


def test_rules_of_one_decay_share_one_factor_per_event(tmp_path):
    statement = build_select(build(tmp_path, SHARED).lower(), "lead_id", AS_OF.timestamp())
    marks = _cte(statement, "event_marks")
    factors = [s.alias for s in marks.expressions if s.alias.startswith("w")]
    assert factors == ["w0", "w1"]   # half_life 10d (two rules), linear 20d; none needs no factor
    assert len(list(statement.find_all(exp.Pow))) == 1
    totals = _cte(statement, "event_totals")
    assert not any(isinstance(node, exp.Pow) for node in totals.walk())   # computed per event, once


def test_shared_factors_score_as_python(tmp_path):
    ruleset = build(tmp_path, SHARED + "\nthreshold hot: fit >= 4")
    events = [event("page_view", ago(days=d), url=u) for d, u in ((0.5, "/pricing"), (3, "/x"), (12, None), (40, "/p"))]
    events += [event("email_open", ago(days=2)), event("demo_request", ago(days=9)), event("demo_request", ago(days=1))]
    python = ruleset.compile().score({}, events, AS_OF)
    duckdb = ruleset.compile(backend="duckdb").score({}, events, AS_OF)
    assert math.isclose(duckdb.scores["fit"], python.scores["fit"], rel_tol=1e-12)
    assert duckdb.thresholds == python.thresholds


@pytest.mark.parametrize("dialect", DIALECTS)
def test_conditional_aggregates_take_each_dialects_form(tmp_path, dialect):
    sql = to_sql(build(tmp_path, SHARED).lower(), "lead_id", dialect, AS_OF.timestamp())
    totals = sql[sql.index("event_totals AS"):sql.index("scored AS")]
    if dialect in ("duckdb", "spark", "postgres"):
        assert "FILTER(WHERE" in totals and "CASE" not in totals
    else:   # no FILTER clause: sqlglot writes IFF/IF and COUNT_IF/COUNTIF
        assert "FILTER" not in totals and "COUNT_IF(" in totals.replace("COUNTIF(", "COUNT_IF(")
    statements = sqlglot.parse(sql, read=dialect)
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)


@pytest.mark.parametrize("decay", ["decay steps { 3d: 80%, 10d: 40% }", "decay linear 20d"])
def test_points_on_round_factors_are_summed_per_event_as_in_python(tmp_path, decay):
    # ten events at 80% of +5: 4.0 ten times is exactly 40, 5 x (the sum of ten 0.8s) is not
    ruleset = build(tmp_path, f"score fit {{\n  visit: +5 per page_view, {decay}\n}}\nthreshold hot: fit >= 40")
    events = [event("page_view", ago(days=4)) for _ in range(10)]
    python = ruleset.compile().score({}, events, AS_OF)
    assert python.scores == {"fit": 40.0} and python.thresholds == {"hot": True}
    assert ruleset.compile(backend="duckdb").score({}, events, AS_OF) == python


def test_undecayed_fractional_points_add_up_as_in_python(tmp_path):
    # 0.1 added ten times is 0.9999999999999999; ten times 0.1 would be 1.0
    ruleset = build(tmp_path, "score fit {\n  visit: +0.1 per page_view, decay none\n}\nthreshold hot: fit >= 1")
    events = [event("page_view", ago(days=k)) for k in range(10)]
    python = ruleset.compile().score({}, events, AS_OF)
    assert python.thresholds == {"hot": False}
    assert ruleset.compile(backend="duckdb").score({}, events, AS_OF) == python


def test_points_multiply_once_per_lead_only_where_exact(tmp_path):
    body = ("score fit {\n  a: +2 per page_view, decay half_life 7d\n  b: +3 per page_view, decay half_life 7d\n"
            "  c: +12.5 per email_open, decay none\n  d: +0.1 per email_open, decay none\n}")
    totals = _cte(build_select(build(tmp_path, body).lower(), "lead_id", AS_OF.timestamp()), "event_totals")
    shapes = {}
    for select in totals.expressions[1:]:
        if select.alias.startswith("r"):
            node = select.this
            shapes[select.alias] = "once" if isinstance(node, exp.Mul) else "per event"
    assert shapes == {"r0": "once", "r1": "per event", "r2": "once", "r3": "per event"}

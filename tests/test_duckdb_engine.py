"""The DuckDB engine agrees with the Python backend, its SQL parses back in every dialect, and
user text in a rule file stays data in the statement."""

from __future__ import annotations

import math

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from leadscore.engines.duckdb_engine import connect, run_select
from leadscore.engines.sql import DIALECTS, SqlUnsupported, to_sql
from scoring_helpers import AS_OF, build, event
from test_backend_agreement import LEADS, histories, rulesets


def _agree(python, duckdb) -> None:
    for key, expected in python.items():
        found = duckdb[key]
        for name, value in expected.scores.items():
            other = found.scores[name]
            assert (value is None) == (other is None), (name, value, other)
            assert value is None or math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9), (name, value, other)
        assert found.thresholds == expected.thresholds
        assert found.segments == expected.segments
        assert all(type(r.events) in (int, type(None)) for r in found.reasons)
        assert [(r.score, r.rule, r.kind, r.events) for r in found.reasons] == \
            [(r.score, r.rule, r.kind, r.events) for r in expected.reasons]
        assert all(math.isclose(a.points, b.points, rel_tol=1e-9, abs_tol=1e-9)
                   for a, b in zip(found.reasons, expected.reasons))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(body=rulesets(), data=st.data())
def test_duckdb_agrees_with_python(tmp_path, body, data):
    ruleset = build(tmp_path, body)
    leads = {i: data.draw(LEADS) for i in range(4)}
    events = {i: data.draw(histories()) for i in leads}
    _agree(ruleset.compile().score_many(leads, events, AS_OF, explain=True),
           ruleset.compile(backend="duckdb").score_many(leads, events, AS_OF, explain=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=rulesets())
def test_every_dialect_parses_back(tmp_path, body):
    program = build(tmp_path, body).lower()
    for dialect in DIALECTS:
        try:
            sql = to_sql(program, "lead_id", dialect, AS_OF.timestamp())
        except SqlUnsupported as refused:   # RE2 syntax in a POSIX dialect: refused, said why
            assert "POSIX" in str(refused) and dialect in ("snowflake", "postgres")
            continue
        statements = sqlglot.parse(sql, read=dialect)
        assert len(statements) == 1 and isinstance(statements[0], exp.Select), dialect


def test_a_computed_nan_compares_false_as_in_python(tmp_path):
    big = "1" + "0" * 300
    nan = f"fit * {big} - fit * {big}"   # infinity minus infinity
    ruleset = build(tmp_path, f"score fit {{\n  big: +{big} if employees > 1\n}}\n"
                              f"threshold above: {nan} > 0\nthreshold equal: {nan} == {nan}\n"
                              f"threshold differs: {nan} != 0")
    python = ruleset.compile().score({"employees": 5}, [], AS_OF)
    assert python.thresholds == {"above": False, "equal": False, "differs": True}
    assert ruleset.compile(backend="duckdb").score({"employees": 5}, [], AS_OF) == python


NASTY = ["it's", "back\\slash", "'; DROP TABLE leads; --", "two\nlines", 'dq"uote', "*/ closed /*", "tab\there"]


@pytest.mark.parametrize("text", NASTY)
def test_user_text_stays_one_literal(tmp_path, text):
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    ruleset = build(tmp_path, f'score fit {{\n  r: +1 if title == "{quoted}"\n}}\n'
                              f'segment s {{\n  hit if fit > 0\n  miss otherwise\n}}')
    program = ruleset.lower()
    for dialect in DIALECTS:
        statements = sqlglot.parse(to_sql(program, "lead_id", dialect, AS_OF.timestamp()), read=dialect)
        assert len(statements) == 1
        literals = {s.this for s in statements[0].find_all(exp.Literal) if s.is_string}
        assert text in literals, dialect
    scorer = ruleset.compile(backend="duckdb")
    assert scorer.score({"title": text}, [], AS_OF).scores == {"fit": 1.0}
    assert scorer.score({"title": text + "x"}, [], AS_OF).segments == {"s": "miss"}


def test_a_nul_in_a_string_is_compared_as_written(tmp_path):
    ruleset = build(tmp_path, 'score fit {\n  r: +1 if title == "a\\u0000b"\n}')
    python, duckdb = ruleset.compile(), ruleset.compile(backend="duckdb")
    for title in ("a\x00b", "a", "ab"):
        assert python.score({"title": title}, [], AS_OF) == duckdb.score({"title": title}, [], AS_OF)


def test_posix_dialects_refuse_re2_syntax(tmp_path):
    program = build(tmp_path, 'score fit {\n  r: +1 if title matches /\\bvp\\b/i\n}').lower()
    for dialect in ("snowflake", "postgres"):
        with pytest.raises(SqlUnsupported, match="POSIX"):
            to_sql(program, "lead_id", dialect)
    assert "REGEXP_MATCHES" in to_sql(program, "lead_id", "duckdb")


def test_each_rule_has_its_line_in_a_comment(tmp_path):
    program = build(tmp_path, "score fit {\n  big: +5 if employees > 100\n  visit: +1 per page_view\n}").lower()
    sql = to_sql(program, "lead_id", "duckdb")
    assert "/* line 4: big */" in sql and "/* line 5: visit */" in sql
    assert to_sql(program, "lead_id", "duckdb") == sql   # deterministic


def test_run_select_reads_arrow_tables_with_native_types(tmp_path):
    import pyarrow as pa

    program = build(tmp_path, "score fit {\n  big: +5 if employees > 100\n  visit: +1 per page_view within 7d\n}\n"
                              'threshold hot: fit >= 6').lower()
    missing = pa.nulls(2, pa.string())
    leads = pa.table({"lead_id": ["a", "b"], "employees": [500.0, None], "industry": [None, "Retail"],
                      "title": missing, "email": missing, "tech": pa.nulls(2, pa.list_(pa.string())),
                      "created_at": pa.nulls(2, pa.timestamp("us", tz="UTC")), "has_budget": pa.nulls(2, pa.bool_())})
    at = pa.array([AS_OF.timestamp() * 1e6 - 3600e6, AS_OF.timestamp() * 1e6 - 8 * 86400e6], pa.int64())
    events = pa.table({"lead_id": ["a", "a"], "type": ["page_view", "page_view"],
                       "at": at.cast(pa.timestamp("us", tz="UTC")), "url": ["/x", None],
                       "campaign": pa.nulls(2, pa.string())})
    rows = {r["lead_id"]: r for r in run_select(connect("200MB"), program, "lead_id", AS_OF.timestamp(),
                                                leads, events).to_pylist()}
    assert rows["a"] == {"lead_id": "a", "fit": 6.0, "hot": True}
    assert rows["b"] == {"lead_id": "b", "fit": 0.0, "hot": False}


def test_buckets_and_ages_ignore_the_session_time_zone(tmp_path):
    ruleset = build(tmp_path, "score fit {\n  v: +1 per page_view, at most 1 per day\n"
                              "  w: +10 per email_open, at most 1 per week, decay half_life 3d\n}")
    # 23:30 and 00:30 UTC: two UTC days, one day in New York; a Sunday and a Monday (two ISO weeks)
    events = [event("page_view", "2026-05-30T23:30:00Z"), event("page_view", "2026-05-31T00:30:00Z"),
              event("email_open", "2026-05-31T23:30:00Z"), event("email_open", "2026-06-01T00:30:00Z")]
    expected = ruleset.compile().score({}, events, AS_OF)
    scorer = ruleset.compile(backend="duckdb")
    scorer.score({}, [], AS_OF)   # opens its connection
    scorer._connection.execute("SET TimeZone = 'America/New_York'")
    found = scorer.score({}, events, AS_OF)
    assert found.scores["fit"] == pytest.approx(expected.scores["fit"], abs=1e-9) and expected.scores["fit"] > 12


def test_a_property_named_like_an_events_column_is_refused(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "schema.yaml").write_text("lead:\n  fields: {}\nevents:\n  visit: {properties: {at: string}}\n")
    (folder / "rules.score").write_text('ruleset "r" version 1\nschema "schema.yaml"\nscore s {\n  v: +1 per visit\n}\n')
    import leadscore

    with pytest.raises(SqlUnsupported, match="`at` of `visit`"):
        to_sql(leadscore.load(str(folder / "rules.score")).lower(), "lead_id")


def test_names_with_quotes_stay_identifiers_and_out_of_comments(tmp_path):
    score_name, rule_name = 'a"b; DROP TABLE x; --', "r */ x"
    ruleset = build(tmp_path, f"score `{score_name}` {{\n  `{rule_name}`: +5 if employees > 100\n}}\n"
                              f"threshold `h\"`: `{score_name}` > 1")
    program = ruleset.lower()
    for dialect in DIALECTS:
        sql = to_sql(program, "lead_id", dialect, AS_OF.timestamp())
        statements = sqlglot.parse(sql, read=dialect)
        assert len(statements) == 1, dialect
        assert [e.alias_or_name for e in statements[0].expressions] == ["lead_id", score_name, 'h"']
        assert "*/ x" not in sql   # a name that could end a comment is left out of it
    result = ruleset.compile(backend="duckdb").score({"employees": 500}, [], AS_OF, explain=True)
    assert result.scores == {score_name: 5.0} and result.thresholds == {'h"': True}
    assert [r.rule for r in result.reasons] == [rule_name]


def test_a_list_property_is_a_list_inside_where(tmp_path):
    import leadscore

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "schema.yaml").write_text("lead:\n  fields: {}\nevents:\n  buy: {properties: {tags: list, note: string}}\n")
    (folder / "rules.score").write_text('ruleset "r" version 1\nschema "schema.yaml"\nscore s {\n'
                                        '  promo: +2 per buy where tags contains "promo"\n'
                                        '  long: +1 if count(buy where len(tags) >= 2 and note contains "x") > 0\n}\n')
    ruleset = leadscore.load(str(folder / "rules.score"))
    events = [event("buy", "2026-05-30T10:00:00Z", tags=["promo", "new"], note="xy"),
              event("buy", "2026-05-30T11:00:00Z", tags="promotion", note=None)]
    expected = ruleset.compile().score({}, events, AS_OF)
    assert expected.scores == {"s": 3.0}
    assert ruleset.compile(backend="duckdb").score({}, events, AS_OF) == expected

"""The Spark engine: Java regexes that match what RE2 matches (or a refusal), the program's
statement on Spark agreeing with the Python backend, `compile --dialect spark` output that
Spark runs, and `score --engine spark` writing what the DuckDB engine writes.

The tests that run Spark are marked `slow` and share the run's one local session (the `spark`
fixture, tests/conftest.py); the rest need no Spark."""

from __future__ import annotations

import math
import sys
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import re2
import sqlglot
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

import leadscore
from leadscore.cli import main
from leadscore.engines import EngineError
from leadscore.engines.sql import SqlUnsupported, to_sql
from leadscore.engines.sql.java_regex import JavaRegexUnsupported, java_pattern
from scoring_helpers import AS_OF, build
from test_backend_agreement import LEADS, histories, rulesets
from test_cli_score import ACME, DATA, csv_rows, expected_rows, fixture_args, history, write_csv
from test_duckdb_engine import NASTY, _agree

SPARK_AS_OF = "2026-05-01T00:00:00Z"

# --- regexes: RE2 -> Java ---------------------------------------------------------------------

REFUSED = [r"\pL+", r"\p{Greek}", r"a\vb", r"\Q.\E", r"\101", r"[[:alpha:]]", r"[a[b]]", r"[a&&b]",
           r"a{,3}", r"(?P<word>x)", r"(?m)^a$", r"(?U)a+", r"[\S]"]


@pytest.mark.parametrize("pattern", REFUSED)
def test_patterns_java_reads_differently_are_refused(pattern):
    assert re2.compile(pattern)   # valid RE2: refused only because Java reads it differently
    with pytest.raises(JavaRegexUnsupported):
        java_pattern(pattern)


def test_compile_for_spark_refuses_such_a_pattern_at_its_line(tmp_path):
    build(tmp_path, "score fit {\n  ok: +1 if title matches /^vp\\b/i\n  r: +1 if title matches /\\pL+/\n}")
    path = str(tmp_path / "t" / "rules.score")
    refused = CliRunner().invoke(main, ["compile", path, "--target", "sql", "--dialect", "spark"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert f"{path}:5: the pattern /\\pL+/ uses \\p{{...}}" in refused.stderr and "Java" in refused.stderr


# pairs whose texts tell the RE2 and the naive Java reading apart
CASES = [
    (r"^vp\b", ["vp sales", "vpé", "vp_x", "VP"]),
    (r"(?i)^vp\b", ["VP Sales", "vpé", "Vp"]),
    (r"\Bs\b", ["sales", "s", "as "]),
    (r"a.b", ["a\rb", "a\nb", "a\u2028b", "axb"]),
    (r"sales$", ["sales\n", "sales", "sales\r\n"]),
    (r"a\sb", ["a\x0bb", "a b", "a\tb"]),
    (r"a\Sb", ["a\x0bb", "a b", "axb"]),
    (r"[\s,]+x", ["\x0bx", " ,x", "x"]),
    (r"(?i)straße", ["STRASSE", "Straße", "STRAẞE"]),
    (r"(?i)é", ["É", "e"]),
    (r"[]a]+$", ["]a]", "b"]),
    (r"[^]a]", ["]", "b"]),
    (r"\x{e9}|\x41", ["é", "A", "x"]),
    (r"(?s:a.b)", ["a\nb", "ab"]),
    (r"(?i:a)B", ["AB", "Ab", "ab"]),
    (r"^\d{2,3}\w+", ["123abc", "1a", "١٢٣x"]),
]


@pytest.mark.slow
def test_java_patterns_match_what_re2_matches_on_spark(spark):
    pairs = [(pattern, text) for pattern, texts in CASES for text in texts]
    _same_matches_on_spark(spark, pairs)


def _same_matches_on_spark(spark, pairs: list[tuple[str, str]]) -> None:
    from leadscore.engines.spark_engine import run_sql_spark

    table = pa.table({"k": list(range(len(pairs))), "text": [t for _, t in pairs],
                      "pattern": [java_pattern(p) for p, _ in pairs]})
    found = run_sql_spark(spark, "SELECT k, text RLIKE pattern AS hit FROM cases", {"cases": table}).to_pylist()
    got = {row["k"]: row["hit"] for row in found}
    expected = {k: re2.search(p, t) is not None for k, (p, t) in enumerate(pairs)}
    assert got == expected, [(pairs[k], expected[k]) for k in expected if got[k] != expected[k]]


PIECES = st.sampled_from(["a", "b", ".", r"\b", r"\B", r"\s", r"\S", r"\d", r"\w", "[ab]", "[^a]", r"[\s.]",
                          "é", "(?i:A)", "x*", "b+", "(a|b)", "^", "$", "é?", r"\.", "[]]"])
TEXT = st.text(alphabet="abAB é\n\r\x0b\u2028.]1x_", max_size=6)


@pytest.mark.slow
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(PIECES, min_size=1, max_size=4).map("".join), TEXT), min_size=60, max_size=60),
       st.booleans())
def test_generated_patterns_match_on_spark_as_re2(spark, pairs, fold):
    # each example is one query: sixty patterns, each against its own text
    _same_matches_on_spark(spark, [(("(?i)" if fold else "") + p, t) for p, t in pairs])


# --- the backend and the compiled statement ---------------------------------------------------

@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(body=rulesets(), data=st.data())
def test_spark_agrees_with_python(spark, tmp_path, body, data):
    from leadscore.engines.spark_engine import SparkBackend

    ruleset = build(tmp_path, body)
    leads = {i: data.draw(LEADS) for i in range(6)}
    events = {i: data.draw(histories()) for i in leads}
    spark_backend = SparkBackend(ruleset.lower(), ruleset.checked.schema, session=spark)
    _agree(ruleset.compile().score_many(leads, events, AS_OF, explain=True),
           spark_backend.score_many(leads, events, AS_OF, explain=True))


@pytest.mark.slow
def test_user_text_stays_one_literal_on_spark(spark, tmp_path):
    # every crafted string in one ruleset: each rule fires only on its own text
    rules = "".join(f'  r{k}: +{2 ** k} if title == "{_quoted(text)}"\n' for k, text in enumerate(NASTY))
    ruleset = build(tmp_path, f"score fit {{\n{rules}}}")
    sql = to_sql(ruleset.lower(), "lead_id", "spark", AS_OF.timestamp())
    literals = {s.this for s in sqlglot.parse_one(sql, read="spark").find_all(exp.Literal) if s.is_string}
    assert set(NASTY) <= literals
    leads = {k: {"title": text} for k, text in enumerate([*NASTY, "other"])}
    found = ruleset.compile(backend="spark").score_many(leads, {}, AS_OF)
    assert [found[k].scores["fit"] for k in leads] == [2.0 ** k for k in range(len(NASTY))] + [0.0]


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


@pytest.mark.slow
def test_compiled_spark_statement_parses_and_runs_on_spark(spark, tmp_path):
    """`compile --dialect spark` output, run unchanged on Spark over `leads` and `events` as
    docs/engines.md describes them, gives what the DuckDB statement gives on DuckDB."""
    import duckdb

    from leadscore.engines.duckdb_tables import _leads, read_event_table
    from leadscore.engines.spark_engine import run_sql_spark
    from leadscore.tables import ProblemLog

    out = tmp_path / "acme.sql"
    result = CliRunner().invoke(main, ["compile", ACME, "--target", "sql", "--dialect", "spark",
                                       "--as-of", SPARK_AS_OF, "-o", str(out)])
    assert result.exit_code == 0, result.output
    sql = out.read_text()
    statements = sqlglot.parse(sql, read="spark")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)
    ruleset = leadscore.load(ACME)
    schema, log, seen = ruleset.checked.schema, ProblemLog(), set()
    instant = datetime.fromisoformat(SPARK_AS_OF).timestamp()
    leads, _, _ = _leads(str(DATA / "leads.csv"), schema, log, seen)
    events, _, _ = read_event_table(str(DATA / "events.csv"), schema, log, pa.array(list(seen)), instant)
    leads = leads.rename_columns([schema.id_column, *leads.column_names[1:]])
    on_spark = run_sql_spark(spark, sql, {"leads": leads, "events": events}).to_pylist()
    connection = duckdb.connect()
    connection.register("leads", leads)
    connection.register("events", events)
    on_duckdb = connection.sql(to_sql(ruleset.lower(), schema.id_column, "duckdb", instant)).to_arrow_table()
    assert len(on_spark) == 3 and on_spark[0].keys() == on_duckdb.to_pylist()[0].keys()
    expected = {row["lead_id"]: row for row in on_duckdb.to_pylist()}
    for row in on_spark:
        for name, value in row.items():
            other = expected[row["lead_id"]][name]
            assert value == other or math.isclose(value, other, rel_tol=1e-12), (name, value, other)


# --- leadscore score --engine spark ----------------------------------------------------------

def score_spark(*args: str):
    return CliRunner().invoke(main, ["score", ACME, "--engine", "spark", "--jobs", "2", *args])


def score_duckdb(*args: str):
    return CliRunner().invoke(main, ["score", ACME, "--engine", "duckdb", *args])


@pytest.mark.slow
@pytest.mark.parametrize("explain", [[], ["--explain"]])
def test_spark_engine_writes_what_duckdb_writes_bad_rows_included(spark, explain):
    duckdb, spark_run = score_duckdb(*fixture_args(*explain)), score_spark(*fixture_args(*explain))
    assert duckdb.exit_code == spark_run.exit_code == 0, spark_run.output
    assert spark_run.stdout == duckdb.stdout
    assert spark_run.stderr == duckdb.stderr   # the same bad rows counted and shown, file and row
    assert "unknown lead `L-999`" in spark_run.stderr


@pytest.mark.slow
def test_spark_engine_scores_parquet_in_input_order(spark, tmp_path):
    lead_rows, event_rows = history(11, 40, 600)
    lead_rows.reverse()   # not in id order: the output follows the file
    leads = tmp_path / "leads.parquet"
    names = list(dict.fromkeys(key for row in lead_rows for key in row))
    pq.write_table(pa.table({n: [row.get(n) for row in lead_rows] for n in names}), leads)
    events = write_csv(tmp_path / "events.csv", event_rows)
    result = score_spark("--leads", str(leads), "--events", events, "--as-of", SPARK_AS_OF, "--format", "csv")
    assert result.exit_code == 0, result.output
    found, expected = csv_rows(result.stdout)[1:], expected_rows(lead_rows, event_rows, SPARK_AS_OF)
    assert [row[0] for row in found] == [row[0] for row in expected]   # the leads' file order
    for row, wanted in zip(found, expected):   # sums in another order: equal to the last bits
        assert all(a == b or math.isclose(float(a), float(b), rel_tol=1e-12) for a, b in zip(row, wanted)), row


@pytest.mark.slow
def test_spark_engine_strict_fails_on_a_bad_row_and_writes_nothing(spark, tmp_path):
    out = tmp_path / "scores.csv"
    result = score_spark(*fixture_args("--strict", "-o", str(out)))
    assert result.exit_code == 1 and not out.exists()
    assert f"error: {DATA / 'leads.csv'}:3 employees: `forty` is not a number (--strict)" in result.stderr


def test_engine_options_are_refused_with_another_engine():
    for args in (["--engine", "duckdb", "--spark-master", "local[2]"], ["--engine", "python", "--spark-remote", "sc://h"],
                 ["--engine", "spark", "--memory-limit", "1GB"], ["--engine", "python", "--memory-limit", "1GB"],
                 ["--engine", "spark", "--spark-master", "local[2]", "--spark-remote", "sc://h"]):
        result = CliRunner().invoke(main, ["score", ACME, *fixture_args(*args)])
        assert result.exit_code == 2 and "Traceback" not in result.output, args


def test_missing_pyspark_is_one_line_saying_how_to_install(monkeypatch):
    # as if not installed, even after the run's session imported it
    for name in [n for n in sys.modules if n == "pyspark" or n.startswith("pyspark.")] or ["pyspark"]:
        monkeypatch.setitem(sys.modules, name, None)
    result = score_spark(*fixture_args())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: the spark engine needs pyspark: pip install 'leadscore[spark]'" in result.stderr


def test_missing_java_is_one_line_saying_how_to_install(monkeypatch):
    from leadscore.engines import spark_engine

    pytest.importorskip("pyspark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_engine.shutil, "which", lambda name: None)
    with pytest.raises(EngineError, match="openjdk-17-jre-headless"):
        spark_engine.spark_session()


def test_spark_connect_without_its_packages_is_one_line(monkeypatch):
    pytest.importorskip("pyspark")
    monkeypatch.setitem(sys.modules, "grpc", None)
    result = score_spark(*fixture_args("--spark-remote", "sc://localhost:15002"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "pip install 'leadscore[spark]'" in result.stderr and result.stderr.count("error:") == 1


def test_spark_dialect_writes_each_pattern_for_java(tmp_path):
    program = build(tmp_path, 'score fit {\n  r: +1 if title matches /^vp\\b.$/i\n}').lower()
    sql = to_sql(program, "lead_id", "spark")
    literal = next(s.this for s in sqlglot.parse_one(sql, read="spark").find_all(exp.Literal)
                   if s.is_string and s.this.startswith("(?d)"))
    assert literal.startswith("(?d)(?iu)^vp(?-i:") and literal.endswith(".\\z")
    with pytest.raises(SqlUnsupported, match="Java"):
        to_sql(build(tmp_path, 'score fit {\n  r: +1 if title matches /a{,2}/\n}', "u").lower(), "lead_id", "spark")


@pytest.mark.slow
def test_a_missing_list_has_length_zero_whatever_spark_s_ansi_mode(spark, tmp_path):
    # without ANSI mode (Spark 3's default) SIZE(NULL) is -1, not NULL
    ruleset = build(tmp_path, "score fit {\n  none: +1 if len(tech) == 0\n  two: +2 if len(tech) == 2\n}")
    ansi = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        found = ruleset.compile(backend="spark").score_many({0: {}, 1: {"tech": ["a", "b"]}, 2: {"tech": []}}, {}, AS_OF)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
    assert [found[k].scores["fit"] for k in range(3)] == [1.0, 2.0, 1.0]


def test_score_on_spark_refuses_such_a_pattern_before_reading_the_tables(tmp_path, monkeypatch):
    from leadscore.engines import spark_engine

    def no_spark(*args, **kwargs):
        raise AssertionError("Spark started for a ruleset it cannot run")

    monkeypatch.setattr(spark_engine, "spark_session", no_spark)
    build(tmp_path, "score fit {\n  r: +1 if title matches /[[:alpha:]]+/\n}")
    path = str(tmp_path / "t" / "rules.score")
    result = CliRunner().invoke(main, ["score", path, "--engine", "spark", *fixture_args()])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {path}:4: the pattern /[[:alpha:]]+/ uses a `[` inside a character class" in result.stderr


@pytest.mark.slow
def test_run_select_spark_runs_any_statement_of_the_sql_package_over_named_tables(spark):
    """The edge replay and calibrate can reuse: a sqlglot SELECT (here not a scoring one) over
    named Arrow tables; its regexes written for Java; a failure is one line."""
    from leadscore.engines.spark_engine import run_select_spark

    visits = pa.table({"lead": ["a", "a", "b"], "url": ["/pricing\n", "/docs", "/pricing"]})
    owners = pa.table({"lead": ["a", "b"], "owner": ["x", "y"]})
    pricing = exp.RegexpLike(this=exp.column("url"), expression=exp.Literal.string("^/pricing$"))
    select = (exp.select(exp.column("owner"), exp.Sum(this=exp.cast(pricing, "INT")).as_("hits"))
              .from_("visits").join("owners", using=["lead"]).group_by("owner").order_by("owner"))
    found = run_select_spark(spark, select, {"visits": visits, "owners": owners})
    assert found.to_pylist() == [{"owner": "x", "hits": 0}, {"owner": "y", "hits": 1}]   # RE2's $: no \n
    with pytest.raises(EngineError, match=r"^spark: .*nowhere") as failed:
        run_select_spark(spark, exp.select("*").from_("nowhere"), {})
    assert "\n" not in str(failed.value)
    assert spark.catalog.listTables() == []   # the views are gone after each run


# --- Spark's log settings from a folder whose name has a space, a quote, a backslash ----------

LOG_CONFIG_RUN = """
import shutil, sys
from pathlib import Path
from leadscore.engines import spark_engine

copy = Path(sys.argv[1]) / "spark-log4j2.properties"
shutil.copy(spark_engine._log_config(), copy)
spark_engine._log_config = lambda: str(copy)
jvm = spark_engine.spark_session()._jvm
print(jvm.System.getProperty("log4j2.configurationFile"))
print(jvm.org.apache.logging.log4j.LogManager.getRootLogger().getLevel().toString())
"""


@pytest.mark.slow
def test_spark_reads_its_log_settings_from_a_path_with_spaces_and_quotes(spark, tmp_path):
    """The path is one word of spark.driver.extraJavaOptions, which Spark's launcher splits at
    spaces: unescaped, the JVM took the path's second half for its main class and Spark did not
    start. A process of its own: this one's JVM has started already."""
    import subprocess

    folder = tmp_path / "log settings 'of\\ leadscore\""
    folder.mkdir()
    ran = subprocess.run([sys.executable, "-c", LOG_CONFIG_RUN, str(folder)], capture_output=True, text=True,
                         timeout=600)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.splitlines() == [str(folder / "spark-log4j2.properties"), "ERROR"]   # our file's level


def test_java_options_keep_each_special_character_one_word():
    from leadscore.engines.spark_engine import java_option_text

    assert java_option_text("-Dx=/a b/c") == "-Dx=/a\\ b/c"
    assert java_option_text("-Dx=it's \"q\"\\z\t") == "-Dx=it\\'s\\ \\\"q\\\"\\\\z\\\t"
    assert java_option_text("-Dx=/plain/path.properties") == "-Dx=/plain/path.properties"


def test_a_connect_failure_outside_spark_sql_is_its_grpc_details_in_one_line():
    pytest.importorskip("grpc")
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException

    from leadscore.engines.spark_engine import spark_errors

    said = ('<_MultiThreadedRendezvous of RPC that terminated with:\n\tstatus = StatusCode.UNKNOWN\n'
            '\tdetails = "Java heap space"\n\tdebug_error_string = "UNKNOWN:Java heap space"\n>')
    with pytest.raises(EngineError) as failed, spark_errors():
        raise SparkConnectGrpcException(message=said)
    assert str(failed.value) == "spark: Java heap space"
    with pytest.raises(EngineError) as failed, spark_errors():   # Spark SQL's own: its first line
        raise SparkConnectGrpcException(message="[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.\nmore")
    assert str(failed.value) == "spark: [TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found."

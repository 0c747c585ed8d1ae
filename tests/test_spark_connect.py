"""The spark engine over Spark Connect (`--spark-remote sc://…`, docs/engines.md): `score`,
`simulate` and `calibrate` against a real Connect server give what the Python and DuckDB
engines give, a subset of both conformance suites passes on it, and Connect's failures are one
line each.

The server is the run's one (the `spark_remote` fixture, tests/conftest.py: pyspark's own
Connect server on a free local port); these tests are marked `slow` and run by default."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pyarrow as pa
import pytest
from click.testing import CliRunner

from leadscore.cli import main
from test_calibrate_engines import project  # noqa: F401  (a fixture)
from test_cli_score import ACME, fixture_args
from test_conformance import CASES, run_case
from test_duckdb_replay import _report, simulated  # noqa: F401  (a fixture)
from test_replay_conformance import RUNS
from test_replay_conformance import test_replay_conformance as replay_case
from test_spark_replay import WITH_PATTERN, _calibrate
from test_simulator_support import ruleset

pytestmark = pytest.mark.slow

# the first case of each conformance file: every file's feature once, and a second case where
# a file's first one is a diagnostic (no scoring)
CONNECT_CASES = [case for case in CASES if "[0]" in case.id or case.id.startswith(("missing-values[1]",
                                                                                   "overflow[1]"))]
# replay: ties, once and at most; a fading negative crossing at a midnight; inactivity and
# days_since; a field change
CONNECT_REPLAYS = [run for run in RUNS if run.values[1] == "spark" and run.id.split(" ")[0] in
                   {"event-instants[1]", "fading-negatives[1]", "windows-inactivity-days-since[2]", "field-changes[0]"}]


@pytest.fixture()
def connect(spark_remote):
    from leadscore.engines.spark_engine import spark_session

    return spark_session(remote=spark_remote)


def test_connect_cases_cover_every_conformance_file():
    files = {case.id.split("[")[0] for case in CASES}
    assert {case.id.split("[")[0] for case in CONNECT_CASES} == files
    assert len(CONNECT_REPLAYS) == 4


@pytest.mark.parametrize("explain", [[], ["--explain"]])
def test_score_over_connect_writes_what_duckdb_writes_bad_rows_included(spark_remote, explain):
    args = fixture_args(*explain)
    duckdb = CliRunner().invoke(main, ["score", ACME, "--engine", "duckdb", *args])
    remote = CliRunner().invoke(main, ["score", ACME, "--engine", "spark", "--spark-remote", spark_remote, *args])
    assert duckdb.exit_code == remote.exit_code == 0, remote.output
    assert remote.stdout == duckdb.stdout and remote.stdout.count("\n") == 4
    assert remote.stderr == duckdb.stderr and "unknown lead `L-999`" in remote.stderr


@pytest.mark.parametrize("case", CONNECT_CASES)
def test_conformance_on_connect(connect, tmp_path, case):
    from leadscore.engines.spark_engine import SparkBackend

    run_case(tmp_path, case, lambda ruleset: SparkBackend(ruleset.lower(), ruleset.checked.schema, session=connect))


@pytest.mark.parametrize(("case", "engine"), CONNECT_REPLAYS)
def test_replay_conformance_on_connect(spark_remote, tmp_path, case, engine, monkeypatch):
    from test_replay_conformance import ENGINES

    from leadscore.simulator.spark_backend import SparkEngine

    monkeypatch.setitem(ENGINES, "spark", lambda request: SparkEngine(remote=spark_remote))
    replay_case(tmp_path, case, engine, None)


def test_simulate_over_connect_reports_what_python_reports_with_a_sweep(spark_remote, simulated, tmp_path):  # noqa: F811
    _, folder = simulated
    rules = ruleset(tmp_path / "rules", WITH_PATTERN)
    expected = _report(rules, folder, "python", "--sweep", "bar=10:40:10", "--by", "cohort")
    found = _report(rules, folder, "spark", "--spark-remote", spark_remote, "--sweep", "bar=10:40:10", "--by", "cohort")
    assert found == expected and expected["variants"]


@pytest.mark.parametrize("args", [["--format", "json", "--as-of", "2026-02-15"],
                                  ["--format", "text", "--decided-only", "--min-count", "5", "--max-values", "3"]],
                         ids=["as-of", "decided"])
def test_calibrate_over_connect_writes_python_s_report(spark_remote, project, args):  # noqa: F811
    python = _calibrate(project, "python", *args)
    assert python[0] == 0 and "events.csv:" in python[2] and "leads.csv:" in python[2]
    assert _calibrate(project, "spark", "--spark-remote", spark_remote, *args) == python


FAILING_STATEMENT = """
import sys
import pyarrow as pa
from sqlglot import exp
from leadscore.engines import EngineError
from leadscore.engines.spark_engine import run_select_spark, spark_session

session = spark_session(remote=sys.argv[1])
try:
    run_select_spark(session, exp.select("*").from_("visits").join("nowhere", using=["lead"]),
                     {"visits": pa.table({"lead": ["a"]})})
except EngineError as error:
    print(error)
print(session.catalog.listTables())
"""


def test_a_failing_statement_on_connect_is_one_line_and_leaves_no_view(spark_remote):
    """In a process of its own (a client, no JVM): pyspark logs a failure with the server's Java
    stack trace, as JSON on stderr, before raising it; that stays quiet, the error is one line."""
    ran = subprocess.run([sys.executable, "-c", FAILING_STATEMENT, spark_remote], capture_output=True, text=True,
                         timeout=300)
    lines = ran.stdout.splitlines()
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr[-2000:]
    assert len(lines) == 2 and lines[0].startswith("spark: [TABLE_OR_VIEW_NOT_FOUND]") and "nowhere" in lines[0]
    assert lines[1] == "[]"   # the views are gone


def test_an_unreachable_server_is_one_line_after_a_few_tries():
    from conftest import _free_port

    url = f"sc://localhost:{_free_port()}"   # nothing listens there
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(main, ["score", ACME, "--engine", "spark", "--spark-remote", url, *fixture_args()])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not [w for w in caught if "RETRIES_EXCEEDED" in str(w.message)]   # pyspark 4.3's warning too
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    prefix = f"error: spark could not reach the Spark Connect server at {url}: "
    assert len(errors) == 1 and errors[0].startswith(prefix), errors
    # pyspark 4.0 names its spent retries, 4.3 passes on gRPC's reason
    assert any(reason in errors[0][len(prefix):] for reason in ("[RETRIES_EXCEEDED]", "Connection refused")), errors


def test_a_url_that_is_not_spark_connect_s_is_one_line():
    result = CliRunner().invoke(main, ["score", ACME, "--engine", "spark", "--spark-remote", "http://spark:15002",
                                       *fixture_args()])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: spark could not reach the Spark Connect server at http://spark:15002: " in result.stderr


def test_a_local_session_and_a_connect_session_share_a_process(spark, connect):
    """Connect's own builder: the local session is still local and still runs, and the process
    has not been turned into a Connect client (pyspark's SparkSession.builder.remote would)."""
    from leadscore.engines.spark_engine import run_sql_spark

    table = pa.table({"k": [1, 2]})
    assert run_sql_spark(connect, "SELECT SUM(k) AS s FROM t", {"t": table}).to_pylist() == [{"s": 3}]
    assert run_sql_spark(spark, "SELECT SUM(k) AS s FROM t", {"t": table}).to_pylist() == [{"s": 3}]
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ and "SPARK_REMOTE" not in os.environ
    assert spark.sparkContext.master == "local[2]"

"""`simulate --engine spark` and `calibrate --engine spark` (docs/engines.md): the replay's
instants statement and calibrate's statements on Spark's local mode give the Python engine's
report byte for byte; the spark options are refused elsewhere, a pattern Java reads otherwise
is refused before anything is read, and --jobs never forks a Spark session.

The tests that run Spark are marked `slow` and share the run's one local session (the `spark`
fixture, tests/conftest.py): the commands' own session is that one. The replay conformance
subset on Spark is in test_replay_conformance.py."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from leadscore.cli import main
from leadscore.engines import EngineError
from test_calibrate_engines import project  # noqa: F401  (a fixture)
from test_duckdb_replay import SIMULATED, _report, simulated  # noqa: F401  (a fixture)
from test_simulator_support import ruleset

# SIMULATED with a regex in a `where`: written for Java's regexes in the instants statement
WITH_PATTERN = SIMULATED.replace("  idle:", "  priced: +5 per page_view where url matches /^\\/p\\b/i\n  idle:")


@pytest.mark.slow
def test_simulate_on_spark_reports_what_python_reports_with_a_sweep(spark, simulated, tmp_path):  # noqa: F811
    _, folder = simulated
    rules = ruleset(tmp_path / "rules", WITH_PATTERN)
    expected = _report(rules, folder, "python", "--sweep", "bar=10:40:10")
    assert _report(rules, folder, "spark", "--sweep", "bar=10:40:10") == expected


@pytest.mark.slow
def test_simulate_on_spark_compares_and_writes_python_s_tables_with_jobs(spark, simulated, tmp_path):  # noqa: F811
    _, folder = simulated
    rules = ruleset(tmp_path / "rules", WITH_PATTERN)
    found = {}
    for name in ("python", "spark"):
        leads_out, flips_out = tmp_path / f"{name}-leads.csv", tmp_path / f"{name}-flips.csv"
        report = _report(rules, folder, name, "--set", "bar=30", "--by", "cohort", "--jobs", "2",
                         "--leads-out", leads_out, "--flips-out", flips_out)
        found[name] = (report, leads_out.read_text(), flips_out.read_text())
    assert found["spark"] == found["python"]
    assert found["python"][0]["flips"] and found["python"][2].count("\n") > 1     # leads flip: a comparison


def test_jobs_are_spark_s_cores_in_the_driver_process(simulated, monkeypatch):  # noqa: F811
    """--jobs 3 on Spark: no worker processes (a session never crosses a fork), three cores."""
    from leadscore.simulator import run

    seen = {}

    def stop(variants, files, options, log, sweep, progress, engine):
        seen.update(workers=options.jobs, cores=engine.threads, engine=engine.name)
        raise EngineError("stopped here")

    monkeypatch.setattr(run, "simulate", stop)
    rules, folder = simulated
    result = CliRunner().invoke(main, ["simulate", str(rules), "--history", str(folder), "--engine", "spark",
                                       "--jobs", "3"])
    assert result.exit_code == 1 and "error: stopped here" in result.stderr
    assert seen == {"workers": 1, "cores": 3, "engine": "spark"}


@pytest.mark.parametrize("command", ["simulate", "calibrate"])
def test_spark_options_are_refused_with_another_engine(simulated, command):  # noqa: F811
    rules, folder = simulated
    for args in (["--engine", "duckdb", "--spark-master", "local[2]"], ["--engine", "python", "--spark-remote", "sc://h"],
                 ["--engine", "spark", "--memory-limit", "1GB"],
                 ["--engine", "spark", "--spark-master", "local[2]", "--spark-remote", "sc://h"]):
        result = CliRunner().invoke(main, [command, str(rules), "--history", str(folder), *args])
        assert result.exit_code == 2 and "Traceback" not in result.output, (args, result.output)
        assert "--spark-" in result.output or "--memory-limit is an option of --engine duckdb" in result.output


@pytest.mark.parametrize("command", ["simulate", "calibrate"])
def test_a_pattern_java_reads_otherwise_is_refused_before_spark_starts(simulated, tmp_path, monkeypatch,  # noqa: F811
                                                                       command):
    from leadscore.engines import spark_engine

    def no_spark(*args, **kwargs):
        raise AssertionError("Spark started for a ruleset it cannot run")

    monkeypatch.setattr(spark_engine, "spark_session", no_spark)
    _, folder = simulated
    rules = ruleset(tmp_path / "rules", SIMULATED.replace("  idle:", "  odd: +1 per page_view where url matches "
                                                                      "/[[:alpha:]]+/\n  idle:"))
    result = CliRunner().invoke(main, [command, str(rules), "--history", str(folder), "--engine", "spark"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {rules}:8: the pattern /[[:alpha:]]+/ uses a `[` inside a character class" in result.stderr


@pytest.mark.parametrize("command", ["simulate", "calibrate"])
def test_missing_pyspark_is_one_line_saying_how_to_install(simulated, monkeypatch, command):  # noqa: F811
    # as if not installed, even after the run's session imported it
    for name in [n for n in sys.modules if n == "pyspark" or n.startswith("pyspark.")] or ["pyspark"]:
        monkeypatch.setitem(sys.modules, name, None)
    rules, folder = simulated
    result = CliRunner().invoke(main, [command, str(rules), "--history", str(folder), "--engine", "spark"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.count("error:") == 1
    assert "error: the spark engine needs pyspark: pip install 'leadscore[spark]'" in result.stderr


def test_spark_connect_without_its_packages_is_one_line(simulated, monkeypatch):  # noqa: F811
    pytest.importorskip("pyspark")
    monkeypatch.setitem(sys.modules, "grpc", None)
    rules, folder = simulated
    result = CliRunner().invoke(main, ["simulate", str(rules), "--history", str(folder), "--engine", "spark",
                                       "--spark-remote", "sc://localhost:15002"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "pip install 'leadscore[spark]'" in result.stderr and result.stderr.count("error:") == 1


# --- calibrate --engine spark ---------------------------------------------------------------------

def _calibrate(folder, engine: str, *args: str) -> tuple:
    done = CliRunner().invoke(main, ["calibrate", str(folder / "rules.score"), "--history", str(folder / "history"),
                                     *args, "--engine", engine], catch_exceptions=False)
    return done.exit_code, done.stdout, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--format", "json", "--as-of", "2026-02-15"],
                                  ["--format", "text", "--decided-only", "--min-count", "5", "--max-values", "3"],
                                  ["--format", "markdown", "--success", "it's 'won'; --", "--min-count", "1"]],
                         ids=["as-of", "decided", "quoted-stage"])
def test_calibrate_on_spark_writes_python_s_report(spark, project, args):  # noqa: F811
    outcomes = project / "history" / "outcomes.csv"   # a stage holding quotes: a literal, escaped
    outcomes.write_text(outcomes.read_text(encoding="utf-8").replace(",won,", ",it's 'won'; --,", 40),
                        encoding="utf-8")
    python = _calibrate(project, "python", *args)
    assert python[0] == 0 and "events.csv:" in python[2] and "leads.csv:" in python[2]
    assert _calibrate(project, "spark", *args) == python
    if args[1] == "json":
        assert json.loads(python[1])["successes"] > 0


@pytest.mark.slow
def test_calibrate_on_spark_stops_at_python_s_row_under_strict(spark, project):  # noqa: F811
    python = _calibrate(project, "python", "--strict")
    assert python[0] == 1 and "leads.csv:" in python[2]
    assert _calibrate(project, "spark", "--strict") == python

"""`leadscore compile`: a standalone module with the same score()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from leadscore.cli import main
from leadscore.engines.sql.dialects import DIALECTS
from scoring_helpers import AS_OF, ago, build, event

RULES = """score interest {
  decay half_life 30d
  visit: +2 per page_view, max 10
  demo: +50 per demo_request, decay none
}
threshold hot: interest >= 40
"""


def test_standalone_module_needs_only_the_standard_library(tmp_path):
    ruleset = build(tmp_path, RULES)
    out = tmp_path / "scorer.py"
    result = CliRunner().invoke(main, ["compile", str(tmp_path / "t" / "rules.score"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    events = [event("page_view", ago(days=3)), event("demo_request", ago(days=10))]
    expected = ruleset.compile().score({}, events, AS_OF, explain=True)
    # -S: no site-packages, so neither leadscore nor any third-party package.
    program = (f"import scorer; r = scorer.score({{}}, {events!r}, {AS_OF.isoformat()!r}); "
               "print(repr(r.scores['interest']), r.thresholds['hot'])")
    run = subprocess.run([sys.executable, "-S", "-c", program], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert run.stdout.split() == [repr(expected.scores["interest"]), str(expected.thresholds["hot"])]


def test_compile_to_stdout_is_deterministic(tmp_path):
    build(tmp_path, RULES)
    path = str(tmp_path / "t" / "rules.score")
    first = CliRunner().invoke(main, ["compile", path]).output
    second = CliRunner().invoke(main, ["compile", path]).output
    assert first == second and "def evaluate(F, G, T, explain=False):" in first


def test_compile_refuses_a_ruleset_with_errors(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "schema.yaml").write_text("lead:\n  fields:\n    x: number\n")
    (folder / "r.score").write_text('ruleset "b" version 1\nschema "schema.yaml"\nscore s {\n  a: +1 if y > 1\n}\n')
    out = tmp_path / "never.py"
    result = CliRunner().invoke(main, ["compile", str(folder / "r.score"), "-o", str(out)])
    assert result.exit_code == 1
    assert "LS300" in result.output and not out.exists()


def test_user_text_reaches_generated_code_only_escaped(tmp_path):
    # A string and a rule name crafted to break out of a literal or a comment.
    rules = ('score fit {\n  `x\\"); import os; #`: +1 if title == "\\"); __import__(\'os\').system(\'touch pwned\') #"\n}')
    folder = tmp_path / "t"
    ruleset = build(tmp_path, rules)
    scorer = ruleset.compile()
    assert scorer.score({"title": "nope"}, [], AS_OF).scores["fit"] == 0
    payload = "\"); __import__('os').system('touch pwned') #"
    assert scorer.score({"title": payload}, [], AS_OF).scores["fit"] == 1
    assert not (folder / "pwned").exists()


def test_sql_target_writes_one_statement_that_duckdb_runs(tmp_path):
    import duckdb
    import pyarrow as pa

    build(tmp_path, RULES)
    out = tmp_path / "scores.sql"
    result = CliRunner().invoke(main, ["compile", str(tmp_path / "t" / "rules.score"), "--target", "sql",
                                       "--as-of", AS_OF.isoformat(), "-o", str(out)])
    assert result.exit_code == 0, result.output
    sql = out.read_text()
    assert "/* line 5: visit */" in sql
    missing = pa.nulls(1, pa.string())
    leads = pa.table({"lead_id": ["a"], "industry": missing, "employees": pa.nulls(1, pa.float64()),
                      "title": missing, "email": missing, "tech": pa.nulls(1, pa.list_(pa.string())),
                      "created_at": pa.nulls(1, pa.timestamp("us", tz="UTC")), "has_budget": pa.nulls(1, pa.bool_())})
    at = pa.array([int((AS_OF.timestamp() - 10 * 86400) * 1e6)], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    events = pa.table({"lead_id": ["a"], "type": ["demo_request"], "at": at, "url": missing, "campaign": missing})
    connection = duckdb.connect()
    connection.register("leads", leads)
    connection.register("events", events)
    assert connection.sql(sql).fetchall() == [("a", 50.0, True)]


def test_sql_target_refuses_what_a_dialect_reads_differently(tmp_path):
    build(tmp_path, "score fit {\n  r: +1 if title matches /\\d+/\n}")
    path = str(tmp_path / "t" / "rules.score")
    refused = CliRunner().invoke(main, ["compile", path, "--target", "sql", "--dialect", "postgres"])
    assert refused.exit_code == 1 and "POSIX" in refused.output and f"{path}:4: the pattern /\\d+/" in refused.output
    assert CliRunner().invoke(main, ["compile", path, "--target", "sql", "--dialect", "bigquery"]).exit_code == 0
    usage = CliRunner().invoke(main, ["compile", path, "--dialect", "duckdb"])
    assert usage.exit_code == 2 and "--target sql" in usage.output


EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "rulesets").glob("*/scoring.score"))


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_the_sql_of_every_example_ruleset_parses_back_in_its_dialect(path, dialect):
    result = CliRunner().invoke(main, ["compile", str(path), "--target", "sql", "--dialect", dialect])
    if result.exit_code == 1:    # RE2 syntax a POSIX dialect would read differently: refused, said why
        assert dialect in ("snowflake", "postgres") and "POSIX" in result.output
        return
    assert result.exit_code == 0, result.output
    statements = sqlglot.parse(result.stdout, read=dialect)
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)
    assert statements[0].expressions[0].alias_or_name == "lead_id"

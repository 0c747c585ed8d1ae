"""`score --engine spark` never writes into the user's working directory: Spark's default
warehouse (`spark.sql.warehouse.dir`) is `spark-warehouse` there, created when its catalog
starts; the session's is a scratch folder of the process, removed when it exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from test_cli_score import ACME, fixture_args

# the run in a process of its own (the tests' session is shared), its working directory the test's
# (a statement naming a table that is no view makes Spark start its catalog, and so the warehouse)
SCORE = """
import sys
from sqlglot import exp
from leadscore.cli import main
from leadscore.engines import EngineError
from leadscore.engines.spark_engine import run_select_spark, spark_session

main.main(sys.argv[1:], standalone_mode=False)
try:
    run_select_spark(spark_session(), exp.select("*").from_("nowhere"), {})
except EngineError as error:
    print(error)
print(spark_session().conf.get("spark.sql.warehouse.dir"))
"""


@pytest.mark.slow
def test_score_on_spark_leaves_the_working_directory_as_it_was(spark, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    run = subprocess.run([sys.executable, "-c", SCORE, "score", ACME, "--engine", "spark", "--jobs", "1",
                          *fixture_args(), "-o", str(tmp_path / "scores.csv")],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "scores.csv").read_text().startswith("lead_id,")
    assert "TABLE_OR_VIEW_NOT_FOUND" in run.stdout
    assert list(work.iterdir()) == []   # no spark-warehouse (nor metastore_db, derby.log)
    warehouse = urlparse(run.stdout.strip().splitlines()[-1])
    assert warehouse.scheme == "file" and not Path(warehouse.path).is_relative_to(work)
    assert not Path(warehouse.path).exists()   # removed when the process exited

"""`calibrate --engine spark`: the calibration statements (simulator/calibrate_sql.py) run by
Spark SQL, each loaded table a temporary view of an Arrow table (calibrate_sql.Runner).

The parts of a table are gathered in this process and handed to Spark once per table: the
readers' bad-row accounting needs every row here anyway, and one DataFrame per table keeps
Spark's plans small. The views are dropped when the runner closes; the session stays (a
process has one, which `score`, `simulate` and the tests share).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pyarrow as pa
from sqlglot import exp

from . import spark_engine
from .spark_engine import dataframe, run_select_spark, spark_errors


class SparkRunner:
    def __init__(self, master: str | None, remote: str | None, threads: int) -> None:
        self.master, self.remote, self.threads = master, remote, threads
        self._session = None
        self.views: list[str] = []

    @property
    def session(self):
        # started once the first table is read: a bad row under --strict never waits for Spark
        if self._session is None:
            self._session = spark_engine.spark_session(self.master, self.remote, self.threads)
        return self._session

    def load(self, name: str, schema: pa.Schema, parts: Iterable[pa.Table]) -> None:
        """Temporary view `name` (an internal name) of the parts, in order."""
        table = pa.concat_tables([schema.empty_table(), *parts])
        session = self.session      # EngineError, in one line, when pyspark or Java is missing
        with spark_errors():
            dataframe(session, table).createOrReplaceTempView(name)
        self.views.append(name)

    def select(self, statement: exp.Select) -> pa.Table:
        return run_select_spark(self.session, statement, {})

    def close(self) -> None:
        for name in self.views:   # only after a load, so the session is there
            self.session.catalog.dropTempView(name)
        self.views.clear()


@contextmanager
def spark_runner(master: str | None = None, remote: str | None = None, threads: int = 1) -> Iterator[SparkRunner]:
    """A runner on this process's Spark session (local mode with `threads` cores, the cluster at
    `master`, or Spark Connect at `remote`); Spark's failures come out as one-line EngineErrors."""
    runner = SparkRunner(master, remote, threads)
    try:
        yield runner
    finally:
        runner.close()

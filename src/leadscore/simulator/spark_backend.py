"""The Spark replay backend (docs/engines.md, `simulate --engine spark`): the DuckDB replay's
instants (bulk_replay.py, through DuckDBEngine), scored by the same two statements
(engines/sql/instants.py: the events' terms once per bucket, then each round's instants)
written in Spark's dialect and run by Spark SQL over the bucket's Arrow tables; each instant's
values are read off the running sums with numpy in the driver, as for DuckDB.

Everything else is the DuckDB backend's: which leads' tables a round reads, the Python scorer
for a program SQL cannot evaluate at many instants, for a near-round score and for explaining
a flipped lead. The session is started on the first statement (a bad row under --strict never
waits for Spark) and lives in this process only: a Spark session never crosses a fork, so a
run on Spark replays its buckets in the driver process (engine_choice.IN_DRIVER).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .. import lower as lo
from ..engines import spark_engine
from ..engines.spark_engine import run_sql_spark, spark_sql
from .duckdb_backend import DuckDBEngine
from .duckdb_instants import InstantsSql, written


class SparkEngine(DuckDBEngine):
    name = "spark"

    def __init__(self, master: str | None = None, remote: str | None = None, threads: int = 1,
                 session: Any = None) -> None:
        super().__init__(threads=threads)
        self.master, self.remote = master, remote
        self._session = session
        # each statement built once per program, changed fields and reasons: a replay asks for
        # it every round, and sqlglot takes a good part of a second to build and write it
        self._statements: dict[tuple, tuple[lo.ScoringProgram, InstantsSql]] = {}

    def session(self):
        if self._session is None:
            self._session = spark_engine.spark_session(self.master, self.remote, self.threads)
        return self._session

    def statements(self, program: lo.ScoringProgram, changed: frozenset[str], reasons: bool) -> InstantsSql:
        key = (id(program), changed, reasons)
        found = self._statements.get(key)
        if found is None or found[0] is not program:
            found = self._statements[key] = (program, written(program, changed, reasons, spark_sql))
        return found[1]

    def run(self, sql: str, relations: dict[str, pa.Table]) -> pa.Table:
        """`sql` over `relations` on Spark. Raises SqlUnsupported (a pattern Java reads
        differently), EngineError when Spark fails."""
        return run_sql_spark(self.session(), sql, relations)

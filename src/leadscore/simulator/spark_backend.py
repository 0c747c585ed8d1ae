"""The Spark replay backend (docs/engines.md, `simulate --engine spark`): the DuckDB replay's
instants (bulk_replay.py, through DuckDBEngine), each round scored by the same instants
statement (engines/sql/instants.py) written in Spark's dialect and run by Spark SQL over the
bucket's Arrow tables.

Everything else is the DuckDB backend's: which leads' tables a round reads, the Python scorer
for a program SQL cannot evaluate at many instants, for a near-round score and for explaining
a flipped lead. The session is started on the first statement (a bad row under --strict never
waits for Spark) and lives in this process only: a Spark session never crosses a fork, so a
run on Spark replays its buckets in the driver process (engine_choice.IN_DRIVER).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import lower as lo
from ..engines import spark_engine
from ..engines.spark_engine import run_sql_spark, spark_sql
from ..engines.sql.instants import instants_select
from .duckdb_backend import DuckDBEngine
from .duckdb_instants import RELATIONS


class SparkEngine(DuckDBEngine):
    name = "spark"

    def __init__(self, master: str | None = None, remote: str | None = None, threads: int = 1,
                 session: Any = None) -> None:
        super().__init__(threads=threads)
        self.master, self.remote = master, remote
        self._session = session
        # each statement built once per program, changed fields and reasons: a replay asks for
        # it every round, and sqlglot takes a good part of a second to build and write it
        self._statements: dict[tuple, tuple[lo.ScoringProgram, str]] = {}

    def session(self):
        if self._session is None:
            self._session = spark_engine.spark_session(self.master, self.remote, self.threads)
        return self._session

    def instants_table(self, program: lo.ScoringProgram, tables: dict[str, pa.Table], rows: np.ndarray,
                       instants: np.ndarray, reasons: bool) -> pa.Table:
        """The program at each (rows[i], instants[i]): instants_select's columns, ordered by
        row_id (= i). Raises SqlUnsupported (a pattern Java reads differently, a `where` on a
        changed field), EngineError when Spark fails."""
        pairs = pa.table({"row_id": pa.array(np.arange(len(rows), dtype=np.int64)),
                          "lead": pa.array(np.asarray(rows, dtype=np.int64)),
                          "at": pa.array(np.asarray(instants, dtype=np.float64))})
        changed = frozenset(pc.unique(tables["change_input"]["field"]).to_pylist())
        found = run_sql_spark(self.session(), self.statement(program, changed, reasons),
                              {**{name: tables[name] for name in RELATIONS}, "instants": pairs})
        # Spark returns the rows in no particular order: sorted here rather than by the statement
        return found.take(pc.sort_indices(found["row_id"]))

    def statement(self, program: lo.ScoringProgram, changed: frozenset[str], reasons: bool) -> str:
        key = (id(program), changed, reasons)
        found = self._statements.get(key)
        if found is None or found[0] is not program:
            select = instants_select(program, reasons=reasons, changed_fields=changed)
            found = self._statements[key] = (program, spark_sql(select))
        return found[1]

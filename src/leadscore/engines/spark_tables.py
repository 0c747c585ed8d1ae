"""`leadscore score --engine spark`: the tables read by the project's readers as for DuckDB
(duckdb_tables.score_tables_sql: the same bad-row accounting, the same output), scored by the
program's statement on Spark."""

from __future__ import annotations

from typing import TextIO

import pyarrow as pa

from .. import lower as lo
from ..batch.summary import Summary
from ..tables import ProblemLog
from .duckdb_tables import LEAD_KEY, read_event_table, score_tables_sql
from .spark_engine import run_select_spark, spark_session
from .sql import build_select


def score_tables_spark(program: lo.ScoringProgram, schema, leads: str, events: str, instant: float, out: TextIO, *,
                       fmt: str, explain: bool, log: ProblemLog, threads: int = 1, master: str | None = None,
                       remote: str | None = None) -> Summary:
    """Score every lead of `leads` at `instant` on Spark (local mode with `threads` cores, the
    cluster at `master`, or Spark Connect at `remote`) and write one row per lead to `out`."""
    select = build_select(program, LEAD_KEY, instant, explain)

    def run(lead_table: pa.Table, order: pa.Array) -> tuple[pa.Table, int, int]:
        event_table, scored, later = read_event_table(events, schema, log, order, instant)
        # started once the tables are read: a bad row under --strict never waits for Spark
        session = spark_session(master, remote, threads)
        return run_select_spark(session, select, {"leads": lead_table, "events": event_table}), scored, later

    return score_tables_sql(program, schema, leads, events, instant, out, fmt=fmt, explain=explain, log=log, run=run)

"""Statements built as sqlglot trees, run by an in-process DuckDB over tables loaded from Arrow
batches (calibrate_sql.Runner). The tables live in DuckDB, within its memory limit; beyond it,
it spills to the run's locked spill folder (scratch.py), removed on exit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from ..scratch import spill_folder
from . import EngineError
from .duckdb_engine import connect

_INCOMING = "__leadscore_incoming"   # the Arrow part being copied in, under a name of our own


class DuckDBRunner:
    def __init__(self, connection) -> None:
        self.connection = connection

    def load(self, name: str, schema: pa.Schema, parts: Iterable[pa.Table]) -> None:
        """Create table `name` (an internal name) from the parts, copied in one at a time."""
        table = exp.to_identifier(name, quoted=True).sql("duckdb")
        self._copy(f"CREATE TABLE {table} AS SELECT * FROM {_INCOMING}", schema.empty_table())
        for part in parts:
            self._copy(f"INSERT INTO {table} SELECT * FROM {_INCOMING}", part)

    def _copy(self, sql: str, part: pa.Table) -> None:
        self.connection.register(_INCOMING, part)
        try:
            self.connection.execute(sql)
        finally:
            self.connection.unregister(_INCOMING)

    def select(self, statement: exp.Select) -> pa.Table:
        # RAISE: a construct DuckDB cannot express is an error, never SQL that means something else
        return self.connection.sql(statement.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)).to_arrow_table()


@contextmanager
def duckdb_runner(memory_limit: str | None = "2GB") -> Iterator[DuckDBRunner]:
    """A runner on a fresh in-process DuckDB (as many threads as cores); DuckDB's errors (out of
    memory, a bad memory limit) come out as one-line EngineErrors."""
    import duckdb

    with spill_folder() as folder:
        try:
            connection = connect(memory_limit, folder)
        except duckdb.Error as error:
            raise EngineError(f"duckdb: {str(error).splitlines()[0]}") from None
        try:
            yield DuckDBRunner(connection)
        except duckdb.Error as error:
            raise EngineError(f"duckdb: {str(error).splitlines()[0]}") from None
        finally:
            connection.close()

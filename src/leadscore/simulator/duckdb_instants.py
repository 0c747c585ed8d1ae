"""Evaluate a program at a table of (lead, instant) pairs on DuckDB: the statement of
engines/sql/instants.py over a bucket's tables (duckdb_bucket.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from .. import lower as lo
from ..engines.duckdb_engine import run_over
from ..engines.sql.instants import instants_select

RELATIONS = ("lead_input", "event_input", "change_input")


# each statement built once per program: a replay asks for it every round, and building it
# takes longer than running it on a small bucket
_STATEMENTS: dict[tuple, tuple[lo.ScoringProgram, str]] = {}
_KEPT = 64


def instants_sql(program: lo.ScoringProgram, changed_fields, reasons: bool = False) -> str:
    key = (id(program), frozenset(changed_fields), reasons)
    found = _STATEMENTS.get(key)
    if found is None or found[0] is not program:
        if len(_STATEMENTS) >= _KEPT:
            _STATEMENTS.clear()
        found = _STATEMENTS[key] = (program, _instants_sql(program, changed_fields, reasons))
    return found[1]


def _instants_sql(program: lo.ScoringProgram, changed_fields, reasons: bool) -> str:
    select = instants_select(program, reasons=reasons, changed_fields=changed_fields)
    select = select.order_by(exp.column("row_id", quoted=True))
    # RAISE: a construct DuckDB cannot express is an error, never SQL that means something else
    return select.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)


def evaluate_instants(connection, program: lo.ScoringProgram, tables: dict[str, pa.Table], lead_rows: np.ndarray,
                      instants: np.ndarray, *, reasons: bool = False) -> pa.Table:
    """The program at each (lead_rows[i], instants[i]): instants_select's columns, row i with
    row_id i, ordered by row_id. `lead_rows`: int64 lead numbers of the bucket; `instants`:
    float64 epoch seconds."""
    pairs = pa.table({"row_id": pa.array(np.arange(len(lead_rows), dtype=np.int64)),
                      "lead": pa.array(np.asarray(lead_rows, dtype=np.int64)),
                      "at": pa.array(np.asarray(instants, dtype=np.float64))})
    changed = set(pc.unique(tables["change_input"]["field"]).to_pylist()) if "change_input" in tables else set()
    sql = instants_sql(program, changed, reasons)
    return run_over(connection, sql, {**{name: tables[name] for name in RELATIONS}, "instants": pairs})

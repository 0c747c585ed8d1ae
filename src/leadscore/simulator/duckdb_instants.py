"""Evaluate a program at a table of (lead, instant) pairs: the two statements of
engines/sql/instants.py over a bucket's tables (duckdb_bucket.py). `running` is computed once
per bucket (the `terms` statement, then running_sums.py) and read by every round; each round's instants come with the positions of the
events they read (`instant_inputs`), found here with numpy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from .. import lower as lo
from ..engines.duckdb_engine import run_over
from ..engines.statement_cache import kept, statement_key
from ..engines.sql.instants import RunningColumn, instants_select
from .running_sums import running_table


@dataclass(frozen=True)
class InstantsSql:
    """instants_select's statements written for one engine."""

    terms: str                    # reads lead_input and event_input
    instants: str                 # reads lead_input, change_input, running and instants
    ages: tuple[float, ...]
    changed: tuple[int, ...]
    running: tuple[RunningColumn, ...]
    groups: int

    def running_table(self, terms: pa.Table) -> pa.Table:
        """The `running` relation from the result of `terms`."""
        return running_table(terms, self.running, self.groups)


def duckdb_text(select: exp.Select) -> str:
    # RAISE: a construct DuckDB cannot express is an error, never SQL that means something else;
    # copy=False: the statement is built for this writing only, and copying it took longer
    # than writing it
    return select.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE, copy=False)


def written(program: lo.ScoringProgram, changed_fields, reasons: bool,
            writer: Callable[[exp.Select], str] = duckdb_text) -> InstantsSql:
    statements = instants_select(program, reasons=reasons, changed_fields=changed_fields)
    return InstantsSql(writer(statements.terms), writer(statements.instants), statements.ages, statements.changed,
                       statements.running, statements.groups)


# each statement built once per program: a replay asks for it every round, and building it
# takes longer than running it on a small bucket
_STATEMENTS: dict[tuple, tuple[lo.ScoringProgram, InstantsSql]] = {}
_KEPT = 64
# the modules the statements are a function of besides statement_cache's (select.py, lower.py...)
_WRITERS = ("engines/sql/instants.py", "simulator/duckdb_instants.py")


def instants_sql(program: lo.ScoringProgram, changed_fields, reasons: bool = False) -> InstantsSql:
    key = (id(program), frozenset(changed_fields), reasons)
    found = _STATEMENTS.get(key)
    if found is None or found[0] is not program:
        if len(_STATEMENTS) >= _KEPT:
            _STATEMENTS.clear()
        found = _STATEMENTS[key] = (program, kept_statements(program, frozenset(changed_fields), reasons))
    return found[1]


def kept_statements(program: lo.ScoringProgram, changed_fields: frozenset[str], reasons: bool) -> InstantsSql:
    """written(...) for DuckDB, or what it gave for the same program, changed fields and code in
    an earlier run of the command line, kept beside score's statements (statement_cache.py):
    writing them costs about half a second, as much as a small run's replay."""
    try:
        key = _kept_key(program, changed_fields, reasons)
    except TypeError:   # a program statement_cache cannot name: built each time
        return written(program, changed_fields, reasons)
    return kept(key + ".instants.json", lambda: json.dumps(_to_json(written(program, changed_fields, reasons))),
                lambda text: _from_json(json.loads(text)))


def _kept_key(program: lo.ScoringProgram, changed_fields: frozenset[str], reasons: bool) -> str:
    digest = hashlib.sha256(statement_key(program, "instants", reasons).encode())
    root = Path(__file__).resolve().parent.parent
    for name in _WRITERS:
        digest.update(b"\0" + (root / name).read_bytes())
    for name in sorted(changed_fields):
        digest.update(b"\0" + name.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _to_json(sql: InstantsSql) -> dict:
    return {"terms": sql.terms, "instants": sql.instants, "ages": list(sql.ages), "changed": list(sql.changed),
            "running": [[c.name, c.group, c.latest] for c in sql.running], "groups": sql.groups}


def _from_json(kept: dict) -> InstantsSql:
    running = tuple(RunningColumn(str(name), None if group is None else int(group), bool(latest))
                    for name, group, latest in kept["running"])
    return InstantsSql(str(kept["terms"]), str(kept["instants"]), tuple(float(a) for a in kept["ages"]),
                       tuple(int(c) for c in kept["changed"]), running, int(kept["groups"]))


def changed_fields(tables: dict[str, pa.Table]) -> frozenset[str]:
    """The fields the bucket's changes table has rows for."""
    return frozenset(pc.unique(tables["change_input"]["field"]).to_pylist())


def terms_relations(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    return {name: tables[name] for name in ("lead_input", "event_input")}


def instants_relations(tables: dict[str, pa.Table], running: pa.Table, inputs: pa.Table) -> dict[str, pa.Table]:
    return {"lead_input": tables["lead_input"], "change_input": tables["change_input"], "running": running,
            "instants": inputs}


def evaluate_instants(connection, program: lo.ScoringProgram, tables: dict[str, pa.Table], lead_rows: np.ndarray,
                      instants: np.ndarray, *, reasons: bool = False) -> pa.Table:
    """The program at each (lead_rows[i], instants[i]) on DuckDB: the `instants` statement's
    columns, row i with row_id i, ordered by row_id. `lead_rows`: int64 lead numbers of the
    bucket; `instants`: float64 epoch seconds."""
    sql = instants_sql(program, changed_fields(tables), reasons)
    running = sql.running_table(run_over(connection, sql.terms, terms_relations(tables)))
    inputs = instant_inputs(program, sql, tables, lead_rows, instants)
    return by_row_id(run_over(connection, sql.instants, instants_relations(tables, running, inputs)))


def by_row_id(table: pa.Table) -> pa.Table:
    return table.take(pc.sort_indices(table["row_id"]))


def instant_inputs(program: lo.ScoringProgram, sql: InstantsSql, tables: dict[str, pa.Table], lead_rows: np.ndarray,
                   instants: np.ndarray) -> pa.Table:
    """The `instants` relation: row_id, lead, at, then e<j> per age and k<slot>, h<slot> per
    changed field slot (engines/sql/instants.py)."""
    leads = np.asarray(lead_rows, dtype=np.int64)
    at = np.asarray(instants, dtype=np.float64)
    columns = {"row_id": pa.array(np.arange(len(leads), dtype=np.int64)), "lead": pa.array(leads), "at": pa.array(at)}
    events = tables["event_input"]
    declared = events.filter(pc.is_in(events["type"], value_set=pa.array(list(program.property_types), pa.string())))
    event_lead, event_at, event_pos = (declared[name].to_numpy() for name in ("lead", "at", "pos"))
    order = np.argsort(event_pos, kind="stable")
    for j, age in enumerate(sql.ages):
        columns[f"e{j}"] = _nullable(last_at_or_before(event_lead[order], event_at[order], event_pos[order],
                                                       leads, at - age if age else at))
    changes = tables["change_input"]
    names = list(program.field_types)
    for slot in sql.changed:
        mine = changes.filter(pc.equal(changes["field"], names[slot]))
        change_lead, change_at, change_seq = (mine[name].to_numpy() for name in ("lead", "at", "seq"))
        order = np.lexsort((change_seq, change_at, change_lead))
        columns[f"k{slot}"] = _nullable(last_at_or_before(change_lead[order], change_at[order], change_seq[order],
                                                          leads, at))
        has = np.isin(leads, change_lead)
        columns[f"h{slot}"] = pa.array(np.ones(len(leads), np.int64), mask=~has)
    return pa.table(columns)


def _nullable(found: np.ndarray) -> pa.Array:
    return pa.array(found, mask=found < 0)


def last_at_or_before(lead: np.ndarray, at: np.ndarray, key: np.ndarray, query_lead: np.ndarray,
                      query_at: np.ndarray) -> np.ndarray:
    """Per query, the `key` of the last row of its lead at or before its time, -1 if none.
    The rows are in (lead, at) order, rows of equal time in the order that puts the wanted one
    last."""
    # complex numbers compare as (real, imaginary) pairs: one binary search on (lead, at);
    # lead numbers are below 2^53, exact as doubles
    rows, queries = _pairs(lead, at), _pairs(query_lead, query_at)
    candidate = np.searchsorted(rows, queries, side="right") - 1
    found = np.full(len(queries), -1, np.int64)
    same = candidate >= 0
    same[same] = lead[candidate[same]] == query_lead[same]
    found[same] = np.asarray(key, np.int64)[candidate[same]]
    return found


def _pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    pairs = np.empty(len(first), np.complex128)   # set apart: 1j * inf would be nan + inf j
    pairs.real, pairs.imag = first, second
    return pairs

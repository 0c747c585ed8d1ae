"""Evaluate a program at a table of (lead, instant) pairs: the two statements of
engines/sql/instants.py over a bucket's tables (duckdb_bucket.py). The running sums are
computed once per bucket (the `terms` statement, then running_sums.py) and read by every
round: each round's instants come with their values read off them (`instant_inputs`, with
instant_values.py's numpy), and the `instants` statement applies the rules to those."""

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
from .. import semantics as sem
from ..engines.duckdb_engine import run_over
from ..engines.statement_cache import kept, statement_key
from ..engines.sql.instants import (HalfLifeSum, InstantValue, LatestAt, LinearSum, OneTerm, RunningColumn,
                                    WindowSum, instants_select)
from .instant_values import instant_values
from .running_sums import Running, lead_time_pairs, running_arrays


@dataclass(frozen=True)
class InstantsSql:
    """instants_select's statements written for one engine."""

    terms: str                    # reads lead_input and event_input
    instants: str                 # reads lead_input, change_input and instants
    values: tuple[InstantValue, ...]
    changed: tuple[int, ...]
    running: tuple[RunningColumn, ...]
    groups: int

    def running_sums(self, terms: pa.Table) -> Running:
        """The running sums from the result of `terms`."""
        return running_arrays(terms, self.running, self.groups)


def duckdb_text(select: exp.Select) -> str:
    # RAISE: a construct DuckDB cannot express is an error, never SQL that means something else;
    # copy=False: the statement is built for this writing only, and copying it took longer
    # than writing it
    return select.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE, copy=False)


def written(program: lo.ScoringProgram, changed_fields, reasons: bool,
            writer: Callable[[exp.Select], str] = duckdb_text) -> InstantsSql:
    statements = instants_select(program, reasons=reasons, changed_fields=changed_fields)
    return InstantsSql(writer(statements.terms), writer(statements.instants), statements.values, statements.changed,
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
    return {"terms": sql.terms, "instants": sql.instants, "values": [_value_json(v) for v in sql.values],
            "changed": list(sql.changed), "running": [[c.name, c.group, c.latest, list(c.matches), c.whole] for c in sql.running],
            "groups": sql.groups}


def _from_json(kept: dict) -> InstantsSql:
    running = tuple(RunningColumn(str(name), None if group is None else int(group), bool(latest),
                                  tuple(str(m) for m in matches), _optional(whole))
                    for name, group, latest, matches, whole in kept["running"])
    return InstantsSql(str(kept["terms"]), str(kept["instants"]), tuple(_value_of(v) for v in kept["values"]),
                       tuple(int(c) for c in kept["changed"]), running, int(kept["groups"]))


def _value_json(value: InstantValue) -> list:
    match value:
        case WindowSum():
            return ["window", value.name, value.term, [list(part) for part in value.parts], value.whole]
        case LinearSum():
            return ["linear", value.name, [list(p) for p in value.parities], value.length, value.high,
                    _one_json(value.one)]
        case HalfLifeSum():
            return ["half_life", value.name, value.term, value.group, value.half, value.within, _one_json(value.one)]
        case LatestAt():
            return ["latest", value.name, value.term, value.within]
    raise TypeError(f"an instant value of unknown kind: {value!r}")


def _value_of(kept: list) -> InstantValue:
    match kept[0]:
        case "window":
            parts = tuple((float(low), None if high is None else float(high), float(factor))
                          for low, high, factor in kept[3])
            return WindowSum(str(kept[1]), str(kept[2]), parts, bool(kept[4]))
        case "linear":
            return LinearSum(str(kept[1]), tuple((str(p), str(e)) for p, e in kept[2]), float(kept[3]),
                             float(kept[4]), _one_of(kept[5]))
        case "half_life":
            return HalfLifeSum(str(kept[1]), str(kept[2]), int(kept[3]), float(kept[4]), _optional(kept[5]),
                               _one_of(kept[6]))
        case "latest":
            return LatestAt(str(kept[1]), str(kept[2]), _optional(kept[3]))
    raise ValueError(f"an instant value of unknown kind: {kept[0]!r}")


def _one_json(one: OneTerm) -> list:
    return [one.count, one.latest, one.high, one.points, one.decay.kind.value, one.decay.days]


def _one_of(kept: list) -> OneTerm:
    return OneTerm(str(kept[0]), str(kept[1]), _optional(kept[2]), float(kept[3]),
                   sem.Decay(sem.DecayKind(kept[4]), float(kept[5])))


def _optional(number) -> float | None:
    return None if number is None else float(number)


def changed_fields(tables: dict[str, pa.Table]) -> frozenset[str]:
    """The fields the bucket's changes table has rows for."""
    return frozenset(pc.unique(tables["change_input"]["field"]).to_pylist())


def terms_relations(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    return {name: tables[name] for name in ("lead_input", "event_input")}


def instants_relations(tables: dict[str, pa.Table], inputs: pa.Table) -> dict[str, pa.Table]:
    return {"lead_input": tables["lead_input"], "change_input": tables["change_input"], "instants": inputs}


def evaluate_instants(connection, program: lo.ScoringProgram, tables: dict[str, pa.Table], lead_rows: np.ndarray,
                      instants: np.ndarray, *, reasons: bool = False) -> pa.Table:
    """The program at each (lead_rows[i], instants[i]) on DuckDB: the `instants` statement's
    columns, row i with row_id i, ordered by row_id. `lead_rows`: int64 lead numbers of the
    bucket; `instants`: float64 epoch seconds."""
    sql = instants_sql(program, changed_fields(tables), reasons)
    running = sql.running_sums(run_over(connection, sql.terms, terms_relations(tables)))
    inputs = instant_inputs(program, sql, tables, running, lead_rows, instants)
    return by_row_id(run_over(connection, sql.instants, instants_relations(tables, inputs)))


def by_row_id(table: pa.Table) -> pa.Table:
    """The statement's rows (row_id 0..n-1 in the order the engine gave them) in row_id order:
    placed by their row_id, with no sort; as they are when the engine kept their order."""
    row_id = table["row_id"].to_numpy()
    if np.all(row_id[1:] > row_id[:-1]):
        return table
    order = np.empty(len(row_id), np.int64)
    order[row_id] = np.arange(len(row_id))
    return table.take(order)


def instant_inputs(program: lo.ScoringProgram, sql: InstantsSql, tables: dict[str, pa.Table], running: Running,
                   lead_rows: np.ndarray, instants: np.ndarray) -> pa.Table:
    """The `instants` relation: row_id, lead, at, the values of sql.values (instant_values.py)
    and k<slot>, h<slot> per changed field slot (engines/sql/instants.py)."""
    leads = np.asarray(lead_rows, dtype=np.int64)
    at = np.asarray(instants, dtype=np.float64)
    columns = {"row_id": pa.array(np.arange(len(leads), dtype=np.int64)), "lead": pa.array(leads), "at": pa.array(at),
               **instant_values(sql.values, running, leads, at)}
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
    rows, queries = lead_time_pairs(lead, at), lead_time_pairs(query_lead, query_at)
    candidate = np.searchsorted(rows, queries, side="right") - 1
    found = np.full(len(queries), -1, np.int64)
    same = candidate >= 0
    same[same] = lead[candidate[same]] == query_lead[same]
    found[same] = np.asarray(key, np.int64)[candidate[same]]
    return found

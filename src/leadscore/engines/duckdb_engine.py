"""The DuckDB engine: the program's SQL statement (engines/sql), run in process by DuckDB over
Arrow tables. `DuckDBBackend` offers the api.Backend interface for the API and the conformance
suite (`SqlBackend` does the work of any engine that runs the statement over Arrow tables);
`run_select` is what `leadscore score --engine duckdb` calls on the tables it has read.

With `explain`, the statement also returns each rule's points, group sums and totals, and
the reasons are read off them (reasons.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pyarrow as pa

from .. import lower as lo
from ..compiler import runtime as rt
from ..dsl import types as t
from .reasons import ReasonReader

if TYPE_CHECKING:
    from sqlglot import exp

ARROW_TYPES = {t.STRING: pa.string(), t.NUMBER: pa.float64(), t.BOOLEAN: pa.bool_(),
               t.DATETIME: pa.timestamp("us", tz="UTC"), t.LIST: pa.list_(pa.string())}


def connect(memory_limit: str | None = None, temp_directory: str | None = None):
    """An in-process DuckDB: with a memory limit it spills to `temp_directory` beyond it."""
    import duckdb

    # only the relations registered here: never a Python variable that happens to share a name
    config = {"python_enable_replacements": False}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_directory:
        config["temp_directory"] = temp_directory
    connection = duckdb.connect(":memory:", config=config)
    connection.execute("SET enable_progress_bar = false").fetchall()   # a long statement draws no bar on the terminal
    return connection


def run_select(connection, program: lo.ScoringProgram, id_column: str, instant: float,
               leads: Any, events: Any, reasons: bool = False) -> pa.Table:
    """Score `leads` with `events` (Arrow tables or record batch readers, as sql/select.py
    describes them) at `instant`: one row per lead, in no particular order; with `reasons`,
    the reason columns follow (read them by position). The statement is the cached one
    (statement_cache.py), the instant bound to it."""
    from .statement_cache import cached_statement

    def build() -> str:
        from sqlglot import exp   # only when the statement is not kept from an earlier run: 0.1 s of start-up

        return duckdb_sql(program, id_column, exp.Placeholder(this="instant"), reasons)

    sql = cached_statement(program, id_column, reasons, build)
    return run_sql(connection, sql, leads, events, {"instant": float(instant)})


def duckdb_sql(program: lo.ScoringProgram, id_column: str, instant: float | exp.Placeholder | None,
               reasons: bool = False) -> str:
    from sqlglot.errors import ErrorLevel

    from .sql import build_select

    # RAISE: a construct DuckDB cannot express is an error, never SQL that means something else
    return build_select(program, id_column, instant, reasons).sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)


def run_sql(connection, sql: str, leads: Any, events: Any, params: dict | None = None) -> pa.Table:
    """None for `leads` or `events`: the connection already holds that relation."""
    return run_over(connection, sql, {name: relation for name, relation in (("leads", leads), ("events", events))
                                      if relation is not None}, params)


def run_over(connection, sql: str, relations: dict[str, Any], params: dict | None = None) -> pa.Table:
    """`sql` (with `params` bound) with each of `relations` (Arrow tables or readers) registered
    under its name for the statement only."""
    for name, relation in relations.items():
        connection.register(name, relation)
    try:
        return connection.sql(sql, params=params).to_arrow_table()
    finally:
        for name in relations:
            connection.unregister(name)


def _epoch_micros(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1_000_000)


def _column(values: list, kind: str) -> pa.Array:
    if kind == t.DATETIME:
        values = [_epoch_micros(v) for v in values]
    elif kind == t.LIST:
        values = [None if v is None else list(v) for v in values]
    return pa.array(values, type=ARROW_TYPES[kind])


class SqlBackend(ABC):
    """api.Backend on a SQL engine: each call builds Arrow tables of the prepared input and runs
    the statement once for every lead given. An engine says how to write the statement
    (`_statement`) and how to run it over `leads` and `events` (`_run`)."""

    name: str

    def __init__(self, program: lo.ScoringProgram, schema=None) -> None:
        """`schema`: for strict=True, the declared values of fields and properties."""
        self.program = program
        self._values = ({}, {}) if schema is None else (
            {n: f.values for n, f in schema.fields.items() if f.values is not None},
            {n: {p: f.values for p, f in e.properties.items() if f.values is not None} for n, e in schema.events.items()})
        self.scores = program.scores
        self.blocks = tuple(b.name for b in program.blocks)
        self.field_missing = program.field_missing
        self.property_missing = program.property_missing
        self.thresholds = tuple(d.name for d in program.thresholds)
        self.segments = tuple(d.name for d in program.segments)
        self.field_types = program.field_types
        self.property_types = program.property_types
        # the leads' keys get a column of their own, whatever the schema's fields are called
        self._key = "lead_key"
        while self._key in program.field_types:
            self._key = "_" + self._key
        self._reasons = ReasonReader(program)
        self._statements: dict[tuple[float, bool], str] = {}

    def score(self, lead: Mapping[str, Any], events: Iterable[Any], as_of: Any, *,
              explain: bool = False, strict: bool = False) -> rt.Result:
        return self.score_many({0: lead}, {0: events}, as_of, explain=explain, strict=strict)[0]

    def score_many(self, leads, events_by_lead=None, as_of: Any = None, *, explain: bool = False,
                   strict: bool = False):
        """As the compiled scorer's: (leads, events_by_lead, as_of) -> {lead id: result}, or the
        earlier (pairs, as_of) -> results; one statement for them all."""
        if as_of is None:
            pairs = list(leads)
            found = self.score_many({i: lead for i, (lead, _) in enumerate(pairs)},
                                    {i: events for i, (_, events) in enumerate(pairs)}, events_by_lead,
                                    explain=explain, strict=strict)
            return (found[i] for i in range(len(pairs)))
        if not isinstance(leads, Mapping) or not isinstance(events_by_lead, Mapping):
            raise rt.InputError("score_many(leads, events_by_lead, as_of) takes two mappings keyed by lead id")
        instant = rt.to_epoch(as_of, "an as-of instant")
        program, keys = self.program, list(leads)
        events = {k: events_by_lead.get(k, ()) for k in keys}
        if strict:
            events = {k: rt.check_strict(leads[k], events[k], self.field_types, self.property_types, *self._values,
                                         program.field_missing, program.property_missing) for k in keys}
        fields = [rt.prepare_fields(leads[k], self.field_types, program.field_missing) for k in keys]
        grouped = [rt.prepare_events(events[k], self.property_types, missing=program.property_missing) for k in keys]
        return dict(zip(keys, self._evaluate(fields, grouped, instant, explain)))

    def score_table(self, leads, events, as_of: Any, *, explain: bool = False, strict: bool = False):
        """Leads and events as Arrow tables -> one Arrow table of results (arrow_scoring.py)."""
        from ..arrow_scoring import score_table

        return score_table(self, leads, events, as_of, explain=explain, strict=strict)

    def evaluate(self, fields: dict, grouped: dict, instant: float, explain: bool = False) -> rt.Result:
        return self._evaluate([fields], [grouped], instant, explain)[0]

    def evaluate_many(self, fields: list[dict], grouped: list[dict], instant: float, explain: bool = False):
        """api.Backend.evaluate_many: one statement for them all."""
        from ..scored import ScoredLeads

        return ScoredLeads.of_results(self._evaluate(fields, grouped, instant, explain) if fields else [], explain)

    def _evaluate(self, fields: list[dict], grouped: list[dict], instant: float, explain: bool) -> list[rt.Result]:
        leads = pa.table({self._key: pa.array([str(i) for i in range(len(fields))], pa.string()),
                          **{name: _column([f[name] for f in fields], kind)
                             for name, kind in self.field_types.items()}})
        key = (instant, explain)
        if key not in self._statements:   # building the statement costs more than a small run
            if len(self._statements) >= 16:
                self._statements.clear()
            self._statements[key] = self._statement(instant, explain)
        table = self._run(self._statements[key], leads, self._events(grouped))
        columns = [column.to_pylist() for column in table.columns]
        rows = {row[0]: row for row in zip(*columns)}
        return [self._result(rows[str(i)], explain) for i in range(len(fields))]

    @abstractmethod
    def _statement(self, instant: float, explain: bool) -> str:
        """The statement's text for the engine, scoring at `instant`."""

    @abstractmethod
    def _run(self, statement: str, leads: pa.Table, events: pa.Table) -> pa.Table:
        """The statement's result over these `leads` and `events`."""

    def _events(self, grouped: list[dict]) -> pa.Table:
        properties: dict[str, str] = {}
        for types in self.property_types.values():
            properties.update(types)
        columns: dict[str, list] = {"lead_id": [], "type": [], "at": [], **{p: [] for p in properties}}
        for index, by_type in enumerate(grouped):
            for kind, events in by_type.items():
                for at, values in events:
                    columns["lead_id"].append(str(index))
                    columns["type"].append(kind)
                    columns["at"].append(_epoch_micros(at))
                    for name in properties:
                        columns[name].append(values.get(name))
        return pa.table({"lead_id": pa.array(columns["lead_id"], pa.string()),
                         "type": pa.array(columns["type"], pa.string()),
                         "at": pa.array(columns["at"], ARROW_TYPES[t.DATETIME]),
                         **{name: _column(columns[name], kind) for name, kind in properties.items()}})

    def _result(self, row: tuple, explain: bool) -> rt.Result:
        n_scores, n_thresholds = len(self.scores), len(self.thresholds)
        scores = dict(zip(self.scores, row[1:]))
        decisions = row[1 + n_scores:]   # thresholds, then segments
        result = (scores, dict(zip(self.thresholds, decisions)), dict(zip(self.segments, decisions[n_thresholds:])))
        if not explain:
            return rt.Result(*result)
        found = self._reasons.reasons(scores, row[1 + n_scores + len(self.program.decisions):])
        return rt.Result(*result, tuple(rt.Reason(*r) for r in found))


class DuckDBBackend(SqlBackend):
    """api.Backend on DuckDB, in process."""

    name = "duckdb"

    def __init__(self, program: lo.ScoringProgram, schema=None) -> None:
        super().__init__(program, schema)
        self._connection = None

    def _statement(self, instant: float, explain: bool) -> str:
        return duckdb_sql(self.program, self._key, instant, explain)

    def _run(self, statement: str, leads: pa.Table, events: pa.Table) -> pa.Table:
        if self._connection is None:
            self._connection = connect()
        return run_sql(self._connection, statement, leads, events)

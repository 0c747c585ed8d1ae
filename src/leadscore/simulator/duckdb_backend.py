"""The DuckDB replay backend (docs/engines.md): the bulk replay's instants (bulk_replay.py),
each round scored for every lead at once by one SQL statement over the bucket's Arrow tables
and each instant's values, read off the bucket's running sums (computed on its first round
and kept for the next ones) with numpy (duckdb_instants.py, instant_values.py).

One in-process DuckDB per process: a forked worker opens its own (a connection never crosses
a fork), with its own subfolder of the run's spill folder for what exceeds `memory_limit`.
Explaining a flipped lead (a handful per report) stays with the Python evaluation, which
gives the reasons with their event counts; so does a program SQL cannot evaluate at many
instants, and a result whose score the running sums may have missed a round value by its
last bits (`near_round`): the Python scorer is the reference.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import lower as lo
from ..engines.duckdb_engine import connect
from ..engines.duckdb_tables import EngineError
from ..engines.sql.select import SqlUnsupported
from ..lower import lower
from .bulk_replay import bulk_replay
from .duckdb_bucket import bucket_tables
from .duckdb_instants import (InstantsSql, by_row_id, changed_fields, instant_inputs, instants_relations,
                              instants_sql, terms_relations)
from .engine import Evaluated, Plan, Replayed, Window
from .history import Bucket
from .python_backend import PythonEngine
from .running_sums import Running

_FEW_LEADS = 4        # a round for under a quarter of the bucket's leads reads only theirs
# the running sums differ from Python's by a few units in the last place (~1e-15, relative): a
# margin of about 10^4 such units catches every score Python may round onto a 6-decimal
# value, where 1e-9 also caught one decayed score in ten by chance (each then re-evaluated
# in Python)
_NEAR = 1e-11


class DuckDBEngine:
    name = "duckdb"
    scan_budget = 20_000        # midnights: a round costs about as much as scoring this many

    def __init__(self, memory_limit: str = "2GB", temp_directory: str | None = None, threads: int | None = None) -> None:
        """`threads`: DuckDB's threads (None: the cores this process may run on)."""
        self.memory_limit, self.temp_directory = memory_limit, temp_directory
        self.threads = threads if threads is not None else len(os.sched_getaffinity(0))
        self._pid: int | None = None
        self._connection = None
        self._prepared: dict[str, str] = {}        # statement -> its prepared name on the connection
        self._programs: dict[int, tuple] = {}      # id(plan) -> (plan, its ScoringProgram)
        self._running: tuple | None = None         # (bucket, program, its columns, the bucket's running sums)

    def replay(self, bucket: Bucket, plan: Plan, window: Window) -> Replayed:
        return bulk_replay(self, bucket, plan, window)

    def evaluate_at(self, bucket: Bucket, lead: int, plan: Plan, instant: float) -> tuple:
        return PythonEngine().evaluate_at(bucket, lead, plan, instant)

    def evaluate_many(self, bucket: Bucket, plan: Plan, rows: np.ndarray, instants: np.ndarray,
                      reasons: bool = False) -> Evaluated:
        rows, instants = np.asarray(rows, np.int64), np.asarray(instants, float)
        if not len(rows):
            return _empty(plan, reasons)
        program = self.program(plan)
        if program is None:
            return PythonEngine().evaluate_many(bucket, plan, rows, instants, reasons)
        try:
            table = self.instants_table(program, bucket, plan, rows, instants, reasons)
        except SqlUnsupported:
            self._programs[id(plan)] = (plan, None)
            return PythonEngine().evaluate_many(bucket, plan, rows, instants, reasons)
        found = _columns(plan, program, table, reasons)
        near = near_round(found.scores)
        if not near.any():
            return found
        return _replaced(found, near, PythonEngine().evaluate_many(bucket, plan, rows[near], instants[near], reasons))

    def instants_table(self, program, bucket: Bucket, plan: Plan, rows: np.ndarray, instants: np.ndarray,
                       reasons: bool) -> pa.Table:
        """The program at each (rows[i], instants[i]): the `instants` statement's columns,
        ordered by row_id (= i). The bucket's running sums are computed on its first round and
        read by the next ones."""
        whole = self.bucket_tables(bucket, plan)
        sql = self.statements(program, changed_fields(whole), reasons)
        running = self.running_sums(bucket, program, sql, whole)
        tables = self.tables(bucket, plan, rows)
        inputs = instant_inputs(program, sql, tables, running, rows, instants)
        return by_row_id(self.run(sql.instants, instants_relations(tables, inputs)))

    def running_sums(self, bucket: Bucket, program, sql: InstantsSql, whole: dict[str, pa.Table]) -> Running:
        """The bucket's running sums of `sql`'s columns: computed on the bucket's first round and
        read by the next ones. A statement needing columns not computed yet (the reasons' match
        counts, after the replay's rounds) adds only those: the sums the replay made are not
        computed again."""
        kept = self._running
        if kept is None or kept[0] is not bucket or kept[1] is not program:
            self._running = None   # the previous bucket's is dropped before this one is made
            self._running = (bucket, program, frozenset(sql.running),
                             sql.running_sums(self.run(sql.terms, terms_relations(whole))))
            return self._running[3]
        missing = {column for column in sql.running if column not in kept[2]}
        if missing:
            # a match count is counted from its rule's terms: those are summed with it
            read = {name for column in missing for name in column.matches}
            needed = tuple(column for column in sql.running if column in missing or column.name in read)
            extra = replace(sql, running=needed).running_sums(self.run(sql.terms, terms_relations(whole)))
            self._running = (bucket, program, kept[2] | frozenset(missing),
                             replace(kept[3], columns={**kept[3].columns, **extra.columns},
                                     latest_matches={**kept[3].latest_matches, **extra.latest_matches}))
        return self._running[3]

    def statements(self, program, changed: frozenset[str], reasons: bool) -> InstantsSql:
        return instants_sql(program, changed, reasons)

    def run(self, sql: str, relations: dict[str, pa.Table]) -> pa.Table:
        """`sql` over `relations`, run here by DuckDB: the step another SQL engine replaces
        (spark_backend.py). Each statement is prepared once per connection and executed over
        each round's relations, registered under the same names: binding and planning a
        replay statement costs more than running it over a round of tens of thousands of rows."""
        import duckdb

        connection = self.connection()
        for name, relation in relations.items():
            connection.register(name, relation)
        try:
            name = self._prepared.get(sql)
            if name is None:
                name = f"leadscore_replay_{len(self._prepared)}"
                connection.execute(f"PREPARE {name} AS {sql}")
                self._prepared[sql] = name
            return connection.sql(f"EXECUTE {name}").to_arrow_table()
        except duckdb.Error as error:
            raise EngineError(f"duckdb: {str(error).splitlines()[0]}") from None
        finally:
            for name in relations:
                connection.unregister(name)

    def connection(self):
        if self._pid != os.getpid():
            folder = None
            if self.temp_directory:
                folder = os.path.join(self.temp_directory, f"duckdb-{os.getpid()}")
                os.makedirs(folder, exist_ok=True)
            self._connection = connect(self.memory_limit, folder)
            self._connection.execute(f"SET threads = {max(1, int(self.threads))}")
            self._prepared = {}
            self._pid = os.getpid()
        return self._connection

    def program(self, plan: Plan):
        """The plan's program; None once SQL turned it down (a `where` reading a field the
        changes table changes): the Python scorer evaluates it then."""
        found = self._programs.get(id(plan))
        if found is None or found[0] is not plan:
            found = self._programs[id(plan)] = (plan, lower(plan.checked))
        return found[1]

    def bucket_tables(self, bucket: Bucket, plan: Plan) -> dict[str, pa.Table]:
        return bucket_tables(bucket, plan.checked.schema)     # made once, kept with the bucket

    def tables(self, bucket: Bucket, plan: Plan, rows: np.ndarray) -> dict[str, pa.Table]:
        """The bucket's tables; the leads only the rows' when they are few (a round of bisection
        asks about a handful of leads). The changes stay whole: which fields have changes decides
        the statement (and its cache); the events are read through the running sums."""
        tables = self.bucket_tables(bucket, plan)
        leads = np.unique(rows)
        if len(leads) * _FEW_LEADS >= len(bucket):
            return tables
        lead_input = tables["lead_input"]
        return {**tables, "lead_input": lead_input.filter(pc.is_in(lead_input["lead"], value_set=pa.array(leads)))}


def _columns(plan: Plan, program, table: pa.Table, reasons: bool) -> Evaluated:
    """evaluate_instants' columns (row_id, then scores, thresholds and segments in declaration
    order, then with reasons sql/select.py's reason columns) in the plan's order."""
    names = list(program.scores), [d.name for d in program.thresholds], [d.name for d in program.segments]
    first = [1, 1 + len(names[0]), 1 + len(names[0]) + len(names[1])]
    n = table.num_rows

    def numbers(i: int) -> np.ndarray:
        return table.column(i).to_numpy(zero_copy_only=False).astype(float)     # NULL -> nan

    scores = np.empty((n, len(plan.scores)))
    for j, name in enumerate(plan.scores):
        scores[:, j] = numbers(first[0] + names[0].index(name))
    thresholds = np.empty((n, len(plan.thresholds)), bool)
    for j, name in enumerate(plan.thresholds):
        thresholds[:, j] = table.column(first[1] + names[1].index(name)).fill_null(False).to_numpy(
            zero_copy_only=False)
    segments = np.empty((n, len(plan.segments)), np.int64)
    for j, name in enumerate(plan.segments):
        found = pc.index_in(table.column(first[2] + names[2].index(name)).cast(pa.string()),
                            value_set=pa.array(plan.labels[j], pa.string()))
        segments[:, j] = found.fill_null(-1).to_numpy(zero_copy_only=False)
    if not reasons:
        return Evaluated(scores, thresholds, segments)
    points, labels = _reason_points(program, numbers, first[2] + len(names[2]),
                                    {name: scores[:, j] for j, name in enumerate(plan.scores)})
    return Evaluated(scores, thresholds, segments, points, labels)


def _reason_points(program, numbers, position: int, finals: dict[str, np.ndarray]):
    """The points of every reason (engines/reasons.py, as columns): each rule's, each group's
    cut to its limit, inactivity's and the clamp's; none for a block whose total overflowed."""
    columns, labels = [], []
    for block in program.blocks:
        rules = block.rules()
        points = [numbers(position + i) for i in range(len(rules))]
        position += len(rules)
        groups = [item for item in block.items if isinstance(item, lo.Group)]
        sums = [numbers(position + i) for i in range(len(groups))]
        position += len(groups)
        total = numbers(position)
        position += 1
        after = None
        if block.inactivity is not None:
            after = numbers(position)
            position += 1
        usable = np.isfinite(total)

        def add(label: str, values: np.ndarray) -> None:
            columns.append(np.where(usable, np.nan_to_num(values, nan=0.0), 0.0))
            labels.append(f"{block.name}.{label}")

        for rule, values in zip(rules, points):
            add(rule.name, values)
        for group, values in zip(groups, sums):
            with np.errstate(invalid="ignore"):
                limited = np.where(np.isfinite(values), np.copysign(np.minimum(group.limit, np.abs(values)), values),
                                   values)
            add(group.name, limited - values)
        current = total
        if after is not None:
            add("inactivity", after - total)
            current = after
        if block.clamp is not None:
            add("clamp", finals[block.name] - current)
    n = len(columns[0]) if columns else 0
    return (np.column_stack(columns) if columns else np.zeros((n, 0))), tuple(labels)


def near_round(scores: np.ndarray) -> np.ndarray:
    """Rows with a score within _NEAR (relative) of a 6-decimal value without being it
    (9.999999999999998 for 10): the running sums may miss such a value in the last bits
    where Python's arithmetic lands on it, and a threshold at that value would then differ."""
    with np.errstate(invalid="ignore"):
        rounded = np.round(scores, 6)
        near = (scores != rounded) & (np.abs(scores - rounded) <= _NEAR * np.maximum(1.0, np.abs(scores)))
    return near.any(axis=1)


def _replaced(found: Evaluated, near: np.ndarray, again: Evaluated) -> Evaluated:
    """`found` with the rows marked `near` taken from `again`."""
    scores, thresholds, segments = found.scores.copy(), found.thresholds.copy(), found.segments.copy()
    scores[near], thresholds[near], segments[near] = again.scores, again.thresholds, again.segments
    if found.points is None:
        return Evaluated(scores, thresholds, segments)
    names = list(dict.fromkeys(found.reasons + again.reasons))
    points = np.zeros((len(scores), len(names)))
    for source, rows in ((found, ~near), (again, near)):
        for j, name in enumerate(source.reasons):
            column = names.index(name)
            points[rows, column] = np.where(points[rows, column] != 0, points[rows, column],
                                            source.points[:, j] if source is again else source.points[rows, j])
    return Evaluated(scores, thresholds, segments, points, tuple(names))


def _empty(plan: Plan, reasons: bool) -> Evaluated:
    return Evaluated(np.zeros((0, len(plan.scores))), np.zeros((0, len(plan.thresholds)), bool),
                     np.zeros((0, len(plan.segments)), np.int64), np.zeros((0, 0)) if reasons else None, ())

"""The history tables (docs/simulate.md) -> buckets of leads ready to replay.

Reading and typing is `leadscore.tables`' (every unusable row counted, shown with file and
row); grouping the rows by lead on disk is `leadscore.batch`'s spill (a hash of the lead id
picks a bucket; one bucket stays in memory, several go to Arrow files), so memory is bounded
by a bucket, not by the history. The `changes` table goes to the same buckets, by the same
hash. Outcomes are small (a success time per successful lead) and stay in memory.

`prepare` turns one bucket into the replay's input: per lead its fields, its events in time
order (equal times in file order) and its field changes, the runtime's representation
throughout (datetimes as epoch seconds, lists as tuples).
"""

from __future__ import annotations

import itertools
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from ..batch.bucket import lead_fields
from ..batch.spill import Buckets, Layout, Spilled, bucket_of, spill
from ..ingest.history import tables_of
from ..tables import (ArrowTable, ProblemLog, RowProblem, TableError, read_changes, read_outcomes, repeated_lead,
                      table_format, unknown_lead)
from .stages import require_stage

CHANGES = pa.schema([("seq", pa.int64()), ("id", pa.string()), ("field", pa.int32()), ("at", pa.float64()),
                     ("string", pa.string()), ("number", pa.float64()), ("boolean", pa.bool_()),
                     ("datetime", pa.float64()), ("list", pa.list_(pa.string()))])
_CHANGE_ROWS = 65_536


@dataclass(frozen=True)
class HistoryFiles:
    leads: str | ArrowTable     # a file, or a history file's query result
    events: str | ArrowTable
    outcomes: str | ArrowTable
    changes: str | ArrowTable | None = None

    @staticmethod
    def find(history: str | None, given: dict[str, str | None], allow_outside: bool = False) -> HistoryFiles:
        """The tables of a folder or a history file, any of them replaced by an explicit path."""
        found = tables_of(history, given, allow_outside, optional=("changes",))
        for path in found.values():
            if table_format(path) != "arrow" and not os.path.isfile(path):
                raise TableError(f"{path}: no such file")
        return HistoryFiles(found["leads"], found["events"], found["outcomes"], found.get("changes"))


# --- outcomes ------------------------------------------------------------------------------------

@dataclass
class Outcomes:
    success: dict[str, float]              # lead id -> its first outcome at the success stage
    leads: dict[str, tuple[float, float, int]]  # every lead id named by an outcome, in file order ->
                                                # its earliest and latest outcome time (any stage)
                                                # and the file row of its first outcome
    amounts: dict[str, float] = field(default_factory=dict)   # lead id -> the amount of its success
                                                              # outcome, when it has one
    lost: dict[str, float] | None = None   # lead id -> its first outcome at the lost stage; None when
                                           # no outcome has that stage


def read_success(path: str | ArrowTable, stage: str, log: ProblemLog, id_column: str, lost: str | None = None,
                 lost_required: bool = False) -> Outcomes:
    """The success (and lost) instants; a success stage no outcome has is a usage error, and so
    is a lost stage the user named (`lost_required`)."""
    stage = stage.strip().lower()
    lost = lost.strip().lower() if lost is not None else None
    out = Outcomes({}, {})
    losses: dict[str, float] = {}
    seen: Counter = Counter()
    for lead, found, at, amount, row in read_outcomes(path, log, id_column=id_column, with_rows=True):
        seen[found] += 1
        low, high, first = out.leads.get(lead, (at, at, row))
        out.leads[lead] = (min(low, at), max(high, at), first)
        if found == lost and at < losses.get(lead, float("inf")):
            losses[lead] = at
        if found == stage and at < out.success.get(lead, float("inf")):
            out.success[lead] = at
            if amount is None:
                out.amounts.pop(lead, None)
            else:
                out.amounts[lead] = amount
    require_stage(seen, stage)
    if lost is not None and lost_required:
        require_stage(seen, lost, "--lost")
    out.lost = losses if lost is not None and lost in seen else None
    return out


# --- spilling the tables into buckets ---------------------------------------------------------------

@dataclass
class Spill:
    """One schema's reading of the history, bucketed."""

    layout: Layout
    spilled: Spilled
    fields: tuple[str, ...]                 # changes' field codes -> names (schema order)
    changes_file: str | None
    changed: frozenset[str] = frozenset()   # the fields with at least one row in the changes table

    @property
    def buckets(self) -> Buckets:
        return self.spilled.buckets


def spill_history(files: HistoryFiles, schema, log: ProblemLog, count: int, folder: str | None) -> Spill:
    layout = Layout.of(schema)
    buckets = Buckets(count, folder, layout)
    buckets.schemas["changes"] = CHANGES
    spilled = spill(files.leads, files.events, schema, layout, log, buckets)
    names = tuple(schema.fields)
    changed = _spill_changes(files.changes, schema, log, buckets, names) if files.changes else frozenset()
    return Spill(layout, spilled, names, files.changes, changed)


def _spill_changes(path: str, schema, log: ProblemLog, buckets: Buckets, names: tuple[str, ...]) -> frozenset[str]:
    """Bucket the changes table; the fields it has rows for."""
    code = {name: k for k, name in enumerate(names)}
    seen: set[str] = set()
    types = {name: spec.type for name, spec in schema.fields.items()}
    rows: list = []

    def flush():
        columns = {c: [] for c in CHANGES.names}
        for seq, (lead, name, value, at) in rows:
            ftype = types[name]
            columns["seq"].append(seq)
            columns["id"].append(lead)
            columns["field"].append(code[name])
            columns["at"].append(at)
            for kind in ("string", "number", "boolean", "datetime", "list"):
                columns[kind].append(_stored(value, ftype) if kind == ftype else None)
        batch = pa.record_batch([pa.array(columns[c], CHANGES.field(c).type) for c in CHANGES.names], schema=CHANGES)
        buckets.add("changes", batch, bucket_of(batch.column(1), buckets.count))
        rows.clear()

    for *row, seq in read_changes(path, schema, log, with_rows=True):   # seq: the file row, in file order
        rows.append((seq, row))
        seen.add(row[1])
        if len(rows) == _CHANGE_ROWS:
            flush()
    if rows:
        flush()
    buckets.finish()
    return frozenset(seen)


def _stored(value, ftype: str):
    if value is None:
        return None
    if ftype == "datetime":
        return value.timestamp()
    return list(value) if ftype == "list" else value


def read_bucket(buckets: Buckets, table: str, bucket: int) -> pa.Table:
    """A bucket's table, without taking it out of memory (it is read once per schema, and
    by the bounds pass); a file is mapped, not copied."""
    schema = buckets.schemas[table]
    if buckets.count == 1:
        return pa.Table.from_batches(buckets.memory.get((table, 0), []), schema)
    path = buckets.path(table, bucket)
    if not os.path.exists(path):
        return schema.empty_table()
    with ipc.open_stream(pa.memory_map(path)) as reader:
        return reader.read_all()


@dataclass(frozen=True)
class Bounds:
    """The time span of the rows a replay keeps. `activity` is the latest event, change or lead
    creation (the default window ends at the midnight after it); `latest` also counts outcomes
    (the history's last timestamp, for censoring). A row left out (an unknown lead, a repeated
    lead id) must not stretch either."""

    earliest: float | None
    activity: float | None
    latest: float | None


def bounds(spill_: Spill, created: str | None, outcomes: Outcomes) -> Bounds:
    """The bounds of the events, changes and outcomes of known leads and the creation time of
    each lead's first row."""
    low, high, outcome_high = [], [], []
    created_column = None if created is None else f"f{spill_.layout.fields.index((created, 'datetime'))}"
    for bucket in range(spill_.buckets.count):
        leads = read_bucket(spill_.buckets, "leads", bucket)
        ids = leads["id"].combine_chunks()
        first = pc.equal(pc.index_in(ids, value_set=ids), pa.array(np.arange(len(ids), dtype=np.int32)))
        columns = [read_bucket(spill_.buckets, table, bucket) for table in ("events", "changes")]
        columns = [t["at"].filter(pc.is_in(t["id"], value_set=ids)) for t in columns]
        if created_column is not None:
            columns.append(leads[created_column].filter(first))
        for values in columns:
            found = pc.min_max(values).as_py()
            if found["min"] is not None:
                low.append(found["min"])
                high.append(found["max"])
        for lead in ids.to_pylist():
            if lead in outcomes.leads:
                low.append(outcomes.leads[lead][0])
                outcome_high.append(outcomes.leads[lead][1])
    latest = high + outcome_high
    return Bounds(min(low) if low else None, max(high) if high else None, max(latest) if latest else None)


# --- one bucket, ready to replay ----------------------------------------------------------------------

@dataclass
class Bucket:
    """The leads of one bucket, in the order of the leads file, and their rows. Lead k's events
    are `at[starts[k]:starts[k + 1]]` (with `kinds`, `pairs` alike), in time order; its changes
    `changes[change_starts[k]:change_starts[k + 1]]`, (at, field, value) in time order."""

    ids: list[str]
    positions: list[int]
    fields: list[dict]
    created: list[float | None]
    at: list[float]
    kinds: list[str]
    pairs: list[tuple]                 # (at, properties): the scorer's representation of an event
    starts: list[int]
    changes: list[tuple]
    change_starts: list[int]
    problems: dict = field(default_factory=dict)   # (table, kind) -> (count, [(position, reason)])
    # what engines derive from the rows (arrays, Arrow tables), by key: made once and shared by
    # every plan and round that replays the bucket (the rows never change once prepared)
    derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def kept(self, key, make):
        """The value derived under `key`, made by `make()` the first time it is asked for."""
        found = self.derived.get(key)
        if found is None:
            found = self.derived[key] = make()
        return found

    def index(self) -> dict[str, int]:
        return dict(zip(self.ids, range(len(self.ids))))


@dataclass(frozen=True)
class EventArrays:
    """A bucket's events as arrays: `at` (float64), `starts` (int64, one more than the leads),
    `lead` (each event's lead number), `kinds` (Arrow strings)."""

    at: np.ndarray
    starts: np.ndarray
    lead: np.ndarray
    kinds: pa.Array


def event_arrays(bucket: Bucket) -> EventArrays:
    """The bucket's events as arrays, converted once per bucket."""
    def make() -> EventArrays:
        starts = np.asarray(bucket.starts, np.int64)
        lead = np.repeat(np.arange(len(bucket), dtype=np.int64), np.diff(starts))
        return EventArrays(np.asarray(bucket.at, np.float64), starts, lead, pa.array(bucket.kinds, pa.string()))
    return bucket.kept("event_arrays", make)


@dataclass(frozen=True)
class PropertyDicts:
    """A bucket's distinct event property dicts and each event's number among them (int64)."""

    distinct: list[dict]
    numbers: np.ndarray


def property_dicts(bucket: Bucket) -> PropertyDicts:
    """The bucket's `PropertyDicts`, found once per bucket: `prepare` hands over those it made;
    a bucket made otherwise has its dicts told apart by identity (all are alive, so no two share
    one; equal dicts that are distinct objects merely count twice)."""
    def make() -> PropertyDicts:
        identity = pa.array(np.fromiter(map(id, map(itemgetter(1), bucket.pairs)), np.int64, len(bucket.pairs)))
        encoded = identity.dictionary_encode()
        first = pc.index_in(encoded.dictionary, value_set=identity).to_numpy()
        return PropertyDicts([bucket.pairs[i][1] for i in first.tolist()], encoded.indices.to_numpy().astype(np.int64))
    return bucket.kept("property_dicts", make)


def prepare(spill_: Spill, bucket: int, created: str | None, end: float, keep: int) -> Bucket:
    """One bucket's leads with their events before `end` and all their field changes (those at
    or after `end` are never applied, but make their field missing until then)."""
    layout = spill_.layout
    leads = read_bucket(spill_.buckets, "leads", bucket)
    events = read_bucket(spill_.buckets, "events", bucket)
    changes = read_bucket(spill_.buckets, "changes", bucket)
    problems: dict = {}
    ids = leads["id"].combine_chunks()
    first = pc.index_in(ids, value_set=ids)
    repeated = pc.not_equal(first, pa.array(np.arange(len(ids), dtype=np.int32)))
    if pc.any(repeated).as_py():
        _note(problems, "duplicate_lead", "leads", leads["pos"].filter(repeated), ids.filter(repeated),
              repeated_lead, keep)
        leads, ids = leads.filter(pc.invert(repeated)), ids.filter(pc.invert(repeated))
    fields = lead_fields(leads, layout)
    created_values = [f[created] for f in fields] if created else [None] * len(fields)

    events, owners = _owned(events, "events", "pos", ids, end, problems, keep)
    at = events["at"].to_numpy()
    order = np.lexsort((at, owners))     # stable: equal times keep file order
    starts = np.concatenate(([0], np.cumsum(np.bincount(owners, minlength=len(ids))))).tolist()
    kinds_code = events["type"].to_numpy()[order]
    at_sorted = at[order].tolist()
    properties, dicts = _properties(events, order, kinds_code, layout)
    pairs = list(zip(at_sorted, properties))
    kinds = list(map(layout.events.__getitem__, kinds_code.tolist()))

    change_rows, change_starts = _changes(changes, ids, spill_.fields, layout, problems, keep)
    prepared = Bucket(ids.to_pylist(), leads["pos"].to_pylist(), fields, created_values, at_sorted, kinds, pairs,
                      starts, change_rows, change_starts, problems)
    # the arrays the events were made from, rather than converted back from the lists
    starts_array = np.asarray(starts, np.int64)
    prepared.derived["event_arrays"] = EventArrays(
        at[order], starts_array, np.repeat(np.arange(len(ids), dtype=np.int64), np.diff(starts_array)),
        pa.array(layout.events, pa.string()).take(pa.array(kinds_code)))
    prepared.derived["property_dicts"] = dicts
    return prepared


def _note(problems: dict, kind: str, table: str, positions, ids, reason, keep: int) -> None:
    examples = [(position, reason(lead)) for position, lead in
                zip(positions.slice(0, keep).to_pylist(), ids.slice(0, keep).to_pylist())]
    count, before = problems.get((table, kind), (0, []))
    problems[(table, kind)] = (count + len(positions), before + examples)


def _properties(events: pa.Table, order: np.ndarray, codes: np.ndarray,
                layout: Layout) -> tuple[list[dict], PropertyDicts]:
    """Each event's properties dict, in `order`, and those dicts as `PropertyDicts`: equal
    properties of one type share a dict (the scorer only reads them)."""
    distinct: list[dict] = [{}]      # number 0: the types without declared properties
    numbers = np.zeros(len(order), np.int64)
    for code in np.unique(codes).tolist():
        declared = layout.declared[code]
        if not declared:
            continue
        where = np.flatnonzero(codes == code)
        rows = pa.array(order[where])
        columns = []
        for _, slot in declared:
            values = events[f"s{slot}"].take(rows).to_pylist()
            columns.append([None if v is None else tuple(v) for v in values]
                           if layout.slots[slot] == "list" else values)
        names = [name for name, _ in declared]
        # each row's first place among the type's rows (a loop in C), then their rank: the
        # distinct rows in order of first place, as the dict holds them
        shared: dict = {}
        first = np.fromiter(map(shared.setdefault, zip(*columns), itertools.count()), np.int64, len(where))
        numbers[where] = np.unique(first, return_inverse=True)[1].reshape(-1) + len(distinct)
        distinct.extend(dict(zip(names, row)) for row in shared)
    table = np.empty(len(distinct), object)
    table[:] = distinct
    return table[numbers].tolist(), PropertyDicts(distinct, numbers)


def _owned(rows: pa.Table, table: str, position: str, ids: pa.Array, end: float, problems: dict,
           keep: int) -> tuple[pa.Table, np.ndarray]:
    """The rows of known leads before `end`, with each one's lead number; the rows of unknown
    leads are noted (by their `position` column)."""
    lead_of = pc.index_in(rows["id"], value_set=ids)
    if lead_of.null_count:
        unknown = pc.is_null(lead_of)
        _note(problems, "unknown_lead", table, rows[position].filter(unknown), rows["id"].filter(unknown),
              unknown_lead, keep)
    usable = pc.and_(pc.is_valid(lead_of), pc.less(rows["at"], end))
    return rows.filter(usable), lead_of.filter(usable).to_numpy(zero_copy_only=False).astype(np.int64)


def _changes(changes: pa.Table, ids: pa.Array, names: tuple[str, ...], layout: Layout, problems: dict,
             keep: int) -> tuple[list, list[int]]:
    # Changes at or after the end stay: no instant sees them, but they say the field has a
    # history, so it is missing until its first change rather than today's value.
    changes, owners = _owned(changes, "changes", "seq", ids, math.inf, problems, keep)
    at = changes["at"].to_numpy()
    order = np.lexsort((changes["seq"].to_numpy(), at, owners))
    starts = np.concatenate(([0], np.cumsum(np.bincount(owners, minlength=len(ids))))).tolist()
    types = dict(layout.fields)
    codes = changes["field"].to_numpy()[order].tolist()
    columns = {kind: changes[kind].take(pa.array(order)).to_pylist()
               for kind in ("string", "number", "boolean", "datetime", "list")}
    rows = []
    for k, (when, code) in enumerate(zip(at[order].tolist(), codes)):
        name = names[code]
        value = columns[types[name]][k]
        rows.append((when, name, tuple(value) if isinstance(value, list) else value))
    return rows, starts


def report(problems: list[dict], spills: Spill, log: ProblemLog, outcomes_file: str) -> None:
    """The buckets' problems (repeated leads, rows of unknown leads), in file order, into the log."""
    merged: dict = {}
    for found in problems:
        for key, (count, examples) in found.items():
            total, before = merged.get(key, (0, []))
            merged[key] = (total + count, before + examples)
    files = {"leads": spills.spilled.lead_file, "events": spills.spilled.event_file,
             "changes": str(spills.changes_file), "outcomes": str(outcomes_file)}
    for (table, kind), (count, examples) in sorted(merged.items(), key=lambda item: _TABLE_ORDER[item[0][0]]):
        first = sorted(examples)[:max(1, log.keep)]
        log.add_counted([RowProblem(table, files[table], _row(spills, table, position), "lead_id", reason, kind)
                         for position, reason in first], count)


_TABLE_ORDER = {"leads": 0, "events": 1, "outcomes": 2, "changes": 3}


def _row(spills: Spill, table: str, position: int) -> int:
    """A row number in the file: outcomes and changes are noted by theirs already."""
    if table in ("changes", "outcomes"):
        return position
    return spills.spilled.row(table, position)

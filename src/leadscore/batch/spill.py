"""Phase 1 of batch scoring: read the leads and events tables once, typed, and split them into
buckets by a hash of the lead id, so each bucket holds every row of its leads and can be
scored alone, in bounded memory. One bucket stays in memory; several go to Arrow IPC files in
a temporary folder.

Each row keeps its position in its file, `batch number << 32 | index in the batch`: positions
sort in file order (the leads' input order, the order problems are reported in) and give the
row number back through the batch's `row_of` when a problem is shown.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from ..tables import ProblemLog, event_batches, lead_batches

# Storage type of each field type: datetimes as float epoch seconds, the runtime's representation.
STORED = {"string": pa.string(), "number": pa.float64(), "boolean": pa.bool_(), "datetime": pa.float64(),
          "list": pa.list_(pa.string())}
POSITION_BITS = 32


@dataclass(frozen=True)
class Layout:
    """The columns of the bucket tables, derived from the schema once. The properties of all
    event types share a few slot columns, as an event has only its own type's properties: an
    event type's j-th property of some field type goes to the j-th slot of that field type."""

    fields: tuple[tuple[str, str], ...]               # (field name, type), schema order
    events: tuple[str, ...]                           # event types, declaration order
    slots: tuple[str, ...]                            # the field type of each property slot
    declared: tuple[tuple[tuple[str, int], ...], ...]  # per event type: (property, slot), declaration order

    @staticmethod
    def of(schema) -> Layout:
        slots: dict[tuple[str, int], int] = {}
        declared = []
        for spec in schema.events.values():
            used: dict[str, int] = {}
            mine = []
            for name, prop in spec.properties.items():
                nth = used[prop.type] = used.get(prop.type, -1) + 1
                mine.append((name, slots.setdefault((prop.type, nth), len(slots))))
            declared.append(tuple(mine))
        return Layout(tuple((name, spec.type) for name, spec in schema.fields.items()), tuple(schema.events),
                      tuple(ftype for ftype, _ in slots), tuple(declared))

    def lead_schema(self) -> pa.Schema:
        return pa.schema([("pos", pa.int64()), ("id", pa.string()),
                          *((f"f{k}", STORED[ftype]) for k, (_, ftype) in enumerate(self.fields))])

    def event_schema(self) -> pa.Schema:
        return pa.schema([("pos", pa.int64()), ("id", pa.string()), ("type", pa.int32()), ("at", pa.float64()),
                          *((f"s{k}", STORED[ftype]) for k, ftype in enumerate(self.slots))])

    def slot_columns(self, part) -> list[pa.Array]:
        """An events batch's property columns merged into the slots."""
        columns = []
        for k, ftype in enumerate(self.slots):
            members = [(code, (name, ftype)) for code, props in enumerate(self.declared)
                       for name, slot in props if slot == k and (name, ftype) in part.properties]
            keys = list(dict.fromkeys(key for _, key in members))
            if not keys:
                columns.append(pa.nulls(len(part.ids), STORED[ftype]))
                continue
            lookup: list = [None] * len(self.events)
            for code, key in members:
                lookup[code] = keys.index(key)
            which = pa.array(lookup, pa.int32()).take(part.types)
            values = [_stored(part.properties[key], ftype) for key in keys]
            if ftype != "list":
                columns.append(pc.choose(which, *values))
                continue
            merged = pa.nulls(len(part.ids), STORED[ftype])   # `choose` takes no lists
            for k, column in enumerate(values):
                merged = pc.if_else(pc.fill_null(pc.equal(which, k), False), column, merged)
            columns.append(merged)
        return columns


class Buckets:
    """Record batches sorted into buckets: kept in memory (one bucket) or appended to one IPC
    stream file per bucket. A table is written whole before the next one starts, so only one
    file per bucket is open at a time."""

    def __init__(self, count: int, folder: str | None, layout: Layout):
        self.count, self.folder = count, folder
        self.schemas = {"leads": layout.lead_schema(), "events": layout.event_schema()}
        self.memory: dict[tuple[str, int], list[pa.RecordBatch]] = {}
        self.writers: dict[int, ipc.RecordBatchStreamWriter] = {}

    def path(self, table: str, bucket: int) -> str:
        return os.path.join(self.folder, f"{table}-{bucket}.arrow")

    def add(self, table: str, batch: pa.RecordBatch, bucket_of_row: np.ndarray | None) -> None:
        if self.count == 1:
            self.memory.setdefault((table, 0), []).append(batch)
            return
        order = np.argsort(bucket_of_row.astype(np.uint16), kind="stable")   # radix sort; keeps file order
        batch = batch.take(pa.array(order))
        ends = np.cumsum(np.bincount(bucket_of_row, minlength=self.count)).tolist()
        for bucket, (start, end) in enumerate(zip([0, *ends[:-1]], ends)):
            if start == end:
                continue
            if bucket not in self.writers:
                self.writers[bucket] = ipc.new_stream(self.path(table, bucket), batch.schema)
            self.writers[bucket].write_batch(batch.slice(start, end - start))

    def finish(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}

    def read(self, table: str, bucket: int) -> pa.Table:
        schema = self.schemas[table]
        if self.count == 1:
            return pa.Table.from_batches(self.memory.pop((table, 0), []), schema)
        if not os.path.exists(self.path(table, bucket)):
            return schema.empty_table()
        with ipc.open_stream(self.path(table, bucket)) as reader:
            return reader.read_all()


@dataclass
class Spilled:
    """The tables, bucketed, with what is needed to turn a position back into a row number."""

    buckets: Buckets
    lead_file: str
    event_file: str
    lead_rows: list = field(default_factory=list)    # leads batch number -> row_of
    event_rows: list = field(default_factory=list)   # events batch number -> row_of

    def row(self, table: str, position: int) -> int:
        rows = self.lead_rows if table == "leads" else self.event_rows
        return rows[position >> POSITION_BITS](position & ((1 << POSITION_BITS) - 1))


def spill(leads: str, events: str, schema, layout: Layout, log: ProblemLog, buckets: Buckets) -> Spilled:
    """Read both tables into `buckets`; problems found while reading go to `log`."""
    out = Spilled(buckets, str(leads), str(events))
    lead_schema, event_schema = buckets.schemas["leads"], buckets.schemas["events"]
    with _Sorter(buckets) as sorter:
        for number, part in enumerate(lead_batches(leads, schema, log)):
            out.lead_rows.append(part.batch.row_of)
            columns = [_stored(part.fields[name], ftype) for name, ftype in layout.fields]
            sorter.put("leads", pa.record_batch([_positions(number, part.index), part.ids, *columns],
                                                schema=lead_schema))
        sorter.put("leads", None)   # every lead written before the events start
        for number, part in enumerate(event_batches(events, schema, log)):
            out.event_rows.append(part.batch.row_of)
            sorter.put("events", pa.record_batch([_positions(number, part.index), part.ids, part.types, part.at,
                                                  *layout.slot_columns(part)], schema=event_schema))
        sorter.put("events", None)
    return out


class _Sorter:
    """Hashes and writes the typed batches into their buckets on a thread of its own while the
    caller types the next batch: numpy and pyarrow release the GIL, so the two overlap. A
    `None` batch ends a table (closes its files)."""

    def __init__(self, buckets: Buckets):
        self.buckets = buckets
        self.queue: queue.Queue = queue.Queue(4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, name="leadscore-spill", daemon=True)

    def __enter__(self) -> _Sorter:
        self.thread.start()
        return self

    def put(self, table: str, batch: pa.RecordBatch | None) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((table, batch))

    def run(self) -> None:
        while (item := self.queue.get()) is not _DONE:
            if self.error is not None:
                continue   # keep taking batches so the reading thread is never stuck on a full queue
            table, batch = item
            try:
                if batch is None:
                    self.buckets.finish()
                else:
                    self.buckets.add(table, batch, bucket_of(batch.column(1), self.buckets.count))
            except BaseException as error:   # raised again in the reading thread
                self.error = error

    def __exit__(self, *exc) -> None:
        self.queue.put(_DONE)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


_DONE = object()


def _positions(number: int, index: pa.Array) -> pa.Array:
    return pc.add(pc.cast(index, pa.int64()), number << POSITION_BITS)


def _stored(values: pa.Array, ftype: str) -> pa.Array:
    if ftype == "datetime":
        return pc.divide(pc.cast(values, pa.int64()), 1e6)   # as datetime.timestamp() computes it
    return values


def bucket_of(ids: pa.Array, count: int) -> np.ndarray | None:
    """Each row's bucket, from a hash of its lead id computed column-wise, the same in every
    process and run. It reads the id's first, middle and last 8 bytes (all of an id up to 24
    bytes) as 64-bit words straight from the column's buffer, so its cost does not depend on
    the ids' length."""
    if count == 1:
        return None
    ids = ids.cast(pa.string())
    offsets = np.frombuffer(ids.buffers()[1], np.int32, len(ids) + 1, ids.offset * 4).astype(np.int64)
    if len(ids) == 0:
        return np.zeros(0, np.int64)
    data = np.frombuffer(ids.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    padded = np.concatenate((data, np.zeros(8, np.uint8)))
    # the 64-bit word starting at each byte (unaligned, little-endian: byte k is bits 8k..8k+7)
    words = np.ndarray((len(data) + 1,), "<u8", padded, 0, (1,))
    starts, lengths = offsets[:-1] - offsets[0], np.diff(offsets)
    short = lengths < 8
    with np.errstate(over="ignore"):
        first = words[starts] & np.where(short, (np.uint64(1) << (8 * lengths).astype(np.uint64)) - np.uint64(1),
                                         _ALL)
        last = np.where(short, first, words[np.maximum(starts + lengths - 8, 0)])
        middle = np.where(short, first, words[np.maximum(starts + (lengths - 8) // 2, 0)])
        mixed = first * _K[0] ^ last * _K[1] ^ middle * _K[2] ^ lengths.astype(np.uint64) * _K[3]
        mixed ^= mixed >> np.uint64(31)
        mixed *= _K[4]
        mixed ^= mixed >> np.uint64(29)
    return (mixed % np.uint64(count)).astype(np.int64)


_ALL = np.uint64((1 << 64) - 1)
_K = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
               0xFF51AFD7ED558CCD], np.uint64)

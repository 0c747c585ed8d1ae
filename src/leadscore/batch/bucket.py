"""Phase 2 of batch scoring: one bucket's leads and events -> one output row per lead.

The bucket's tables are turned into the runtime's representation column-wise: the events are
sorted by (type, lead, time) with numpy, so each event type is one run of rows and each
lead's events of that type a slice of it; property dicts are shared between events with equal
properties (the generated scorer only reads them). Python then runs once per lead: the
compiled `evaluate` and the row formatter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..tables import gc_paused, repeated_lead, unknown_lead
from .spill import Layout

_NO_EVENTS: list = []        # shared by every lead without events of a type: nothing writes to it
_NO_PROPERTIES: dict = {}


@dataclass(frozen=True)
class Setup:
    """What scoring any bucket needs: the same for all buckets of a run."""

    layout: Layout
    evaluate: Callable     # the compiled scorer's evaluate(F, G, T, explain)
    instant: float         # the as-of instant, epoch seconds
    explain: bool
    format_row: Callable   # (lead id, scores, thresholds, segments, reasons) -> output line
    keep: int              # examples kept per kind of problem


@dataclass
class Scored:
    positions: list[int]            # the leads' positions in the leads file, ascending
    rows: list[str]                 # their output lines, in the same order
    problems: dict = field(default_factory=dict)   # kind -> (count, [(position, reason)] first `keep`)
    events: int = 0                 # events scored
    later: int = 0                  # events after the instant, ignored


def score_bucket(leads: pa.Table, events: pa.Table, setup: Setup) -> Scored:
    with gc_paused():   # millions of tuples and dicts, no cycles: the collector would only slow it down
        return _score(leads, events, setup)


def _score(leads: pa.Table, events: pa.Table, setup: Setup) -> Scored:
    problems: dict = {}
    ids = leads["id"].combine_chunks()
    first = pc.index_in(ids, value_set=ids)
    repeated = pc.not_equal(first, pa.array(range(len(ids)), pa.int32()))
    if pc.any(repeated).as_py():
        _note(problems, "duplicate_lead", leads["pos"].filter(repeated), ids.filter(repeated), repeated_lead,
              setup.keep)
        leads, ids = leads.filter(pc.invert(repeated)), ids.filter(pc.invert(repeated))
    fields = _fields(leads, setup.layout)

    lead_of = pc.index_in(events["id"], value_set=ids)
    if lead_of.null_count:
        unknown = pc.is_null(lead_of)
        _note(problems, "unknown_lead", events["pos"].filter(unknown), events["id"].filter(unknown), unknown_lead,
              setup.keep)
    known = pc.is_valid(lead_of)
    usable = pc.and_(known, pc.less_equal(events["at"], setup.instant))
    later = pc.sum(pc.and_(known, pc.invert(usable))).as_py() or 0
    selected = pa.table({"type": events["type"], "lead": lead_of, "at": events["at"],
                         **{f"s{k}": events[f"s{k}"] for k in range(len(setup.layout.slots))}}).filter(usable)
    grouped = _grouped(selected, len(ids), setup.layout)

    evaluate, instant, explain, format_row = setup.evaluate, setup.instant, setup.explain, setup.format_row
    rows = [format_row(lead, *evaluate(f, g, instant, explain))
            for lead, f, g in zip(ids.to_pylist(), fields, grouped)]
    return Scored(leads["pos"].to_pylist(), rows, problems, len(selected), later)


def _note(problems: dict, kind: str, positions, ids, reason: Callable, keep: int) -> None:
    examples = [(position, reason(lead)) for position, lead in
                zip(positions.slice(0, keep).to_pylist(), ids.slice(0, keep).to_pylist())]
    problems[kind] = (len(positions), examples)


def _fields(leads: pa.Table, layout: Layout) -> list[dict]:
    """Each lead's fields in the runtime's representation (lists as tuples)."""
    names = [name for name, _ in layout.fields]
    columns = []
    for k, (_, ftype) in enumerate(layout.fields):
        values = leads[f"f{k}"].to_pylist()
        columns.append([None if v is None else tuple(v) for v in values] if ftype == "list" else values)
    if not columns:
        return [{} for _ in range(leads.num_rows)]
    return list(map(dict, map(zip, repeat(names), zip(*columns))))


def _grouped(events: pa.Table, leads: int, layout: Layout) -> list[dict]:
    """Each lead's events as the scorer takes them: type -> [(at, properties)] in time order,
    equal times in file order."""
    types, lead_of, at = (events[name].to_numpy() for name in ("type", "lead", "at"))
    order = _time_order(at)
    # Stable sorts of small integers are radix sorts in numpy: lead, then type, keep time order.
    order = order[np.argsort(_narrow(lead_of[order], leads), kind="stable")]
    order = order[np.argsort(_narrow(types[order], len(layout.events)), kind="stable")]
    ends = np.cumsum(np.bincount(types, minlength=len(layout.events))).tolist()
    slots = _Slots(events, layout)
    columns = []
    for code, (start, end) in enumerate(zip([0, *ends[:-1]], ends)):
        if start == end:
            columns.append([_NO_EVENTS] * leads)
            continue
        run = order[start:end]
        pairs = list(zip(at[run].tolist(), slots.properties(run, layout.declared[code])))
        stops = np.cumsum(np.bincount(lead_of[run], minlength=leads)).tolist()
        columns.append(list(map(pairs.__getitem__, map(slice, [0, *stops[:-1]], stops))))
    return list(map(dict, map(zip, repeat(layout.events), zip(*columns)))) if columns else [{}] * leads


def _time_order(at: np.ndarray) -> np.ndarray:
    """Indices that sort `at`, equal times in file order. The unstable sort is several times
    faster (SIMD); the runs of equal times it may have shuffled are put back in order."""
    order = np.argsort(at)
    ties = at[order[1:]] == at[order[:-1]]
    if ties.any():
        in_run = np.zeros(len(order), bool)
        in_run[1:] |= ties
        in_run[:-1] |= ties
        where = np.flatnonzero(in_run)
        run = np.cumsum(np.concatenate(([True], ~ties)))[where]
        order[where] = order[where[np.lexsort((order[where], run))]]
    return order


def _narrow(values: np.ndarray, bound: int) -> np.ndarray:
    return values.astype(np.uint8 if bound <= 1 << 8 else np.uint16 if bound <= 1 << 16 else np.int64)


class _Slots:
    """The properties dicts of a bucket's events, built from the slot columns. Events with equal
    properties share one dict (the scorer only reads them): a slot is dictionary-encoded once,
    and a type's dicts are made once per distinct value it uses."""

    def __init__(self, events: pa.Table, layout: Layout):
        self.events, self.layout = events, layout
        self.encoded: dict[int, tuple[list, np.ndarray]] = {}

    def codes(self, slot: int) -> tuple[list, np.ndarray]:
        """(distinct values, each event's value as an index into them; missing = len(values))."""
        if slot not in self.encoded:
            encoded = pc.dictionary_encode(self.events[f"s{slot}"].combine_chunks())
            values = encoded.dictionary.to_pylist()
            self.encoded[slot] = values, pc.fill_null(encoded.indices, len(values)).to_numpy()
        return self.encoded[slot]

    def properties(self, run: np.ndarray, declared: tuple) -> list[dict]:
        """One properties dict per event of the run (events of one type)."""
        if not declared:
            return [_NO_PROPERTIES] * len(run)
        names = [name for name, _ in declared]
        if len(declared) == 1 and self.layout.slots[declared[0][1]] != "list":
            values, codes = self.codes(declared[0][1])
            codes = codes[run]
            shared = np.empty(len(values) + 1, object)
            used = np.flatnonzero(np.bincount(codes, minlength=len(values) + 1))
            shared[used] = [{names[0]: values[k] if k < len(values) else None} for k in used.tolist()]
            return shared[codes].tolist()
        columns = []
        for _, slot in declared:
            column = self.events[f"s{slot}"].take(run).to_pylist()
            columns.append([None if v is None else tuple(v) for v in column]
                           if self.layout.slots[slot] == "list" else column)
        shared_rows: dict = {}
        return [shared_rows.get(row) or shared_rows.setdefault(row, dict(zip(names, row))) for row in zip(*columns)]

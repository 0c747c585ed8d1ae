"""Phase 2 of batch scoring: one bucket's leads and events -> one output row per lead.

The bucket's tables are turned into the runtime's representation column-wise: the events are
sorted by (type, lead, time) with numpy, so each event type is one run of rows and each
lead's events of that type a slice of it; property dicts are shared between events with equal
properties (the generated scorer only reads them). Then the backend scores them all
(`Backend.evaluate_many`: the Python backend runs its compiled function once per lead); the
rows are formatted column by column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..scored import ScoredLeads
from ..tables import gc_paused, overflowed_lead, repeated_lead, unknown_lead
from .spill import Layout

_NO_EVENTS: list = []        # shared by every lead without events of a type: nothing writes to it
_NO_PROPERTIES: dict = {}


@dataclass(frozen=True)
class Setup:
    """What scoring any bucket needs: the same for all buckets of a run."""

    layout: Layout
    backend: Any           # api.Backend: its evaluate_many scores a bucket's prepared leads
    instant: float         # the as-of instant, epoch seconds
    explain: bool
    format_rows: Callable  # (lead ids, their ScoredLeads) -> output lines
    keep: int              # examples kept per kind of problem
    blocks: tuple[int, ...] = ()   # positions of the scores with rules: missing only when too large


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
    fields = lead_fields(leads, setup.layout)

    lead_of = pc.index_in(events["id"], value_set=ids)
    if lead_of.null_count:
        unknown = pc.is_null(lead_of)
        _note(problems, "unknown_lead", events["pos"].filter(unknown), events["id"].filter(unknown), unknown_lead,
              setup.keep)
    known = pc.is_valid(lead_of)
    usable = pc.and_(known, pc.less_equal(events["at"], setup.instant))
    later = pc.sum(pc.and_(known, pc.invert(usable))).as_py() or 0
    scored = pc.indices_nonzero(usable).to_numpy()   # indices: the events table is not copied
    grouped = _grouped(events, scored, pc.fill_null(lead_of, 0).to_numpy(), len(ids), setup.layout)

    results = setup.backend.evaluate_many(fields, grouped, setup.instant, setup.explain)
    if setup.blocks:
        _note_overflow(problems, results, leads["pos"], ids, setup)
    return Scored(leads["pos"].to_pylist(), setup.format_rows(ids.to_pylist(), results), problems, len(scored),
                  later)


def _note_overflow(problems: dict, results: ScoredLeads, positions: pa.ChunkedArray, ids: pa.Array,
                   setup: Setup) -> None:
    """Leads whose points added up past the largest float: their score is written as missing,
    and counted here so that no number disappears without a word."""
    over = [k for k, scores in enumerate(results.scores) if any(scores[b] is None for b in setup.blocks)]
    if over:
        chosen = pa.array(over)
        _note(problems, "score_overflow", positions.take(chosen), ids.take(chosen), overflowed_lead, setup.keep)


def _note(problems: dict, kind: str, positions, ids, reason: Callable, keep: int) -> None:
    examples = [(position, reason(lead)) for position, lead in
                zip(positions.slice(0, keep).to_pylist(), ids.slice(0, keep).to_pylist())]
    problems[kind] = (len(positions), examples)


def lead_fields(leads: pa.Table, layout: Layout) -> list[dict]:
    """Each lead's fields in the runtime's representation (lists as tuples), one new dict per
    lead (the simulator changes them as the field history goes)."""
    columns = []
    for k, (_, ftype) in enumerate(layout.fields):
        values = leads[f"f{k}"].to_pylist()
        columns.append([None if v is None else tuple(v) for v in values] if ftype == "list" else values)
    if not columns:
        return [{} for _ in range(leads.num_rows)]
    return list(map(_dict_maker(tuple(name for name, _ in layout.fields)), *columns))


def _dict_maker(keys: tuple[str, ...]) -> Callable:
    """A function of one argument per key that returns {keys[0]: first argument, ...}. A dict
    display with constant keys is built at its final size in one step: about twice as fast as
    dict(zip(keys, values)), and it runs for every lead."""
    values = [f"v{k}" for k in range(len(keys))]
    return eval(f"lambda {', '.join(values)}: {{{', '.join(f'{key!r}: {v}' for key, v in zip(keys, values))}}}")


def _grouped(events: pa.Table, scored: np.ndarray, lead_of: np.ndarray, leads: int, layout: Layout) -> list[dict]:
    """Each lead's events as the scorer takes them, from the rows `scored` of `events` (lead_of:
    each row's lead number): type -> [(at, properties)] in time order, equal times in file order."""
    if not layout.events:
        return [{} for _ in range(leads)]
    types, at = events["type"].to_numpy(), events["at"].to_numpy()
    order = scored[_time_order(at[scored])]
    # Stable sorts of small integers are radix sorts in numpy: lead, then type, keep time order.
    order = order[np.argsort(_narrow(lead_of[order], leads), kind="stable")]
    order = order[np.argsort(_narrow(types[order], len(layout.events)), kind="stable")]
    # The (type, lead) cells in that order: each cell's events are one slice of `pairs`.
    counts = np.bincount(types[order].astype(np.int64) * leads + lead_of[order], minlength=len(layout.events) * leads)
    stops = np.cumsum(counts)
    runs = stops[leads - 1::leads].tolist() if leads else [0] * len(layout.events)   # where each type ends
    slots = _Slots(events, layout)
    properties = chain.from_iterable(slots.properties(order[start:end], layout.declared[code])
                                     for code, (start, end) in enumerate(zip([0, *runs[:-1]], runs)))
    pairs = list(zip(at[order].tolist(), properties))
    # One list per cell with events (each starts where the previous one ends); the empty cells all
    # share _NO_EVENTS.
    filled = np.flatnonzero(counts)
    ends = stops[filled].tolist()
    cells = np.empty(len(counts), object)
    cells.fill(_NO_EVENTS)
    cells[filled] = np.fromiter(map(pairs.__getitem__, map(slice, [0, *ends[:-1]], ends)), object, len(ends))
    return list(map(_dict_maker(layout.events), *cells.reshape(len(layout.events), leads).tolist()))


def _time_order(at: np.ndarray) -> np.ndarray:
    """Indices that sort `at`, equal times in file order. The unstable sort is several times
    faster (SIMD); the runs of equal times it may have shuffled are put back in order."""
    order = np.argsort(at)
    ordered = at[order]
    ties = np.flatnonzero(ordered[1:] == ordered[:-1])   # k: the k-th and (k+1)-th times are equal
    if len(ties):
        where = np.union1d(ties, ties + 1)                 # the places in runs of equal times
        run = np.cumsum(~np.isin(where - 1, ties))         # a new run: not tied to the place before
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

"""The running sums of engines/sql/instants.py from its `terms`: per event, the running sum (or
maximum) of each term over its lead's events up to it, in numpy, read by instant_values.py.

An SQL window function does the same at a few million rows a second per column in DuckDB,
which made it most of a replay's cost (docs/engines.md, "Speed"). Here each lead's sum is
accumulated in event order, one addition after another as the Python scorer does: short
leads a place at a time for all of them at once, a long lead with one accumulate call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..engines.sql.instants import CARRIED_BLOCKS, RunningColumn

_SHORT = 64   # leads with more events than this are accumulated one lead at a time


@dataclass(frozen=True)
class Running:
    """Per event of the bucket's declared types, in (lead, at, seq) order: its lead and time,
    and each running column up to it (`columns`: the sums and latest values, and <name>_q1,
    <name>_q2 for a block-restarting sum, absent when every lead's events lie in one block, so
    that they are all 0; `blocks`: hb<group>). Every array has one more item at the end, what an
    instant before a lead's first event reads (index -1): 0 for a sum, NaN for a latest value
    (no match yet) and a block."""

    lead: np.ndarray
    at: np.ndarray
    pairs: np.ndarray             # lead_time_pairs(lead, at): what an instant's event is searched in
    columns: dict[str, np.ndarray]
    blocks: dict[int, np.ndarray]


def running_arrays(terms: pa.Table, columns: tuple[RunningColumn, ...], groups: int) -> Running:
    """`terms` (lead, pos, at_s, hb<group>..., one column per term) -> `Running`."""
    order = np.argsort(terms["pos"].to_numpy(), kind="stable")
    if np.all(order[1:] > order[:-1]):   # already in `pos` order: no copies
        order = slice(None)
    lead = terms["lead"].to_numpy()[order]
    at = terms["at_s"].to_numpy()[order]
    leads = _starts(lead, None)
    blocks = {g: terms[f"hb{g}"].to_numpy(zero_copy_only=False)[order] for g in range(groups)}
    raw = {c.name: terms[c.name].to_numpy(zero_copy_only=False)[order] for c in columns if not c.matches}
    first = np.repeat(leads[:-1], np.diff(leads))   # each row's lead's first row
    places = np.arange(len(lead))
    out: dict[str, np.ndarray] = {}
    for column in columns:
        if column.matches:
            matched = raw[column.matches[0]] != 0
            for name in column.matches[1:]:
                matched |= raw[name] != 0
            if column.latest:
                out[column.name] = np.append(at, np.nan)[_latest_rows(matched, first, places)]
            else:
                counts = np.cumsum(matched, dtype=np.int64)
                counts -= np.where(first > 0, counts[first - 1], 0)
                out[column.name] = np.append(counts.astype(np.float64), 0.0)
        elif column.latest:
            values = raw[column.name]
            out[column.name] = np.append(values, np.nan)[_latest_rows(~np.isnan(values), first, places)]
    for group in (None, *range(groups)):
        summed = [c for c in columns if c.group == group and not c.latest and not c.matches]
        if not summed:
            continue
        mine = [c.name for c in summed]
        # one row more, the value before any event: 0
        values = np.zeros((len(lead) + 1, len(mine)))
        for k, name in enumerate(mine):
            values[:-1, k] = raw[name]
        np.copyto(values, 0.0, where=np.isnan(values))   # NULL adds nothing, as in SQL
        starts = leads if group is None else _starts(lead, blocks[group])
        whole = np.array([c.whole is not None and c.whole * len(lead) < 2.0 ** 53 for c in summed])
        with np.errstate(over="ignore"):   # past the largest double: inf, and the score is missing
            if whole.all():
                found = _counted(values, starts)
            elif not whole.any():
                found = _scan(values, starts)
            else:
                found = values
                found[:, whole] = _counted(values[:, whole], starts)
                found[:, ~whole] = _scan(values[:, ~whole], starts)
        for k, name in enumerate(mine):
            out[name] = found[:, k]
        if group is None or len(starts) == len(leads):
            # no block-restarting sum, or each lead's events lie in one block (a block is 540
            # half-lives: years): every earlier block's total is 0
            continue
        for d, totals in enumerate(_previous_totals(lead, blocks[group], starts, found[:-1]), start=1):
            for k, name in enumerate(mine):
                out[f"{name}_q{d}"] = np.append(totals[:, k], 0.0)
    return Running(lead, at, lead_time_pairs(lead, at), out,
                   {g: np.append(block.astype(np.float64), np.nan) for g, block in blocks.items()})


def _latest_rows(has: np.ndarray, first: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Per row, its lead's latest row up to it that `has` a value (-1: none), then -1: what a
    latest-value column reads. The terms are event times, which do not decrease along a lead:
    the latest value is also their running maximum."""
    rows = np.where(has, places, -1)
    np.maximum.accumulate(rows, out=rows)
    rows[rows < first] = -1   # the latest is another lead's
    return np.append(rows, -1)


def _counted(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The running sums of whole-number columns (rows, then one row of 0) along each run, in
    place: one cumulative sum of all rows, each run's first row less the previous run's total.
    Every partial sum is a whole number below 2^53, exact, so this equals adding one term after
    another."""
    runs = starts[:-1]
    if len(runs) > 1:
        values[runs[1:]] -= np.add.reduceat(values[:-1], runs, axis=0)[:-1]
    np.cumsum(values[:-1], axis=0, out=values[:-1])
    return values


def _starts(lead: np.ndarray, block: np.ndarray | None) -> np.ndarray:
    """The first row of each run of equal (lead, block), and len(lead) at the end."""
    n = len(lead)
    new = np.ones(n, bool)
    if n:
        new[1:] = lead[1:] != lead[:-1]
        if block is not None:
            new[1:] |= block[1:] != block[:-1]
    return np.append(np.flatnonzero(new), n)


def _scan(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The running sums along each run of rows starting at `starts`, one addition after another,
    in place: place p of every run is summed before it is overwritten."""
    found = values
    lengths = np.diff(starts)
    short = lengths <= _SHORT
    first = starts[:-1][short]
    for place in range(1, int(lengths[short].max(initial=1))):
        rows = first[lengths[short] > place] + place
        found[rows] = found[rows - 1] + values[rows]
    for start, end in zip(starts[:-1][~short], starts[1:][~short]):
        np.add.accumulate(values[start:end], axis=0, out=found[start:end])
    return found


def _previous_totals(lead: np.ndarray, block: np.ndarray, starts: np.ndarray, found: np.ndarray):
    """Per row and per d = 1, 2: the totals of its lead's block `block - d` (0 when it has no
    events there)."""
    first, last = starts[:-1], starts[1:] - 1
    run_lead, run_block, totals = lead[first], block[first], found[last]
    run_of_row = np.repeat(np.arange(len(first)), np.diff(starts))
    for d in range(1, CARRIED_BLOCKS + 1):
        found_d = np.zeros_like(found)
        for back in range(1, d + 1):   # runs are in (lead, block) order: block - d is at most d back
            candidate = run_of_row - back
            ok = candidate >= 0
            ok[ok] = (run_lead[candidate[ok]] == lead[ok]) & (run_block[candidate[ok]] == block[ok] - d)
            found_d[ok] = totals[candidate[ok]]
        yield found_d


def lead_time_pairs(lead: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(lead, at) pairs as complex numbers, which numpy orders as pairs: one binary search finds
    a lead's last row at or before a time; lead numbers are below 2^53, exact as doubles."""
    pairs = np.empty(len(lead), np.complex128)   # set apart: 1j * inf would be nan + inf j
    pairs.real, pairs.imag = lead, at
    return pairs

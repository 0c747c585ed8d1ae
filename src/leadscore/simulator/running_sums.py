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
    and each running column up to it (`columns`: the sums, a rule's match counts (integers) and
    latest values, and <name>_q1, <name>_q2 for a block-restarting sum, absent when every lead's
    events lie in one block, so that they are all 0; `blocks`: hb<group>). Every array has one more item at the end, what an
    instant before a lead's first event reads (index -1): 0 for a sum, NaN for a latest value
    (no match yet) and a block.

    A rule's latest match time is read at a few instants only (a window holding one match), so
    it is found at those instead of kept per event (`latest_matches`, read with `read`)."""

    lead: np.ndarray
    at: np.ndarray
    pairs: np.ndarray             # lead_time_pairs(lead, at): what an instant's event is searched in
    columns: dict[str, np.ndarray]
    blocks: dict[int, np.ndarray]
    latest_matches: dict[str, LatestMatch]

    def read(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Running column `name` at `rows` (-1: before the lead's first event)."""
        column = self.columns.get(name)
        if column is not None:
            return gather(column, rows)
        return self.latest_matches[name].at(self, rows)


@dataclass(frozen=True)
class LatestMatch:
    """The time of a lead's latest match up to an event, from the matches of the whole bucket:
    up to row r there are `overall[r]` of them, the last one at row matches[overall[r] - 1],
    which is the lead's when its lead has one (`per_lead[r]`, its count column, is not 0)."""

    overall: np.ndarray           # per row, the matches up to it in the bucket (integers), then 0
    per_lead: np.ndarray          # per row, the matches up to it in its lead, then 0
    matches: np.ndarray           # the matching rows

    def at(self, running: Running, rows: np.ndarray) -> np.ndarray:
        if not len(self.matches):
            return np.full(len(rows), np.nan)
        last = gather(self.matches, gather(self.overall, rows) - 1)   # none: any row, refused below
        return np.where(gather(self.per_lead, rows) > 0, gather(running.at, last), np.nan)


def running_arrays(terms: pa.Table, columns: tuple[RunningColumn, ...], groups: int) -> Running:
    """`terms` (lead, pos, at_s, hb<group>..., one column per term) -> `Running`."""
    order = np.argsort(terms["pos"].to_numpy(), kind="stable")
    if np.all(order[1:] > order[:-1]):   # already in `pos` order: no copies
        order = slice(None)
    lead = terms["lead"].to_numpy()[order]
    n = len(lead)
    at = _with_last(terms["at_s"].to_numpy()[order], np.nan)   # the latest columns read item -1: NULL
    leads = _starts(lead, None)
    blocks = {g: terms[f"hb{g}"].to_numpy(zero_copy_only=False)[order] for g in range(groups)}
    first = np.repeat(leads[:-1], np.diff(leads))   # each row's lead's first row
    places = np.arange(n)
    out: dict[str, np.ndarray] = {}
    latest_matches: dict[str, LatestMatch] = {}
    # a rule's count and latest match share its matches and their cumulative count
    counted: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for column in columns:
        if column.matches:
            found = counted.get(column.matches)
            if found is None:
                has = _matched(terms, column.matches, order)
                found = counted[column.matches] = (has, *_match_counts(has, leads))
            has, overall, per_lead = found
            if column.latest:
                latest_matches[column.name] = LatestMatch(overall, per_lead, np.flatnonzero(has))
            else:
                out[column.name] = per_lead
        elif column.latest:
            values = _with_last(terms[column.name].to_numpy(zero_copy_only=False)[order], np.nan)
            out[column.name] = gather(values, _latest_rows(~np.isnan(values[:-1]), first, places))
    for group in (None, *range(groups)):
        summed = [c for c in columns if c.group == group and not c.latest and not c.matches]
        if not summed:
            continue
        mine = [c.name for c in summed]
        # one row more, the value before any event: 0
        values = np.zeros((n + 1, len(mine)))
        for k, name in enumerate(mine):
            values[:-1, k] = terms[name].to_numpy(zero_copy_only=False)[order]
        np.copyto(values, 0.0, where=np.isnan(values))   # NULL adds nothing, as in SQL
        starts = leads if group is None else _starts(lead, blocks[group])
        whole = np.array([c.whole is not None and c.whole * n < 2.0 ** 53 for c in summed])
        with np.errstate(over="ignore"):   # past the largest double: inf, and the score is missing
            if whole.all():
                found = _counted(values, starts)
            elif not whole.any():
                found = _scan(values, starts)
            else:
                found = values
                found[:, whole] = _counted(values[:, whole], starts)
                # a choice of columns is not C-ordered, and a take from such an array copies it whole
                found[:, ~whole] = _scan(np.ascontiguousarray(values[:, ~whole]), starts)
        # each column contiguous: an instant's gather from a strided column took ten times longer
        found = np.ascontiguousarray(found.T)
        for k, name in enumerate(mine):
            out[name] = found[k]
        if group is None or len(starts) == len(leads):
            # no block-restarting sum, or each lead's events lie in one block (a block is 540
            # half-lives: years): every earlier block's total is 0
            continue
        for d, totals in enumerate(_previous_totals(lead, blocks[group], starts, found[:, :-1]), start=1):
            for k, name in enumerate(mine):
                out[f"{name}_q{d}"] = np.append(totals[k], 0.0)
    return Running(lead, at[:-1], lead_time_pairs(lead, at[:-1]), out,
                   {g: _with_last(block.astype(np.float64), np.nan) for g, block in blocks.items()}, latest_matches)


def _with_last(values: np.ndarray, last: float) -> np.ndarray:
    """`values` as doubles with one more item, `last`: what an instant before a lead's first
    event reads (index -1)."""
    found = np.empty(len(values) + 1)
    found[:-1] = values
    found[-1] = last
    return found


def _matched(terms: pa.Table, names: tuple[str, ...], order) -> np.ndarray:
    """Per row, whether any of the terms `names` matched (is not 0)."""
    found = None
    for name in names:
        mine = terms[name].to_numpy(zero_copy_only=False)[order] != 0
        found = mine if found is None else np.logical_or(found, mine, out=found)
    return found


def _match_counts(has: np.ndarray, leads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, how many rows up to it `has`, in the bucket and in its lead, then 0: integers,
    32 bits while they fit (numpy's cumulative sum of 32-bit integers is several times faster
    than of 64-bit ones or doubles)."""
    kind = np.int32 if len(has) < 2 ** 31 else np.int64
    overall = np.empty(len(has) + 1, kind)
    overall[-1] = 0
    np.cumsum(has, dtype=kind, out=overall[:-1])
    per_lead = overall.copy()
    runs = leads[:-1]
    if len(runs) > 1:
        before = np.zeros(len(runs), kind)
        before[1:] = overall[runs[1:] - 1]
        per_lead[:-1] -= np.repeat(before, np.diff(leads))
    return overall, per_lead


def gather(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """column[rows], rows in [-1, len(column)): "wrap" reads -1 as the last item, as indexing
    does, and is several times faster than indexing or take's default mode."""
    return np.take(column, rows, mode="wrap")


def _latest_rows(has: np.ndarray, first: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Per row, its lead's latest row up to it that `has` a value (-1: none), then -1: what a
    latest-value column reads. The terms are event times, which do not decrease along a lead:
    the latest value is also their running maximum."""
    rows = np.full(len(has) + 1, -1)
    np.copyto(rows[:-1], places, where=has)
    np.maximum.accumulate(rows[:-1], out=rows[:-1])
    rows[:-1][rows[:-1] < first] = -1   # the latest is another lead's
    return rows


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
    in place: place p of every run is summed before it is overwritten. The short runs longest
    first, so that the runs with a place p are the first ones."""
    lengths = np.diff(starts)
    short = lengths <= _SHORT
    by_length = np.argsort(-lengths[short], kind="stable")
    first, longest_first = starts[:-1][short][by_length], lengths[short][by_length]
    places = int(longest_first[0]) if len(longest_first) else 0
    runs = np.searchsorted(-longest_first, -np.arange(places))   # per place p, the runs longer than p
    for place in range(1, places):
        rows = first[:runs[place]] + place
        # take: twice as fast as indexing with an array
        values[rows] = np.take(values, rows - 1, axis=0) + np.take(values, rows, axis=0)
    for start, end in zip(starts[:-1][~short], starts[1:][~short]):
        np.add.accumulate(values[start:end], axis=0, out=values[start:end])
    return values


def _previous_totals(lead: np.ndarray, block: np.ndarray, starts: np.ndarray, found: np.ndarray):
    """Per d = 1, 2, per column (`found`: one row per column) and item: the total of the item's
    lead's block `block - d` (0 when it has no events there)."""
    first, last = starts[:-1], starts[1:] - 1
    run_lead, run_block, totals = lead[first], block[first], found[:, last]
    run_of_row = np.repeat(np.arange(len(first)), np.diff(starts))
    for d in range(1, CARRIED_BLOCKS + 1):
        found_d = np.zeros_like(found)
        for back in range(1, d + 1):   # runs are in (lead, block) order: block - d is at most d back
            candidate = run_of_row - back
            ok = candidate >= 0
            ok[ok] = (run_lead[candidate[ok]] == lead[ok]) & (run_block[candidate[ok]] == block[ok] - d)
            found_d[:, ok] = totals[:, candidate[ok]]
        yield found_d


def lead_time_pairs(lead: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(lead, at) pairs as complex numbers, which numpy orders as pairs: one binary search finds
    a lead's last row at or before a time; lead numbers are below 2^53, exact as doubles."""
    pairs = np.empty(len(lead), np.complex128)   # set apart: 1j * inf would be nan + inf j
    pairs.real, pairs.imag = lead, at
    return pairs

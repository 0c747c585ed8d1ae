"""The `running` relation of engines/sql/instants.py from its `terms`: per event, the running
sum (or maximum) of each term over its lead's events up to it, in numpy.

An SQL window function does the same at a few million rows a second per column in DuckDB,
which made it most of a replay's cost (docs/engines.md, "Speed"). Here each lead's sum is
accumulated in event order, one addition after another as the Python scorer does: short
leads a place at a time for all of them at once, a long lead with one accumulate call.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..engines.sql.instants import CARRIED_BLOCKS, RunningColumn

_SHORT = 64   # leads with more events than this are accumulated one lead at a time


def running_table(terms: pa.Table, columns: tuple[RunningColumn, ...], groups: int) -> pa.Table:
    """`terms` (lead, pos, hb<group>..., one column per term) -> `running`: lead, pos, hb<group>...,
    each column's running sum or maximum, and for a block-restarting sum <name>_q1 and
    <name>_q2: the totals of the lead's two blocks before the event's."""
    order = np.argsort(terms["pos"].to_numpy(), kind="stable")
    lead = terms["lead"].to_numpy()[order]
    out: dict[str, pa.Array] = {"lead": pa.array(lead), "pos": pa.array(terms["pos"].to_numpy()[order])}
    blocks = {g: terms[f"hb{g}"].to_numpy(zero_copy_only=False)[order] for g in range(groups)}
    for g, block in blocks.items():
        out[f"hb{g}"] = pa.array(block)
    for group in (None, *range(groups)):
        for latest in (False, True):
            mine = [c.name for c in columns if c.group == group and c.latest == latest]
            if not mine:
                continue
            values = np.column_stack([terms[n].to_numpy(zero_copy_only=False)[order].astype(np.float64) for n in mine])
            if not latest:   # a NULL term adds nothing, as in SQL's sum
                values = np.where(np.isnan(values), 0.0, values)
            starts = _starts(lead, None if group is None else blocks[group])
            with np.errstate(over="ignore"):   # past the largest double: inf, and the score is missing
                found = _scan(values, starts, np.fmax if latest else np.add)
            found = np.ascontiguousarray(found.T)    # each column's values together, for Arrow
            for k, name in enumerate(mine):
                out[name] = pa.array(found[k], from_pandas=True)   # NaN (no match yet): NULL
            if group is None:
                continue
            if len(starts) - 1 == len(_starts(lead, None)) - 1:
                # each lead's events lie in one block (a block is 540 half-lives: years), so
                # every earlier block's total is 0
                zeros = pa.array(np.zeros(len(lead)))
                for d in range(1, CARRIED_BLOCKS + 1):
                    for name in mine:
                        out[f"{name}_q{d}"] = zeros
                continue
            for d, totals in enumerate(_previous_totals(lead, blocks[group], starts, found.T), start=1):
                for k, name in enumerate(mine):
                    out[f"{name}_q{d}"] = pa.array(totals[:, k])
    return pa.table(out)


def _starts(lead: np.ndarray, block: np.ndarray | None) -> np.ndarray:
    """The first row of each run of equal (lead, block), and len(lead) at the end."""
    n = len(lead)
    new = np.ones(n, bool)
    if n:
        new[1:] = lead[1:] != lead[:-1]
        if block is not None:
            new[1:] |= block[1:] != block[:-1]
    return np.append(np.flatnonzero(new), n)


def _scan(values: np.ndarray, starts: np.ndarray, op: np.ufunc) -> np.ndarray:
    """op accumulated along each run of rows starting at `starts`, in row order."""
    found = values.copy()
    lengths = np.diff(starts)
    short = lengths <= _SHORT
    first = starts[:-1][short]
    for place in range(1, int(lengths[short].max(initial=1))):
        rows = first[lengths[short] > place] + place
        found[rows] = op(found[rows - 1], values[rows])
    for start, end in zip(starts[:-1][~short], starts[1:][~short]):
        found[start:end] = op.accumulate(values[start:end], axis=0)
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

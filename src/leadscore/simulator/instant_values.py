"""The value columns of the `instants` relation (engines/sql/instants.py): per (lead, instant),
each rule's sum over its window with its decay, each count and latest match, read off the
bucket's running sums (running_sums.py) with numpy.

Each instant reads a running column at the lead's last event at or before `t - age`, found by
one binary search per age; the decay factors of an instant are computed once per row. The
`instants` statement then applies the rules' own arithmetic (caps, groups, clamps, inactivity,
thresholds, segments) to these columns, on DuckDB or Spark.

A window holding one match of a decayed rule is valued as the Python scorer values it: its
points times the registry's decay factor at its age (`OneTerm`). The block and window sums
give that value only to a few units in the last place (at an event's own instant, 0.9999...
for 1), and a score Python lands on a round value would then be re-evaluated in Python
(duckdb_backend.near_round).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from .. import semantics as sem
from ..engines.sql.instants import (CARRIED_BLOCKS, HALF_LIFE_REACH, HALF_LIVES_PER_BLOCK, HalfLifeSum,
                                    InstantValue, LatestAt, LinearSum, OneTerm, WindowSum)
from .running_sums import Running, gather, lead_time_pairs

_BLOCK_STEP = 2.0 ** -HALF_LIVES_PER_BLOCK   # a block's sum brought to the next block's start: exact


def instant_values(values: tuple[InstantValue, ...], running: Running, leads: np.ndarray,
                   instants: np.ndarray) -> dict[str, pa.Array]:
    """Each value's column at the (leads[i], instants[i]) pairs; a latest time is NULL when there
    is none."""
    reader = _Reader(running, np.asarray(leads, np.int64), np.asarray(instants, np.float64))
    out: dict[str, pa.Array] = {}
    for value in values:
        match value:
            case WindowSum():
                found = reader.window_sum(value)
                out[value.name] = pa.array(np.rint(found).astype(np.int64) if value.whole else found)
            case LinearSum():
                out[value.name] = pa.array(reader.one_term(value.one, reader.linear(value)))
            case HalfLifeSum():
                out[value.name] = pa.array(reader.one_term(value.one, reader.half_life(value)))
            case LatestAt():
                out[value.name] = pa.array(reader.latest(value), from_pandas=True)   # NaN: NULL
            case _:
                raise TypeError(f"an instant value of unknown kind: {value!r}")
    return out


class _Reader:
    def __init__(self, running: Running, leads: np.ndarray, instants: np.ndarray) -> None:
        self.running, self.leads, self.now = running, leads, instants
        self._rows: dict[float, np.ndarray] = {}
        self._factors: dict[tuple[float, float], np.ndarray] = {}
        self._ahead: dict[tuple[int, float], tuple[np.ndarray, float | None]] = {}
        self._blocks: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def rows(self, age: float) -> np.ndarray:
        """Per instant, the running row of its lead's last event at or before t - age (-1, the
        arrays' last item, when none)."""
        found = self._rows.get(age)
        if found is None:
            running = self.running
            query = self.now - age if age else self.now
            candidate = np.searchsorted(running.pairs, lead_time_pairs(self.leads, query), side="right") - 1
            found = np.where((candidate >= 0) & (gather(running.lead, candidate) == self.leads), candidate, -1) \
                if len(running.lead) else np.full(len(self.leads), -1)
            found = self._rows[age] = found
        return found

    def at(self, name: str, age: float) -> np.ndarray:
        return self.running.read(name, self.rows(age))

    def span(self, name: str, low: float, high: float | None) -> np.ndarray:
        """The sum of term `name` over the events aged [low, high) seconds (high None: no limit)."""
        total = self.at(name, low)
        return total if high is None else total - self.at(name, high)

    def window_sum(self, value: WindowSum) -> np.ndarray:
        total = np.zeros(len(self.leads))
        for k, (low, high, factor) in enumerate(value.parts):
            part = self.span(value.term, low, high)
            part = part if factor == 1.0 else factor * part
            total = part if k == 0 else total + part
        return total

    def linear(self, value: LinearSum) -> np.ndarray:
        """Per parity q: Σ p × (1 - (t - o_q)/L) + Σ p × (at - o)/L, o_q the latest block start
        of parity q at or before t (module docstring of engines/sql/instants.py)."""
        length, now = value.length, self.now
        block, _ = self.blocks(length)
        total = None
        parities = float(len(value.parities))
        for q, (points, from_start) in enumerate(value.parities):
            shifted = block - q
            back = shifted - parities * np.floor(shifted / parities)
            start = (block - back) * length
            remaining = 1.0 - (now - start) / length
            part = self.span(points, 0.0, value.high) * remaining
            total = part if total is None else total + part
            total = total + self.span(from_start, 0.0, value.high)
        return total

    def half_life(self, value: HalfLifeSum) -> np.ndarray:
        """The blocks' sums at the instant, each anchored at its block's start and rescaled."""
        half = value.half
        size = HALF_LIVES_PER_BLOCK * half
        block, start = self.blocks(size)
        if value.within is None:   # the two blocks before the instant's, brought to its start exactly
            total = self.block_part(value, block, 0, 0.0)
            total = np.zeros(len(self.now)) if total is None else total
            for d in range(1, CARRIED_BLOCKS + 1):
                part = self.block_part(value, block, d, 0.0)
                if part is None:   # as usual: no events in the blocks before; adding 0 changes nothing
                    continue
                for _ in range(d):
                    part = part * _BLOCK_STEP
                total = total + part
            factor = self.factor(half, start, 0)
            return total * factor * factor
        high = min(HALF_LIFE_REACH * half, value.within)
        total = np.zeros(len(self.now))
        for d in range(math.ceil(high / size) + 1):   # the blocks the window can touch
            newest, oldest = self.block_part(value, block, d, 0.0), self.block_part(value, block, d, high)
            if newest is None and oldest is None:
                continue
            inside = -oldest if newest is None else newest if oldest is None else newest - oldest
            factor = self.factor(half, start - d * size, d)
            total = total + inside * factor * factor
        return total

    def blocks(self, size: float) -> tuple[np.ndarray, np.ndarray]:
        """Per instant, its block of `size` seconds and that block's start; once per size."""
        found = self._blocks.get(size)
        if found is None:
            block = np.floor(self.now / size)
            found = self._blocks[size] = (block, block * size)
        return found

    def block_part(self, value: HalfLifeSum, block: np.ndarray, back: int, age: float) -> np.ndarray | None:
        """The running sum of the block-restarting term over the instant's block less `back`, at
        the last event at or before t - age: 0 when that event is in another block; None when
        it is 0 at every instant."""
        rows = self.rows(age)
        ahead, level = self.ahead(value.group, block, age)
        if level is not None:   # every event read is the same number of blocks ahead: no masks
            d = int(level) + back
            column = self.running.columns.get(value.term + (f"_q{d}" if d else "")) \
                if 0 <= d <= CARRIED_BLOCKS else None
            return None if column is None else gather(column, rows)
        ahead = ahead + back if back else ahead
        found = None
        for d in range(CARRIED_BLOCKS + 1):
            column = self.running.columns.get(value.term + (f"_q{d}" if d else ""))
            if column is None:   # every lead's events lie in one block: 0
                continue
            mine = ahead == d
            if mine.any():
                found = np.zeros(len(rows)) if found is None else found
                found[mine] = column[rows[mine]]
        return found

    def ahead(self, group: int, block: np.ndarray, age: float) -> tuple[np.ndarray, float | None]:
        """Per instant, how many blocks its event read at age `age` is ahead of the instant's
        (NaN: no event), and that number when every event read has the same (None otherwise,
        or when no instant has an event). An instant with no event reads a running column's
        last item, 0, whatever the block, so it does not count."""
        key = (group, age)
        found = self._ahead.get(key)
        if found is None:
            ahead = gather(self.running.blocks[group], self.rows(age)) - block
            low, high = np.fmin.reduce(ahead, initial=np.inf), np.fmax.reduce(ahead, initial=-np.inf)
            found = self._ahead[key] = (ahead, float(low) if low == high else None)
        return found

    def factor(self, half: float, start: np.ndarray, back: int) -> np.ndarray:
        """2^((start - t)/2h): half the rescaling of a sum anchored at `start` to the instant, so
        neither half underflows before the product does; once per row, half-life and block."""
        key = (half, float(back))
        found = self._factors.get(key)
        if found is None:
            found = self._factors[key] = np.power(2.0, (start - self.now) / (2.0 * half))
        return found

    def one_term(self, one: OneTerm, found: np.ndarray) -> np.ndarray:
        """`found` (the caller's own new array, changed in place), with the rows whose window
        holds one match valued as Python values it."""
        single = np.flatnonzero(self.span(one.count, 0.0, one.high) == 1.0)
        if not len(single):
            return found
        latest = self.running.read(one.latest, gather(self.rows(0.0), single))
        age_days = (gather(self.now, single) - latest) / sem.DAY
        found[single] = one.points * sem.decay_vectorised(one.decay, age_days)
        return found

    def latest(self, value: LatestAt) -> np.ndarray:
        found = self.at(value.term, 0.0)
        if value.within is None:
            return found
        with np.errstate(invalid="ignore"):
            return np.where(found > self.now - value.within, found, np.nan)

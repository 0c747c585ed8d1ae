"""A lead's evaluation instants (docs/language.md), as arithmetic rather than lists.

A lead's instants are the distinct times of its events and every midnight UTC after its
first event or its creation, whichever is earlier, all before the replay's end. Midnights
are never listed: they are the multiples of a day between `first_midnight` and
`last_midnight`, and a replay asks only for the ones it needs.

Choice where the contract is silent: "after" is strict. A lead created exactly at midnight
is first scored at the next midnight (or at its first event); an event exactly at midnight
is an event instant anyway.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from ..semantics import DAY


def next_midnight(t: float) -> float:
    """The first midnight strictly after t."""
    return (t // DAY + 1) * DAY


def last_midnight_before(t: float) -> float:
    """The last midnight strictly before t."""
    return math.ceil(t / DAY) * DAY - DAY


def midnight_at_or_after(t: float) -> float:
    return math.ceil(t / DAY) * DAY


@dataclass(frozen=True, slots=True)
class Span:
    """One lead's instants: `first` and `last`, and its midnights (none when m0 > m1)."""

    first: float
    last: float
    m0: float        # first midnight
    m1: float        # last midnight


def lead_span(at: list[float], lo: int, hi: int, created: float | None, end: float) -> Span | None:
    """The instants of a lead whose events (all before `end`) are at[lo:hi]; None when it has
    no instant (no event and no creation before the end)."""
    origin = at[lo] if hi > lo else None
    if created is not None and (origin is None or created < origin):
        origin = created
    if origin is None or origin >= end:
        return None
    m0, m1 = next_midnight(origin), last_midnight_before(end)
    candidates = [at[lo]] if hi > lo else []
    if m0 <= m1:
        candidates.append(m0)
    if not candidates:
        return None
    last = max(at[hi - 1] if hi > lo else -math.inf, m1 if m0 <= m1 else -math.inf)
    return Span(min(candidates), last, m0, m1)


def first_at_or_after(span: Span, at: list[float], lo: int, hi: int, t: float) -> float | None:
    """The lead's first instant at or after t (the first in a window starting at t)."""
    found = []
    k = bisect_left(at, t, lo, hi)
    if k < hi:
        found.append(at[k])
    midnight = max(span.m0, midnight_at_or_after(t))
    if midnight <= span.m1:
        found.append(midnight)
    return min(found) if found else None


def instant_after_change(span: Span, at: list[float], lo: int, hi: int, t: float) -> float | None:
    """The first instant that sees a field change made at t (the change itself is no instant)."""
    if t <= span.first:
        return span.first
    return first_at_or_after(span, at, lo, hi, t)


def lead_times(bucket, end: float, start: float) -> dict[str, np.ndarray]:
    """Per lead of a bucket: its first instant, its first instant in [start, end), its last."""
    n = len(bucket)
    first, in_window, last = (np.full(n, np.nan) for _ in range(3))
    at, starts = bucket.at, bucket.starts
    for k in range(n):
        lo, hi = starts[k], starts[k + 1]
        span = lead_span(at, lo, hi, bucket.created[k], end)
        if span is None:
            continue
        first[k], last[k] = span.first, span.last
        found = first_at_or_after(span, at, lo, hi, start)
        if found is not None:
            in_window[k] = found
    return {"first": first, "first_in_window": in_window, "last": last}

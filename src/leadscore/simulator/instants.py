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
from .history import Bucket, event_arrays


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


@dataclass(frozen=True)
class Spans:
    """Every lead's instants in a bucket, as arrays (`lead_span` for all leads at once):
    `alive` where the lead has an instant, and there its `first` and `last` instant (NaN
    elsewhere); `m0` its first midnight and `m1` the last (the same for all): none when
    m0 > m1."""

    alive: np.ndarray
    first: np.ndarray
    last: np.ndarray
    m0: np.ndarray
    m1: float


def lead_spans(bucket: Bucket, end: float) -> Spans:
    events = event_arrays(bucket)
    starts, at = events.starts, events.at
    has_events = starts[1:] > starts[:-1]
    origin = np.full(len(bucket), np.inf)
    origin[has_events] = at[starts[:-1][has_events]]
    origin = np.fmin(origin, np.array(bucket.created, float))     # None: NaN, which fmin passes over
    m0, m1 = (np.floor(origin / DAY) + 1) * DAY, last_midnight_before(end)
    has_midnight = m0 <= m1
    alive = (origin < end) & (has_events | has_midnight)
    first = np.where(has_midnight, m0, np.inf)
    first[has_events] = np.minimum(first[has_events], at[starts[:-1][has_events]])
    last = np.full(len(bucket), -np.inf)
    last[has_events] = at[starts[1:][has_events] - 1]
    last = np.where(has_midnight, np.maximum(last, m1), last)
    return Spans(alive, np.where(alive, first, np.nan), np.where(alive, last, np.nan), m0, m1)


def lead_times(bucket: Bucket, end: float, start: float) -> dict[str, np.ndarray]:
    """Per lead of a bucket: its first instant, its first instant in [start, end), its last."""
    spans = lead_spans(bucket, end)
    events = event_arrays(bucket)
    lo, hi = events.starts[:-1], events.starts[1:]
    # a lead's events are in time order: those before `start` come first
    before = np.r_[0, np.cumsum(events.at < start)]
    k = lo + before[hi] - before[lo]
    event = np.full(len(bucket), np.inf)
    has_event = k < hi
    event[has_event] = events.at[k[has_event]]
    midnight = np.maximum(spans.m0, midnight_at_or_after(start))
    found = np.fmin(event, np.where(midnight <= spans.m1, midnight, np.inf))
    in_window = np.where(spans.alive & np.isfinite(found), found, np.nan)
    return {"first": spans.first, "first_in_window": in_window, "last": spans.last}

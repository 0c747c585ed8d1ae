"""Numeric lead fields in `calibrate`: quantile bins, counted as ranges, suggested as one `case`
rule per field (docs/calibrate.md, "Numeric fields")."""

from __future__ import annotations

import math

import numpy as np

from . import calibrate_rules as lang

BINS = 4     # quartiles


def edges(values: list[float], bins: int = BINS) -> list[float]:
    """The inner edges of `bins` quantile bins (linear interpolation, numpy's default), each above
    the smallest value and distinct, so that no bin is empty at its low end."""
    if not values:
        return []
    found = np.quantile(np.asarray(values, float), [i / bins for i in range(1, bins)])
    low = min(values)
    return sorted({_round(float(q)) for q in found if q > low})


def _round(value: float) -> float:
    """Six significant digits: an edge the reader can type back."""
    return float(f"{value:.6g}")


def ranges(values: list[float]) -> list[tuple[float | None, float | None]]:
    """[low, high) per bin, None for an open end, lowest first."""
    inner = edges(values)
    if not inner:
        return []      # one value: nothing to tell apart
    bounds = [None, *inner, None]
    return list(zip(bounds[:-1], bounds[1:]))


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2 ** 53 else repr(float(value))


def range_condition(field: str, low: float | None, high: float | None) -> str | None:
    """`F >= low and F < high`, either side left out when open."""
    name = lang.name_text(field)
    if name is None:
        return None
    parts = ([f"{name} >= {number_text(low)}"] if low is not None else []) + \
        ([f"{name} < {number_text(high)}"] if high is not None else [])
    return " and ".join(parts)


def count(pairs: list[tuple[float | None, bool]]) -> tuple[list[tuple[tuple, int, int]], int, int]:
    """(per range (low, high): leads, successes), and the leads and successes with no value."""
    values = [v for v, _ in pairs if v is not None and math.isfinite(v)]
    out = []
    for low, high in ranges(values):
        inside = [won for v, won in pairs if v is not None and (low is None or v >= low) and (high is None or v < high)]
        if inside:      # a range no lead falls in has no rate to give (its edges were rounded)
            out.append(((low, high), len(inside), sum(inside)))
    missing = [won for v, won in pairs if v is None or not math.isfinite(v)]
    return out, len(missing), sum(missing)


def case_lines(field: str, branches: list[tuple[float | None, float | None, int]]) -> list[str] | None:
    """A `case` rule's branches, highest range first (`+P if F >= low`), the lowest as
    `+P if F < high`: a lead with no value matches none and gets 0."""
    name = lang.name_text(field)
    if name is None or len(branches) < 2:
        return None
    lines = []
    for low, high, points in sorted(branches, key=lambda b: -math.inf if b[0] is None else b[0], reverse=True):
        condition = f"{name} >= {number_text(low)}" if low is not None else f"{name} < {number_text(high)}"
        lines.append(f"{lang.signed(points)} if {condition}")
    return lines

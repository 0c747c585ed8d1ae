"""The metrics of one threshold in one variant (docs/simulate.md), from per-lead columns.

Inputs are numpy arrays over the leads, nan where there is no such instant: the crossing
instant, the success (first outcome at the success stage), the lead's first instant in the
window. Each metric is filtered on the instant that defines it; a metric whose denominator
is 0 is None. Percentiles interpolate linearly between closest ranks (numpy's default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from ..semantics import DAY


@dataclass(frozen=True)
class Settings:
    start: float
    end: float
    horizon: float                   # seconds
    last_timestamp: float            # the latest timestamp of the history
    capacity: float | None = None
    target: int | None = None


@dataclass(frozen=True)
class Population:
    """What every threshold shares: one entry per lead."""

    success: np.ndarray              # first success instant, nan when none
    first_in_window: np.ndarray      # first instant in [start, end), nan when none
    lost: np.ndarray | None = None   # first instant at the lost stage, nan when none; None: no such stage
    amount: np.ndarray | None = None  # the amount of the success, nan when none; None: no amount at all

    def subset(self, members: np.ndarray) -> Population:
        return Population(self.success[members], self.first_in_window[members],
                          None if self.lost is None else self.lost[members],
                          None if self.amount is None else self.amount[members])


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _inside(values: np.ndarray, settings: Settings) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (values >= settings.start) & (values < settings.end)


def base_rate(population: Population, settings: Settings) -> tuple[int, int]:
    """(leads with an instant in the window that had not succeeded before it starts, those whose
    success lies within H after their first instant in the window). A lead won long before a late
    window is no candidate: counting it as a failure would make lift look better than it is."""
    s, f = population.success, population.first_in_window
    with np.errstate(invalid="ignore"):
        candidates = ~np.isnan(f) & ~(s < settings.start)
        good = candidates & (s >= f) & (s <= f + settings.horizon)
    return int(candidates.sum()), int(good.sum())


def present(population: Population) -> int:
    """Leads with an instant in the window: the top of the funnel."""
    return int((~np.isnan(population.first_in_window)).sum())


def threshold_metrics(crossing: np.ndarray, population: Population, settings: Settings) -> dict:
    s, horizon = population.success, settings.horizon
    crossed = _inside(crossing, settings)
    with np.errstate(invalid="ignore"):
        converted = crossed & (s >= crossing) & (s <= crossing + horizon)
        won = _inside(s, settings)
        flagged = won & (crossing <= s)
        censored = crossed & (crossing + horizon > settings.last_timestamp)
    n_crossed, n_converted = int(crossed.sum()), int(converted.sum())
    precision = _ratio(n_converted, n_crossed)
    leads, good = base_rate(population, settings)
    rate = _ratio(good, leads)
    lift = precision / rate if precision is not None and rate else None
    lead_times = (s[flagged] - crossing[flagged]) / DAY
    weekly = weekly_counts(crossing[crossed], settings)
    counts = np.array([n for _, n in weekly], float)
    out = {
        "crossed": n_crossed,
        "precision": precision,
        "recall": _ratio(int(flagged.sum()), int(won.sum())),
        "lift": lift,
        "base_rate": rate,
        "lead_time_median_days": _percentile(lead_times, 50),
        "lead_time_p90_days": _percentile(lead_times, 90),
        "censored": int(censored.sum()),
        "weekly_mean": float(counts.mean()) if len(counts) else None,
        "weekly_p90": _percentile(counts, 90),
        "weekly_max": int(counts.max()) if len(counts) else None,
        "weeks_over_capacity": None if settings.capacity is None else int((counts > settings.capacity).sum()),
        "weekly": [{"week": week, "crossed": n} for week, n in weekly],
        "funnel": funnel(present(population), n_crossed, n_converted, settings.target),
    }
    out["confusion"] = confusion(crossed, converted, won & ~flagged, population)
    out.update(decided(crossing, crossed, converted, population, settings))
    out.update(revenue(converted, crossed, flagged, won, population))
    return out


def confusion(crossed: np.ndarray, converted: np.ndarray, missed: np.ndarray, population: Population) -> dict:
    """Precision's and recall's own counts: true positives = crossed and successful within H,
    false positives = the other crossed leads (precision = tp / (tp + fp)); false negatives = the
    window's successes not crossed at or before them (recall = 1 - fn / successes in the window);
    true negatives = the other leads with an instant in the window."""
    present = ~np.isnan(population.first_in_window)
    return {"true_positives": int(converted.sum()), "false_positives": int((crossed & ~converted).sum()),
            "false_negatives": int(missed.sum()), "true_negatives": int((present & ~crossed & ~missed).sum())}


def decided(crossing: np.ndarray, crossed: np.ndarray, converted: np.ndarray, population: Population,
            settings: Settings) -> dict:
    """Crossed leads decided within H of crossing: a success there (precision's numerator), else
    a loss there; the rest are still open. Without a lost stage, all null."""
    if population.lost is None:
        return {"losses": None, "open": None, "decided_precision": None}
    with np.errstate(invalid="ignore"):
        lost = crossed & ~converted & (population.lost >= crossing) & (population.lost <= crossing + settings.horizon)
    successes, losses = int(converted.sum()), int(lost.sum())
    return {"losses": losses, "open": int(crossed.sum()) - successes - losses,
            "decided_precision": _ratio(successes, successes + losses)}


def revenue(converted: np.ndarray, crossed: np.ndarray, flagged: np.ndarray, won: np.ndarray,
            population: Population) -> dict:
    """The amounts of the successes after crossing (precision's numerator); the share of the
    window's revenue (successes in the window) that flagged leads (recall's numerator) brought;
    revenue per crossing. A success without an amount counts 0; with no amount at all, null."""
    if population.amount is None:
        return {"revenue": None, "revenue_recall": None, "revenue_per_crossing": None}
    amount = np.nan_to_num(population.amount, nan=0.0)
    total, n_crossed = float(amount[converted].sum()), int(crossed.sum())
    in_window = float(amount[won].sum())
    return {"revenue": total,
            "revenue_recall": float(amount[flagged].sum()) / in_window if in_window else None,
            "revenue_per_crossing": total / n_crossed if n_crossed else None}


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def iso_week(seconds: float) -> str:
    year, week, _ = datetime.fromtimestamp(seconds, timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def _week_index(seconds: np.ndarray | float):
    """Weeks since the Monday before the epoch (the epoch was a Thursday)."""
    return np.floor((np.floor(np.asarray(seconds) / DAY) + 3) / 7).astype(np.int64)


def weekly_counts(crossings: np.ndarray, settings: Settings) -> list[tuple[str, int]]:
    """Crossings per ISO week (Monday 00:00 UTC) overlapping [start, end), empty weeks included."""
    if settings.end <= settings.start:
        return []
    first, last = int(_week_index(settings.start)), int(_week_index(math.nextafter(settings.end, -math.inf)))
    counts = np.bincount(_week_index(crossings) - first, minlength=last - first + 1)
    monday = (first * 7 - 3) * DAY
    return [(iso_week(monday + 7 * DAY * k), int(n)) for k, n in enumerate(counts.tolist())]


def funnel(leads: int, crossed: int, converted: int, target: int | None) -> dict:
    """Leads with an instant in the window -> crossed -> successes within H of crossing."""
    out = {"leads": leads, "crossed": crossed, "successes": converted,
           "crossed_rate": _ratio(crossed, leads), "success_rate": _ratio(converted, crossed)}
    if target is not None:
        out["target"] = target
        # ceil(target / (converted / n)) in integers: in floats 15 / (3 / 11) is 55.00000000000001
        out["leads_needed"] = -(-target * leads // converted) if converted else None
        out["crossings_needed"] = -(-target * crossed // converted) if converted else None
    return out

"""How well a score ranks leads before any cut (docs/simulate.md, "Ranking power").

A lead's **peak** score in the window is the largest value the score takes at the lead's first
instant in the window and at each of its event instants in the window, up to and including
its success (what happens after a deal is won cannot rank it), to 9 decimals (so that every
engine ranks alike). The leads ranked are those of
the base rate: an instant in the window, no success before it starts; a lead is positive when
its success lies in [first, first + H], first being its first instant in the window. ROC and
precision-recall curves follow every distinct peak value taken as a cut (`peak >= cut`).
"""

from __future__ import annotations

import numpy as np

from .metrics import Population, Settings

CURVE_POINTS = 101          # at most this many points per curve in the result


def peak_scores(engine, bucket, plan, window, success: np.ndarray, first_in_window: np.ndarray,
                rows: list[int]) -> np.ndarray:
    """(leads, scores) peaks, nan for a lead not ranked or a score missing at every instant. Lead
    i of `success`/`first_in_window` is row rows[i] of `bucket` (-1: not in it). One bulk
    evaluation (`evaluate_many`) of every ranked lead's instants."""
    out = np.full((len(rows), len(plan.scores)), np.nan)
    rows = np.asarray(rows, np.int64).reshape(-1)
    with np.errstate(invalid="ignore"):
        ranked = (rows >= 0) & ~np.isnan(first_in_window) & ~(success < window.start)
    last = np.where(np.isnan(success), window.end, np.minimum(window.end, success))
    starts = np.asarray(bucket.starts, np.int64)
    at = np.asarray(bucket.at, float)
    output = np.full(len(bucket), -1, np.int64)      # bucket row -> its lead of `rows`
    output[rows[ranked]] = np.flatnonzero(ranked)
    owner = output[np.repeat(np.arange(len(bucket)), np.diff(starts))]
    safe = np.maximum(owner, 0)
    taken = (owner >= 0) & (at >= first_in_window[safe]) & (at <= last[safe]) & (at < window.end)
    lead = np.r_[np.flatnonzero(ranked), owner[taken]]
    instants = np.r_[first_in_window[ranked], at[taken]]
    order = np.lexsort((instants, lead))
    lead, instants = lead[order], instants[order]
    distinct = np.ones(len(lead), bool)
    distinct[1:] = (lead[1:] != lead[:-1]) | (instants[1:] != instants[:-1])
    lead, instants = lead[distinct], instants[distinct]
    found = engine.evaluate_many(bucket, plan, rows[lead], instants).scores
    np.fmax.at(out, lead, found)       # fmax: a missing score (nan) is passed over
    # peaks within 1e-9 of each other tie on every engine (SQL's arithmetic may differ from
    # Python's in the last bits, docs/engines.md)
    return np.round(out, 9)


def crossing_scores(engine, bucket, plan, window, crossings: np.ndarray, rows: list[int]) -> np.ndarray:
    """(leads, thresholds, scores): every score at each threshold's crossing in the window, nan
    when the lead does not cross there."""
    out = np.full((len(rows), len(plan.thresholds), len(plan.scores)), np.nan)
    rows = np.asarray(rows, np.int64).reshape(-1)
    with np.errstate(invalid="ignore"):
        inside = (rows[:, None] >= 0) & (crossings >= window.start) & (crossings < window.end)
    lead, threshold = np.nonzero(inside)
    if len(lead):
        out[lead, threshold] = engine.evaluate_many(bucket, plan, rows[lead], crossings[lead, threshold]).scores
    return out


def ranking(peaks: np.ndarray, population: Population, settings: Settings) -> dict:
    """ROC and precision-recall of one score's peaks: their areas and up to CURVE_POINTS points."""
    s, f = population.success, population.first_in_window
    with np.errstate(invalid="ignore"):
        ranked = ~np.isnan(f) & ~(s < settings.start) & ~np.isnan(peaks)
        positive = (s >= f) & (s <= f + settings.horizon)
    values, labels = peaks[ranked], positive[ranked]
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    out = {"leads": int(ranked.sum()), "positives": n_pos, "roc_auc": None, "pr_auc": None, "roc": [], "pr": []}
    if not n_pos or not n_neg:
        return out
    order = np.argsort(-values, kind="stable")
    values, labels = values[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(values)), len(values) - 1]
    tp = np.cumsum(labels)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    tpr, fpr, precision = tp / n_pos, fp / n_neg, tp / (tp + fp)
    # trapezoids from (0, 0): ties count half, as the Mann-Whitney statistic does
    out["roc_auc"] = float(np.trapezoid(np.r_[0.0, tpr], np.r_[0.0, fpr]))
    # average precision: each cut's precision weighted by the recall it adds
    out["pr_auc"] = float(np.sum(np.diff(np.r_[0.0, tpr]) * precision))
    cuts = values[last_of_tie]
    shown = np.unique(np.linspace(0, len(cuts) - 1, min(CURVE_POINTS, len(cuts))).round().astype(int))
    out["roc"] = [{"cut": _number(cuts[i]), "fpr": float(fpr[i]), "tpr": float(tpr[i])} for i in shown]
    out["pr"] = [{"cut": _number(cuts[i]), "recall": float(tpr[i]), "precision": float(precision[i])} for i in shown]
    return out


def _number(value: float):
    value = round(float(value), 6)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value

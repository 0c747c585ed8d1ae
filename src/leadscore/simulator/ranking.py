"""How well a score ranks leads before any cut (docs/simulate.md, "Ranking power").

A lead's **peak** score in the window is the largest value the score takes at the lead's first
instant in the window and at each of its event instants in the window, up to and including
its success (what happens after a deal is won cannot rank it). The leads ranked are those of
the base rate: an instant in the window, no success before it starts; a lead is positive when
its success lies in [first, first + H], first being its first instant in the window. ROC and
precision-recall curves follow every distinct peak value taken as a cut (`peak >= cut`).
"""

from __future__ import annotations

import math

import numpy as np

from .metrics import Population, Settings

CURVE_POINTS = 101          # at most this many points per curve in the result


def peak_scores(engine, bucket, plan, window, success: np.ndarray, first_in_window: np.ndarray,
                rows: list[int]) -> np.ndarray:
    """(leads, scores) peaks, nan for a lead not ranked or a score missing at every instant. Lead
    i of `success`/`first_in_window` is row rows[i] of `bucket` (-1: not in it)."""
    out = np.full((len(rows), len(plan.scores)), np.nan)
    at = bucket.at
    for i, k in enumerate(rows):
        first = first_in_window[i]
        if k < 0 or math.isnan(first) or success[i] < window.start:
            continue
        last = min(window.end, success[i]) if not math.isnan(success[i]) else window.end
        instants = {first}
        instants.update(t for t in at[bucket.starts[k]:bucket.starts[k + 1]] if first <= t <= last and t < window.end)
        values = [[math.nan if v is None else v for v in engine.evaluate_at(bucket, k, plan, t)[0]]
                  for t in sorted(instants)]
        with np.errstate(invalid="ignore"):
            found = np.array(values, float)
            out[i] = np.where(np.isnan(found).all(axis=0), np.nan, np.nanmax(np.where(np.isnan(found), -np.inf,
                                                                                    found), axis=0))
    return out


def crossing_scores(engine, bucket, plan, window, crossings: np.ndarray, rows: list[int]) -> np.ndarray:
    """(leads, thresholds, scores): every score at each threshold's crossing in the window, nan
    when the lead does not cross there."""
    out = np.full((len(rows), len(plan.thresholds), len(plan.scores)), np.nan)
    for i, k in enumerate(rows):
        if k < 0:
            continue
        for j in range(len(plan.thresholds)):
            at = crossings[i, j]
            if window.start <= at < window.end:
                out[i, j] = [math.nan if v is None else v for v in engine.evaluate_at(bucket, k, plan, float(at))[0]]
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

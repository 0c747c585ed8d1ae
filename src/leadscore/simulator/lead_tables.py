"""`simulate --leads-out` and `--flips-out`: the leads behind the numbers, as CSV text.

Lead ids, names and causes are written as data (the csv module quotes what needs it), in the
order of the leads file. Instants are ISO 8601 UTC with `Z`; an empty cell is "none".
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from .compare import CHANGE_WORDS, iso_time
from .run import Simulation

FLIP_COLUMNS = ("threshold", "lead_id", "change", "baseline_crossed_at", "candidate_crossed_at", "success_at",
                "amount", "cause")


def _rows(header: list[str], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _amount(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 2 ** 53 else repr(float(value))


def leads_csv(sim: Simulation) -> str:
    """One row per lead with an instant in the window: lead_id, each threshold's crossing instant
    (at or before the end, before the start too), per variant when there are two, its success
    and the amount of it."""
    prefix = len(sim.variants) > 1
    header = ["lead_id"]
    columns = []
    for variant, plan, outcome in zip(sim.variants, sim.plans, sim.outcomes):
        for i, threshold in enumerate(plan.thresholds):
            header.append(f"{variant.name}.{threshold}_crossed_at" if prefix else f"{threshold}_crossed_at")
            columns.append(outcome.crossings[:, i])
    header += ["success_at", "amount"]
    present = np.flatnonzero(~np.isnan(sim.first_in_window))
    present = present[np.argsort(sim.positions[present], kind="stable")]
    rows = ([sim.lead_ids[k], *(iso_time(c[k]) or "" for c in columns), iso_time(sim.success[k]) or "",
             _amount(sim.amount[k])] for k in present.tolist())
    return _rows(header, rows)


def flips_csv(sim: Simulation) -> str:
    """Every flipped lead, per threshold both variants declare, in the order of the leads file:
    the kind of flip, both crossings, its success and amount, and the cause (`; ` between
    its parts)."""
    kinds = {text: kind for kind, text in CHANGE_WORDS.items()}
    rows = []
    for threshold in sim.plans[-1].thresholds:
        for e in sim.flipped.get(threshold, []):
            rows.append([threshold, e["lead_id"], kinds.get(e["change"], e["change"]), e["baseline"] or "",
                         e["candidate"] or "", e["success_at"] or "", _amount(e["amount"]), "; ".join(e["cause"])])
    return _rows(list(FLIP_COLUMNS), rows)

"""`simulate --by`: every threshold metric per value of a lead field, or per cohort.

A lead's group is the text of its value in the leads table (today's value: the changes table
is not read for it), or with `cohort` (when the schema has no field of that name) the calendar
month of its first instant, `YYYY-MM` in UTC. A missing value is the group "". Each group's
metrics are the threshold's metrics computed on its leads alone, so lift is against the
group's own base rate.
"""

from __future__ import annotations

import math

import numpy as np

from ..compiler import runtime as rt
from .metrics import Population, Settings, present, threshold_metrics

COHORT = "cohort"
SHOWN = 10          # groups named in the text, Markdown and HTML tables; the rest are "other"


def group_text(value) -> str:
    """A field value as the name of its group: numbers as written (3, not 3.0), booleans
    true/false, datetimes ISO 8601 UTC, list items joined by `;` as in a CSV table."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return ""
        return str(int(value)) if float(value).is_integer() and abs(value) < 2 ** 53 else repr(float(value))
    if isinstance(value, tuple):
        return ";".join(group_text(v) for v in value)
    return str(value)


def _datetime_text(value) -> str:
    return "" if value is None else rt.from_epoch(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def cohort_text(first: float) -> str:
    return "" if math.isnan(first) else rt.from_epoch(first).strftime("%Y-%m")


def lead_groups(by: tuple[str, ...], fields: list[dict], types: dict[str, str], first: np.ndarray) -> list[list[str]]:
    """Per `--by` name, each lead's group (leads in the order of `fields`)."""
    out = []
    for name in by:
        if name not in types:
            out.append([cohort_text(float(t)) for t in first])
        elif types[name] == "datetime":
            out.append([_datetime_text(f.get(name)) for f in fields])
        else:
            out.append([group_text(f.get(name)) for f in fields])
    return out


def breakdown(crossing: np.ndarray, groups: np.ndarray, population: Population, settings: Settings,
              calendar: bool = False) -> tuple[dict, dict | None]:
    """(value -> metrics; the metrics of the leads outside the SHOWN largest groups, None when
    there are no more). A group counts when one of its leads has an instant in the window or a
    success in it (the others take part in no metric). Groups are ranked by leads with an instant
    in the window, then by value; cohorts (`calendar`) go in calendar order, all shown."""
    s, f = population.success, population.first_in_window
    with np.errstate(invalid="ignore"):
        counted = ~np.isnan(f) | ((s >= settings.start) & (s < settings.end))
    values, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(values) + 1))
    found = []
    for k, value in enumerate(values.tolist()):
        members = order[bounds[k]:bounds[k + 1]]
        if not counted[members].any():
            continue
        found.append((-present(population.subset(members)), value, members))
    found.sort(key=(lambda g: g[1]) if calendar else (lambda g: g[:2]))
    by = {value: threshold_metrics(crossing[members], population.subset(members), settings)
          for _, value, members in found}
    if calendar or len(found) <= SHOWN:
        return by, None
    rest = np.concatenate([members for _, _, members in found[SHOWN:]])
    return by, threshold_metrics(crossing[rest], population.subset(rest), settings)

"""Metrics (SIMULATION.md §3) against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from leadscore.simulator.metrics import Population, Settings, iso_week, threshold_metrics, weekly_counts
from test_simulator_support import ts

NAN = math.nan
DAY = 86400.0


def settings(**overrides) -> Settings:
    values = dict(start=ts("2026-01-05"), end=ts("2026-01-19"), horizon=10 * DAY, last_timestamp=ts("2026-01-25"),
                  capacity=1, target=10)
    values.update(overrides)
    return Settings(**values)


# L0 crosses in the window and succeeds 4 days later; L1 crosses, succeeds after the horizon
# (and after the end); L2 crossed before the window, succeeds in it; L3 never crosses,
# succeeds in the window; L4 crosses late (censored) and never succeeds.
CROSSING = np.array([ts("2026-01-06"), ts("2026-01-07"), ts("2026-01-04"), NAN, ts("2026-01-16")])
POPULATION = Population(
    success=np.array([ts("2026-01-10"), ts("2026-01-30"), ts("2026-01-12"), ts("2026-01-15"), NAN]),
    first_in_window=np.array([ts("2026-01-05T12:00:00"), ts("2026-01-06"), ts("2026-01-05"), ts("2026-01-08"),
                              ts("2026-01-14")]))


def test_every_metric_of_a_small_population():
    m = threshold_metrics(CROSSING, POPULATION, settings())
    assert m["crossed"] == 3
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(2 / 3)          # L0 and L2 (crossed before the window) of L0, L2, L3
    assert m["base_rate"] == pytest.approx(3 / 5)       # L0, L2, L3 succeed within 10 days of their first instant
    assert m["lift"] == pytest.approx((1 / 3) / (3 / 5))
    assert m["lead_time_median_days"] == pytest.approx(6.0)     # 4 and 8 days
    assert m["lead_time_p90_days"] == pytest.approx(7.6)        # 4 + 0.9 * (8 - 4)
    assert m["censored"] == 1
    assert m["weekly"] == [{"week": "2026-W02", "crossed": 2}, {"week": "2026-W03", "crossed": 1}]
    assert (m["weekly_mean"], m["weekly_p90"], m["weekly_max"]) == (1.5, pytest.approx(1.9), 2)
    assert m["weeks_over_capacity"] == 1
    assert m["funnel"] == {"leads": 5, "crossed": 3, "successes": 1, "crossed_rate": 0.6,
                           "success_rate": pytest.approx(1 / 3), "target": 10, "leads_needed": 50,
                           "crossings_needed": 30}


def test_a_zero_denominator_is_missing_not_zero():
    m = threshold_metrics(np.full(5, NAN), POPULATION, settings(capacity=None, target=None))
    assert m["crossed"] == 0
    assert m["precision"] is None and m["lift"] is None
    assert m["lead_time_median_days"] is None and m["lead_time_p90_days"] is None
    assert m["weeks_over_capacity"] is None
    assert "leads_needed" not in m["funnel"]
    nobody = Population(np.full(2, NAN), np.full(2, NAN))
    m = threshold_metrics(np.full(2, NAN), nobody, settings())
    assert m["recall"] is None and m["base_rate"] is None
    assert m["funnel"]["leads_needed"] is None


def test_precision_counts_a_success_at_the_crossing_and_at_the_horizon_but_not_before_crossing():
    crossing = np.array([ts("2026-01-06")] * 3)
    success = np.array([ts("2026-01-06"), ts("2026-01-16"), ts("2026-01-05")])
    m = threshold_metrics(crossing, Population(success, crossing), settings())
    assert m["precision"] == pytest.approx(2 / 3)


def test_the_window_is_half_open_on_the_instant_that_defines_each_metric():
    crossing = np.array([ts("2026-01-05"), ts("2026-01-19")])
    m = threshold_metrics(crossing, Population(np.full(2, NAN), crossing), settings())
    assert m["crossed"] == 1     # the start is in, the end is out


def test_weeks_overlapping_the_window_include_partial_and_empty_weeks():
    found = weekly_counts(np.array([ts("2026-01-01T10:00:00")]),
                          settings(start=ts("2025-12-31"), end=ts("2026-01-13T00:00:01")))
    assert found == [("2026-W01", 1), ("2026-W02", 0), ("2026-W03", 0)]
    assert iso_week(ts("2026-12-31")) == "2026-W53"

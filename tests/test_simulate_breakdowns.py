"""`simulate --by FIELD` and `--by cohort` (docs/simulate.md, "Breakdowns"): every threshold
metric per group, on the six-lead history of simulate_cli_support.py with lead fields added.

Lead fields (the events and outcomes are simulate_cli_support.py's; mql = interest >= 20):

lead  industry   employees  has_budget  created_at   mql crossing   success (won)
L1    Software   10         true                     01-06 10:00    01-16 10:00
L2    Software   200                                 01-07 12:00    —
L3    Retail     10                                  never          01-12 09:00
L4    —          5.5                                 01-13 08:00    01-15 20:00
L5    Retail     —                      2025-12-20   never          —
L6    Software   —                                   01-10 10:00    —

Window 2026-01-05 → 2026-01-21 (given: L5's creation would move the default start).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore.simulator.breakdowns as breakdowns
import leadscore.simulator.formatting as formatting
from leadscore.simulator.metrics import Population, Settings, threshold_metrics
from simulate_cli_support import BODY, EVENTS, OUTCOMES, invoke, loads
from test_simulator_support import history, ruleset

LEADS = [
    {"lead_id": "L1", "industry": "Software", "employees": 10, "has_budget": "true"},
    {"lead_id": "L2", "industry": "Software", "employees": 200},
    {"lead_id": "L3", "industry": "Retail", "employees": 10},
    {"lead_id": "L4", "employees": 5.5},
    {"lead_id": "L5", "industry": "Retail", "created_at": "2025-12-20T00:00:00Z"},
    {"lead_id": "L6", "industry": "Software"},
]
WINDOW = ("--start", "2026-01-05", "--end", "2026-01-21")


@pytest.fixture
def fielded(tmp_path: Path) -> tuple[Path, Path]:
    return ruleset(tmp_path / "rules", BODY), history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)


def report(rules: Path, folder: Path, *args) -> dict:
    result = invoke(rules, "--history", folder, "--format", "json", *WINDOW, *args)
    assert result.exit_code == 0, result.output
    return loads(result.stdout)


def by(found: dict, field: str, variant: str = "baseline") -> dict:
    return found["variants"][variant]["thresholds"]["mql"]["by"][field]


def test_every_threshold_metric_per_value_worked_out_by_hand(fielded):
    found = report(*fielded, "--by", "industry")
    mql = found["variants"]["baseline"]["thresholds"]["mql"]
    groups = by(found, "industry")
    # largest first (leads with an instant in the window), the missing value is ""
    assert list(groups) == ["Software", "Retail", ""]
    for metrics in groups.values():
        assert set(metrics) == set(mql) - {"by", "by_other"}
    software, retail, missing = groups["Software"], groups["Retail"], groups[""]
    # Software: L1, L2, L6 cross; only L1 succeeds after crossing -> 1/3; its one success (L1) was
    # flagged -> recall 1/1; base rate L1 of 3 -> 1/3, lift 1.
    assert (software["crossed"], software["precision"], software["recall"]) == (3, pytest.approx(1 / 3), 1.0)
    assert (software["base_rate"], software["lift"]) == (pytest.approx(1 / 3), pytest.approx(1.0))
    assert software["funnel"]["leads"] == 3 and software["funnel"]["successes"] == 1
    # Retail: nobody crosses; L3 succeeds unflagged -> recall 0/1; base rate L3 of 2.
    assert (retail["crossed"], retail["precision"], retail["recall"], retail["lift"]) == (0, None, 0.0, None)
    assert retail["base_rate"] == 0.5
    # no industry: L4 crosses 01-13 08:00 and succeeds 2.5 days later.
    assert (missing["crossed"], missing["precision"], missing["recall"], missing["base_rate"]) == (1, 1.0, 1.0, 1.0)
    assert missing["lead_time_median_days"] == pytest.approx(2.5)
    assert [w["crossed"] for w in software["weekly"]] == [3, 0, 0]     # W02: L1, L2, L6
    assert mql["by_other"] == {"industry": None}
    # the groups add up to the threshold
    assert sum(g["crossed"] for g in groups.values()) == mql["crossed"]
    assert sum(g["funnel"]["leads"] for g in groups.values()) == mql["funnel"]["leads"]


def test_numbers_and_booleans_are_grouped_as_written(fielded):
    found = report(*fielded, "--by", "employees", "--by", "has_budget")
    # "" (L5, L6) and "10" (L1, L3) tie on 2 leads: by value; then 200 and 5.5
    assert list(by(found, "employees")) == ["", "10", "200", "5.5"]
    assert by(found, "employees")["10"]["crossed"] == 1 and by(found, "employees")["5.5"]["crossed"] == 1
    assert list(by(found, "has_budget")) == ["", "true"]


def test_cohort_is_the_month_of_the_first_instant_in_calendar_order(fielded):
    found = report(*fielded, "--by", "cohort")
    cohorts = by(found, "cohort")
    # L5's first instant is the midnight after its creation, 2025-12-21
    assert list(cohorts) == ["2025-12", "2026-01"]
    assert (cohorts["2025-12"]["funnel"]["leads"], cohorts["2025-12"]["crossed"]) == (1, 0)
    assert (cohorts["2026-01"]["funnel"]["leads"], cohorts["2026-01"]["crossed"]) == (5, 4)


def test_a_schema_field_named_cohort_wins_over_the_month(tmp_path):
    schema = "lead:\n  id: lead_id\n  fields:\n    cohort: string\nevents:\n  page_view: {}\n"
    rules = ruleset(tmp_path / "rules", "score s { v: +10 per page_view }\nthreshold mql: s >= 10", schema=schema)
    folder = tmp_path / "h"
    folder.mkdir()
    (folder / "leads.csv").write_text("lead_id,cohort\nA,spring\nB,\n")
    (folder / "events.csv").write_text("lead_id,type,at\nA,page_view,2026-01-05T10:00:00Z\n"
                                       "B,page_view,2026-02-05T10:00:00Z\n")
    (folder / "outcomes.csv").write_text("lead_id,stage,at\n")
    result = invoke(rules, "--history", folder, "--format", "json", "--by", "cohort")
    assert result.exit_code == 0, result.output
    assert set(loads(result.stdout)["variants"]["baseline"]["thresholds"]["mql"]["by"]["cohort"]) == {"spring", ""}


def test_each_variant_has_its_breakdown_and_the_text_shows_both(fielded):
    rules, folder = fielded
    found = report(rules, folder, "--by", "industry", "--set", "bar=10")
    # bar 10: every lead crosses at its first page view or demo request
    assert by(found, "industry", "baseline")["Retail"]["crossed"] == 0
    assert by(found, "industry", "candidate")["Retail"]["crossed"] == 2
    text = invoke(rules, "--history", folder, *WINDOW, "--by", "industry", "--set", "bar=10").stdout
    assert "threshold mql by industry" in text and "candidate: precision" in text
    assert "(missing)" in text


def test_a_field_the_schema_does_not_have_is_a_usage_error_listing_the_fields(fielded):
    rules, folder = fielded
    result = invoke(rules, "--history", folder, "--by", "nope")
    assert result.exit_code == 2
    assert "industry" in result.output and "cohort" in result.output


def test_many_groups_show_the_largest_and_other_in_text_markdown_and_html_but_all_in_json(fielded, monkeypatch):
    monkeypatch.setattr(breakdowns, "SHOWN", 1)
    monkeypatch.setattr(formatting, "SHOWN", 1)
    rules, folder = fielded
    found = report(rules, folder, "--by", "employees")
    assert list(by(found, "employees")) == ["", "10", "200", "5.5"]
    # other: L1, L2, L3, L4 -> crossed L1, L2, L4; L1 and L4 succeed after crossing; the window's
    # successes among them L1, L3, L4, flagged L1 and L4.
    other = found["variants"]["baseline"]["thresholds"]["mql"]["by_other"]["employees"]
    assert (other["crossed"], other["precision"], other["recall"]) == (3, pytest.approx(2 / 3), pytest.approx(2 / 3))
    text = invoke(rules, "--history", folder, *WINDOW, "--by", "employees").stdout
    assert "other (3 values)" in text and "5.5" not in text.split("threshold mql by employees")[1].split("\n\n")[0]
    markdown = invoke(rules, "--history", folder, *WINDOW, "--by", "employees", "--format", "markdown").stdout
    assert "| (missing) | 2 | 1 | 0.0% |" in markdown
    assert "| other (3 values) | 4 | 3 | 66.7% | 66.7% |" in markdown
    page = invoke(rules, "--history", folder, *WINDOW, "--by", "employees", "--format", "html").stdout
    assert 'id="breakdowns"' in page and "other (3 values)" in page


def test_group_values_are_escaped_in_every_report(tmp_path):
    leads = [dict(lead, industry="<b>x</b>|`y`") if lead["lead_id"] == "L1" else lead for lead in LEADS]
    rules, folder = ruleset(tmp_path / "rules", BODY), history(tmp_path / "history", leads, EVENTS, OUTCOMES)
    page = invoke(rules, "--history", folder, *WINDOW, "--by", "industry", "--format", "html").stdout
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    markdown = invoke(rules, "--history", folder, *WINDOW, "--by", "industry", "--format", "markdown").stdout
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "x" in line and "b&gt;" in line]
    assert "<b>" not in markdown and rows and not any("|`y`" in row for row in rows)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 30)),
                          st.one_of(st.none(), st.integers(0, 30)), st.one_of(st.none(), st.integers(0, 30))),
                min_size=1, max_size=40),
       st.integers(1, 4))
def test_groups_and_other_partition_the_threshold(rows, shown):
    """Crossings, successes after crossing and leads add up over the groups, and the shown groups
    plus "other" hold them all."""
    day = 86400.0
    group = np.array([str(g) for g, *_ in rows], dtype=object)
    # a lead crosses at one of its instants: in the window, at or after its first one there
    first = np.array([np.nan if f is None else (5 + f % 20) * day for _, _, _, f in rows])
    crossing = np.array([np.nan if c is None or np.isnan(f) else f + c * day for (_, c, _, _), f in zip(rows, first)])
    success = np.array([np.nan if s is None else s * day for _, _, s, _ in rows])
    population = Population(success, first)
    window = Settings(5 * day, 25 * day, 10 * day, 30 * day)
    whole = threshold_metrics(crossing, population, window)
    old = breakdowns.SHOWN
    breakdowns.SHOWN = shown
    try:
        groups, other = breakdowns.breakdown(crossing, group, population, window)
    finally:
        breakdowns.SHOWN = old
    for key in ("crossed", "successes", "leads"):
        assert sum(g["funnel"][key] for g in groups.values()) == whole["funnel"][key]
        kept = list(groups.values())[:shown] + ([other] if other else [])
        assert sum(g["funnel"][key] for g in kept) == whole["funnel"][key]
    assert (other is None) == (len(groups) <= shown)
    sizes = [g["funnel"]["leads"] for g in groups.values()]
    assert sizes == sorted(sizes, reverse=True)

"""The confusion matrix per threshold and the ranking power of each score's peak in the window
(docs/simulate.md, "Confusion matrix" and "Ranking power"), on the six-lead history of
simulate_cli_support.py with one event added: L3 requests a demo on 01-13 10:00, after its success
(01-12 09:00), which must not raise its peak.

Peaks of interest (first instant in the window and event instants, up to the success):
L1 10 -> 20 (won), L2 30, L3 10 (won; its demo after the success is left out), L4 20 (won),
L5 10, L6 10 -> 20. Positives (success within 90 d of the first instant): L1, L3, L4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.simulator.metrics import Population, Settings
from leadscore.simulator.ranking import ranking
from simulate_cli_support import BODY, EVENTS, LEADS, OUTCOMES, invoke, loads
from test_simulator_support import history, ruleset

LATE_DEMO = ("L3", "demo_request", "2026-01-13T10:00:00Z", None)


@pytest.fixture
def report(tmp_path: Path) -> dict:
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS, [*EVENTS, LATE_DEMO], OUTCOMES)
    result = invoke(rules, "--history", folder, "--format", "json")
    assert result.exit_code == 0, result.output
    return loads(result.stdout)


def test_the_confusion_matrix_agrees_with_precision_and_recall(report):
    mql = report["variants"]["baseline"]["thresholds"]["mql"]
    # L3 now crosses at its late demo (01-13 10:00), after its success: a false positive and
    # still a missed success
    c = mql["confusion"]
    assert c == {"true_positives": 2, "false_positives": 3, "false_negatives": 1, "true_negatives": 1}
    assert mql["precision"] == c["true_positives"] / (c["true_positives"] + c["false_positives"])
    assert mql["recall"] == pytest.approx(1 - c["false_negatives"] / report["successes_in_window"])


def test_roc_and_precision_recall_of_the_peak_worked_out_by_hand(report):
    interest = report["variants"]["baseline"]["ranking"]["interest"]
    assert (interest["leads"], interest["positives"]) == (6, 3)
    # cuts 30, 20, 10: (fpr, tpr) = (1/3, 0), (2/3, 2/3), (1, 1); area from (0, 0) = 7/18, the
    # share of (positive, negative) pairs ranked right, ties half
    assert [(p["cut"], p["fpr"], p["tpr"]) for p in interest["roc"]] == [
        (30, pytest.approx(1 / 3), 0), (20, pytest.approx(2 / 3), pytest.approx(2 / 3)), (10, 1, 1)]
    assert interest["roc_auc"] == pytest.approx(7 / 18)
    # precision 0, 1/2, 1/2 at recall 0, 2/3, 1: average precision 2/3 * 1/2 + 1/3 * 1/2
    assert [(p["recall"], p["precision"]) for p in interest["pr"]] == [
        (0, 0), (pytest.approx(2 / 3), 0.5), (1, 0.5)]
    assert interest["pr_auc"] == pytest.approx(0.5)


def test_the_reports_show_ranking_and_confusion(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    text = invoke(rules, "--history", folder).stdout
    assert "ranking power" in text and "true positives" in text
    markdown = invoke(rules, "--history", folder, "--format", "markdown").stdout
    assert "| interest | baseline | 6 | 3 |" in markdown
    page = invoke(rules, "--history", folder, "--format", "html").stdout
    assert 'id="ranking"' in page and page.count("<svg") >= 2 and "confusion" in page


def test_with_no_positive_there_is_no_area_and_no_curve(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    # from 01-17 every success lies before the window: those leads are not ranked, the others
    # (L2, L5, L6) never succeed
    result = invoke(rules, "--history", folder, "--format", "json", "--start", "2026-01-17")
    found = loads(result.stdout)["variants"]["baseline"]["ranking"]["interest"]
    assert (found["leads"], found["positives"]) == (3, 0)
    assert (found["roc_auc"], found["pr_auc"], found["roc"], found["pr"]) == (None, None, [], [])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=30))
def test_the_roc_area_is_the_share_of_pairs_ranked_right(rows):
    day = 86400.0
    peaks = np.array([float(p) for p, _ in rows])
    first = np.full(len(rows), 10 * day)
    success = np.array([12 * day if won else np.nan for _, won in rows])
    found = ranking(peaks, Population(success, first), Settings(0, 40 * day, 90 * day, 50 * day))
    positives = [p for p, won in rows if won]
    negatives = [p for p, won in rows if not won]
    if not positives or not negatives:
        assert found["roc_auc"] is None and found["pr_auc"] is None
        return
    pairs = [1.0 if a > b else 0.5 if a == b else 0.0 for a in positives for b in negatives]
    assert found["roc_auc"] == pytest.approx(sum(pairs) / len(pairs))
    assert 0 <= found["pr_auc"] <= 1
    assert found["roc"][-1]["tpr"] == 1 and found["roc"][-1]["fpr"] == 1


def test_score_distributions_are_taken_at_the_peak_and_at_crossing_with_the_bars(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    result = invoke(rules, "--history", folder, "--format", "json")
    baseline = loads(result.stdout)["variants"]["baseline"]
    # peaks 10 (L3 won, L5), 20 (L1, L4 won; L6), 30 (L2); no clamp: 20 bins of 1 over 10..30
    peak = baseline["score_distributions"]["interest"]
    assert (peak["edges"][0], peak["edges"][-1]) == (10, 30)
    assert [(i, n) for i, n in enumerate(peak["successful"]) if n] == [(0, 1), (10, 2)]
    assert [(i, n) for i, n in enumerate(peak["other"]) if n] == [(0, 1), (10, 1), (19, 1)]
    assert peak["thresholds"] == {"mql": 20, "hot": 60}
    # at the mql crossing: L1, L4 (20, won), L6 (20), L2 (30)
    crossing = baseline["score_distributions_at_crossing"]["mql"]["interest"]
    assert (crossing["edges"][0], crossing["edges"][-1]) == (20, 30)
    assert (sum(crossing["successful"]), crossing["successful"][0]) == (2, 2)
    assert [(i, n) for i, n in enumerate(crossing["other"]) if n] == [(0, 1), (19, 1)]
    assert crossing["thresholds"] == {"mql": 20}
    assert sum(baseline["score_distributions_at_crossing"]["hot"]["interest"]["other"]) == 0
    page = invoke(rules, "--history", folder, "--format", "html").stdout
    assert "is crossed in the window" in page and "at each lead's peak in the window" in page

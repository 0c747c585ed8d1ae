"""What the reports carry (docs/simulate.md "Outputs"): sweep tables with every metric, segment
tables in Markdown, weekly volume per sweep value in HTML, and the progress bar in a terminal.
On the six-lead history of simulate_cli_support.py.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

import leadscore.commands.simulate as simulate_command
from leadscore.simulator.formatting import METRICS, sweep_head
from simulate_cli_support import EVENTS, LEADS, OUTCOMES, hand_history, invoke
from test_simulator_support import history, ruleset


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    return hand_history(tmp_path)


def test_sweep_tables_carry_every_metric_and_the_successes(project):
    rules, folder = project
    text = invoke(rules, "--history", folder, "--sweep", "bar=10:30:10").stdout
    markdown = invoke(rules, "--history", folder, "--sweep", "bar=10:30:10", "--format", "markdown").stdout
    head = sweep_head()
    assert len(head) == len(METRICS) + 1 and "base rate" in head and "decided precision" in head
    for name in ("base rate", "censored", "decided precision", "revenue per crossing", "successes after crossing"):
        assert name in text
    line = next(line for line in markdown.splitlines() if line.startswith("| bar |"))    # mql's
    assert line == "| bar | " + " | ".join(head) + " |"
    # bar 10: 6 crossed, 3 succeed after crossing (L1, L3, L4); decided: L2 lost -> 3 / 4
    row = next(line for line in markdown.splitlines() if line.startswith("| 10 |"))
    cells = row.strip("|").split(" | ")
    assert cells[1].strip() == "6" and cells[-1].strip() == "3"
    assert cells[1 + head.index("decided precision")].strip() == "75.0%"


def test_markdown_carries_the_segment_tables(tmp_path):
    body = ('score interest {\n  view: +10 per page_view, decay none\n}\nthreshold mql: interest >= 20\n'
            "segment stage {\n  hot if interest >= 20\n  cold otherwise\n}")
    rules = ruleset(tmp_path / "rules", body)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    markdown = invoke(rules, "--history", folder, "--format", "markdown").stdout
    assert "### Segment `stage` (leads with an instant in the window)" in markdown
    # no demo rule here: hot L1 (01-06), L4 (20 at its first instant), L6 (01-10), and they keep
    # it; cold at some instant: L1, L2, L3, L5, L6; at the end L2, L3 and L5
    assert "| hot | 3 | 3 |" in markdown and "| cold | 5 | 3 |" in markdown


def test_html_shows_weekly_volume_for_each_sweep_value(project):
    rules, folder = project
    page = invoke(rules, "--history", folder, "--sweep", "bar=10:30:10", "--capacity", "1", "--format", "html").stdout
    assert "crossings per ISO week for each value of <code>bar</code> against the capacity" in page


def test_a_progress_bar_shows_in_a_terminal_and_stops(monkeypatch):
    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = simulate_command._Progress()
    update = progress.__enter__()
    assert progress.timer is not None          # shown only if the replay is still running then
    update(0, 1)
    progress.show()
    assert progress.bar is not None
    update(1, 1)
    progress.__exit__(None, None, None)
    assert progress.timer is None and not progress.bar.live.is_started


def test_no_progress_bar_when_standard_error_is_no_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    progress = simulate_command._Progress()
    progress.__enter__()(0, 4)
    assert progress.timer is None and progress.bar is None
    progress.__exit__(None, None, None)

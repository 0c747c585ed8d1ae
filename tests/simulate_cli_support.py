"""The six-lead history the `leadscore simulate` command-line tests work out by hand, and the
helpers that run the command and read its JSON (test_cli_simulate*.py, test_cli_calibrate.py)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from leadscore.cli import main
from test_simulator_support import history, ruleset, ts

DAY = 86400.0

# --- the history the hand computations of the simulate tests read -----------------------------------------------
#
# Ruleset: interest = +10 per page_view, +30 per demo_request, no decay (so a score moves only
# at an event, by whole points); mql: interest >= bar (bar = 20); hot: interest >= 60 (never).
#
# ISO weeks: 2026-W02 = Mon 5 Jan .. Sun 11 Jan, W03 = 12..18 Jan, W04 = 19..25 Jan.
#
# lead  events (UTC)                         interest      mql crossing      outcomes
# L1    page_view 01-05 09:00, 01-06 10:00   10, 20        01-06 10:00       won 01-16 10:00
# L2    demo_request 01-07 12:00             30            01-07 12:00       SQL 01-08 12:00, Lost 01-20 15:00
# L3    page_view 01-08 09:00                10            never             WON 01-12 09:00
# L4    page_view x2 at 01-13 08:00          20            01-13 08:00       Won 01-15 20:00, won 01-18 00:00
# L5    page_view 01-14 00:00                10            never             sql 01-14 12:00
# L6    page_view 01-09 10:00, 01-10 10:00   10, 20        01-10 10:00       (none)
#       email_open 01-20 10:00 (no rule reads it)
#
# Default window: midnight of the earliest timestamp (01-05 09:00) -> 2026-01-05T00:00Z; the
# midnight after the latest event (L6's, 01-20 10:00) -> 2026-01-21T00:00Z. Weeks W02, W03, W04.
# The history's last timestamp (for censoring) is L2's Lost, 01-20 15:00.
# Success (stage won, any case, earliest): L1 01-16 10:00, L3 01-12 09:00, L4 01-15 20:00 (the
# later won is ignored) -> 3 successes, all in the window.

BODY = """const bar = 20
score interest {
  view: +10 per page_view, decay none
  demo: +30 per demo_request, decay none
}
threshold mql: interest >= bar
threshold hot: interest >= 60
"""

LEADS = [{"lead_id": f"L{k}"} for k in range(1, 7)]
EVENTS = [
    ("L1", "page_view", "2026-01-05T09:00:00Z", "/a"), ("L1", "page_view", "2026-01-06T10:00:00Z", "/b"),
    ("L2", "demo_request", "2026-01-07T12:00:00Z", None), ("L3", "page_view", "2026-01-08T09:00:00Z", "/a"),
    ("L4", "page_view", "2026-01-13T08:00:00Z", "/a"), ("L4", "page_view", "2026-01-13T08:00:00Z", "/c"),
    ("L5", "page_view", "2026-01-14T00:00:00Z", "/a"),
    ("L6", "page_view", "2026-01-09T10:00:00Z", "/a"), ("L6", "page_view", "2026-01-10T10:00:00Z", "/a"),
    ("L6", "email_open", "2026-01-20T10:00:00Z", None),
]
OUTCOMES = [
    ("L1", "won", "2026-01-16T10:00:00Z"), ("L2", "SQL", "2026-01-08T12:00:00Z"),
    ("L2", "Lost", "2026-01-20T15:00:00Z"), ("L3", "WON", "2026-01-12T09:00:00Z"),
    ("L4", "Won", "2026-01-15T20:00:00Z"), ("L4", "won", "2026-01-18T00:00:00Z"),
    ("L5", "sql", "2026-01-14T12:00:00Z"),
]

SECTION6_METRICS = ("crossed", "precision", "recall", "lift", "lead_time_median_days", "lead_time_p90_days",
                    "weekly_mean", "weekly_p90", "weekly_max", "weeks_over_capacity")


def _no_constant(name: str):
    raise AssertionError(f"the JSON holds {name}")


def hand_history(folder: Path) -> tuple[Path, Path]:
    """The ruleset of BODY and the history above, written under `folder`."""
    rules = ruleset(folder / "rules", BODY)
    return rules, history(folder / "history", LEADS, EVENTS, OUTCOMES)


def loads(text: str) -> dict:
    """JSON as the contract wants it: no NaN, no Infinity."""
    return json.loads(text, parse_constant=_no_constant)


def invoke(*args, command: str = "simulate"):
    result = CliRunner().invoke(main, [command, *map(str, args)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def simulate_json(rules: Path, folder: Path, *args) -> dict:
    result = invoke(rules, "--history", folder, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return loads(result.stdout)


def mql(report: dict, variant: str = "baseline") -> dict:
    return report["variants"][variant]["thresholds"]["mql"]


def weeks(metrics: dict) -> list[tuple[str, int]]:
    return [(w["week"], w["crossed"]) for w in metrics["weekly"]]



def padded_history(folder: Path, leads: int, events: int, pad: int, seed: int = 7) -> Path:
    """A history whose events file is large on disk (long urls) but quick to replay, so the bucket
    count (estimated from the file size) goes up without a long test."""
    rng = random.Random(seed)
    start = ts("2026-01-05")

    def iso(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = []
    for _ in range(events):
        kind = rng.choice(["page_view", "page_view", "demo_request", "email_open"])
        rows.append((f"L{rng.randrange(leads):04d}", kind, iso(start + rng.randrange(30 * 24) * 3600),
                     "/" + "x" * pad if kind == "page_view" else None))
    rows += [("NOBODY", "page_view", "2027-06-01T00:00:00Z", "/"), ("L0001", "pageview", "2026-01-06T00:00:00Z", "/")]
    outcomes = [(f"L{k:04d}", rng.choice(["won", "lost", "Won"]), iso(start + rng.randrange(50 * 24) * 3600))
                for k in range(0, leads, 3)] + [("NOBODY", "won", "2027-01-01T00:00:00Z")]
    return history(folder, [{"lead_id": f"L{k:04d}"} for k in range(leads)], rows, outcomes)


def without_buckets(report: dict) -> dict:
    report = dict(report)
    report["replay"] = {k: v for k, v in report["replay"].items() if k != "buckets"}
    return report



"""`leadscore score` on tables with unusable rows: the DuckDB engine reports the problems in the
Python engine's order (docs/engines.md), so --strict stops at the same row. The Python engine
finds repeated leads and events of unknown leads after reading both tables; DuckDB finds them
while reading and holds them back until then."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.tables import ProblemLog, RowProblem, TableError
from test_simulator_support import ruleset, write_table

BODY = "score interest {\n  view: +10 per page_view, decay none\n}\nthreshold hot: interest >= 10"
LEAD_ROWS = st.tuples(st.sampled_from(["L1", "L2", "L3"]), st.sampled_from(["12", "", "many"]))
EVENT_ROWS = st.tuples(st.sampled_from(["L1", "L2", "NOBODY"]), st.sampled_from(["page_view", "pageview"]),
                       st.sampled_from(["2026-04-01T00:00:00Z", "soon"]))


def score(rules: Path, leads: str, events: str, *args: str):
    return CliRunner().invoke(main, ["score", str(rules), "--leads", leads, "--events", events,
                                     "--as-of", "2026-05-01T00:00:00Z", *args])


def write_events(path: Path, rows: list[tuple[str, str, str]]) -> str:
    if path.suffix == ".jsonl":   # the project's reader, not DuckDB's bulk read
        path.write_text("".join(json.dumps({"lead_id": i, "type": k, "at": at, "url": "/p"}) + "\n"
                                for i, k, at in rows))
        return str(path)
    return write_table(path, ["lead_id", "type", "at", "url"], [[i, k, at, "/p"] for i, k, at in rows])


def test_a_repeated_lead_comes_after_the_events_problems_and_before_the_unknown_leads(tmp_path):
    rules = ruleset(tmp_path, BODY)
    leads = write_table(tmp_path / "leads.csv", ["lead_id"], [["L1"], ["L2"], ["L1"]])
    events = write_events(tmp_path / "events.csv", [("NOBODY", "page_view", "2026-04-01T00:00:00Z"),
                                                    ("L1", "pageview", "2026-04-01T00:00:00Z")])
    for engine in ("python", "duckdb"):
        notes = score(rules, leads, events, "--engine", engine).stderr.splitlines()
        assert [line.split(" (first: ")[0] for line in notes[:-1]] == [
            "note: events: 1 row with an unknown event type", "note: leads: 1 repeated lead id (first row kept)",
            "note: events: 1 row for an unknown lead"], engine
        strict = score(rules, leads, events, "--engine", engine, "--strict")
        assert strict.exit_code == 1 and "events.csv:3 unknown event type" in strict.stderr, engine


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(LEAD_ROWS, min_size=1, max_size=5), events=st.lists(EVENT_ROWS, max_size=6),
       events_format=st.sampled_from(["csv", "jsonl"]))
def test_both_engines_report_the_same_problems_in_the_same_order(tmp_path_factory, leads, events, events_format):
    folder = tmp_path_factory.mktemp("messy")
    rules = ruleset(folder, BODY)
    # a repeated lead's row keeps a good value: its own bad values are where the engines differ
    # (docs/engines.md)
    first = {}
    rows = [[i, n if first.setdefault(i, k) == k else "12"] for k, (i, n) in enumerate(leads)]
    lead_file = write_table(folder / "leads.csv", ["lead_id", "employees"], rows)
    event_file = write_events(folder / f"events.{events_format}", events)
    for strict in ([], ["--strict"]):
        python = score(rules, lead_file, event_file, "--engine", "python", *strict)
        duckdb = score(rules, lead_file, event_file, "--engine", "duckdb", *strict)
        assert (duckdb.exit_code, duckdb.stderr) == (python.exit_code, python.stderr)
        assert python.exit_code == 0 or (strict and "(--strict)" in python.stderr)


def unknown(row: int) -> RowProblem:
    return RowProblem("events", "events.csv", row, "lead_id", "unknown lead `X`", "unknown_lead")


@pytest.mark.parametrize("keep", [0, 1, 10])
def test_held_problems_are_all_counted_when_the_block_ends(keep):
    log = ProblemLog(keep)
    with log.holding("unknown_lead"):
        for row in (2, 3, 4):
            log.add(unknown(row))
        assert log.total() == 0
    assert log.counts == {("events", "unknown_lead"): 3}
    assert [p.row for p in log.examples] == [2, 3, 4][:keep]


def test_held_problems_are_dropped_when_the_block_fails():
    log = ProblemLog(strict=True)
    with pytest.raises(TableError):
        with log.holding("unknown_lead"):
            log.add(unknown(2))
            log.add(RowProblem("events", "events.csv", 3, "at", "`soon` is not a timestamp", "bad_timestamp"))
    assert log.total() == 0
    with pytest.raises(TableError, match="events.csv:7"):
        with log.holding("unknown_lead"):
            log.add(unknown(7))

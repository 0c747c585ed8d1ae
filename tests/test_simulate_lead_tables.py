"""`simulate --leads-out` and `--flips-out`, and the cause and outcome of flip examples
(docs/simulate.md), on the six-lead history of simulate_cli_support.py whose hand computations
this file reuses. The outcomes gain amounts: L1 won 1000; L4's first Won 250.5 (its later won
999 is not its success); L3's WON has none.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from simulate_cli_support import BODY, EVENTS, LEADS, invoke, loads
from test_simulator_support import history, ruleset, write_table

AMOUNTS = {("L1", "won"): 1000, ("L4", "Won"): 250.5, ("L4", "won"): 999}
OUTCOMES = [("L1", "won", "2026-01-16T10:00:00Z"), ("L2", "SQL", "2026-01-08T12:00:00Z"),
            ("L2", "Lost", "2026-01-20T15:00:00Z"), ("L3", "WON", "2026-01-12T09:00:00Z"),
            ("L4", "Won", "2026-01-15T20:00:00Z"), ("L4", "won", "2026-01-18T00:00:00Z"),
            ("L5", "sql", "2026-01-14T12:00:00Z")]


def with_amounts(folder: Path, ids: dict[str, str] | None = None) -> None:
    ids = ids or {}
    write_table(folder / "outcomes.csv", ["lead_id", "stage", "at", "amount"],
                [[ids.get(lead, lead), stage, at, AMOUNTS.get((lead, stage))] for lead, stage, at in OUTCOMES])


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS, EVENTS)
    with_amounts(folder)
    return rules, folder


def table(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def run(rules: Path, folder: Path, *args) -> dict:
    result = invoke(rules, "--history", folder, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return loads(result.stdout)


def test_leads_out_has_a_row_per_lead_with_its_crossings_success_and_amount(project, tmp_path):
    rules, folder = project
    out = tmp_path / "leads.csv"
    result = invoke(rules, "--history", folder, "--format", "json", "--leads-out", out)
    assert result.exit_code == 0 and str(out) in result.stderr
    assert table(out) == [
        ["lead_id", "mql_crossed_at", "hot_crossed_at", "success_at", "amount"],
        ["L1", "2026-01-06T10:00:00Z", "", "2026-01-16T10:00:00Z", "1000"],
        ["L2", "2026-01-07T12:00:00Z", "", "", ""],
        ["L3", "", "", "2026-01-12T09:00:00Z", ""],
        ["L4", "2026-01-13T08:00:00Z", "", "2026-01-15T20:00:00Z", "250.5"],
        ["L5", "", "", "", ""],
        ["L6", "2026-01-10T10:00:00Z", "", "", ""]]


def test_leads_out_keeps_only_leads_with_an_instant_in_the_window(project, tmp_path):
    rules, folder = project
    out = tmp_path / "leads.csv"
    # end 01-09: L4, L5 and L6 have their first event after it, no instant before it
    run(rules, folder, "--end", "2026-01-09", "--leads-out", out)
    assert [row[0] for row in table(out)] == ["lead_id", "L1", "L2", "L3"]


def test_leads_out_has_a_column_set_per_variant_when_comparing(project, tmp_path):
    rules, folder = project
    out = tmp_path / "leads.csv"
    run(rules, folder, "--set", "bar=10", "--leads-out", out)
    rows = table(out)
    assert rows[0] == ["lead_id", "baseline.mql_crossed_at", "baseline.hot_crossed_at", "candidate.mql_crossed_at",
                       "candidate.hot_crossed_at", "success_at", "amount"]
    # bar 10: L1 crosses at its first page view, L3 and L5 at theirs
    assert rows[1] == ["L1", "2026-01-06T10:00:00Z", "", "2026-01-05T09:00:00Z", "", "2026-01-16T10:00:00Z", "1000"]
    assert rows[5][:4] == ["L5", "", "", "2026-01-14T00:00:00Z"]


def test_flips_out_lists_every_flip_with_its_cause_and_outcome(project, tmp_path):
    rules, folder = project
    out = tmp_path / "flips.csv"
    report = run(rules, folder, "--set", "bar=10", "--examples", "1", "--flips-out", out)
    # every flip, not only the one example per kind; in the order of the leads file
    assert table(out) == [
        ["threshold", "lead_id", "change", "baseline_crossed_at", "candidate_crossed_at", "success_at", "amount",
         "cause"],
        ["mql", "L1", "earlier", "2026-01-06T10:00:00Z", "2026-01-05T09:00:00Z", "2026-01-16T10:00:00Z", "1000",
         "bar 20 → 10"],
        ["mql", "L3", "newly_crossed", "", "2026-01-08T09:00:00Z", "2026-01-12T09:00:00Z", "", "bar 20 → 10"],
        ["mql", "L5", "newly_crossed", "", "2026-01-14T00:00:00Z", "", "", "bar 20 → 10"]]
    examples = report["flips"]["mql"]["examples"]
    assert [(e["lead_id"], e["cause"], e["success_at"]) for e in examples] == [
        ("L3", ["bar 20 → 10"], "2026-01-12T09:00:00Z"), ("L1", ["bar 20 → 10"], "2026-01-16T10:00:00Z")]


def test_a_rule_change_is_the_cause_and_the_reports_name_it(project, tmp_path):
    rules, folder = project
    other = ruleset(tmp_path / "rules", BODY.replace("+30 per demo_request", "+10 per demo_request"), name="old")
    out = tmp_path / "flips.csv"
    run(rules, folder, "--baseline", other, "--flips-out", out)
    assert table(out)[1] == ["mql", "L2", "newly_crossed", "", "2026-01-07T12:00:00Z", "", "",
                             "interest.demo +10 → +30"]
    text = invoke(rules, "--history", folder, "--baseline", other).stdout
    assert "cause: interest.demo +10 → +30; no success" in text
    markdown = invoke(rules, "--history", folder, "--set", "bar=10", "--format", "markdown").stdout
    assert "| L3 | newly crossed | — | 2026-01-08T09:00:00Z | bar 20 → 10 | success at 2026-01-12T09:00:00Z |" \
        in markdown


def test_flips_out_without_two_variants_is_a_usage_error(project, tmp_path):
    rules, folder = project
    result = invoke(rules, "--history", folder, "--flips-out", tmp_path / "f.csv")
    assert result.exit_code == 2 and not (tmp_path / "f.csv").exists()


def test_an_unwritable_lead_table_exits_1(project, tmp_path):
    rules, folder = project
    result = invoke(rules, "--history", folder, "--format", "json", "--leads-out", tmp_path / "no" / "x.csv")
    assert result.exit_code == 1


def test_hostile_lead_ids_are_written_as_data(tmp_path):
    ids = {"L1": '=HYPERLINK("x"),\n1', "L2": "a;b"}
    leads = [{**lead, "lead_id": ids.get(lead["lead_id"], lead["lead_id"])} for lead in LEADS]
    events = [(ids.get(lead, lead), *rest) for lead, *rest in EVENTS]
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", leads, events)
    with_amounts(folder, ids)
    out = tmp_path / "leads.csv"
    run(rules, folder, "--leads-out", out)
    assert [row[0] for row in table(out)[1:3]] == ['=HYPERLINK("x"),\n1', "a;b"]

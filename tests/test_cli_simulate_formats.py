"""`leadscore simulate` report formats (json, markdown, html, text; the output file) and
--jobs (worker processes and buckets change nothing in the JSON).

Tests assert exit codes, numbers and keys, never the wording of messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import leadscore.simulator.run as run_module
from simulate_cli_support import (BODY, hand_history, invoke, loads, mql, padded_history, simulate_json,
                                  without_buckets)
from test_simulator_support import ruleset


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    return hand_history(tmp_path)

# --- 4. formats -----------------------------------------------------------------------------------------

def test_markdown_has_a_table_per_threshold(project):
    rules, folder = project
    result = invoke(rules, "--history", folder, "--format", "markdown", "--set", "bar=10")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    headings = [line for line in lines if line.startswith("### Threshold")]
    assert len(headings) == 2 and "`mql`" in headings[0] and "`hot`" in headings[1]
    assert lines.count("| metric | baseline | candidate | change |") == 2
    assert "| crossed | 4 | 6 | +2 |" in lines
    assert "| crossed | 0 | 0 | +0 |" in lines
    # -o with .md gives the same document
    out = folder.parent / "sim.md"
    assert invoke(rules, "--history", folder, "--set", "bar=10", "-o", out).exit_code == 0
    assert out.read_text(encoding="utf-8") == result.stdout


def test_html_is_self_contained(project):
    rules, folder = project
    out = folder.parent / "report.html"
    result = invoke(rules, "--history", folder, "--format", "html", "-o", out, "--sweep", "bar=10:30:10",
                    "--capacity", "1")
    assert result.exit_code == 0 and result.stdout == ""
    page = out.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page
    assert "<script src" not in page.lower() and "<link" not in page.lower()
    assert "<svg" in page
    # the extension alone picks HTML too, and --html writes it beside another format
    again = folder.parent / "again.htm"
    assert invoke(rules, "--history", folder, "-o", again, "--sweep", "bar=10:30:10", "--capacity", "1").exit_code == 0
    assert again.read_text(encoding="utf-8") == page
    side = folder.parent / "side.html"
    result = invoke(rules, "--history", folder, "--format", "json", "--html", side, "--sweep", "bar=10:30:10",
                    "--capacity", "1")
    assert result.exit_code == 0 and loads(result.stdout)["sweep"]["points"][0]["value"] == 10
    assert side.read_text(encoding="utf-8") == page


def test_output_format_follows_the_extension_and_the_file_is_complete(project):
    rules, folder = project
    out = folder.parent / "x.json"
    result = invoke(rules, "--history", folder, "-o", out, "--set", "bar=10")
    assert result.exit_code == 0 and result.stdout == ""
    written = loads(out.read_text(encoding="utf-8"))
    assert written == simulate_json(rules, folder, "--set", "bar=10")
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    text = folder.parent / "x.txt"
    assert invoke(rules, "--history", folder, "-o", text).exit_code == 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.read_text(encoding="utf-8"))
    assert "mql" in text.read_text(encoding="utf-8") and "\x1b[" not in text.read_text(encoding="utf-8")


def test_a_report_that_cannot_be_written_exits_1(project):
    rules, folder = project
    result = invoke(rules, "--history", folder, "-o", folder.parent / "no" / "such" / "x.json")
    assert result.exit_code == 1


def test_the_text_report_runs(project):
    rules, folder = project
    result = invoke(rules, "--history", folder, "--set", "bar=10", "--sweep", "bar=10:20:10")
    assert result.exit_code == 0 and "mql" in result.stdout



def test_jobs_2_gives_the_json_of_jobs_1_on_a_history_of_several_buckets(tmp_path):
    # 1,500 events, about 750 of them with a 5.6 kB url: 4.3 MB, estimated at 40 bytes an event as
    # more than 100,000 events -> one bucket with --jobs 1, two with --jobs 2 (docs/simulate.md)
    rules = ruleset(tmp_path / "rules", BODY)
    folder = padded_history(tmp_path / "history", 300, 1500, 5600)
    assert (folder / "events.csv").stat().st_size >= 4_000_000
    args = ("--set", "bar=30", "--capacity", "5", "--target", "7", "--sweep", "bar=10:40:10")
    one = simulate_json(rules, folder, *args, "--jobs", "1")
    two = simulate_json(rules, folder, *args, "--jobs", "2")
    assert (one["replay"]["buckets"], two["replay"]["buckets"]) == (1, 2)
    assert without_buckets(two) == without_buckets(one)
    assert one["skipped_rows"] == {"events": 2, "outcomes": 1}
    assert one["window"]["end"] < "2026-03-01"
    assert mql(one, "candidate")["crossed"] > 0 and one["flips"]["mql"]["examples"]


def test_more_buckets_than_jobs_and_in_one_process_give_the_same_json(tmp_path, monkeypatch):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = padded_history(tmp_path / "history", 60, 300, 0, seed=3)
    args = ("--set", "bar=30", "--capacity", "3", "--sweep", "bar=10:40:10", "--examples", "3")
    one = simulate_json(rules, folder, *args)
    assert one["replay"]["buckets"] == 1
    monkeypatch.setattr(run_module, "bucket_count", lambda leads, events, jobs: 5)
    for jobs in ("1", "2", "0"):
        many = simulate_json(rules, folder, *args, "--jobs", jobs)
        assert many["replay"]["buckets"] == 5
        assert without_buckets(many) == without_buckets(one)



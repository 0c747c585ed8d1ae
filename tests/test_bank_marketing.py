"""The bank-marketing example: its ruleset and tests, the history file that builds its history
from UCI Bank Marketing, and a simulation over it (docs/bank-marketing.md)."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadscore.cli import main
from leadscore.ingest.history import load_history

REPO = Path(__file__).resolve().parents[1]
RULESET_DIR = REPO / "rulesets" / "bank-marketing"
RULESET = RULESET_DIR / "scoring.score"
HISTORY = RULESET_DIR / "history.yaml"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# --- the ruleset ----------------------------------------------------------------------------------

def test_the_ruleset_checks_clean_and_is_formatted():
    checked = run("check", "--strict", str(RULESET_DIR))
    assert checked.exit_code == 0, checked.output
    # --strict also names the two dataset fields no rule uses (`calibrate` still reads them).
    assert "0 errors, 2 warnings" in checked.output
    assert checked.output.count("warning[LS514]") == 2
    assert "`housing`" in checked.output and "`loan`" in checked.output
    formatted = run("fmt", "--check", str(RULESET))
    assert formatted.exit_code == 0, formatted.output


def test_the_ruleset_tests_pass_with_full_coverage():
    result = run("test", "--coverage-min", "100", "--format", "json", str(RULESET_DIR))
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["summary"]["failed"] == 0
    assert document["coverage"][0]["percent"] == 100.0
    assert not document["coverage"][0]["segment_labels_not_seen"]   # every label of next_step
    assert {case["thresholds"]["mql"] for case in document["cases"]} == {True, False}


# --- the history file, on rows in the source's exact format ------------------------------------

SOURCE_HEADER = ('"age";"job";"marital";"education";"default";"housing";"loan";"contact";"month";'
                 '"day_of_week";"duration";"campaign";"pdays";"previous";"poutcome";"emp.var.rate";'
                 '"cons.price.idx";"cons.conf.idx";"euribor3m";"nr.employed";"y"')
MACRO = '1.1;93.994;-36.4;4.857;5191'
SAMPLE_ROWS = [
    # May 2008 starts on a Thursday: the first Monday run is May 5th.
    f'56;"housemaid";"married";"basic.4y";"no";"no";"no";"telephone";"may";"mon";261;1;999;0;"nonexistent";{MACRO};"no"',
    # Same run, same day; three calls on business days: Thu 1st, Fri 2nd, Mon 5th.
    f'35;"admin.";"single";"university.degree";"no";"yes";"no";"cellular";"may";"mon";4918;3;999;0;"nonexistent";{MACRO};"yes"',
    # Next run, Tuesday 6th; the earlier campaign's contact 6 days before the first call.
    f'61;"retired";"married";"unknown";"unknown";"no";"no";"cellular";"may";"tue";1;1;6;1;"success";{MACRO};"yes"',
    # Monday again: the next week, May 12th. Two undated earlier calls, 56 days before Fri 9th.
    f'24;"student";"single";"high.school";"no";"no";"yes";"cellular";"may";"mon";99;2;999;2;"failure";{MACRO};"no"',
    # November, later in the same year: its first Wednesday.
    f'40;"blue-collar";"divorced";"basic.9y";"no";"unknown";"unknown";"telephone";"nov";"wed";0;1;999;0;"nonexistent";{MACRO};"no"',
    # March after November: the month went backwards, so 2009; two rows of one Thursday run.
    f'30;"services";"married";"basic.6y";"no";"no";"no";"cellular";"mar";"thu";77;1;999;0;"nonexistent";{MACRO};"yes"',
    f'31;"services";"married";"basic.6y";"no";"no";"no";"cellular";"mar";"thu";78;1;999;0;"nonexistent";{MACRO};"no"',
    # Monday after the Thursday run: March 9th. The earlier campaign's last call falls on a
    # Sunday (one day before): that Sunday, then the business days Fri 6th and Thu 5th.
    f'45;"admin.";"married";"high.school";"no";"no";"no";"cellular";"mar";"mon";10;1;1;3;"failure";{MACRO};"no"',
]


def history_over(folder: Path, rows: list[str]) -> Path:
    """The shipped history.yaml beside a source file made of `rows` (gzip, as shipped)."""
    (folder / "raw").mkdir(parents=True, exist_ok=True)
    data = ("\r\n".join([SOURCE_HEADER, *rows]) + "\r\n").encode("utf-8")
    (folder / "raw" / "bank-additional-full.csv.gz").write_bytes(gzip.compress(data))
    shutil.copy(RULESET_DIR / "history.yaml", folder / "history.yaml")
    return folder / "history.yaml"


def sample_tables(tmp_path: Path, rows: list[str] = SAMPLE_ROWS) -> tuple[list, list, list]:
    tables = load_history(str(history_over(tmp_path, rows)))
    return tuple(tables[name].table.to_pylist() for name in ("leads", "events", "outcomes"))


def test_the_history_rebuilds_dates_and_keeps_only_lead_attributes(tmp_path):
    leads, events, outcomes = sample_tables(tmp_path)
    assert list(leads[0]) == ["lead_id", "age", "job", "marital", "education", "default", "housing", "loan",
                              "contact", "created_at"]
    assert [lead["lead_id"] for lead in leads] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert leads[0] == {"lead_id": "1", "age": "56", "job": "housemaid", "marital": "married",
                        "education": "basic.4y", "default": "no", "housing": "no", "loan": "no",
                        "contact": "telephone", "created_at": "2008-05-05T12:00:00Z"}
    assert [(row["stage"], row["at"]) for row in outcomes] == [
        ("lost", "2008-05-05T18:00:00Z"), ("won", "2008-05-05T18:00:00Z"), ("won", "2008-05-06T18:00:00Z"),
        ("lost", "2008-05-12T18:00:00Z"), ("lost", "2008-11-05T18:00:00Z"), ("won", "2009-03-05T18:00:00Z"),
        ("lost", "2009-03-05T18:00:00Z"), ("lost", "2009-03-09T18:00:00Z")]
    # `duration` (it leaks the outcome), the macro indicators and `y` are nowhere.
    written = repr((leads, events, outcomes))
    assert "4918" not in written and "euribor" not in written and "93.994" not in written


def test_the_history_synthesises_campaign_plus_previous_calls(tmp_path):
    leads, events, _ = sample_tables(tmp_path)
    by_lead: dict[str, list[tuple]] = {}
    for event in events:
        assert event["type"] == "call"
        by_lead.setdefault(event["lead_id"], []).append(
            (event["at"][:10], event["campaign"], event["channel"] or "", event["outcome"] or ""))
    assert [len(by_lead[lead["lead_id"]]) for lead in leads] == [1, 3, 2, 4, 1, 1, 1, 4]   # campaign + previous
    assert by_lead["2"] == [("2008-05-01", "current", "", ""), ("2008-05-02", "current", "", ""),
                            ("2008-05-05", "current", "cellular", "")]
    assert by_lead["3"] == [("2008-04-30", "previous", "", "success"),
                            ("2008-05-06", "current", "cellular", "")]
    assert by_lead["4"] == [("2008-03-13", "previous", "", ""), ("2008-03-14", "previous", "", "failure"),
                            ("2008-05-09", "current", "", ""), ("2008-05-12", "current", "cellular", "")]
    assert by_lead["8"] == [("2009-03-05", "previous", "", ""), ("2009-03-06", "previous", "", ""),
                            ("2009-03-08", "previous", "", "failure"), ("2009-03-09", "current", "cellular", "")]
    # A lead's created_at is its first call.
    assert [lead["created_at"][:10] for lead in leads][:4] == ["2008-05-05", "2008-05-01", "2008-04-30",
                                                               "2008-03-13"]


def test_rows_out_of_date_order_get_no_date_and_are_counted(tmp_path):
    row = f'40;"admin.";"married";"high.school";"no";"no";"no";"cellular";"may";"{{}}";1;1;999;0;"nonexistent";{MACRO};"no"'
    five_mondays = [row.format(day) for day in ["mon", "tue"] * 4 + ["mon"]]   # May 2008 has four
    history = history_over(tmp_path, five_mondays)
    (tmp_path / "scoring.score").write_text(RULESET.read_text())
    shutil.copy(RULESET_DIR / "schema.yaml", tmp_path / "schema.yaml")
    result = CliRunner().invoke(main, ["simulate", str(tmp_path / "scoring.score"), "--history", str(history),
                                       "--strict"])
    assert result.exit_code == 1
    assert f"{history}:outcomes:9" in result.stderr   # row 9, the fifth Monday: no time


# --- the shipped history --------------------------------------------------------------------------

def test_the_shipped_history_simulates_with_sensible_numbers():
    result = run("simulate", str(RULESET), "--history", str(HISTORY), "--strict", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["leads"], report["successes"], report["skipped_rows"]) == (41188, 4640, {})
    assert report["window"] == {"start": "2008-03-03T00:00:00Z", "end": "2010-11-27T00:00:00Z"}
    mql = report["variants"]["baseline"]["thresholds"]["mql"]
    assert mql["base_rate"] == pytest.approx(4640 / 41188)
    assert 2000 < mql["crossed"] < 10000
    assert mql["precision"] > 2 * mql["base_rate"] and 0.2 < mql["recall"] < 0.8


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_calibrate_reads_the_shipped_history_without_skipping_a_row(engine):
    result = run("calibrate", str(RULESET), "--history", str(HISTORY), "--strict", "--format", "json", "--engine", engine)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["leads"], report["successes"], report["skipped_rows"]) == (41188, 4640, {})
    signals = {signal["label"]: signal for signal in report["signals"]}
    assert signals['call where outcome == "success"']["leads"] == 1373
    assert signals['call where campaign == "current"']["leads"] == 41188   # every lead was called


def test_the_shipped_source_is_the_uci_file():
    data = gzip.decompress((RULESET_DIR / "raw" / "bank-additional-full.csv.gz").read_bytes())
    assert hashlib.sha256(data).hexdigest() == "74adfc578bf77a7ff4bb1ba4a9f8709d9e3c6907342959c2c8416847e0afb4d8"

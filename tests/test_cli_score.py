"""`leadscore score` (SIMULATION.md section 7): every lead of the tables scored at one instant,
checked against the Python API on the same data."""

from __future__ import annotations

import csv
import io
import json
import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.batch import bucket, output, pipeline, score_tables
from leadscore.cli import main
from leadscore.scored import ScoredLeads
from leadscore.tables import ProblemLog

REPO = Path(__file__).resolve().parents[1]
ACME = str(REPO / "rulesets" / "acme" / "scoring.score")
DATA = Path(__file__).resolve().parent / "data" / "score"
AS_OF = "2026-05-01T00:00:00Z"
COLUMNS = ["lead_id", "fit", "interest", "bant", "total", "mql", "sql", "grade", "priority"]
RULESET = leadscore.load(ACME)
SCORER = RULESET.compile()


ENGINE = {"name": "duckdb"}


@pytest.fixture(autouse=True, params=["duckdb", "python"])
def engine(request):
    """Every command test runs on both engines (an explicit --engine in a test wins: it comes later)."""
    ENGINE["name"] = request.param
    yield request.param
    ENGINE["name"] = "duckdb"


def score(*args: str):
    return CliRunner().invoke(main, ["score", ACME, "--engine", ENGINE["name"], *args])


def fixture_args(*extra: str) -> list[str]:
    return ["--leads", str(DATA / "leads.csv"), "--events", str(DATA / "events.csv"), "--as-of", AS_OF, *extra]


# --- generated histories, and what the API says about them ----------------------------------------

INDUSTRIES = ["Manufacturing", "Software", "Financial Services", "Consulting", ""]
URLS = ["/pricing", "/pricing/team", "/blog/a", "/docs", ""]
TYPES = ["page_view", "email_open", "email_click", "content_download", "demo_request", "unsubscribe",
         "contact_form", "social_click"]
PROPERTY = {"page_view": "url", "email_open": "campaign", "email_click": "campaign", "content_download": "asset",
            "social_click": "network"}


def history(seed: int, leads: int, events: int):
    """Leads and events as text cells (what a CSV holds), events in random order."""
    rng = random.Random(seed)
    lead_rows = [{"lead_id": f"id-{rng.randrange(10**6):06d}-{k}", "industry": rng.choice(INDUSTRIES),
                  "employees": rng.choice(["12", "300", "8000", "", "2e3"]),
                  "job_title": rng.choice(["VP Sales", "Engineer", ""]), "role": rng.choice(["buyer", "end_user", ""]),
                  "email": rng.choice(["x@gmail.com", "y@corp.example", ""]), "country": rng.choice(["US", "FR", ""]),
                  "tech": rng.choice(["salesforce;hubspot", "hubspot", ""]),
                  "has_budget": rng.choice(["yes", "No", "TRUE", "0", ""]), "is_decision_maker": rng.choice(["1", ""]),
                  "need_confirmed": rng.choice(["true", "false"]), "timeline_days": rng.choice(["30", "200", ""])}
                 for k in range(leads)]
    start = 1_775_000_000   # 2026-03-31
    event_rows = []
    for k in range(events):
        kind = rng.choice(TYPES)
        row = {"lead_id": rng.choice(lead_rows)["lead_id"], "type": kind,
               # distinct seconds: equal times would make the order within a lead a matter of file order
               "at": f"{start + k * 97 + rng.randrange(90)}"}
        if kind in PROPERTY:
            row[PROPERTY[kind]] = rng.choice(URLS) if kind == "page_view" else rng.choice(["a", "b"])
        event_rows.append(row)
    for row in event_rows:
        row["at"] = _iso(int(row["at"]))
    return lead_rows, event_rows


def _iso(seconds: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_rows(lead_rows, event_rows, as_of=AS_OF) -> list[list[str]]:
    """The API's result for each lead, formatted as the CSV must show it."""
    by_lead: dict = {}
    for row in event_rows:
        props = {PROPERTY[row["type"]]: row.get(PROPERTY[row["type"]])} if row["type"] in PROPERTY else {}
        by_lead.setdefault(row["lead_id"], []).append({"type": row["type"], "at": row["at"], "properties": props})
    rows = []
    for lead in lead_rows:
        result = SCORER.score(lead, by_lead.get(lead["lead_id"], []), as_of)
        rows.append([lead["lead_id"], *(repr(v) for v in result.scores.values()),
                     *("true" if v else "false" for v in result.thresholds.values()),
                     *(v or "" for v in result.segments.values())])
    return rows


def write_csv(path: Path, rows: list[dict]) -> str:
    names = list(dict.fromkeys(key for row in rows for key in row)) or ["lead_id", "type", "at"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps({k: v for k, v in row.items() if v != ""}) + "\n" for row in rows))
    return str(path)


def write_parquet(path: Path, rows: list[dict]) -> str:
    names = list(dict.fromkeys(key for row in rows for key in row))
    pq.write_table(pa.table({name: [row.get(name) or None for row in rows] for name in names}), path)
    return str(path)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- the output contract ------------------------------------------------------------------------------

def test_columns_rows_in_input_order_and_values_of_the_api(tmp_path):
    lead_rows, event_rows = history(1, 40, 600)
    leads, events = write_csv(tmp_path / "leads.csv", lead_rows), write_csv(tmp_path / "events.csv", event_rows)
    result = score("--leads", leads, "--events", events, "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    rows = csv_rows(result.stdout)
    assert rows[0] == COLUMNS
    assert rows[1:] == expected_rows(lead_rows, event_rows)
    assert "scored 40 leads (600 events) at 2026-05-01T00:00:00Z" in result.stderr


def test_floats_in_shortest_exact_form(tmp_path):
    result = score(*fixture_args())
    rows = {row[0]: row for row in csv_rows(result.stdout)[1:]}
    assert rows["L-100"][1:5] == ["48.0", "42.5", "50.0", "90.5"]
    interest = float(rows["L-300"][2])
    assert rows["L-300"][2] == repr(interest) and interest != round(interest, 6)   # decayed: many digits, exact
    jsonl = score(*fixture_args("--format", "jsonl"))
    line = jsonl.stdout.splitlines()[2]
    assert f'"interest": {rows["L-300"][2]},' in line and json.loads(line)["interest"] == interest


def test_jsonl_output_keys_in_order_with_native_values(tmp_path):
    out = tmp_path / "scores.jsonl"
    result = score(*fixture_args("-o", str(out)))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote {out}" in result.stderr
    first = json.loads(out.read_text().splitlines()[0])
    assert list(first) == COLUMNS
    assert first == {"lead_id": "L-100", "fit": 48.0, "interest": 42.5, "bant": 50.0, "total": 90.5,
                     "mql": False, "sql": False, "grade": "C", "priority": "remove"}


def test_format_option_beats_the_extension_and_unknown_extension_is_a_usage_error(tmp_path):
    out = tmp_path / "scores.txt"
    assert score(*fixture_args("-o", str(out))).exit_code == 2 and not out.exists()
    assert score(*fixture_args("-o", str(out), "--format", "csv")).exit_code == 0
    assert out.read_text().splitlines()[0] == ",".join(COLUMNS)


@pytest.mark.parametrize("writer", [write_jsonl, write_parquet])
def test_jsonl_and_parquet_tables_score_like_csv(tmp_path, writer):
    lead_rows, event_rows = history(2, 25, 300)
    suffix = ".jsonl" if writer is write_jsonl else ".parquet"
    leads, events = writer(tmp_path / f"leads{suffix}", lead_rows), writer(tmp_path / f"events{suffix}", event_rows)
    result = score("--leads", leads, "--events", events, "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert csv_rows(result.stdout)[1:] == expected_rows(lead_rows, event_rows)


def test_explain_adds_reasons_that_add_up_to_each_score():
    result = score(*fixture_args("--explain", "--format", "jsonl"))
    for line in result.stdout.splitlines():
        row = json.loads(line)
        assert list(row)[-1] == "reasons"
        for name in ("fit", "interest", "bant"):
            assert sum(r["points"] for r in row["reasons"] if r["score"] == name) == pytest.approx(row[name])
    first = json.loads(result.stdout.splitlines()[0])
    assert {"score": "interest", "rule": "site_visit", "points": 5.0, "kind": "rule", "events": 5} in first["reasons"]
    csv_result = score(*fixture_args("--explain"))
    header, first_row = csv_rows(csv_result.stdout)[:2]
    assert header == [*COLUMNS, "reasons"] and json.loads(first_row[-1]) == first["reasons"]


def test_segment_missing_is_empty_and_lead_ids_needing_quotes(tmp_path):
    rules = tmp_path / "r.score"
    (tmp_path / "schema.yaml").write_text("lead:\n  fields:\n    size: {type: number}\n")
    rules.write_text('ruleset "q" version 1\nschema "schema.yaml"\nscore s {\n  big: +1 if size > 10\n}\n'
                     "score half = s / size\nsegment tier {\n  top if s >= 1\n}\n")
    leads = tmp_path / "leads.csv"
    leads.write_text('lead_id,size\n"a,b",20\n"say ""hi""",0\n')
    events = tmp_path / "events.csv"
    events.write_text("lead_id,type,at\n")
    result = CliRunner().invoke(main, ["score", str(rules), "--leads", str(leads), "--events", str(events),
                                       "--as-of", AS_OF])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["lead_id,s,half,tier", '"a,b",1.0,0.05,top', '"say ""hi""",0.0,,']
    jsonl = CliRunner().invoke(main, ["score", str(rules), "--leads", str(leads), "--events", str(events),
                                      "--as-of", AS_OF, "--format", "jsonl"])
    assert [json.loads(line) for line in jsonl.stdout.splitlines()][1] == \
        {"lead_id": 'say "hi"', "s": 0.0, "half": None, "tier": None}


def test_lead_id_column_whatever_the_schema_calls_it_and_nested_jsonl_properties(tmp_path):
    (tmp_path / "schema.yaml").write_text("lead:\n  id: contact_id\n  fields:\n    vip: {type: boolean}\n"
                                          "events:\n  visit: {properties: {page: string}}\n")
    rules = tmp_path / "r.score"
    rules.write_text('ruleset "c" version 1\nschema "schema.yaml"\nscore s {\n  vip: +10 if vip == true\n'
                     '  pricing: +1 per visit where page starts_with "/pricing"\n}\n')
    leads, events = tmp_path / "leads.jsonl", tmp_path / "events.jsonl"
    leads.write_text('{"contact_id": "c1", "vip": "Yes"}\n{"contact_id": "c2", "vip": false}\n')
    events.write_text('{"contact_id": "c2", "type": "visit", "at": "2026-04-30", "properties": {"page": "/pricing"}}\n'
                      '{"contact_id": "c2", "type": "visit", "at": "2026-04-30T12:00:00", "page": "/pricing/x"}\n'
                      '{"contact_id": "c1", "type": "visit", "at": "2026-04-30", "properties": {"page": "/blog"}}\n')
    result = CliRunner().invoke(main, ["score", str(rules), "--leads", str(leads), "--events", str(events),
                                       "--as-of", AS_OF])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["lead_id,s", "c1,10.0", "c2,2.0"]


def test_events_with_several_properties_of_every_type(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "EVENTS_PER_BUCKET", 5)
    (tmp_path / "schema.yaml").write_text(
        "lead:\n  fields:\n    plan: {type: string}\n"
        "events:\n  purchase: {properties: {amount: number, sku: string, note: string, tags: list, shipped: datetime,"
        " gift: boolean}}\n  visit: {properties: {page: string, ref: string}}\n")
    rules = tmp_path / "r.score"
    rules.write_text('ruleset "p" version 1\nschema "schema.yaml"\nscore s {\n'
                     '  big: +5 per purchase where amount > 100 and sku == "X"\n'
                     '  noted: +1 per purchase where note is present and gift == true\n'
                     '  promo: +2 per purchase where tags contains "promo"\n'
                     '  late: +3 per purchase where shipped >= 2026-04-15T00:00:00Z\n'
                     '  referred: +1 per visit where ref == "ad" and page starts_with "/p"\n}\n')
    rng = random.Random(5)
    rows = []
    for k in range(60):
        lead = rng.choice(["a", "b", "c"])
        if rng.random() < 0.5:
            rows.append({"lead_id": lead, "type": "purchase", "at": _iso(1_775_000_000 + k * 3600),
                         "amount": rng.choice(["50", "150", ""]), "sku": rng.choice(["X", "Y"]),
                         "note": rng.choice(["", "hi"]), "tags": rng.choice(["promo; new", "new", ""]),
                         "shipped": rng.choice(["2026-04-20", "2026-04-01T00:00:00Z", ""]),
                         "gift": rng.choice(["yes", "no", ""])})
        else:
            rows.append({"lead_id": lead, "type": "visit", "at": _iso(1_775_000_000 + k * 3600),
                         "page": rng.choice(["/p1", "/q"]), "ref": rng.choice(["ad", ""])})
    events = write_csv(tmp_path / "events.csv", rows)
    leads = tmp_path / "leads.csv"
    leads.write_text("lead_id,plan\nc,x\na,y\nb,\n")
    result = CliRunner().invoke(main, ["score", str(rules), "--leads", str(leads), "--events", events,
                                       "--as-of", AS_OF])
    assert result.exit_code == 0, result.stderr
    scorer = leadscore.load(str(rules)).compile()
    expected = []
    for lead in ("c", "a", "b"):
        mine = [{"type": r["type"], "at": r["at"], "properties": {k: v for k, v in r.items()
                                                                  if k not in ("lead_id", "type", "at")}}
                for r in rows if r["lead_id"] == lead]
        expected.append(f"{lead},{scorer.score({}, mine, AS_OF).scores['s']!r}")
    assert result.stdout.splitlines() == ["lead_id,s", *expected]


def test_no_leads_is_a_header_and_every_event_an_unknown_lead(tmp_path):
    leads = tmp_path / "leads.csv"
    leads.write_text("lead_id,industry\n")
    result = score("--leads", str(leads), "--events", str(DATA / "events.csv"), "--as-of", AS_OF)
    assert result.exit_code == 0 and result.stdout == ",".join(COLUMNS) + "\n"
    assert "events: 15 rows for an unknown lead" in result.stderr and "scored 0 leads (0 events)" in result.stderr


# --- problems ----------------------------------------------------------------------------------------

def test_unusable_rows_are_counted_and_the_first_shown_with_file_and_row():
    result = score(*fixture_args())
    assert result.exit_code == 0
    leads, events = DATA / "leads.csv", DATA / "events.csv"
    assert f"note: leads: 1 value that does not fit its type (first: {leads}:3 employees: `forty` is not a number)" \
        in result.stderr
    assert f"note: events: 1 row with an unknown event type (first: {events}:11 unknown event type `pageview`)" \
        in result.stderr
    assert f"note: events: 1 row for an unknown lead (first: {events}:6 unknown lead `L-999`)" in result.stderr
    assert "(13 events)" in result.stderr and "1 later event left out" in result.stderr
    assert len(csv_rows(result.stdout)) == 4


def test_strict_turns_a_bad_row_into_an_error_and_writes_nothing(tmp_path):
    out = tmp_path / "scores.csv"
    out.write_text("yesterday's scores\n")
    result = score(*fixture_args("--strict", "-o", str(out)))
    assert result.exit_code == 1
    assert f"error: {DATA / 'leads.csv'}:3 employees: `forty` is not a number (--strict)" in result.stderr
    assert out.read_text() == "yesterday's scores\n" and os.listdir(tmp_path) == ["scores.csv"]
    assert "Traceback" not in result.output


def test_strict_unknown_lead_found_while_scoring_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "EVENTS_PER_BUCKET", 50)   # several buckets: the lead is found unknown late
    lead_rows, event_rows = history(3, 30, 400)
    event_rows.insert(250, {"lead_id": "nobody", "type": "page_view", "at": "2026-04-10T00:00:00Z"})
    leads, events = write_csv(tmp_path / "leads.csv", lead_rows), write_csv(tmp_path / "events.csv", event_rows)
    out = tmp_path / "out" / "scores.csv"
    out.parent.mkdir()
    result = score("--leads", leads, "--events", events, "--as-of", AS_OF, "--strict", "-o", str(out))
    assert result.exit_code == 1
    assert f"error: {events}:252 unknown lead `nobody` (--strict)" in result.stderr
    assert os.listdir(out.parent) == []


def test_a_failure_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    def fail_halfway(out, rows):
        out.write(next(rows))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "_write", fail_halfway)
    out = tmp_path / "scores.csv"
    result = score(*fixture_args("-o", str(out), "--engine", "python"))
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert os.listdir(tmp_path) == []


def test_a_failure_while_writing_leaves_no_partial_file_with_duckdb(tmp_path, monkeypatch):
    from leadscore.engines import duckdb_tables

    writer = duckdb_tables.write_rows
    calls = []

    def fail_on_the_second_part(table, *args):
        calls.append(table.num_rows)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return writer(table, *args)

    monkeypatch.setattr(duckdb_tables, "_OUTPUT_ROWS", 1)
    monkeypatch.setattr(duckdb_tables, "write_rows", fail_on_the_second_part)
    out = tmp_path / "scores.csv"
    result = score(*fixture_args("-o", str(out), "--engine", "duckdb"))
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert os.listdir(tmp_path) == [] and calls == [1, 1]


def test_output_file_keeps_the_mode_a_new_file_gets(tmp_path):
    out = tmp_path / "scores.csv"
    assert score(*fixture_args("-o", str(out))).exit_code == 0
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


# --- grouping events by lead ---------------------------------------------------------------------------

@pytest.mark.parametrize("jobs", ["1", "2"])
def test_unsorted_events_in_many_buckets_give_the_api_scores(tmp_path, monkeypatch, jobs):
    monkeypatch.setattr(pipeline, "EVENTS_PER_BUCKET", 100)
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 0)
    lead_rows, event_rows = history(4, 60, 1500)
    lead_rows.append(dict(lead_rows[5], industry="Software"))   # a repeated id: its first row counts
    leads, events = write_csv(tmp_path / "leads.csv", lead_rows), write_csv(tmp_path / "events.csv", event_rows)
    out = tmp_path / "scores.csv"
    result = score("--leads", leads, "--events", events, "--as-of", AS_OF, "--jobs", jobs, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert csv_rows(out.read_text())[1:] == expected_rows(lead_rows[:-1], event_rows)
    assert f"1 repeated lead id (first row kept) (first: {leads}:62 lead `{lead_rows[5]['lead_id']}` repeated" \
        in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["events.csv", "leads.csv", "scores.csv"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), leads=st.integers(0, 12), events=st.integers(0, 120),
       per_bucket=st.sampled_from([7, 40, 10**6]), as_of=st.sampled_from(["2026-04-01", AS_OF]))
def test_any_bucketing_gives_the_api_scores(tmp_path_factory, monkeypatch, seed, leads, events, per_bucket, as_of):
    folder = tmp_path_factory.mktemp("h")
    lead_rows, event_rows = history(seed, max(leads, 1), events)
    monkeypatch.setattr(pipeline, "EVENTS_PER_BUCKET", per_bucket)
    out = io.StringIO()
    instant = leadscore.compiler.runtime.to_epoch(as_of)
    summary = score_tables(SCORER, RULESET.checked.schema, write_csv(folder / "leads.csv", lead_rows),
                           write_csv(folder / "events.csv", event_rows), instant, out, fmt="csv", explain=False,
                           log=ProblemLog())
    assert csv_rows(out.getvalue())[1:] == expected_rows(lead_rows, event_rows, as_of)
    assert summary.leads == len(lead_rows)
    assert summary.events + summary.later == len(event_rows)


@pytest.mark.parametrize("backend", ["interpreter", "duckdb"])
@pytest.mark.parametrize("fmt, explain", [("csv", False), ("jsonl", True)])
def test_the_batch_loop_scores_through_any_backend(tmp_path, backend, fmt, explain):
    """batch/ calls only the Backend interface (evaluate_many): every backend writes the same rows."""
    lead_rows, event_rows = history(11, 9, 90)
    leads, events = write_csv(tmp_path / "leads.csv", lead_rows), write_csv(tmp_path / "events.csv", event_rows)
    written = []
    for scorer in (SCORER, RULESET.compile(backend=backend)):
        out = io.StringIO()
        score_tables(scorer, RULESET.checked.schema, leads, events, leadscore.compiler.runtime.to_epoch(AS_OF), out,
                     fmt=fmt, explain=explain, log=ProblemLog())
        written.append(out.getvalue().splitlines())
    assert len(written[0]) == (10 if fmt == "csv" else 9)   # CSV: a header line
    if fmt == "csv":   # DuckDB sums in its own order: the last digit of a float may differ
        assert [row[:1] + row[-4:] for row in map(csv_rows_of_line, written[1])] == \
            [row[:1] + row[-4:] for row in map(csv_rows_of_line, written[0])]
    else:
        first, other = ([json.loads(line) for line in lines] for lines in written)
        for a, b in zip(first, other):
            assert a.keys() == b.keys() and a["lead_id"] == b["lead_id"] and a["mql"] == b["mql"]
            assert all(a[k] == pytest.approx(b[k], abs=1e-9) for k in ("fit", "interest", "bant", "total"))


def csv_rows_of_line(line: str) -> list[str]:
    return next(csv.reader([line]))


# --- bad input ----------------------------------------------------------------------------------------

def test_bad_input_is_a_plain_message_never_a_traceback(tmp_path):
    garbage = tmp_path / "leads.parquet"
    garbage.write_bytes(b"\x00\x01not parquet at all" * 10)
    empty = tmp_path / "events.csv"
    empty.write_text("")
    no_type = tmp_path / "no_type.csv"
    no_type.write_text("lead_id,at\nL-100,2026-04-01\n")
    cases = [
        (["--leads", str(tmp_path / "missing.csv"), "--events", str(DATA / "events.csv"), "--as-of", AS_OF], 2,
         "does not exist"),
        (fixture_args()[:4] + ["--as-of", "next tuesday"], 2, "'next tuesday' is not a date"),
        (["--leads", str(garbage), "--events", str(DATA / "events.csv"), "--as-of", AS_OF], 1, "cannot read"),
        (["--leads", str(DATA / "leads.csv"), "--events", str(empty), "--as-of", AS_OF], 1, "cannot read"),
        (["--leads", str(DATA / "leads.csv"), "--events", str(no_type), "--as-of", AS_OF], 1, "no `type` column"),
        (["--leads", str(DATA / "README.md"), "--events", str(DATA / "events.csv"), "--as-of", AS_OF], 1,
         "unknown table format"),
    ]
    for args, status, message in cases:
        result = score(*args)
        assert result.exit_code == status, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert result.stdout == ""


def test_a_ruleset_with_errors_is_refused(tmp_path):
    (tmp_path / "r.score").write_text('ruleset "b" version 1\nscore s {\n  a: +1 if y > 1\n}\n')
    result = CliRunner().invoke(main, ["score", str(tmp_path / "r.score"), *fixture_args()])
    assert result.exit_code == 1 and "fix them first" in result.stderr and result.stdout == ""


def test_output_row_helpers():
    names = output.columns(("a",), ("t",), ("g",), False)
    row = output.row_formatter("csv", names, False)
    assert row("x", (1.0,), (True,), (None,), None) == "x,1.0,true,\n"
    assert output.row_formatter("jsonl", names, False)("x", (float("inf"),), (False,), ("lbl",), None) == \
        '{"lead_id": "x", "a": null, "t": false, "g": "lbl"}\n'


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=6),
                          st.tuples(*[st.one_of(st.none(), st.floats(), st.sampled_from([0.0, -0.0]))] * 2),
                          st.tuples(st.booleans(), st.booleans()),
                          st.tuples(*[st.one_of(st.none(), st.text(max_size=5))] * 2)), max_size=8),
       st.booleans())
def test_rows_of_many_leads_are_the_rows_of_each_lead(leads, explain):
    names = output.columns(("a", "b"), ("t", "u"), ("g", "h"), explain)
    ids = [lead for lead, *_ in leads]
    results = [(scores, thresholds, segments, (("a", "r", 1.0, "rule", None),) if explain else None)
               for _, scores, thresholds, segments in leads]
    scored = ScoredLeads.of_tuples(results, explain)
    for fmt in ("csv", "jsonl"):
        row = output.row_formatter(fmt, names, explain)
        assert output.rows_formatter(fmt, names, explain)(ids, scored) == [row(i, *r) for i, r in zip(ids, results)]


def test_rows_of_the_buckets_merge_into_position_order():
    rng = random.Random(5)
    positions = list(range(2000))
    rng.shuffle(positions)
    streams = []
    for bucket in range(8):   # the last one has no rows
        mine = sorted(positions[bucket::7]) if bucket < 7 else []
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, pipeline._OUTPUT) as writer:
            start = 0
            while start < len(mine):   # batches of any size, empty ones included
                size = rng.choice([0, 1, 5, 60])
                part = mine[start:start + size]
                writer.write_batch(pa.record_batch([pa.array(part, pa.int64()), pa.array([f"{p}\n" for p in part])],
                                                   schema=pipeline._OUTPUT))
                start += size
        streams.append(pa.ipc.open_stream(sink.getvalue()))
    assert "".join(pipeline._merged(streams)) == "".join(f"{p}\n" for p in range(2000))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=60))
def test_events_at_equal_times_stay_in_file_order(times):
    at = np.array(times, float)
    assert bucket._time_order(at).tolist() == np.argsort(at, kind="stable").tolist()


# --- the duckdb engine ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("explain", [[], ["--explain"]])
def test_duckdb_engine_writes_what_the_python_engine_writes(fmt, explain):
    python = score(*fixture_args("--format", fmt, *explain))
    duckdb = score(*fixture_args("--format", fmt, "--engine", "duckdb", "--memory-limit", "256MB", *explain))
    assert python.exit_code == duckdb.exit_code == 0, duckdb.output
    assert duckdb.stdout == python.stdout
    assert duckdb.stderr == python.stderr   # the same problems counted, the same rows shown


def test_duckdb_engine_strict_still_fails_on_a_bad_row():
    result = score(*fixture_args("--engine", "duckdb", "--strict"))
    assert result.exit_code == 1 and "(--strict)" in result.stderr and result.stdout == ""


def test_duckdb_engine_reports_a_bad_memory_limit_in_one_line():
    result = score(*fixture_args("--engine", "duckdb", "--memory-limit", "lots"))
    assert result.exit_code == 1 and result.stderr.count("\n") <= 5 and "error: duckdb:" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("engine, given, expected", [("duckdb", None, len(os.sched_getaffinity(0))),
                                                     ("duckdb", "1", 1), ("python", None, 1), ("python", "2", 2)])
def test_jobs_default_to_one_thread_per_cpu_with_duckdb_and_one_process_with_python(monkeypatch, engine, given,
                                                                                    expected):
    from leadscore import batch
    from leadscore.engines import duckdb_tables

    seen = {}

    def duckdb_run(*args, threads, **kwargs):
        seen["jobs"] = threads
        return pipeline.Summary(0, 0, 0)

    def python_run(*args, jobs, **kwargs):
        seen["jobs"] = jobs
        return pipeline.Summary(0, 0, 0)

    monkeypatch.setattr(duckdb_tables, "score_tables_duckdb", duckdb_run)
    monkeypatch.setattr(batch, "score_tables", python_run)
    result = score(*fixture_args("--engine", engine, *(["--jobs", given] if given else [])))
    assert result.exit_code == 0, result.stderr
    assert seen == {"jobs": expected}

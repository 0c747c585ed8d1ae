"""Reading the history tables (SIMULATION.md section 1): typing, problems, row numbers, formats."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from types import MappingProxyType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore import tables
from leadscore.dsl.diagnostics import Span
from leadscore.dsl.schema import EventSpec, FieldSpec, Schema
from leadscore.tables import (Event, ProblemLog, RowProblem, TableError, event_batches, find_history_tables,
                              lead_batches, read_changes, read_events, read_leads, read_outcomes, table_format)

UTC = timezone.utc
HERE = Span("schema.yaml", 1, 1, 1, 2)


def spec(name: str, kind: str, values: tuple[str, ...] | None = None) -> FieldSpec:
    return FieldSpec(name, kind, values, HERE)


def make_schema(id_column: str = "lead_id") -> Schema:
    fields = {"industry": spec("industry", "string", ("Software", "Retail")), "employees": spec("employees", "number"),
              "tech": spec("tech", "list"), "created_at": spec("created_at", "datetime"),
              "has_budget": spec("has_budget", "boolean")}
    events = {"page_view": EventSpec("page_view", MappingProxyType({"url": spec("url", "string")}), HERE),
              "purchase": EventSpec("purchase", MappingProxyType(
                  {"amount": spec("amount", "number"), "gift": spec("gift", "boolean")}), HERE),
              "demo_request": EventSpec("demo_request", MappingProxyType({}), HERE)}
    return Schema("schema.yaml", id_column, "created_at", MappingProxyType(fields), MappingProxyType(events))


SCHEMA = make_schema()


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def where(log: ProblemLog) -> list[tuple[int, str | None, str]]:
    return [(p.row, p.column, p.kind) for p in log.examples]


# --- typed conversion -----------------------------------------------------------------------------

def test_csv_leads_every_type(tmp_path):
    path = write(tmp_path, "leads.csv",
                 "lead_id,industry,employees,tech,created_at,has_budget\n"
                 "a,Software,12,crm; erp;;  bi ,2026-01-05T10:00:00,TRUE\n"       # naive time = UTC
                 "b,Mining,1e3,,2026-01-05T10:00:00+02:00,No\n"                   # outside `values`: kept
                 "c,, 7 ,\" ; \",2026-01-05,yes\n"                                # bare date = midnight UTC
                 "d,Retail,5_000,x,2026-01-05T10:00:00Z,0\n")
    log = ProblemLog()
    leads = dict(read_leads(path, SCHEMA, log))
    assert log.total() == 0
    assert leads["a"] == {"industry": "Software", "employees": 12.0, "tech": ["crm", "erp", "bi"],
                          "created_at": datetime(2026, 1, 5, 10, tzinfo=UTC), "has_budget": True}
    assert leads["b"]["industry"] == "Mining" and leads["b"]["employees"] == 1000.0
    assert leads["b"]["created_at"] == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert leads["b"]["created_at"].tzinfo is UTC and leads["b"]["has_budget"] is False
    assert leads["c"] == {"industry": None, "employees": 7.0, "tech": None,
                          "created_at": datetime(2026, 1, 5, tzinfo=UTC), "has_budget": True}
    assert leads["d"]["employees"] == 5000.0 and leads["d"]["tech"] == ["x"] and leads["d"]["has_budget"] is False


def test_bad_values_become_missing_and_are_reported(tmp_path):
    path = write(tmp_path, "leads.csv",
                 "lead_id,employees,created_at,has_budget\n"
                 "a,abc,2026-13-01,maybe\n"
                 "b,nan,2026-02-30T10:00:00Z,1\n"
                 "c,inf,   ,\n")
    log = ProblemLog()
    leads = dict(read_leads(path, SCHEMA, log))
    assert leads["a"] == {"industry": None, "employees": None, "tech": None, "created_at": None, "has_budget": None}
    assert leads["b"]["has_budget"] is True and leads["b"]["employees"] is None and leads["b"]["created_at"] is None
    assert where(log) == [(2, "employees", "bad_value"), (2, "created_at", "bad_value"),
                          (2, "has_budget", "bad_value"), (3, "employees", "bad_value"),
                          (3, "created_at", "bad_value"), (4, "employees", "bad_value")]
    assert log.examples[1].reason == "`2026-13-01` is not a timestamp"
    assert log.examples[0] == RowProblem("leads", path, 2, "employees", "`abc` is not a number", "bad_value")
    assert log.counts == {("leads", "bad_value"): 6}


def test_mixed_timestamp_formats_in_one_column(tmp_path):
    rows = ["2026-01-05T10:00:00Z", "2026-01-05 10:00", "2026-01-05", "2026-01-05T12:00:00.250+02:00",
            "2026-01-05T10:00:00.1234567Z", "20260105T100000", "2026-02-30T10:00:00Z", "soon"]
    path = write(tmp_path, "events.csv", "lead_id,type,at\n" + "".join(f"a,demo_request,{r}\n" for r in rows))
    log = ProblemLog()
    ats = [event.at for _, event in read_events(path, SCHEMA, log)]
    assert ats == [seconds("2026-01-05T10:00:00+00:00")] * 2 + [seconds("2026-01-05T00:00:00+00:00"),
                                                                seconds("2026-01-05T10:00:00.250+00:00"),
                                                                seconds("2026-01-05T10:00:00.123456+00:00"),
                                                                seconds("2026-01-05T10:00:00+00:00")]
    assert where(log) == [(8, "at", "bad_timestamp"), (9, "at", "bad_timestamp")]
    assert log.examples[1].reason == "`soon` is not a timestamp"


def test_event_properties_by_type(tmp_path):
    path = write(tmp_path, "events.csv",
                 "lead_id,type,at,url,amount,gift\n"
                 "a,page_view,2026-01-05T10:00:00Z,/pricing,,\n"
                 "a,purchase,2026-01-06T10:00:00Z,/ignored,12.5,Yes\n"           # url does not apply
                 "a,purchase,2026-01-07T10:00:00Z,,lots,\n"
                 "a,demo_request,2026-01-08T10:00:00Z,,oops,\n"                  # amount does not apply
                 " a ,page_view,2026-01-09T10:00:00Z,,,\n")
    log = ProblemLog()
    events = list(read_events(path, SCHEMA, log))
    assert events == [("a", Event("page_view", seconds("2026-01-05T10:00:00+00:00"), {"url": "/pricing"})),
                      ("a", Event("purchase", seconds("2026-01-06T10:00:00+00:00"), {"amount": 12.5, "gift": True})),
                      ("a", Event("purchase", seconds("2026-01-07T10:00:00+00:00"), {"amount": None, "gift": None})),
                      ("a", Event("demo_request", seconds("2026-01-08T10:00:00+00:00"), {})),
                      ("a", Event("page_view", seconds("2026-01-09T10:00:00+00:00"), {"url": None}))]
    assert where(log) == [(4, "amount", "bad_value")]


# --- rows left out ----------------------------------------------------------------------------------

def test_unknown_type_time_and_lead_are_left_out(tmp_path):
    path = write(tmp_path, "events.csv",
                 "lead_id,type,at\n"
                 "a,pageview,2026-01-05T10:00:00Z\n"
                 "a,demo_request,yesterday\n"
                 "z,demo_request,2026-01-05T10:00:00Z\n"
                 ",demo_request,2026-01-05T10:00:00Z\n"
                 "a,,2026-01-05T10:00:00Z\n"
                 "a,demo_request,\n"
                 "b,demo_request,2026-01-05T10:00:00Z\n")
    log = ProblemLog()
    events = list(read_events(path, SCHEMA, log, known_leads={"a", "b"}))
    assert [lead for lead, _ in events] == ["b"]
    assert where(log) == [(2, "type", "unknown_event_type"), (3, "at", "bad_timestamp"), (4, "lead_id", "unknown_lead"),
                          (5, "lead_id", "bad_row"), (6, "type", "bad_row"), (7, "at", "bad_timestamp")]
    assert log.examples[0].reason == "unknown event type `pageview`"
    assert log.examples[5].reason == "no time"
    # without known_leads every lead is accepted
    assert [lead for lead, _ in read_events(path, SCHEMA, ProblemLog())] == ["z", "b"]


def test_duplicate_lead_keeps_first_and_unknown_columns_counted_once(tmp_path):
    path = write(tmp_path, "leads.csv",
                 "lead_id,industry,favourite_colour,notes\n"
                 "a,Software,red,x\n"
                 "b,Retail,blue,y\n"
                 "a,Retail,green,z\n")
    log = ProblemLog()
    assert [(lead, fields["industry"]) for lead, fields in read_leads(path, SCHEMA, log)] == \
        [("a", "Software"), ("b", "Retail")]
    assert log.counts == {("leads", "unknown_column"): 2, ("leads", "duplicate_lead"): 1}
    assert where(log) == [(1, "favourite_colour", "unknown_column"), (1, "notes", "unknown_column"),
                          (4, "lead_id", "duplicate_lead")]


def test_declared_field_without_column_is_missing_silently(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id\na\n")
    log = ProblemLog()
    assert list(read_leads(path, SCHEMA, log)) == [("a", dict.fromkeys(SCHEMA.fields))]
    assert log.total() == 0


def test_id_column_of_the_schema_or_lead_id(tmp_path):
    schema = make_schema("contact_id")
    assert [lead for lead, _ in read_leads(write(tmp_path, "a.csv", "contact_id\nx\n"), schema, ProblemLog())] == ["x"]
    assert [lead for lead, _ in read_leads(write(tmp_path, "b.csv", "lead_id\ny\n"), schema, ProblemLog())] == ["y"]
    with pytest.raises(TableError) as error:
        list(read_leads(write(tmp_path, "c.csv", "id\nz\n"), schema, ProblemLog()))
    assert error.value.problem.kind == "missing_column" and error.value.problem.column == "contact_id"


def test_missing_required_column(tmp_path):
    with pytest.raises(TableError, match="no `at` column"):
        list(read_events(write(tmp_path, "events.csv", "lead_id,type\na,demo_request\n"), SCHEMA, ProblemLog()))


def test_strict_mode_raises_on_the_first_problem(tmp_path):
    path = write(tmp_path, "events.csv", "lead_id,type,at,extra\na,demo_request,never,1\na,nope,2026-01-01,2\n")
    with pytest.raises(TableError) as error:
        list(read_events(path, SCHEMA, ProblemLog(strict=True)))
    assert error.value.problem == RowProblem("events", path, 2, "at", "`never` is not a timestamp", "bad_timestamp")
    assert str(error.value) == f"{path}:2 `never` is not a timestamp"


def test_summary_lines(tmp_path):
    path = write(tmp_path, "events.csv", "lead_id,type,at\n" + "a,pageview,2026-01-01\n" * 3)
    log = ProblemLog(keep=2)
    assert list(read_events(path, SCHEMA, log)) == []
    assert log.summary_lines() == [
        f"events: 3 rows with an unknown event type (first: {path}:2 unknown event type `pageview`)"]
    assert len(log.examples) == 2 and log.total() == 3


# --- CSV row numbers --------------------------------------------------------------------------------

def test_csv_row_numbers_with_quoted_newlines_blank_and_malformed_rows(tmp_path):
    path = write(tmp_path, "events.csv",
                 'lead_id,type,at,url\n'                                   # line 1
                 'a,page_view,2026-01-05T10:00:00Z,"/a\nb\nc"\n'           # lines 2-4
                 '\n'                                                      # line 5: blank, skipped silently
                 'a,page_view,bad,\n'                                      # line 6
                 'a,page_view\n'                                           # line 7: too few cells
                 'a,page_view,"2026-01-05\nT10",x\n'                       # lines 8-9
                 'a,oops,2026-01-05,\n')                                   # line 10
    log = ProblemLog()
    events = list(read_events(path, SCHEMA, log))
    assert [event.properties["url"] for _, event in events] == ["/a\nb\nc"]
    assert where(log) == [(6, "at", "bad_timestamp"), (7, None, "bad_row"), (8, "at", "bad_timestamp"),
                          (10, "type", "unknown_event_type")]


def test_csv_row_numbers_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(tables.csvfile, "BLOCK_BYTES", 256)   # many small batches
    lines, expected = ["lead_id,type,at,url"], []
    for i in range(300):
        if i % 37 == 5:
            lines.append(f'L{i},page_view,2026-01-05,"x\ny"')
        elif i % 53 == 7:
            lines.append(f"L{i},page_view")
        elif i % 29 == 3:
            lines.append(f"L{i},page_view,not-a-time,")
        else:
            lines.append(f"L{i},page_view,2026-01-05,")
    number = 1
    for line in lines[1:]:
        number += 1
        if "not-a-time" in line or line.count(",") == 1:
            expected.append(number)
        number += line.count("\n")
    log = ProblemLog(keep=1000)
    list(read_events(write(tmp_path, "events.csv", "\n".join(lines) + "\n"), SCHEMA, log))
    assert [p.row for p in log.examples] == expected


def test_stopping_early_stops_the_reading_thread(tmp_path, monkeypatch):
    import threading
    monkeypatch.setattr(tables.csvfile, "BLOCK_BYTES", 128)
    path = write(tmp_path, "events.csv", "lead_id,type,at\n" + "a,demo_request,2026-01-05\n" * 2000)
    rows = read_events(path, SCHEMA, ProblemLog())
    assert next(rows)[0] == "a"
    assert any(t.name == "leadscore-tables" for t in threading.enumerate())
    rows.close()
    assert not any(t.name == "leadscore-tables" for t in threading.enumerate())


# --- JSONL -------------------------------------------------------------------------------------------

def test_jsonl_properties_object_and_malformed_lines(tmp_path):
    rows = [{"lead_id": 17, "type": "page_view", "at": "2026-01-05T10:00:00", "url": "/top",
             "properties": {"url": "/inside", "colour": "red"}},
            {"lead_id": "b", "type": "purchase", "at": "2026-01-05", "amount": 3, "properties": {"gift": True}},
            {"lead_id": "b", "type": "page_view", "at": "2026-01-05", "url": "/top", "properties": {"url": None}}]
    text = "\n".join(json.dumps(r) for r in rows[:2]) + "\n{not json\n\n[1, 2]\n" + json.dumps(rows[2]) + "\n"
    log = ProblemLog()
    events = list(read_events(write(tmp_path, "events.jsonl", text), SCHEMA, log))
    assert events == [("17", Event("page_view", seconds("2026-01-05T10:00:00+00:00"), {"url": "/inside"})),
                      ("b", Event("purchase", seconds("2026-01-05T00:00:00+00:00"), {"amount": 3.0, "gift": True})),
                      ("b", Event("page_view", seconds("2026-01-05T00:00:00+00:00"), {"url": "/top"}))]
    assert where(log) == [(1, "properties.colour", "unknown_column"), (3, None, "bad_row"), (5, None, "bad_row")]


def test_jsonl_native_and_textual_values(tmp_path):
    rows = [{"lead_id": 1, "industry": 42, "employees": 12, "tech": ["crm", 3, " ", None], "has_budget": True,
             "created_at": "2026-01-05T10:00:00"},
            {"lead_id": 2, "employees": "5000", "tech": "a;b", "has_budget": "yes", "created_at": 1767225600},
            {"lead_id": 3, "employees": True, "tech": [], "has_budget": 2, "industry": ""}]
    log = ProblemLog()
    leads = dict(read_leads(write(tmp_path, "leads.jsonl", "\n".join(map(json.dumps, rows))), SCHEMA, log))
    assert leads["1"] == {"industry": "42", "employees": 12.0, "tech": ["crm", "3"], "has_budget": True,
                          "created_at": datetime(2026, 1, 5, 10, tzinfo=UTC)}
    assert leads["2"] == {"industry": None, "employees": 5000.0, "tech": ["a", "b"], "has_budget": True,
                          "created_at": None}
    assert leads["3"] == {"industry": None, "employees": None, "tech": None, "has_budget": None, "created_at": None}
    assert where(log) == [(2, "created_at", "bad_value"), (3, "employees", "bad_value"), (3, "has_budget", "bad_value")]


def test_jsonl_blocks_and_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(tables.sources, "_JSON_BLOCK", 100)
    lines = [json.dumps({"lead_id": f"L{i}", "type": "demo_request", "at": "2026-01-05" if i % 7 else "x"})
             for i in range(60)]
    lines[10] = ""
    log = ProblemLog(keep=100)
    events = list(read_events(write(tmp_path, "events.jsonl", "\n".join(lines)), SCHEMA, log))
    assert len(events) == 60 - 1 - 9
    assert [p.row for p in log.examples] == [i + 1 for i in range(0, 60, 7)]


# --- Parquet -----------------------------------------------------------------------------------------

def test_parquet_native_types(tmp_path):
    path = str(tmp_path / "leads.parquet")
    pq.write_table(pa.table({
        "lead_id": pa.array([17, 18, 19]),
        "employees": pa.array([5.0, float("nan"), None]),
        "tech": pa.array([["a", ""], [], None], pa.list_(pa.string())),
        "has_budget": pa.array([True, None, False]),
        "created_at": pa.array([datetime(2026, 1, 5, 10), None, datetime(2026, 1, 6)], pa.timestamp("ns")),
        "industry": pa.array(["Software", "", "Retail"]),
        "extra": pa.array([1, 2, 3])}), path)
    log = ProblemLog()
    leads = dict(read_leads(path, SCHEMA, log))
    assert leads["17"] == {"industry": "Software", "employees": 5.0, "tech": ["a"], "has_budget": True,
                           "created_at": datetime(2026, 1, 5, 10, tzinfo=UTC)}
    assert leads["18"] == dict.fromkeys(SCHEMA.fields)
    assert leads["19"]["has_budget"] is False and leads["19"]["created_at"] == datetime(2026, 1, 6, tzinfo=UTC)
    assert where(log) == [(1, "extra", "unknown_column"), (2, "employees", "bad_value")]


def test_parquet_events_and_outcomes(tmp_path):
    events = str(tmp_path / "events.parquet")
    pq.write_table(pa.table({
        "lead_id": ["a", "a"], "type": ["purchase", "demo_request"],
        "at": pa.array([datetime(2026, 1, 5, 10, tzinfo=UTC), None], pa.timestamp("us", "Europe/Paris")),
        "amount": [9.5, None]}), events)
    log = ProblemLog()
    assert list(read_events(events, SCHEMA, log)) == [
        ("a", Event("purchase", seconds("2026-01-05T10:00:00+00:00"), {"amount": 9.5, "gift": None}))]
    assert where(log) == [(2, "at", "bad_timestamp")]


# --- outcomes and changes ----------------------------------------------------------------------------

def test_outcomes(tmp_path):
    path = write(tmp_path, "outcomes.csv",
                 "lead_id,stage,at,amount\n"
                 "a, Won ,2026-02-01,1200\n"
                 "b,lost,2026-02-01,\n"
                 "c,won,2026-02-01,lots\n"
                 "d,,2026-02-01,\n"
                 "e,won,,\n")
    log = ProblemLog()
    assert list(read_outcomes(path, log)) == [("a", "won", seconds("2026-02-01T00:00:00+00:00"), 1200.0),
                                              ("b", "lost", seconds("2026-02-01T00:00:00+00:00"), None),
                                              ("c", "won", seconds("2026-02-01T00:00:00+00:00"), None)]
    assert where(log) == [(4, "amount", "bad_value"), (5, "stage", "bad_row"), (6, "at", "bad_timestamp")]


def test_changes_typed_by_field(tmp_path):
    path = write(tmp_path, "changes.csv",
                 "lead_id,field,value,at\n"
                 "a,employees,50,2026-01-01\n"
                 "a,tech,crm;erp,2026-01-02\n"
                 "a,has_budget,YES,2026-01-03\n"
                 "a,created_at,2025-12-01T08:00:00-05:00,2026-01-04\n"
                 "a,industry,,2026-01-05\n"
                 "a,employees,many,2026-01-06\n"
                 "a,colour,red,2026-01-07\n")
    log = ProblemLog()
    day = lambda d: seconds(f"2026-01-0{d}T00:00:00+00:00")  # noqa: E731
    assert list(read_changes(path, SCHEMA, log)) == [
        ("a", "employees", 50.0, day(1)), ("a", "tech", ["crm", "erp"], day(2)), ("a", "has_budget", True, day(3)),
        ("a", "created_at", datetime(2025, 12, 1, 13, tzinfo=UTC), day(4)), ("a", "industry", None, day(5)),
        ("a", "employees", None, day(6))]
    assert where(log) == [(7, "value", "bad_value"), (8, "field", "bad_row")]
    assert log.examples[1].reason == "unknown field `colour`"


# --- files and folders -------------------------------------------------------------------------------

def test_table_format_and_unreadable_files(tmp_path):
    assert [table_format(p) for p in ("a.csv", "b.JSONL", "c.parquet")] == ["csv", "jsonl", "parquet"]
    with pytest.raises(TableError, match="unknown table format"):
        table_format("leads.xlsx")
    with pytest.raises(TableError, match="cannot read"):
        list(read_leads(str(tmp_path / "absent.csv"), SCHEMA, ProblemLog()))
    with pytest.raises(TableError, match="cannot read"):
        list(read_leads(write(tmp_path, "broken.parquet", "not parquet"), SCHEMA, ProblemLog()))


def test_find_history_tables(tmp_path):
    for name in ("leads.csv", "events.jsonl", "outcomes.parquet"):
        (tmp_path / name).write_text("")
    assert find_history_tables(str(tmp_path)) == {name: str(tmp_path / f"{name}.{ext}") for name, ext in
                                                  [("leads", "csv"), ("events", "jsonl"), ("outcomes", "parquet")]}
    (tmp_path / "changes.csv").write_text("")
    assert find_history_tables(str(tmp_path))["changes"] == str(tmp_path / "changes.csv")
    (tmp_path / "events.csv").write_text("")
    with pytest.raises(TableError, match="events"):
        find_history_tables(str(tmp_path))
    (tmp_path / "events.csv").unlink()
    (tmp_path / "outcomes.parquet").unlink()
    with pytest.raises(TableError, match="no outcomes table"):
        find_history_tables(str(tmp_path))
    with pytest.raises(TableError, match="not a folder"):
        find_history_tables(str(tmp_path / "nowhere"))


# --- column-wise reading, one lead, problems counted elsewhere ------------------------------------------

def test_event_batches_hand_out_typed_columns(tmp_path):
    path = write(tmp_path, "events.csv",
                 "lead_id,type,at,url,amount,gift\n"
                 "b,purchase,2026-01-05T10:00:00+02:00,,12.5,yes\n"
                 " a ,page_view,2026-01-05,/x,,\n"
                 "a,nope,2026-01-05,,,\n"
                 "c,demo_request,2026-01-06T00:00:00Z,,,\n")
    log = ProblemLog()
    [part] = list(event_batches(path, SCHEMA, log))
    assert part.ids.to_pylist() == ["b", "a", "c"]
    assert part.types.to_pylist() == [1, 0, 2]   # positions in the schema's events
    assert part.at.to_pylist() == [seconds("2026-01-05T08:00:00+00:00"), seconds("2026-01-05T00:00:00+00:00"),
                                   seconds("2026-01-06T00:00:00+00:00")]
    assert part.properties["amount", "number"].to_pylist()[0] == 12.5
    assert part.properties["url", "string"].to_pylist()[1] == "/x"
    assert [part.batch.row_of(i) for i in part.index.to_pylist()] == [2, 3, 5]
    assert where(log) == [(4, "type", "unknown_event_type")]


def test_lead_batches_leave_repeats_to_the_caller_unless_given_the_ids_seen(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id,employees,tech\nA,1,x; y\nB,two,\nA,3,\n,4,\n")
    log = ProblemLog()
    [part] = list(lead_batches(path, SCHEMA, log))
    assert part.ids.to_pylist() == ["A", "B", "A"] and part.index.to_pylist() == [0, 1, 2]
    assert part.fields["employees"].to_pylist() == [1.0, None, 3.0]
    assert part.fields["tech"].to_pylist() == [["x", "y"], None, None]
    assert where(log) == [(3, "employees", "bad_value"), (5, "lead_id", "bad_row")]
    log = ProblemLog()
    [part] = list(lead_batches(path, SCHEMA, log, seen=set()))
    assert part.ids.to_pylist() == ["A", "B"]
    assert (4, "lead_id", "duplicate_lead") in where(log)


def test_reading_one_lead_reads_only_its_rows(tmp_path):
    leads = write(tmp_path, "leads.csv", "lead_id,employees\nA,bad\nB,worse\nB,2\n")
    events = write(tmp_path, "events.csv",
                   "lead_id,type,at\nA,page_view,nope\nB,page_view,2026-01-05\nB,demo_request,2026-01-06\n"
                   "B,page_view\n")
    log = ProblemLog()
    assert list(read_leads(leads, SCHEMA, log, lead="B")) == [("B", {**dict.fromkeys(SCHEMA.fields), "employees": None})]
    assert [e.type for _, e in read_events(events, SCHEMA, log, lead="B")] == ["page_view", "demo_request"]
    # B's own rows, and the row that could not be read at all (whose lead nobody knows)
    assert where(log) == [(3, "employees", "bad_value"), (4, "lead_id", "duplicate_lead"), (5, None, "bad_row")]


def test_problems_counted_elsewhere_join_the_log():
    log = ProblemLog(keep=2)
    first = [RowProblem("events", "e.csv", row, "lead_id", "unknown lead", "unknown_lead") for row in (3, 9)]
    log.add_counted(first, 40)
    assert log.counts == {("events", "unknown_lead"): 40} and log.examples == first
    with pytest.raises(TableError, match="e.csv:3"):
        ProblemLog(strict=True).add_counted(first, 40)


# --- nothing raises on arbitrary text -------------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), min_size=1, max_size=8),
       st.sampled_from(["employees", "has_budget", "created_at", "tech"]))
def test_random_cells_become_a_value_or_a_problem(tmp_path, cells, column):
    path = tmp_path / "leads.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", column])
        writer.writerows([f"L{i}", cell] for i, cell in enumerate(cells))
    log = ProblemLog(keep=100)
    leads = dict(read_leads(str(path), SCHEMA, log))
    kind = SCHEMA.fields[column].type
    expected_type = {"number": float, "boolean": bool, "datetime": datetime, "list": list}[kind]
    bad = {p.row for p in log.examples if p.kind == "bad_value"}
    assert all(p.kind in ("bad_value", "bad_row") for p in log.examples)
    for lead, fields in leads.items():
        value = fields[column]
        assert value is None or isinstance(value, expected_type)
        if kind == "list":   # split on `;`, trimmed, no empty item: as Python would
            cell = cells[int(lead[1:])]
            assert value == ([item.strip() for item in cell.split(";") if item.strip()] or None)
    # a cell that is neither blank nor converted is reported (a list of only separators, `;`,
    # is an empty list: missing, as a blank cell is)
    blank = sum(1 for cell in cells if not (cell.replace(";", "") if kind == "list" else cell).strip())
    assert len(bad) == sum(1 for fields in leads.values() if fields[column] is None) - blank


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["", None, "a", "bc", " "]), max_size=30), st.integers(0, 30), st.integers(0, 30))
def test_blank_text_is_missing_in_any_slice_of_a_column(cells, start, length):
    column = pa.array(cells, pa.string()).slice(min(start, len(cells)), length)
    expected = [None if cell == "" else cell for cell in column.to_pylist()]
    assert tables.convert.blank_is_null(column).to_pylist() == expected

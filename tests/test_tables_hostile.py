"""Hostile and broken history tables (issue 10): each becomes counted rows or a clear TableError,
never a traceback, a crash or a silent loss."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadscore.tables import ProblemLog, TableError, read_changes, read_events, read_leads, read_outcomes

from test_tables import SCHEMA, seconds, where, write

UTC = timezone.utc
OUTSIDE = "is outside the supported time range (1700-01-01 to 2199-12-31)"


# --- times outside the supported range ---------------------------------------------------------------

def test_csv_times_outside_the_range_are_counted_in_every_table(tmp_path):
    leads = write(tmp_path, "leads.csv", "lead_id,created_at\na,1699-12-31T23:59:59Z\nb,2200-01-01\n"
                                         "c,1700-01-01\nd,2199-12-31T23:59:59\ne,0001-01-01\nf,9999-12-31\n")
    log = ProblemLog()
    created = {lead: fields["created_at"] for lead, fields in read_leads(leads, SCHEMA, log)}
    assert created == {"a": None, "b": None, "c": datetime(1700, 1, 1, tzinfo=UTC),
                       "d": datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC), "e": None, "f": None}
    assert where(log) == [(2, "created_at", "bad_value"), (3, "created_at", "bad_value"),
                          (6, "created_at", "bad_value"), (7, "created_at", "bad_value")]
    assert log.examples[0].reason == f"`1699-12-31T23:59:59Z` {OUTSIDE}"

    events = write(tmp_path, "events.csv", "lead_id,type,at\na,demo_request,1200-01-01\na,demo_request,2026-01-01\n"
                                           "a,demo_request,9999-12-31T23:59:59\n")
    log = ProblemLog()
    assert [e.at for _, e in read_events(events, SCHEMA, log)] == [seconds("2026-01-01T00:00:00+00:00")]
    assert where(log) == [(2, "at", "bad_timestamp"), (4, "at", "bad_timestamp")]

    outcomes = write(tmp_path, "outcomes.csv", "lead_id,stage,at\na,won,0001-01-01\n")
    changes = write(tmp_path, "changes.csv", "lead_id,field,value,at\na,created_at,1500-01-01,2026-01-01\n"
                                             "a,employees,3,3000-01-01\n")
    log = ProblemLog()
    assert list(read_outcomes(outcomes, log)) == []
    assert list(read_changes(changes, SCHEMA, log)) == [("a", "created_at", None, seconds("2026-01-01T00:00:00Z"))]
    assert where(log) == [(2, "at", "bad_timestamp"), (2, "value", "bad_value"), (3, "at", "bad_timestamp")]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_parquet_times_outside_the_range_are_counted_in_their_own_unit(tmp_path, unit):
    # 10**13 s is year 318857: cast to microseconds unchecked it would wrap around into range.
    far = {"s": 10**13, "ms": 10**16, "us": -10**17, "ns": -9 * 10**18}[unit]
    path = str(tmp_path / "events.parquet")
    pq.write_table(pa.table({"lead_id": ["a"] * 3, "type": ["demo_request"] * 3,
                             "at": pa.array([far, 0, None], pa.timestamp(unit))}), path)
    log = ProblemLog()
    assert [e.at for _, e in read_events(path, SCHEMA, log)] == [0.0]
    assert where(log) == [(1, "at", "bad_timestamp"), (3, "at", "bad_timestamp")]
    assert OUTSIDE in log.examples[0].reason


def test_parquet_dates_outside_the_range_are_bad_values(tmp_path):
    path = str(tmp_path / "leads.parquet")
    # day -10**9 is beyond Python's dates; day -116,000 is in 1652
    pq.write_table(pa.table({"lead_id": ["a", "b", "c"],
                             "created_at": pa.array([-10**9, 0, -116_000], pa.date32())}), path)
    log = ProblemLog()
    created = {lead: fields["created_at"] for lead, fields in read_leads(path, SCHEMA, log)}
    assert created == {"a": None, "b": datetime(1970, 1, 1, tzinfo=UTC), "c": None}
    assert where(log) == [(1, "created_at", "bad_value"), (3, "created_at", "bad_value")]


def test_strict_stops_at_a_time_outside_the_range(tmp_path):
    path = write(tmp_path, "events.csv", "lead_id,type,at\na,demo_request,2300-01-01\n")
    with pytest.raises(TableError) as error:
        list(read_events(path, SCHEMA, ProblemLog(strict=True)))
    assert str(error.value) == f"{path}:2 `2300-01-01` {OUTSIDE}"


# --- repeated column names ---------------------------------------------------------------------------

def test_repeated_csv_column_refuses_the_table(tmp_path):
    path = write(tmp_path, "events.csv", "lead_id,type,at,lead_id\na,demo_request,2026-01-01,b\n")
    with pytest.raises(TableError) as error:
        list(read_events(path, SCHEMA, ProblemLog()))
    assert str(error.value) == f"{path}:1 column `lead_id` appears twice (columns 1 and 4); rename or remove one"


def test_repeated_parquet_column_refuses_the_table_even_unread(tmp_path):
    path = str(tmp_path / "leads.parquet")
    pq.write_table(pa.table([pa.array(["a"]), pa.array([1]), pa.array([2])], names=["lead_id", "extra", "extra"]),
                   path)
    with pytest.raises(TableError, match="column `extra` appears twice"):
        list(read_leads(path, SCHEMA, ProblemLog()))


def test_columns_without_a_name_may_repeat(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id,employees,,\na,5,,\n")
    log = ProblemLog()
    assert [(lead, fields["employees"]) for lead, fields in read_leads(path, SCHEMA, log)] == [("a", 5.0)]
    assert where(log) == [(1, "", "unknown_column")]


# --- rows with no value --------------------------------------------------------------------------------

def test_jsonl_rows_with_no_value_are_counted_even_strict(tmp_path):
    path = write(tmp_path, "events.jsonl", '{"lead_id": "a", "type": "demo_request", "at": "2026-01-01"}\n'
                                           '{}\n\n{"lead_id": null, "type": null}\n')
    log = ProblemLog()
    assert [lead for lead, _ in read_events(path, SCHEMA, log)] == ["a"]
    assert where(log) == [(2, "lead_id", "bad_row"), (4, "lead_id", "bad_row")]
    assert log.examples[0].reason == "no lead id, and no other value"
    with pytest.raises(TableError, match="events.jsonl:2 no lead id, and no other value"):
        list(read_events(path, SCHEMA, ProblemLog(strict=True)))


def test_parquet_rows_with_no_value_are_counted(tmp_path):
    path = str(tmp_path / "leads.parquet")
    pq.write_table(pa.table({"lead_id": ["a", None, None], "employees": [1.0, None, None]}), path)
    log = ProblemLog()
    assert [lead for lead, _ in read_leads(path, SCHEMA, log)] == ["a"]
    assert where(log) == [(2, "lead_id", "bad_row"), (3, "lead_id", "bad_row")]


def test_a_blank_csv_line_is_still_no_row(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id,employees\na,1\n\nb,2\n")
    log = ProblemLog(strict=True)
    assert [lead for lead, _ in read_leads(path, SCHEMA, log)] == ["a", "b"]


# --- nesting depth of JSONL lines ----------------------------------------------------------------------

def nested(depth: int, inside: str = "1") -> str:
    return "[" * depth + inside + "]" * depth


@pytest.mark.parametrize("depth", [101, 3000])
def test_jsonl_line_nested_too_deep_is_a_bad_row_and_the_others_keep_their_numbers(tmp_path, depth):
    good = '{"lead_id": "a", "type": "demo_request", "at": "2026-01-0%d"}'
    text = "\n".join([good % 1, '{"lead_id": "a", "type": "demo_request", "at": "2026-01-02", "x": %s}'
                      % nested(depth), "", good % 3, "{not json", good % 5])
    log = ProblemLog()
    days = [e.at for _, e in read_events(write(tmp_path, "events.jsonl", text), SCHEMA, log)]
    assert days == [seconds(f"2026-01-0{d}T00:00:00Z") for d in (1, 3, 5)]
    assert [(p.row, p.kind, p.reason) for p in log.examples if p.kind == "bad_row"] == [
        (2, "bad_row", "nested deeper than 100 levels"), (5, "bad_row", "not valid JSON (Expecting property name "
                                                                        "enclosed in double quotes)")]


def test_jsonl_nesting_limit_is_exact_and_brackets_in_strings_do_not_count(tmp_path):
    row = '{"lead_id": "%s", "type": "page_view", "at": "2026-01-01", "url": "%s", "x": %s}'
    # one level for the object: 1 + 99 is the limit, 1 + 100 beyond it
    lines = [row % ("a", "[{" * 300, nested(99)), row % ("b", '\\\\\\"[[', nested(100))]
    log = ProblemLog()
    events = list(read_events(write(tmp_path, "events.jsonl", "\n".join(lines)), SCHEMA, log))
    assert [(lead, e.properties["url"]) for lead, e in events] == [("a", "[{" * 300)]
    assert [(p.row, p.reason) for p in log.examples if p.kind == "bad_row"] == [(2, "nested deeper than 100 levels")]


# --- text that is not UTF-8, lone surrogates ------------------------------------------------------------

def test_csv_cells_that_are_not_utf8_are_bad_values_or_bad_rows(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes(b"lead_id,type,at,url\na,page_view,2026-01-01,\xff\xfe\nb\xff,page_view,2026-01-02,x\n"
                     b"c,page_view\xc3,2026-01-03,x\nd,page_view,2026-01-04\xed\xa0\x80,x\n"
                     b"e,page_view,2026-01-05,/ok\n")
    log = ProblemLog()
    events = list(read_events(str(path), SCHEMA, log))
    assert [(lead, e.properties["url"]) for lead, e in events] == [("a", None), ("e", "/ok")]
    assert [(p.row, p.kind, p.reason) for p in log.examples] == [
        (2, "bad_value", "`\\xff\\xfe` is not valid UTF-8 text"),
        (3, "bad_row", "lead id `b\\xff` is not valid UTF-8 text"),
        (4, "bad_row", "event type `page_view\\xc3` is not valid UTF-8 text"),
        (5, "bad_timestamp", "`2026-01-04\\xed\\xa0\\x80` is not valid UTF-8 text")]
    for problem in log.examples:
        problem.reason.encode("utf-8")


def test_csv_column_names_that_are_not_utf8_refuse_the_table(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b"lead_id,\xff\na,1\n")
    with pytest.raises(TableError, match="leads.csv:1 the column names are not valid UTF-8 text"):
        list(read_leads(str(path), SCHEMA, ProblemLog()))


@pytest.mark.parametrize("broken", [False, True])   # True: a malformed line sends the block through Python
def test_jsonl_lone_surrogates_and_bytes_that_are_not_utf8(tmp_path, broken):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"lead_id": "a", "type": "page_view", "at": "2026-01-01", "url": "\xff"}\n'
                     b'{"lead_id": "b", "type": "page_view", "at": "2026-01-01", "url": "x\\ud800"}\n'
                     b'{"lead_id": "c\\udc00", "type": "page_view", "at": "2026-01-01"}\n'
                     b'{"lead_id": "d", "type": "page_view", "at": "2026-01-01", "url": "\\ud83d\\ude00", "\xfe": 1}\n'
                     + (b"{oops\n" if broken else b""))
    log = ProblemLog()
    events = [(lead, e.properties["url"]) for lead, e in read_events(str(path), SCHEMA, log)]
    assert events == [("a", None), ("b", None), ("d", "\U0001f600")]
    shown = [(p.row, p.kind, p.reason) for p in log.examples if p.kind != "unknown_column"]
    assert shown[:3] == [(1, "bad_value", "`\\xff` is not valid UTF-8 text"),
                         (2, "bad_value", "`x\\ud800` is not valid UTF-8 text"),
                         (3, "bad_row", "lead id `c\\udc00` is not valid UTF-8 text")]
    assert [p.reason for p in log.examples if p.kind == "unknown_column"] == ["unknown column `\\xfe` ignored"]
    for problem in log.examples:
        problem.reason.encode("utf-8")


def test_jsonl_lists_with_an_item_that_is_not_utf8(tmp_path):
    path = tmp_path / "leads.jsonl"
    path.write_bytes(b'{"lead_id": "a", "tech": ["crm", "\xff"]}\n{"lead_id": "b", "tech": ["crm", "erp"]}\n')
    log = ProblemLog()
    assert [(lead, f["tech"]) for lead, f in read_leads(str(path), SCHEMA, log)] == [("a", None), ("b", ["crm", "erp"])]
    assert where(log) == [(1, "tech", "bad_value")]


# --- quotes left open, malformed rows ------------------------------------------------------------------

def test_csv_quote_left_open_to_the_end_leaves_its_row_out_and_names_the_lines(tmp_path):
    path = write(tmp_path, "events.csv", 'lead_id,type,at,url\na,page_view,2026-01-01,/a\n'
                                         'b,page_view,2026-01-02,"/b\nc,page_view,2026-01-03,/c\n'
                                         'd,page_view,2026-01-04,/d\n')
    log = ProblemLog()
    assert [lead for lead, _ in read_events(path, SCHEMA, log)] == ["a"]
    assert [(p.row, p.reason) for p in log.examples] == [
        (3, "a quote opened on line 3 is never closed: lines 3 to 5 are left out")]
    with pytest.raises(TableError, match="events.csv:3 a quote opened on line 3 is never closed"):
        list(read_events(path, SCHEMA, ProblemLog(strict=True)))


def test_csv_quote_closed_rows_later_names_the_lines_it_swallowed(tmp_path):
    path = write(tmp_path, "events.csv", 'lead_id,type,at,url\na,page_view,2026-01-01,"/a\n'
                                         'b,page_view,2026-01-02,/b\nc,page_view,2026-01-03",/c\n'
                                         'd,page_view,2026-01-04,/d\n')
    log = ProblemLog()
    assert [lead for lead, _ in read_events(path, SCHEMA, log)] == ["d"]
    assert [(p.row, p.reason) for p in log.examples] == [
        (2, "the row has 5 cells, the header 4; it runs over lines 2 to 4: a quote left open?")]


@pytest.mark.parametrize("last", ['e,page_view,2026-01-05,"x\n""y"""\n', 'e,page_view,2026-01-05,"x\ny"z',
                                  'e,page_view,2026-01-05,"x\ny"', 'e,page_view,"2026-01-05","x,\n"\r\n'])
def test_csv_last_row_with_a_closed_multiline_cell_is_kept(tmp_path, last):
    path = write(tmp_path, "events.csv", 'lead_id,type,at,url\nd,page_view,2026-01-04,"5"" screen"\n' + last)
    log = ProblemLog(strict=True)
    assert [lead for lead, _ in read_events(path, SCHEMA, log)] == ["d", "e"]


def test_csv_malformed_row_that_is_not_utf8_is_counted_quietly(tmp_path, capfd):
    path = tmp_path / "events.csv"
    path.write_bytes(b"lead_id,type,at,url\na,page_view,2026-01-01,/\xc3\xa9\nb,page_view,2026-01-02,/b,\xff\n"
                     b"c,page_view,2026-01-03,\xfe\n")
    log = ProblemLog()
    assert [(lead, e.properties["url"]) for lead, e in read_events(str(path), SCHEMA, log)] == [
        ("a", "/\u00e9"), ("c", None)]
    assert [(p.row, p.kind) for p in log.examples] == [(3, "bad_row"), (4, "bad_value")]
    assert capfd.readouterr().err == ""


# --- long CSV rows ----------------------------------------------------------------------------------------

def test_csv_row_longer_than_the_block_is_read(tmp_path):
    path = write(tmp_path, "events.csv", "lead_id,type,at,url\na,page_view,2026-01-01,/a\n"
                                         f"b,page_view,2026-01-02,{'x' * (3 << 20)}\n"
                                         f"c,page_view,2026-01-03,\"{'y' * (5 << 20)}\n\"\nd,oops,2026-01-04,\n")
    log = ProblemLog()
    assert [(lead, len(e.properties["url"])) for lead, e in read_events(path, SCHEMA, log)] == [
        ("a", 2), ("b", 3 << 20), ("c", (5 << 20) + 1)]
    assert where(log) == [(6, "type", "unknown_event_type")]


def test_csv_row_longer_than_the_limit_refuses_the_table_with_its_line(tmp_path, monkeypatch):
    from leadscore.tables import csvfile
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 64)
    monkeypatch.setattr(csvfile, "MAX_ROW_BYTES", 1024)
    rows = "".join(f"a,page_view,2026-01-01,/{i}\n" for i in range(20))
    path = write(tmp_path, "events.csv", "lead_id,type,at,url\n" + rows + f"b,page_view,2026-01-02,{'x' * 300}\n"
                 + f"c,page_view,2026-01-02,{'x' * 3000}\n")
    events = read_events(path, SCHEMA, ProblemLog())
    with pytest.raises(TableError) as error:
        list(events)
    assert str(error.value).startswith(f"{path}:")
    line = int(str(error.value)[len(path) + 1:].split()[0])
    assert 2 <= line <= 23
    assert str(error.value).endswith("a row at or after this line is longer than 1024 bytes, the limit for one CSV row")


def test_csv_malformed_row_that_is_not_utf8_after_many_batches(tmp_path, monkeypatch):
    from leadscore.tables import csvfile
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 128)
    rows = [f"L{i},page_view,2026-01-01,/{i}".encode() for i in range(200)]
    rows[150] += b",\xff"          # malformed and not UTF-8: the file is read again as latin-1
    rows[20] = rows[20] + b"\xc3\xa9"   # valid UTF-8 beyond ASCII
    rows[170] = rows[170] + b"\xfe"     # a cell that is not UTF-8
    path = tmp_path / "events.csv"
    path.write_bytes(b"lead_id,type,at,url\n" + b"\n".join(rows) + b"\n")
    log = ProblemLog()
    events = {lead: e.properties["url"] for lead, e in read_events(str(path), SCHEMA, log)}
    assert len(events) == 199 and events["L20"] == "/20\u00e9" and events["L170"] is None
    assert [(p.row, p.kind) for p in log.examples] == [(152, "bad_row"), (172, "bad_value")]


def test_csv_header_longer_than_the_limit_refuses_the_table_at_line_1(tmp_path, monkeypatch):
    from leadscore.tables import csvfile
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 64)
    monkeypatch.setattr(csvfile, "MAX_ROW_BYTES", 256)
    path = write(tmp_path, "leads.csv", "lead_id," + "x" * 1000 + "\na,1\n")
    with pytest.raises(TableError) as error:
        list(read_leads(path, SCHEMA, ProblemLog()))
    assert str(error.value) == f"{path}:1 a row at or after this line is longer than 256 bytes, the limit for one CSV row"

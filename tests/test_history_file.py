"""A history described in YAML (docs/history.md): DuckDB queries over raw exports, run locked
down, their results read by the same table readers as files.

Tests assert exit codes, diagnostic codes, positions, numbers and row numbers, never the
wording of messages (except the names a message must show: the file a query may not read).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.ingest.history import HistoryError, history_tables, load_history
from leadscore.tables import ArrowTable, ProblemLog, TableError, read_leads
from test_simulator_support import history, ruleset
from test_tables import make_schema

RULES = "score interest {\n  view: +10 per page_view\n  demo: +30 per demo_request\n}\nthreshold mql: interest >= 20"

# The raw export the history files below read: another shape than SIMULATION.md §1.
RAW_CONTACTS = [["Contact ID", "Industry", "Size", "Create Date"],
                ["c1", "Software", "120", "2026-01-05"],
                ["c2", "Retail", "many", "2026-01-06"],   # a size that is not a number
                ["", "Other", "3", "2026-01-07"],          # no id
                ["c3", "Other", "7", "2026-01-07"]]
RAW_ACTIVITY = [["Contact ID", "Activity", "Timestamp", "Page"],
                ["c1", "Page View", "2026-01-05 10:00", "/pricing"],
                ["c1", "Demo Request", "2026-01-06 10:00", ""],
                ["c2", "Page View", "2026-01-06 11:00", "/blog"],
                ["c3", "Page View", "2026-01-08 09:00", "/"]]
RAW_DEALS = [["Contact ID", "Stage", "Close Date"], ["c1", "Closed Won", "2026-02-01"]]

HISTORY = """\
# Maps the CRM exports onto the history tables.
leads:
  sql: |
    select "Contact ID" as lead_id, "Industry" as industry, "Size" as employees,
           "Create Date" as created_at
    from read_csv('raw/contacts.csv', all_varchar = true)
events:
  sql: |
    select "Contact ID" as lead_id, lower(replace("Activity", ' ', '_')) as type,
           "Timestamp" as at, "Page" as url
    from read_csv('raw/activity.csv', all_varchar = true)
outcomes:
  sql: >-
    select "Contact ID" as lead_id, case "Stage" when 'Closed Won' then 'won' else 'lost' end as stage,
    "Close Date" as at from 'raw/deals.csv'
"""


def write_csv(path: Path, rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    folder = tmp_path / "history"
    write_csv(folder / "raw" / "contacts.csv", RAW_CONTACTS)
    write_csv(folder / "raw" / "activity.csv", RAW_ACTIVITY)
    write_csv(folder / "raw" / "deals.csv", RAW_DEALS)
    (folder / "history.yaml").write_text(HISTORY)
    return folder


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def codes(error: HistoryError) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in error.diagnostics]


# --- reading -----------------------------------------------------------------------------------------

def test_queries_become_tables_and_unusable_rows_are_shown_by_output_row(exports, tmp_path):
    tables = load_history(str(exports / "history.yaml"))
    assert sorted(tables) == ["events", "leads", "outcomes"]
    assert tables["leads"].table.num_rows == 4
    log = ProblemLog()
    rules = ruleset(tmp_path / "rules", RULES)
    from leadscore.loader import load_ruleset
    schema = load_ruleset(str(rules)).checked.schema
    leads = list(read_leads(tables["leads"], schema, log))
    assert [lead for lead, _ in leads] == ["c1", "c2", "c3"]
    assert leads[0][1]["employees"] == 120 and leads[1][1]["employees"] is None
    # Row 2 of the query's output has a bad size, row 3 no id; both named by the query.
    assert [(p.file, p.row, p.kind) for p in log.examples] == [
        (f"{exports / 'history.yaml'}:leads", 2, "bad_value"), (f"{exports / 'history.yaml'}:leads", 3, "bad_row")]


def test_a_history_file_gives_what_the_same_tables_in_a_folder_give(exports, tmp_path):
    rules = ruleset(tmp_path / "rules", RULES)
    folder = history(tmp_path / "folder",
                     [{"lead_id": "c1", "industry": "Software", "employees": 120, "created_at": "2026-01-05"},
                      {"lead_id": "c2", "industry": "Retail", "created_at": "2026-01-06"},
                      {"lead_id": "c3", "industry": "Other", "employees": 7, "created_at": "2026-01-07"}],
                     [("c1", "page_view", "2026-01-05 10:00", "/pricing"), ("c1", "demo_request", "2026-01-06 10:00", ""),
                      ("c2", "page_view", "2026-01-06 11:00", "/blog"), ("c3", "page_view", "2026-01-08 09:00", "/")],
                     [("c1", "won", "2026-02-01")])
    from_yaml = run("simulate", rules, "--history", exports / "history.yaml", "--format", "json")
    from_folder = run("simulate", rules, "--history", folder, "--format", "json")
    assert from_yaml[0] == from_folder[0] == 0
    yaml_report, folder_report = json.loads(from_yaml[1]), json.loads(from_folder[1])
    assert yaml_report["variants"] == folder_report["variants"]
    assert yaml_report["window"] == folder_report["window"]


def test_every_command_taking_tables_accepts_a_history_file(exports, tmp_path):
    rules = ruleset(tmp_path / "rules", RULES)
    code, out, err = run("score", rules, "--history", exports / "history.yaml", "--as-of", "2026-01-10")
    assert code == 0
    assert out.splitlines() == ["lead_id,interest,mql", "c1,40.0,true", "c2,10.0,false", "c3,10.0,false"]
    assert f"{exports / 'history.yaml'}:leads:3" in err   # the lead with no id, by the query's row
    code, out, _ = run("explain", rules, "--history", exports / "history.yaml", "--as-of", "2026-01-10",
                       "--lead", "c1", "--format", "json")
    assert code == 0 and json.loads(out)["scores"][0]["value"] == 40
    code, out, _ = run("calibrate", rules, "--history", exports / "history.yaml", "--min-count", "1",
                       "--format", "json")
    assert code == 0 and json.loads(out)["leads"] == 3


def test_score_and_explain_take_history_or_table_options(exports, tmp_path):
    rules = ruleset(tmp_path / "rules", RULES)
    leads = exports / "raw" / "contacts.csv"
    assert run("score", rules, "--as-of", "2026-01-10")[0] == 2
    assert run("score", rules, "--as-of", "2026-01-10", "--leads", leads)[0] == 2
    # a table named on its own replaces the history's (as in simulate): here a file whose columns
    # are not the history format's, so no lead has an id and c1 is not found
    assert run("explain", rules, "--as-of", "2026-01-10", "--lead", "c1", "--history", exports / "history.yaml",
               "--leads", leads)[0] != 0
    assert run("explain", rules, "--as-of", "2026-01-10", "--lead", "c1", "--history", exports / "history.yaml")[0] == 0


def test_relative_paths_resolve_against_the_history_file_not_the_working_directory(exports, tmp_path,
                                                                                  monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    write_csv(elsewhere / "raw" / "contacts.csv", [["Contact ID"], ["decoy"]])
    monkeypatch.chdir(elsewhere)
    tables = load_history(os.path.relpath(exports / "history.yaml"))
    assert tables["leads"].table.column("lead_id").to_pylist() == ["c1", "c2", None, "c3"]
    assert Path.cwd() == elsewhere   # the working directory is given back


def test_events_may_return_properties_as_columns_and_decimals_are_numbers(exports, tmp_path):
    (exports / "history.yaml").write_text(HISTORY.replace(
        '''"Size" as employees''', '''"Size"::decimal(9, 2) as employees''').replace(
        "read_csv('raw/contacts.csv', all_varchar = true)", "read_csv('raw/contacts.csv', all_varchar = true)"
        " where \"Size\" <> 'many'"))
    tables = load_history(str(exports / "history.yaml"))
    from leadscore.loader import load_ruleset
    schema = load_ruleset(str(ruleset(tmp_path / "rules", RULES))).checked.schema
    assert pa.types.is_decimal(tables["leads"].table.schema.field("employees").type)
    assert [values["employees"] for _, values in read_leads(tables["leads"], schema, ProblemLog())] == [120.0, 7.0]
    from leadscore.tables import read_events
    events = [e for _, e in read_events(tables["events"], schema, ProblemLog())]
    assert [e.properties.get("url") for e in events if e.type == "page_view"] == ["/pricing", "/blog", "/"]


def test_the_changes_query_is_optional_and_read_when_given(exports):
    (exports / "history.yaml").write_text(HISTORY + "changes:\n  sql: select 'c1' as lead_id, 'industry' as field,"
                                          " 'Retail' as value, '2026-01-09' as at\n")
    assert sorted(load_history(str(exports / "history.yaml"))) == ["changes", "events", "leads", "outcomes"]


def test_history_tables_takes_a_folder_or_a_history_file(exports, tmp_path):
    with pytest.raises(TableError):
        history_tables(str(exports / "raw" / "contacts.csv"))
    folder = history(tmp_path / "folder", [], [])
    assert set(history_tables(str(folder))) == {"leads", "events", "outcomes"}


# --- a file that cannot be used --------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("leads: {sql: select 1}\nevents: {sql: select 1}\n", [("LS602", 1)]),                         # no outcomes
    (HISTORY + "extra: {sql: select 1}\n", [("LS602", 16)]),                                       # unknown key
    (HISTORY.replace("outcomes:\n  sql: >-", "outcomes:\n  query: >-"), [("LS602", 13), ("LS602", 13)]),
    ("leads: {sql: 1}\nevents: {sql: select 1}\noutcomes: {sql: select 1}\n", [("LS604", 1)]),
    ("leads: {sql: ''}\nevents: {sql: select 1}\noutcomes: {sql: select 1}\n", [("LS602", 1)]),
    ("leads: [\n", [("LS601", 2)]),
    ("leads: &a {sql: select 1}\nevents: *a\noutcomes: {sql: select 1}\n", [("LS601", 1), ("LS601", 2)]),
    ("", [("LS602", 1)]),
])
def test_bad_yaml_is_reported_at_its_line(tmp_path, text, expected):
    path = tmp_path / "history.yaml"
    path.write_text(text)
    with pytest.raises(HistoryError) as found:
        load_history(str(path))
    assert codes(found.value) == expected


def test_a_file_that_is_not_utf8_or_too_large(tmp_path):
    path = tmp_path / "history.yaml"
    path.write_bytes(b"leads: {sql: '\xff'}\n")
    with pytest.raises(HistoryError) as found:
        load_history(str(path))
    assert codes(found.value) == [("LS110", 1)]     # invalid UTF-8, as in every file leadscore reads
    path.write_text("#" * (2 << 20))
    with pytest.raises(TableError):
        load_history(str(path))


def test_query_errors_point_at_the_querys_line_in_the_yaml(exports):
    (exports / "history.yaml").write_text(HISTORY.replace('"Size" as employees', '"Sizes" as employees')
                                          .replace("\"Timestamp\" as at", "\"Timestamp\" as at,,"))
    with pytest.raises(HistoryError) as found:
        load_history(str(exports / "history.yaml"))
    # leads: the unknown column is on the query's line 1 (YAML line 4); events: the syntax
    # error DuckDB reports on the query's line 2 (YAML line 10).
    assert codes(found.value) == [("LS700", 4), ("LS700", 10)]
    assert "Sizes" in str(found.value)


def test_a_missing_file_is_a_query_error(exports):
    (exports / "history.yaml").write_text(HISTORY.replace("raw/deals.csv", "raw/nothing.csv"))
    with pytest.raises(HistoryError) as found:
        load_history(str(exports / "history.yaml"))
    assert codes(found.value) == [("LS700", 14)]


def test_the_commands_show_the_diagnostics_and_exit_1(exports, tmp_path):
    (exports / "history.yaml").write_text(HISTORY.replace("raw/deals.csv", "../secret.csv"))
    rules = ruleset(tmp_path / "rules", RULES)
    for command in (["simulate"], ["calibrate"], ["score", "--as-of", "2026-01-10"],
                    ["explain", "--as-of", "2026-01-10", "--lead", "c1"]):
        code, _, err = run(command[0], rules, "--history", exports / "history.yaml", *command[1:])
        assert code == 1, command
        assert f"{exports / 'history.yaml'}:14:" in err and "LS700" in err and "Traceback" not in err


# --- the sandbox -------------------------------------------------------------------------------------

def only_leads(folder: Path, sql: str) -> Path:
    path = folder / "history.yaml"
    path.write_text(f"leads:\n  sql: {json.dumps(sql)}\n"
                    "events:\n  sql: select 'x1' as lead_id, 'page_view' as type, '2026-01-05' as at\n"
                    "outcomes:\n  sql: select 'x1' as lead_id, 'won' as stage, '2026-01-06' as at\n")
    return path


@pytest.mark.parametrize("sql", [
    "copy (select 1 as a) to 'written.csv'",
    "copy (select 1 as a) to '/tmp/written.csv'",
    "attach 'other.db' as other",
    "install httpfs",
    "load httpfs",
    "set enable_external_access = true",
    "set lock_configuration = false",
    "set allowed_directories = ['/']",
    "pragma version",
    "create table t as select 1",
    "select 1 as lead_id; copy (select 1) to 'written.csv'",
    "select * from read_csv('/etc/passwd')",
    "select * from read_text('/etc/passwd')",
    "select * from '../outside.csv'",
    "select * from 'raw/../../outside.csv'",
    "select * from glob('/*')",
    "select * from read_csv('http://127.0.0.1:9/x.csv')",
    "select * from read_parquet('s3://bucket/x.parquet')",
    "select * from read_csv('~/x.csv')",
])
def test_each_query_that_does_more_than_read_the_folder_is_refused(exports, sql):
    write_csv(exports.parent / "outside.csv", [["a"], ["secret"]])
    path = only_leads(exports, sql)
    with pytest.raises(HistoryError) as found:
        load_history(str(path))
    assert codes(found.value) == [("LS700", 2)]
    assert not (exports / "written.csv").exists() and not (exports / "other.db").exists()


def test_a_file_inside_the_folder_may_be_named_by_its_full_path(exports):
    path = only_leads(exports, f"select * from '{exports / 'raw' / 'contacts.csv'}'")
    assert load_history(str(path))["leads"].table.num_rows == 4


def test_allow_outside_reads_local_files_but_never_the_network(exports, tmp_path):
    write_csv(exports.parent / "outside.csv", [["lead_id"], ["x1"]])
    path = only_leads(exports, "select * from '../outside.csv'")
    assert load_history(str(path), allow_outside=True)["leads"].table.num_rows == 1
    rules = ruleset(tmp_path / "rules", RULES)
    assert run("score", rules, "--history", path, "--as-of", "2026-01-10")[0] == 1
    code, out, _ = run("score", rules, "--history", path, "--as-of", "2026-01-10", "--allow-history-outside")
    assert code == 0 and out.splitlines()[1].startswith("x1,")
    for sql in ("select * from read_csv('http://127.0.0.1:9/x.csv')", "copy (select 1) to '../written.csv'"):
        with pytest.raises(HistoryError):
            load_history(str(only_leads(exports, sql)), allow_outside=True)
    assert not (exports.parent / "written.csv").exists()


# --- the Arrow entry point reads like the CSV reader ----------------------------------------------

cells = st.one_of(st.none(), st.sampled_from(["", " ", "x", "12", "1.5", "-3", "abc def", "2026-01-01", "nan"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["a", "b", " c ", ""])), cells, cells,
                               cells), max_size=12))
def test_an_arrow_table_of_text_reads_as_the_same_csv(tmp_path, rows):
    schema = make_schema()
    names = ["lead_id", "industry", "employees", "created_at"]
    # a row with no value at all is a blank line in CSV (no row) but a row of a query's result (counted)
    rows = [row for row in rows if any(c not in (None, "") for c in row)]
    write_csv(tmp_path / "leads.csv", [names] + [["" if c is None else c for c in row] for row in rows])
    table = pa.table({name: pa.array([None if row[k] in (None, "") else row[k] for row in rows], pa.string())
                      for k, name in enumerate(names)})
    from_csv, from_arrow = ProblemLog(), ProblemLog()
    assert list(read_leads(str(tmp_path / "leads.csv"), schema, from_csv)) == list(
        read_leads(ArrowTable("q", table), schema, from_arrow))
    assert from_csv.counts == from_arrow.counts
    # the CSV counts its header as line 1; the query's first row is row 1
    assert [(p.row - 1, p.reason) for p in from_csv.examples if p.kind != "unknown_column"] == [
        (p.row, p.reason) for p in from_arrow.examples if p.kind != "unknown_column"]


def test_duckdb_types_are_taken_as_they_are(tmp_path):
    from test_tables import make_schema
    path = tmp_path / "history.yaml"
    path.write_text("""\
leads:
  sql: |
    select 'a' as lead_id, timestamp '2026-01-01 10:00' as created_at, 5::int as employees,
           true as has_budget, ['x', 'y'] as tech
    union all select 'b', null, null, false, null
    union all select 'c', null, null, null, null
    order by lead_id
events: {sql: "select 'a' as lead_id, timestamptz '2026-01-01 10:00+02' as at, 'demo_request' as type"}
outcomes: {sql: "select 'a' as lead_id, 'won' as stage, date '2026-01-02' as at"}
""")
    tables = load_history(str(path))
    log = ProblemLog()
    leads = dict(read_leads(tables["leads"], make_schema(), log))
    assert leads["a"]["created_at"].isoformat() == "2026-01-01T10:00:00+00:00"
    assert (leads["a"]["employees"], leads["a"]["has_budget"], leads["a"]["tech"]) == (5.0, True, ["x", "y"])
    assert leads["b"]["has_budget"] is False and leads["c"]["has_budget"] is None
    from leadscore.tables import read_events, read_outcomes
    [(_, event)] = read_events(tables["events"], make_schema(), log)
    assert event.at == 1767254400.0   # 08:00 UTC
    assert list(read_outcomes(tables["outcomes"], log)) == [("a", "won", 1767312000.0, None)]
    assert log.total() == 0


# --- `with:` named queries ---------------------------------------------------------------------------

WITH_HISTORY = """\
with:
  contacts: |
    select "Contact ID" as id, * exclude ("Contact ID")
    from read_csv('raw/contacts.csv', all_varchar = true)
  known: select * from contacts where id is not null
leads:
  sql: select id as lead_id, "Industry" as industry from known order by id
events:
  sql: |
    select "Contact ID" as lead_id, 'page_view' as type, "Timestamp" as at
    from 'raw/activity.csv' where "Contact ID" in (select id from known)
outcomes:
  sql: select id as lead_id, 'won' as stage, "Create Date" as at from known
"""


def test_with_queries_are_shared_by_every_table(exports):
    (exports / "history.yaml").write_text(WITH_HISTORY)
    tables = load_history(str(exports / "history.yaml"))
    assert tables["leads"].table.column("lead_id").to_pylist() == ["c1", "c2", "c3"]
    assert tables["events"].table.num_rows == 4 and tables["outcomes"].table.num_rows == 3


def test_an_error_in_a_with_query_is_shown_once_at_its_line(exports):
    (exports / "history.yaml").write_text(WITH_HISTORY.replace("where id is not null", "where nope is not null"))
    with pytest.raises(HistoryError) as found:
        load_history(str(exports / "history.yaml"))
    assert codes(found.value) == [("LS700", 5)]
    (exports / "history.yaml").write_text(WITH_HISTORY.replace("select id as lead_id, \"Industry\"",
                                                               "select id as lead_id, \"Industry\" +"))
    with pytest.raises(HistoryError) as found:
        load_history(str(exports / "history.yaml"))
    assert codes(found.value) == [("LS700", 7)]   # the leads query's own line


@pytest.mark.parametrize("entry", [
    "select 1); copy (select 1) to 'written.csv'; select (1",
    "select * from read_csv('/etc/passwd')",
])
def test_a_with_query_cannot_escape_the_sandbox(exports, entry):
    (exports / "history.yaml").write_text(WITH_HISTORY.replace("known: select * from contacts where id is not null",
                                                               f"known: {json.dumps(entry)}"))
    with pytest.raises(HistoryError) as found:
        load_history(str(exports / "history.yaml"))
    assert {code for code, _ in codes(found.value)} == {"LS700"}
    assert not (exports / "written.csv").exists()


def test_with_names_are_plain_identifiers(exports):
    (exports / "history.yaml").write_text(WITH_HISTORY.replace("  known:", '  "known as (select 1), x":'))
    with pytest.raises(HistoryError) as found:
        load_history(str(exports / "history.yaml"))
    assert codes(found.value)[0] == ("LS602", 5)


def test_a_link_inside_the_folder_to_a_file_outside_is_refused(exports, tmp_path):
    write_csv(tmp_path / "secret.csv", [["lead_id"], ["s1"]])
    (exports / "raw" / "innocent.csv").symlink_to(tmp_path / "secret.csv")
    path = only_leads(exports, "select * from 'raw/innocent.csv'")
    with pytest.raises(HistoryError) as found:
        load_history(str(path))
    assert codes(found.value) == [("LS700", 1)] and "raw/innocent.csv" in str(found.value)
    assert load_history(str(path), allow_outside=True)["leads"].table.num_rows == 1
    (exports / "raw" / "innocent.csv").unlink()
    (exports / "raw" / "inside.csv").symlink_to(exports / "raw" / "contacts.csv")   # a link inside is fine
    assert load_history(str(only_leads(exports, "select * from 'raw/inside.csv'")))["leads"].table.num_rows == 4


def test_a_history_file_reached_through_a_linked_folder(exports, tmp_path):
    (tmp_path / "linked").symlink_to(exports)
    assert load_history(str(tmp_path / "linked" / "history.yaml"))["leads"].table.num_rows == 4


def test_a_closing_semicolon_is_allowed_with_or_without_with(exports):
    (exports / "history.yaml").write_text(WITH_HISTORY.replace("from known order by id", "from known order by id;")
                                          .replace("where id is not null", "where id is not null;"))
    assert load_history(str(exports / "history.yaml"))["leads"].table.num_rows == 3
    (exports / "history.yaml").write_text(HISTORY.replace("from 'raw/deals.csv'", "from 'raw/deals.csv';"))
    assert load_history(str(exports / "history.yaml"))["outcomes"].table.num_rows == 1


@pytest.mark.parametrize("statement", [
    "copy (select 1) to '../written.csv'",
    "attach '../other.db' as other",
    "install httpfs",
    "load httpfs",
    "set enable_external_access = true",
    "set lock_configuration = false",
    "set allowed_directories = ['/']",
    "reset enable_external_access",
    "select * from read_csv('/etc/passwd')",
    "select * from '../outside.csv'",
    "select * from read_csv('http://127.0.0.1:9/x.csv')",
])
def test_duckdb_itself_refuses_even_without_the_select_check(exports, statement):
    # The SELECT-only check runs first; these are the settings behind it, tried directly. (They
    # would let COPY and ATTACH write inside the folder: only the SELECT check stops that.)
    import duckdb

    from leadscore.ingest.history import _sandbox

    write_csv(exports.parent / "outside.csv", [["a"], ["secret"]])
    with _sandbox(str(exports), False) as con:
        with pytest.raises(duckdb.Error):
            con.execute(statement).fetchall()
        assert con.execute("select count(*) from 'raw/contacts.csv'").fetchone() == (4,)   # still reads inside
    assert not (exports.parent / "written.csv").exists() and not (exports.parent / "other.db").exists()

"""`score --engine duckdb` reading the events table in bulk (engines/duckdb_events.py): the same
output and the same problems, in the same order, as the project's reader gives; the files it could
read differently are left to that reader."""

from __future__ import annotations

import io
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.engines import duckdb_tables
from leadscore.tables import ProblemLog, TableError

SCHEMA = ("lead:\n  fields:\n    plan: {type: string}\n"
          "events:\n"
          "  purchase: {properties: {amount: {type: number, missing: ['-']}, sku: string, shipped: datetime,"
          " gift: boolean, note: {type: string, missing: [n/a]}}}\n"
          "  visit: {properties: {page: string}}\n")
RULES = ('ruleset "p" version 1\nschema "schema.yaml"\nscore s {\n'
         '  big: +5 per purchase where amount > 100 and sku == "X"\n'
         '  gifted: +1 per purchase where gift == true, once\n'
         '  noted: +2 per purchase where note is present, at most 1 per day\n'
         '  late: +3 per purchase where shipped >= 2026-04-15T00:00:00Z\n'
         '  pricing: +1 per visit where page starts_with "/p", decay half_life 7d\n}\n')
HEADER = ["lead_id", "type", "at", "amount", "sku", "shipped", "gift", "note", "page"]
INSTANT = 1_777_593_600.0   # 2026-05-01T00:00:00Z


@pytest.fixture()
def ruleset(tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA)
    (tmp_path / "r.score").write_text(RULES)
    (tmp_path / "leads.csv").write_text("lead_id,plan\na,x\nb,y\nc,\n")
    return tmp_path


def _run(folder, events: str, columnar: bool, monkeypatch, strict: bool = False):
    """(output, the problems as `score` shows them, whether the bulk path read the events)."""
    loaded = leadscore.load(str(folder / "r.score"))
    taken = []
    real = duckdb_tables.read_events

    def spy(*args):
        taken.append(real(*args))
        return taken[-1]

    monkeypatch.setattr(duckdb_tables, "read_events", spy)
    log, out = ProblemLog(strict=strict), io.StringIO()
    try:
        summary = duckdb_tables.score_tables_duckdb(
            loaded.lower(), loaded.checked.schema, str(folder / "leads.csv"), events, INSTANT, out, fmt="csv",
            explain=True, log=log, columnar=columnar)
        said = (summary.leads, summary.events, summary.later)
    except TableError as error:
        said = str(error)
    return out.getvalue(), said, log.summary_lines(), [str(p) for p in log.examples], bool(taken and taken[0])


def _same(folder, events: str, monkeypatch, strict: bool = False) -> bool:
    """Both paths agree; whether the bulk path read the file."""
    bulk, exact = (_run(folder, events, columnar, monkeypatch, strict) for columnar in (True, False))
    assert bulk[:4] == exact[:4]
    assert not exact[4]
    return bulk[4]


def _csv(folder, lines: list[str], name: str = "events.csv", newline: str = "\n") -> str:
    path = folder / name
    path.write_bytes((newline.join(lines) + newline).encode("utf-8", "surrogateescape"))
    return str(path)


CLEAN = [",".join(HEADER),
         "a,purchase,2026-04-20T10:00:00Z,150,X,2026-04-16,yes,hello,",
         "a,purchase,2026-04-20T10:00:00Z,-,Y,,FALSE,n/a,",
         "b,visit,2026-04-21 08:30,,,,,,/pricing",
         "b,purchase,2026-04-22T09:00:00.25+02:00,1e3,X,2026-04-10T00:00:00Z,true,,",
         "c,visit,2026-04-30,,,,,,/p",
         "a,visit,2026-06-01T00:00:00Z,,,,,,/pricing"]   # after the instant


def test_a_clean_csv_is_read_in_bulk_and_scores_as_the_exact_reader(ruleset, monkeypatch):
    assert _same(ruleset, _csv(ruleset, CLEAN), monkeypatch)
    out, said, *_ = _run(ruleset, _csv(ruleset, CLEAN), True, monkeypatch)
    assert said == (3, 5, 1)
    assert out.splitlines()[0].startswith("lead_id,s")


BAD_ROWS = [
    "z,visit,2026-04-20,,,,,,/p",                      # unknown lead
    " a ,visit,2026-04-20,,,,,,/p",                    # an id to trim: usable
    "\u00a0b,visit,2026-04-20,,,,,,/p",                # a Unicode space to trim
    ",visit,2026-04-20,,,,,,/p",                       # no lead id
    ",,,,,,,,",                                        # no value at all: skipped silently
    "a,sale,2026-04-20,,,,,,",                         # unknown type
    "a, visit ,2026-04-20,,,,,,/p",                    # a type to trim
    "a,visit,20/04/2026,,,,,,/p",                      # a time the reader cannot read
    "a,visit,2026-04-20T24:00:00,,,,,,/p",             # hour 24: DuckDB reads it, Python does not
    "a,visit,1650-01-01,,,,,,/p",                      # outside the range
    "a,visit,2026-04-20T10:00:00.1234567Z,,,,,,/p",    # seven digits of a second
    "a,purchase,2026-04-20,1_000,X,,,,",               # a number Python reads
    "a,purchase,2026-04-20,abc,X,,,,",                 # not a number
    "a,purchase,2026-04-20,1e400,X,,,,",               # not finite
    "a,purchase,2026-04-20, 5 ,X,,,,",                 # spaces around a number
    "a,purchase,2026-04-20,150,X,,maybe,,",            # not a boolean
    "a,purchase,2026-04-20,150,X,,Yes ,,",             # a boolean to trim
    "a,purchase,2026-04-20,150,X,2026-13-01,,,",       # not a date
    "a,purchase,2026-04-20,150,X,,,  n/a ,",           # a placeholder, trimmed
    "a,purchase,2026-04-20, - ,X,,,,",                 # a number's placeholder, trimmed
    "a,visit,2026-04-20,oops,,,,,/p",                  # a bad cell of a property the type lacks
]


@pytest.mark.parametrize("bad", BAD_ROWS)
def test_a_row_not_typed_in_bulk_is_explained_by_the_exact_reader(ruleset, monkeypatch, bad):
    lines = CLEAN[:3] + [bad] + CLEAN[3:] + [bad.replace("2026-04-20", "2026-04-25")]
    assert _same(ruleset, _csv(ruleset, lines), monkeypatch)


def test_every_bad_row_at_once_keeps_the_exact_order_of_problems(ruleset, monkeypatch):
    lines = [CLEAN[0]] + [row for pair in zip(BAD_ROWS, CLEAN[1:] * 4) for row in pair]
    assert _same(ruleset, _csv(ruleset, lines), monkeypatch)


def test_rows_explained_a_few_at_a_time_give_the_same_problems_in_the_same_order(ruleset, monkeypatch):
    from leadscore.engines import duckdb_events

    monkeypatch.setattr(duckdb_events, "_EXPLAINED_ROWS", 3)
    lines = [CLEAN[0] + ",extra"] + [row + ",x" for pair in zip(BAD_ROWS, CLEAN[1:] * 4) for row in pair]
    assert _same(ruleset, _csv(ruleset, lines), monkeypatch)


def test_strict_fails_on_the_same_first_problem(ruleset, monkeypatch):
    for bad in ("z,visit,2026-04-20,,,,,,/p", "a,purchase,2026-04-20,abc,X,,,,"):
        lines = CLEAN[:2] + [bad, "a,sale,2026-04-20,,,,,,"] + CLEAN[2:]
        _same(ruleset, _csv(ruleset, lines), monkeypatch, strict=True)


def test_an_unknown_column_is_noted_once_as_by_the_exact_reader(ruleset, monkeypatch):
    lines = [CLEAN[0] + ",extra,"] + [row + ",1," for row in CLEAN[1:]]
    assert _same(ruleset, _csv(ruleset, lines), monkeypatch)


HOSTILE = {
    "crlf": lambda f: _csv(f, CLEAN, newline="\r\n"),
    "bom": lambda f: _csv(f, ["\ufeff" + CLEAN[0]] + CLEAN[1:]),
    "nul": lambda f: _csv(f, CLEAN[:2] + ["a,visit,2026-04-20,,,,,,/p\0x"] + CLEAN[2:]),
    "invalid utf-8": lambda f: _csv(f, CLEAN[:2] + ["a,visit,2026-04-20,,,,,,/p\udcff"] + CLEAN[2:]),
    "quoted newline": lambda f: _csv(f, CLEAN[:2] + ['a,visit,2026-04-20,,,,,,"/p\nq"'] + CLEAN[2:]),
    "unclosed quote": lambda f: _csv(f, CLEAN[:2] + ['a,visit,2026-04-20,,,,,,"/p'] + CLEAN[2:]),
    "malformed row": lambda f: _csv(f, CLEAN[:2] + ["a,visit,2026-04-20"] + CLEAN[2:]),
    "duplicate column": lambda f: _csv(f, [CLEAN[0] + ",type"] + [row + ",x" for row in CLEAN[1:]]),
    "missing column": lambda f: _csv(f, [",".join(HEADER[:2] + HEADER[3:])]
                                     + [",".join(r.split(",")[:2] + r.split(",")[3:]) for r in CLEAN[1:]]),
}
# the bulk path may read these (pyarrow parses them as the project's reader does): the same result
READ_ALIKE = {
    "blank line": lambda f: _csv(f, CLEAN[:2] + [""] + CLEAN[2:]),
    "row past the parse block": lambda f: _csv(f, CLEAN[:2] + ["a,visit,2026-04-20,,,,,,/" + "p" * (5 << 20)]),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_file_the_bulk_reader_could_read_differently_is_left_to_the_exact_reader(ruleset, monkeypatch, name):
    assert not _same(ruleset, HOSTILE[name](ruleset), monkeypatch)


@pytest.mark.parametrize("name", sorted(READ_ALIKE))
def test_a_file_both_readers_parse_alike_gives_the_same_result(ruleset, monkeypatch, name):
    _same(ruleset, READ_ALIKE[name](ruleset), monkeypatch)


def test_a_fifo_is_left_to_the_exact_reader(ruleset, monkeypatch):
    fifo = ruleset / "events.csv"
    os.mkfifo(fifo)
    assert duckdb_tables.read_events.__module__.endswith("duckdb_events")
    from leadscore.engines.duckdb_events import _plan
    assert _plan(str(fifo), leadscore.load(str(ruleset / "r.score")).checked.schema) is None


def _parquet(folder, rows: list[list[str]], types: dict | None = None) -> str:
    columns = {name: [row[k] or None for row in rows] for k, name in enumerate(HEADER)}
    table = pa.table({name: pa.array(values, (types or {}).get(name, pa.string())) for name, values in columns.items()})
    path = folder / "events.parquet"
    pq.write_table(table, path)
    return str(path)


def test_parquet_is_read_in_bulk_with_its_row_numbers(ruleset, monkeypatch):
    rows = [line.split(",") for line in CLEAN[1:] + BAD_ROWS if line.count(",") == 8]
    assert _same(ruleset, _parquet(ruleset, rows), monkeypatch)


def test_parquet_with_a_float_column_is_read_in_bulk_alike(ruleset, monkeypatch):
    rows = [line.split(",") for line in CLEAN[1:]]
    for row in rows:
        row[3] = float(row[3]) if row[3] and row[3] != "-" else None
    assert _same(ruleset, _parquet(ruleset, rows, {"amount": pa.float64()}), monkeypatch)


def test_parquet_names_equal_but_for_case_are_left_to_the_exact_reader(ruleset, monkeypatch):
    table = pa.table({"lead_id": ["a"], "type": ["visit"], "at": ["2026-04-20"], "Type": ["x"]})
    pq.write_table(table, ruleset / "events.parquet")
    assert not _same(ruleset, str(ruleset / "events.parquet"), monkeypatch)


CELLS = {
    "lead_id": st.sampled_from(["a", "b", "c", "z", " a", "", "b\t"]),
    "type": st.sampled_from(["purchase", "visit", "Visit", " visit", "sale", ""]),
    "at": st.sampled_from(["2026-04-20", "2026-04-20T10:00:00Z", "2026-04-20 10:00:00.5+01:00", "2026-02-30",
                           "2026-04-20T10:00", "1999-01-01T00:00:00-05:00", "2300-01-01", "x", "", "2026-04-20T10"]),
    "amount": st.sampled_from(["150", "-", " - ", "1e2", "+5", ".5", "5.", "nan", "inf", "1_0", "", "x"]),
    "sku": st.sampled_from(["X", "Y", " X", ""]),
    "shipped": st.sampled_from(["2026-04-16", "2026-04-16T00:00:00+00:00", "16/04/2026", "", "2026-04-16Z"]),
    "gift": st.sampled_from(["true", "NO", "1", "0", "yes ", "maybe", "tRuE", ""]),
    "note": st.sampled_from(["n/a", "N/A", " n/a", "hi", " hi ", ""]),
    "page": st.sampled_from(["/pricing", "/p", "", " /p"]),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(CELLS), min_size=1, max_size=25), parquet=st.booleans())
def test_bulk_and_exact_readers_agree_on_any_mix_of_cells(ruleset, monkeypatch, rows, parquet):
    cells = [[row[name] for name in HEADER] for row in rows]
    events = _parquet(ruleset, cells) if parquet else _csv(ruleset, [",".join(HEADER)] + [",".join(c) for c in cells])
    assert _same(ruleset, events, monkeypatch)


def test_equal_times_count_in_file_order_whatever_order_the_file_is_read_in(ruleset, monkeypatch):
    """`once` and `at most` pick among events of equal time: they give the same points whichever is
    picked, and the bulk path carries each row's number to the statement as `seq`."""
    tie = "2026-04-20T10:00:00Z"
    rows = [f"a,purchase,{tie},{amount},X,,{gift},{note}," for amount, gift, note in
            [("150", "true", "hi"), ("5", "true", "x"), ("-", "no", "y"), ("200", "yes", "")]]
    rng = random.Random(3)
    outputs = set()
    for _ in range(4):
        rng.shuffle(rows)
        outputs.add(_run(ruleset, _csv(ruleset, [CLEAN[0], *rows]), True, monkeypatch)[0])
    assert len(outputs) == 1
    assert outputs.pop().splitlines()[1].startswith("a,13.0,")   # big +5 twice, gifted once +1, noted once +2


def test_the_events_relation_carries_each_rows_line_as_seq(ruleset):
    from leadscore.engines.duckdb_engine import connect
    from leadscore.engines.duckdb_events import read_events

    connection = connect()
    ids = pa.array(["a", "b", "c"])
    connection.register("leads", pa.table({"key": ids}))
    lines = CLEAN[:3] + [" a ,visit,2026-04-20,,,,,,/p", "z,visit,2026-04-20,,,,,,/p"] + CLEAN[3:]
    schema = leadscore.load(str(ruleset / "r.score")).checked.schema
    assert read_events(connection, _csv(ruleset, lines), schema, ProblemLog(), "leads", "key", ids, INSTANT)
    found = connection.sql('SELECT seq, lead_id FROM events ORDER BY seq').fetchall()
    assert found == [(2, "a"), (3, "a"), (4, "a"), (6, "b"), (7, "b"), (8, "c"), (9, "a")]


def test_a_long_statement_draws_no_progress_bar_on_the_terminal():
    from leadscore.engines.duckdb_engine import connect

    assert connect().execute("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_score_reads_in_bulk_only_past_the_size_the_exact_reader_does_faster(ruleset, monkeypatch, fmt):
    rows = [line.split(",") for line in CLEAN[1:]]
    events = _csv(ruleset, CLEAN) if fmt == "csv" else _parquet(ruleset, rows)
    exact = _run(ruleset, events, None, monkeypatch)
    assert not exact[4]   # a few events: the project's reader
    monkeypatch.setattr(duckdb_tables, "EXACT_READER_MAX_EVENTS", len(rows) - 1)
    bulk = _run(ruleset, events, None, monkeypatch)
    assert bulk[4] and bulk[:4] == exact[:4]   # one event more than the limit: in bulk, alike


def test_a_file_whose_size_cannot_be_told_is_left_to_the_bulk_path_checks(ruleset):
    (ruleset / "events.parquet").write_bytes(b"not a parquet file")
    assert not duckdb_tables._exact_reader_pays(str(ruleset / "events.parquet"))
    assert not duckdb_tables._exact_reader_pays(str(ruleset / "events.jsonl"))
    assert not duckdb_tables._exact_reader_pays(str(ruleset / "events.txt"))
    fifo = ruleset / "events.csv"
    os.mkfifo(fifo)
    assert not duckdb_tables._exact_reader_pays(str(fifo))   # never opened: reading a FIFO would block


@settings(max_examples=60, deadline=None)
@given(text=st.one_of(st.text(), st.lists(st.text(), max_size=3)))
def test_a_schema_value_or_file_name_is_an_escaped_literal_that_reads_back_the_same(text):
    from leadscore.engines.duckdb_engine import connect
    from leadscore.engines.duckdb_events import _literal

    assert connect().execute(f"SELECT {_literal(text)}").fetchall() == [(text,)]


def test_placeholders_with_quotes_and_backslashes_are_read_as_placeholders(tmp_path, monkeypatch):
    (tmp_path / "schema.yaml").write_text(SCHEMA.replace("missing: [n/a]", "missing: [\"it's\", 'a\\b', \"$1\"]"))
    (tmp_path / "r.score").write_text(RULES)
    (tmp_path / "leads.csv").write_text("lead_id,plan\na,x\nb,y\nc,\n")
    lines = CLEAN[:2] + ["a,purchase,2026-04-20,5,X,,,it's,", "b,purchase,2026-04-20,5,X,,,a\\b,",
                         "c,purchase,2026-04-20,5,X,,,$1,", "c,purchase,2026-04-21,5,X,,,it,"]
    assert _same(tmp_path, _csv(tmp_path, lines), monkeypatch)
    out = _run(tmp_path, _csv(tmp_path, lines), True, monkeypatch)[0].splitlines()
    assert out[3].startswith("c,2.0,")   # `noted` once: `$1` a placeholder, `it` a note

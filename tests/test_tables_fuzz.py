"""Fuzzing the history tables (issue 10, item 23): timestamps across the whole representable range,
any Unicode (lone surrogates included) and bytes that are not UTF-8 in cells, nesting depth,
malformed CSV, JSONL and Parquet. Every row read is accounted for (handed out, or counted as left
out), and the commands that read tables (`score`, `simulate`, `calibrate`, `explain`) end with
exit 0, 1 or 2, never a traceback or a crash."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.tables import ProblemLog, TableError, event_batches, read_events, read_outcomes

from test_tables import SCHEMA

ACME = Path(__file__).resolve().parents[1] / "rulesets" / "acme" / "scoring.score"
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
LEFT_OUT = {"bad_row", "bad_timestamp", "unknown_event_type", "unknown_lead", "duplicate_lead"}

# Cells: any character, lone surrogates included; CSV writes them as (invalid) UTF-8 bytes.
TEXT = st.text(st.characters(exclude_categories=()), max_size=6) | st.sampled_from(
    ["", " ", "\n", '"', ",", "\x00", "\ufeff", "x\ud800", "\udcff", "page_view", "demo_request"])
TIMES = (st.datetimes(datetime(2025, 1, 1), datetime(2026, 12, 31)).map(lambda d: d.isoformat() + "Z")
         | st.datetimes().map(datetime.isoformat)
         | st.sampled_from(["0001-01-01", "1677-09-21T00:12:43Z", "1684-01-01", "2262-04-12T23:47:17Z",
                            "9999-12-31T23:59:59.999999", "2026-02-30", "not a time", "", "2026-01-01T25:00"]))
TYPES = st.sampled_from(["page_view", "demo_request", "email_open", " page_view ", "pageview", ""]) | TEXT
IDS = st.sampled_from(["L1", "L2", "L3", " L1 ", ""]) | TEXT


def nested(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


EVENT = st.fixed_dictionaries({"lead_id": IDS, "type": TYPES, "at": TIMES,
                               "url": TEXT | st.integers(0, 150).map(nested)})


def csv_bytes(rows: list[dict], junk: list[bytes]) -> tuple[bytes, list[int]]:
    """A CSV of the rows (quoted by the csv module), junk lines (no quote) after some of them, and
    the line each record starts on."""
    out, lines, line = [b"lead_id,type,at,url\n"], [], 2
    for k, row in enumerate(rows):
        text = io.StringIO()
        cells = [row[c] if isinstance(row[c], str) else json.dumps(row[c]) for c in ("lead_id", "type", "at", "url")]
        # the csv module leaves a bare \r unquoted, which any reader takes for a line end
        quoting = csv.QUOTE_ALL if any("\r" in cell for cell in cells) else csv.QUOTE_MINIMAL
        csv.writer(text, lineterminator="\n", quoting=quoting).writerow(cells)
        out.append(text.getvalue().encode("utf-8", "surrogatepass"))
        if any(cells):   # a CSV row with no value is no row, like a blank line
            lines.append(line)
        line += text.getvalue().count("\n")
        if k < len(junk):
            garbage = junk[k].replace(b'"', b"").replace(b"\n", b"").replace(b"\r", b"")
            out.append(garbage + b"\n")
            if garbage not in (b"", b",,,"):   # a line with no value is no row
                lines.append(line)
            line += 1
    return b"".join(out), lines


def jsonl_bytes(rows: list[dict], junk: list[bytes], ascii_only: bool) -> tuple[bytes, list[int]]:
    out, lines = [], []
    for k, row in enumerate(rows):
        out.append(json.dumps(row, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))
        lines.append(len(out))
        if k < len(junk):
            garbage = junk[k].replace(b"\n", b"")
            out.append(garbage)
            if garbage.strip():
                lines.append(len(out))
    return b"\n".join(out) + b"\n", lines


def parquet_file(path: Path, rows: list[dict], unit: str, ticks: list[int]) -> list[int]:
    def text(value):   # Parquet strings are UTF-8: other text goes in as its bytes
        value = value if isinstance(value, str) else json.dumps(value)
        return value.encode("utf-8", "surrogatepass")
    at = (pa.array(ticks[:len(rows)] + [None] * (len(rows) - len(ticks)), pa.timestamp(unit)) if unit != "text"
          else pa.array([text(r["at"]) for r in rows], pa.binary()))
    pq.write_table(pa.table({"lead_id": pa.array([text(r["lead_id"]) for r in rows], pa.binary()),
                             "type": pa.array([r["type"] if r["type"].isascii() else None for r in rows]),
                             "at": at, "url": pa.array([text(r["url"]) for r in rows], pa.binary())}), path)
    return list(range(1, len(rows) + 1))


@st.composite
def events_file(draw, folder: Path) -> tuple[Path, list[int]]:
    """An events table in any format, with the row number of every record in it."""
    rows = draw(st.lists(EVENT, max_size=12))
    junk = draw(st.lists(st.binary(max_size=30), max_size=4))
    fmt = draw(st.sampled_from(["csv", "jsonl", "parquet"]))
    path = folder / f"events.{fmt}"
    if fmt == "csv":
        data, lines = csv_bytes(rows, junk)
        path.write_bytes(data)
    elif fmt == "jsonl":
        data, lines = jsonl_bytes(rows, junk, draw(st.booleans()))
        path.write_bytes(data)
    else:
        unit = draw(st.sampled_from(["text", "s", "ms", "us", "ns"]))
        most = 2**63 // (1000 if unit == "s" else 1) - 1   # Parquet stores seconds as milliseconds
        ticks = draw(st.lists(st.integers(-most, most), max_size=len(rows)))
        lines = parquet_file(path, rows, unit, ticks)
    return path, lines


@FUZZ
@given(data=st.data())
def test_every_event_row_is_handed_out_or_counted(tmp_path_factory, data):
    path, records = data.draw(events_file(tmp_path_factory.mktemp("events")))
    log = ProblemLog(keep=10**6)
    kept = [part.batch.row_of(i) for part in event_batches(str(path), SCHEMA, log) for i in part.index.to_pylist()]
    left_out = [p.row for p in log.examples if p.kind in LEFT_OUT]
    assert sorted(kept + left_out) == records
    for problem in log.examples:
        str(problem).encode("utf-8")


@FUZZ
@given(rows=st.lists(st.fixed_dictionaries({"lead_id": IDS, "stage": TEXT | st.just("won"), "at": TIMES}),
                     max_size=10), junk=st.lists(st.binary(max_size=20), max_size=3), ascii_only=st.booleans())
def test_every_outcome_row_is_handed_out_or_counted(tmp_path_factory, rows, junk, ascii_only):
    data, records = jsonl_bytes(rows, junk, ascii_only)
    path = tmp_path_factory.mktemp("outcomes") / "outcomes.jsonl"
    path.write_bytes(data)
    log = ProblemLog(keep=10**6)
    kept = [row for *_, row in read_outcomes(str(path), log, with_rows=True)]
    assert sorted(kept + [p.row for p in log.examples if p.kind in LEFT_OUT]) == records


def parquet_bytes() -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"lead_id": [f"L{i}" for i in range(40)], "type": ["page_view"] * 40,
                             "at": pa.array(range(40), pa.timestamp("s")), "url": ["/x"] * 40}), out)
    return out.getvalue()


PARQUET = parquet_bytes()


@FUZZ
@given(cut=st.integers(0, len(PARQUET)), flips=st.lists(st.tuples(st.integers(0, len(PARQUET) - 1),
                                                                  st.integers(0, 255)), max_size=6))
def test_corrupt_parquet_gives_rows_or_a_table_error(tmp_path_factory, cut, flips):
    data = bytearray(PARQUET)
    for where, byte in flips:
        data[where] = byte
    path = tmp_path_factory.mktemp("parquet") / "events.parquet"
    path.write_bytes(bytes(data[:cut] if cut < len(data) and not flips else data))
    log = ProblemLog(keep=10**6)
    try:
        kept = len(list(read_events(str(path), SCHEMA, log)))
    except TableError as error:
        assert str(error).startswith(str(path))
    else:
        assert kept + sum(1 for p in log.examples if p.kind in LEFT_OUT) <= 40


# --- through the commands -------------------------------------------------------------------------------

@st.composite
def history(draw, folder: Path) -> Path:
    folder.mkdir()
    draw(events_file(folder))
    leads = draw(st.lists(st.fixed_dictionaries({"lead_id": IDS, "industry": TEXT, "created_at": TIMES,
                                                 "employees": TEXT | st.sampled_from(["12", "1e400", "nan"])}),
                          max_size=6))
    text = io.StringIO()
    writer = csv.DictWriter(text, ["lead_id", "industry", "created_at", "employees"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(leads)
    (folder / "leads.csv").write_bytes(text.getvalue().encode("utf-8", "surrogatepass"))
    outcomes = draw(st.lists(st.fixed_dictionaries({"lead_id": IDS, "stage": st.just("won") | TEXT, "at": TIMES}),
                             max_size=4))
    data, _ = jsonl_bytes(outcomes, draw(st.lists(st.binary(max_size=20), max_size=2)), draw(st.booleans()))
    (folder / "outcomes.jsonl").write_bytes(data)
    return folder


def run(*args) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), strict=st.booleans())
def test_commands_that_read_tables_never_crash(tmp_path_factory, data, strict):
    folder = data.draw(history(tmp_path_factory.mktemp("fuzz") / "history"))
    events = next(folder.glob("events.*"))
    flag = ["--strict"] if strict else []
    run("score", ACME, "--leads", folder / "leads.csv", "--events", events, "--as-of", "2026-06-01", *flag)
    run("simulate", ACME, "--history", folder, "--format", "json", *flag)
    run("calibrate", ACME, "--history", folder, "--min-count", 1, *flag)
    run("explain", ACME, "--lead", "L1", "--leads", folder / "leads.csv", "--events", events, "--as-of", "2026-06-01")


def test_20000_levels_of_nesting_do_not_crash_the_process(tmp_path):
    (tmp_path / "leads.csv").write_text("lead_id\nL1\n")
    deep = json.dumps({"lead_id": "L1", "type": "page_view", "at": "2026-01-01"})[:-1] + ', "url": ' + \
        "[" * 20000 + "]" * 20000 + "}\n"
    (tmp_path / "events.jsonl").write_text(deep + json.dumps({"lead_id": "L1", "type": "demo_request",
                                                              "at": "2026-01-02"}) + "\n")
    done = subprocess.run([sys.executable, "-c", "from leadscore.cli import main; main()", "score", str(ACME),
                           "--leads", str(tmp_path / "leads.csv"), "--events", str(tmp_path / "events.jsonl"),
                           "--as-of", "2026-06-01"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "events.jsonl:1 nested deeper than 100 levels" in done.stderr

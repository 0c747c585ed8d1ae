"""`calibrate --engine duckdb` against `--engine python` (docs/calibrate.md, "Engines"): the
same tallies on random histories and rulesets, the same reports byte for byte, the same
unusable rows counted and shown, the same stop under --strict; DuckDB's memory limit."""

from __future__ import annotations

import csv
import json
import random
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.loader import load_ruleset
from leadscore.simulator.calibrate import Options, plan_signals
from leadscore.simulator.calibrate_engines import ENGINES, Settings
from leadscore.simulator.variants import UsageError
from leadscore.tables import ProblemLog, TableError
from test_calibrate import RULES, SCHEMA, make_history

# --- random rulesets and histories ---------------------------------------------------------------

SCHEMA_HEAD = """\
lead:
  id: lead_id
{created}  fields:
    industry: {{type: string, values: [A, B]}}
    country: {{type: string}}
    tags: {{type: list}}
    flag: {{type: boolean}}
    size: {{type: number}}
    created_at: {{type: datetime}}
events:
  page_view: {{properties: {{url: string, secs: number}}}}
  demo: {{}}
  mail: {{properties: {{topic: string, url: number}}}}
"""
# `where` variants and other rules a ruleset may hold: properties, fields, regexes, lists,
# missing values, days_since of a field at the event's time, aggregates, and one that counts
# events (left out by both engines). `url` is a string in page_view and a number in mail.
RULE_POOL = [
    'a: +1 per page_view where url starts_with "/p"',
    r"b: +1 per page_view where url matches /^\/d[a-z]*$/i",
    "c: +1 per page_view where secs > 30",
    'd: +1 per page_view where lead.country == "US"',
    'e: +1 per mail where topic in ["x", "y"]',
    "f: +1 per mail where topic is missing",
    "g: +1 per page_view where days_since(created_at) > 3",
    'h: +1 per demo where tags contains "a"',
    'i: +2 if count(page_view where url contains "x") >= 1',
    "j: +1 per demo where count(page_view) >= 2",
    'k: +1 per page_view where not (url == "/p1")',
    "l: +1 per mail where url >= 2 and size < 100",
    'm: +1 per page_view where lead.industry != "A" or flag == true',
]
T0 = 1_767_225_600          # 2026-01-01T00:00:00Z
DAY = 86_400
STEP = 6 * 3600


def _time(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return "not a time"
    # a coarse grid: events at a success's or at --as-of's very instant are common
    seconds = T0 + rng.randrange(0, 10 * DAY, STEP) + rng.choice([0, 0, 0.5])
    return _iso(seconds)


def _iso(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def write_project(folder: Path, seed: int, rules: list[str], with_created: bool) -> None:
    rng = random.Random(seed)
    (folder / "schema.yaml").write_text(SCHEMA_HEAD.format(created="  created: created_at\n" if with_created else ""),
                                        encoding="utf-8")
    body = "\n".join(f"  {rule}" for rule in rules) or "  z: +1 per demo"
    (folder / "rules.score").write_text(f'ruleset "r" version 1\nschema "schema.yaml"\n\nscore s {{\n{body}\n}}\n',
                                        encoding="utf-8")
    ids = [f"L{i}" for i in range(rng.randrange(0, 25))]
    leads = []
    for lead in ids + rng.sample(ids, min(len(ids), rng.randrange(0, 3))):     # a few repeated ids
        leads.append([lead, rng.choice(["A", "B", "C", ""]), rng.choice(["US", "DE", "FR", "IT", ""]),
                      rng.choice(["a", "a;b", "b; c", "c;a;a", ";", ""]), rng.choice(["true", "false", "", "maybe"]),
                      rng.choice(["1", "50", "200", "7.5", "", "big"]), rng.choice(["", _time(rng), _time(rng)])])
    events = []
    for _ in range(rng.randrange(0, 80)):
        lead = rng.choice(ids + ["ghost"]) if ids else "ghost"
        kind = rng.choice(["page_view", "page_view", "demo", "mail", "unknown_kind"])
        url = (rng.choice(["/p1", "/pricing", "/docs", "/Dx", "/blog/x", ""]) if kind != "mail"
               else rng.choice(["1", "2", "3", "x", ""]))
        events.append([lead, kind, _time(rng), url, rng.choice(["10", "40", "", "n/a"]),
                       rng.choice(["x", "y", "z", ""])])
    outcomes = []
    for lead in rng.sample(ids + ["ghost"], rng.randrange(0, len(ids) + 2)):
        for _ in range(rng.randrange(1, 3)):
            outcomes.append([lead, rng.choice(["won", "Won", "lost", "sql"]), _time(rng)])
    history = folder / "history"
    history.mkdir()
    for name, header, rows in (("leads", ["lead_id", "industry", "country", "tags", "flag", "size", "created_at"],
                                leads), ("events", ["lead_id", "type", "at", "url", "secs", "topic"], events),
                               ("outcomes", ["lead_id", "stage", "at"], outcomes)):
        with open(history / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)


def tally_of(engine: str, folder: Path, options: Options, max_values: int, strict: bool = False):
    """(tally as plain data, or the error; the problems counted and shown)."""
    checked = load_ruleset(str(folder / "rules.score")).checked
    assert checked is not None
    plan = plan_signals(checked, max_values)
    tables = {name: str(folder / "history" / f"{name}.csv") for name in ("leads", "events", "outcomes")}
    log = ProblemLog(keep=3, strict=strict)
    try:
        tally = ENGINES[engine](plan, tables, log, options, Settings())
    except (UsageError, TableError) as error:
        return f"{type(error).__name__}: {error}", log.counts, log.examples
    numbers = {name: sorted(pairs, key=lambda p: (p[0] is None, p[0] or 0.0, p[1]))
               for name, pairs in tally.numbers.items()}
    found = (tally.leads, tally.successes, tally.events, tally.values, tally.too_many_values,
             tally.outcomes_unknown_lead, tally.not_yet, tally.undecided, numbers)
    return found, log.counts, log.examples


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), rules=st.lists(st.sampled_from(RULE_POOL), unique=True, max_size=6),
       with_created=st.booleans(), as_of=st.one_of(st.none(), st.integers(0, 11 * 4)),
       decided_only=st.booleans(), max_values=st.integers(1, 4),
       strict=st.sampled_from([False, False, False, True]))
def test_duckdb_tally_equals_python_tally(seed, rules, with_created, as_of, decided_only, max_values, strict):
    options = Options(success_stage="won", as_of=None if as_of is None else T0 + as_of * float(STEP),
                      max_values=max_values, decided_only=decided_only)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_project(folder, seed, rules, with_created)
        python = tally_of("python", folder, options, max_values, strict)
        duckdb = tally_of("duckdb", folder, options, max_values, strict)
    assert duckdb == python


# --- whole reports -------------------------------------------------------------------------------

@pytest.fixture()
def project(tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    (tmp_path / "rules.score").write_text(RULES, encoding="utf-8")
    history = tmp_path / "history"
    history.mkdir()
    make_history(history, n=400, seed=11)
    with open(history / "events.csv", "a", encoding="utf-8") as handle:   # unusable rows, in file order
        handle.write("L001,page_view,not a time,/x\nL999,page_view,2026-01-02T00:00:00Z,/x\nL002,nap,2026-01-02,\n")
    with open(history / "leads.csv", "a", encoding="utf-8") as handle:
        handle.write("L003,Retail,US,x@example.test,true,plain\n,Retail,US,,,\n")
    return tmp_path


# Spark's reports are compared on the shared session, marked slow: test_spark_replay.py
IN_PROCESS = ("python", "duckdb")


def both(folder: Path, *args: str) -> tuple:
    outputs = []
    for engine in IN_PROCESS:
        done = CliRunner().invoke(main, ["calibrate", str(folder / "rules.score"), "--history", str(folder / "history"),
                                         *args, "--engine", engine], catch_exceptions=False)
        outputs.append((done.exit_code, done.stdout, done.stderr))
    return tuple(outputs)


@pytest.mark.parametrize("options", [[], ["--as-of", "2026-02-15"], ["--decided-only", "--min-count", "5"],
                                     ["--as-of", "2026-03-01", "--decided-only", "--max-values", "3"],
                                     ["--success", "lost", "--min-count", "1", "--scale", "25"]])
@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_engines_write_the_same_report(project, options, output_format):
    python, duckdb = both(project, "--format", output_format, *options)
    assert python[0] == 0 and "events.csv:" in python[2] and "leads.csv:" in python[2]
    assert duckdb == python


def test_strict_stops_at_the_same_row(project):
    python, duckdb = both(project, "--strict")
    assert python[0] == 1 and "leads.csv:" in python[2]
    assert duckdb == python


def test_engine_is_duckdb_unless_told(project):
    plain = CliRunner().invoke(main, ["calibrate", str(project / "rules.score"), "--history",
                                      str(project / "history"), "--memory-limit", "nonsense"])
    # the memory limit is DuckDB's: refused by it, in one line, without a traceback
    assert plain.exit_code == 1 and "error: duckdb:" in plain.stderr and "Traceback" not in plain.output
    python = CliRunner().invoke(main, ["calibrate", str(project / "rules.score"), "--history",
                                       str(project / "history"), "--memory-limit", "nonsense", "--engine", "python"])
    assert python.exit_code == 0


def test_a_small_memory_limit_gives_the_same_report(project):
    python, duckdb = both(project, "--format", "json", "--memory-limit", "64MB")
    assert duckdb == python and python[0] == 0


def test_an_unknown_engine_is_a_usage_error(project):
    done = CliRunner().invoke(main, ["calibrate", str(project / "rules.score"), "--history",
                                     str(project / "history"), "--engine", "spreadsheet"])
    assert done.exit_code == 2 and "--engine" in done.output


def test_fields_with_too_many_values_are_noted_in_the_order_leads_are_counted(tmp_path):
    # Leads created by --as-of count first, then those that exist by an event only: L0 (created
    # later, an event before) comes last, so `tags` overflows at L1 before `country` at L2.
    write_project(tmp_path, 0, [], with_created=True)
    history = tmp_path / "history"
    (history / "leads.csv").write_text(
        "lead_id,industry,country,tags,flag,size,created_at\n"
        "L0,A,US,a,true,1,2026-03-01\nL1,A,DE,a;b,true,1,2026-01-01\nL2,B,FR,a,false,2,2026-01-01\n",
        encoding="utf-8")
    (history / "events.csv").write_text("lead_id,type,at,url,secs,topic\nL0,demo,2026-01-02,,,\n", encoding="utf-8")
    (history / "outcomes.csv").write_text("lead_id,stage,at\nL1,won,2026-01-03\n", encoding="utf-8")
    options = Options(as_of=T0 + 10 * DAY, max_values=1)
    python, duckdb = (tally_of(engine, tmp_path, options, 1) for engine in IN_PROCESS)
    assert python[0][4] == ["tags", "country"]
    assert duckdb == python


def test_stages_and_values_with_quotes_are_data_not_sql(project):
    # the success stage, a declared value and the data's values all hold quotes: literals, escaped
    outcomes = project / "history" / "outcomes.csv"
    outcomes.write_text(outcomes.read_text(encoding="utf-8").replace(",won,", ",it's 'won'; --,"), encoding="utf-8")
    python, duckdb = both(project, "--format", "json", "--success", "it's 'won'; --", "--min-count", "1")
    assert python[0] == 0 and json.loads(python[1])["successes"] > 0
    assert duckdb == python

"""`leadscore calibrate` (SIMULATION.md §5): statistics, counts against a brute-force
recount, suggested rules that parse and check when pasted, escaping, bad input."""

from __future__ import annotations

import csv
import json
import math
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.dsl import ast
from leadscore.dsl.parser import parse
from leadscore.loader import load_ruleset
from leadscore.simulator.calibrate import points_for, round_half_away, wilson
from leadscore.simulator.calibrate_rules import name_text, string_text

SCHEMA = """\
lead:
  id: lead_id
  fields:
    industry: {type: string, values: [Software, Retail]}
    country: {type: string}
    email: {type: string}
    in: {type: boolean}
    Lead Source: {type: string, values: ['He said "hi"', 'back\\slash', plain]}
events:
  page_view: {properties: {url: string}}
  web visit: {}
  demo_request: {}
"""
RULES = """\
ruleset "calibration test" version 1
schema "schema.yaml"

const bonus = 5

score interest {
  pricing:   +15 per page_view where url starts_with "/pricing", max 15
  us_views:  +1  per page_view where lead.country == "US"
  busy_demo: +5  per demo_request where count(page_view) >= 3
  visits:    +1  per `web visit`
  docs:      +5  if count(page_view where url contains "docs") >= 2
  flagged:   +bonus if `in` == true
}

threshold mql: interest >= 20
"""
HOSTILE_COUNTRY = 'US" or true or "'
COUNTRIES = ["US", "DE", "FR", HOSTILE_COUNTRY]
SOURCES = ['He said "hi"', "back\\slash", "plain", None]
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
AS_OF = T0 + timedelta(days=80)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def make_history(folder: Path, n: int = 160, seed: int = 3) -> dict:
    """A random history whose structure the brute-force recount below mirrors."""
    rng = random.Random(seed)
    leads, events, outcomes = [], [], []
    for i in range(n):
        lead = f"L{i:03d}"
        industry = rng.choice(["Software", "Retail", "Media", ""])
        flag = rng.choice(["true", "false", ""])
        leads.append({"lead_id": lead, "industry": industry, "country": rng.choice(COUNTRIES),
                      "email": f"{lead.lower()}@example.test", "in": flag,
                      "Lead Source": rng.choice(SOURCES) or ""})
        keen = (industry == "Software") + (flag == "true")
        for _ in range(rng.randrange(0, 8)):
            kind = rng.choices(["page_view", "web visit", "demo_request"], [6, 2, 1 + keen])[0]
            url = rng.choice(["/pricing", "/pricing/team", "/docs/a", "/blog", ""]) if kind == "page_view" else ""
            events.append({"lead_id": lead, "type": kind, "at": _iso(T0 + timedelta(hours=rng.randrange(0, 2400))),
                           "url": url})
        if rng.random() < 0.2 + 0.2 * keen:
            outcomes.append({"lead_id": lead, "stage": rng.choice(["won", "WON", "Won"]),
                             "at": _iso(T0 + timedelta(hours=rng.randrange(0, 2400)))})
        if rng.random() < 0.2:
            outcomes.append({"lead_id": lead, "stage": "lost", "at": _iso(T0 + timedelta(days=3))})
    for name, rows in (("leads", leads), ("events", events), ("outcomes", outcomes)):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return {"leads": leads, "events": events, "outcomes": outcomes}


def recount(history: dict, as_of: datetime | None) -> dict[str, tuple[int, int]]:
    """label -> (leads, successes), computed directly from the rows. With as_of, only the leads
    that exist then: the schema has no creation time, so those with an event at or before it."""
    limit = _iso(as_of) if as_of else "9999"
    exists = {row["lead_id"] for row in history["events"] if row["at"] <= limit} if as_of else \
        {row["lead_id"] for row in history["leads"]}
    success: dict[str, str] = {}
    for row in history["outcomes"]:
        if row["stage"].lower() == "won" and row["at"] <= limit:
            success[row["lead_id"]] = min(row["at"], success.get(row["lead_id"], "9999"))
    country = {row["lead_id"]: row["country"] for row in history["leads"]}
    shown: dict[str, set] = defaultdict(set)
    for row in history["events"]:
        lead, at, url = row["lead_id"], row["at"], row["url"]
        if at > limit or at >= success.get(lead, "9999"):
            continue
        kind = row["type"]
        shown[lead].add({"web visit": "`web visit`"}.get(kind, kind))
        if kind == "page_view":
            if url.startswith("/pricing"):
                shown[lead].add('page_view where url starts_with "/pricing"')
            if country[lead] == "US":
                shown[lead].add('page_view where lead.country == "US"')
            if "docs" in url:
                shown[lead].add('page_view where url contains "docs"')
    for row in history["leads"]:
        lead = row["lead_id"]
        industry = row["industry"]
        shown[lead].add({"": "industry is missing", "Media": "industry: values not declared in the schema"}
                        .get(industry, f'industry == "{industry}"'))
        shown[lead].add({"": "`in` is missing"}.get(row["in"], f"`in` == {row['in']}"))
        shown[lead].add("country == " + string_text(row["country"]))
        source = row["Lead Source"]
        shown[lead].add(f"`Lead Source` == {string_text(source)}" if source else "`Lead Source` is missing")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in history["leads"]:
        if row["lead_id"] not in exists:
            continue
        for label in shown[row["lead_id"]]:
            counts[label][0] += 1
            counts[label][1] += row["lead_id"] in success
    return {label: tuple(v) for label, v in counts.items()}


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    (tmp_path / "rules.score").write_text(RULES, encoding="utf-8")
    history = tmp_path / "history"
    history.mkdir()
    return tmp_path, make_history(history)


ENGINES = ["python", "duckdb"]


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """The calibrate engine under test: every test of results runs on each."""
    return request.param


def run(*args: str, engine: str = "duckdb"):
    return CliRunner().invoke(main, ["calibrate", *args, "--engine", engine], catch_exceptions=False)


def calibrate_json(folder: Path, *extra: str, engine: str = "duckdb") -> dict:
    done = run(str(folder / "rules.score"), "--history", str(folder / "history"), "--format", "json",
               "--max-values", "5", *extra, engine=engine)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


# --- statistics ------------------------------------------------------------------------------------

@pytest.mark.parametrize("successes, n, low, high", [
    (5, 10, 0.2366, 0.7634), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0),
    (10, 100, 0.0552, 0.1744), (1, 1, 0.2065, 1.0), (81, 263, 0.2553, 0.3662),
])
def test_wilson_interval_known_values(successes, n, low, high):
    found = wilson(successes, n)
    assert found == pytest.approx((low, high), abs=5e-5)


@settings(max_examples=200)
@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_observed_rate(pair):
    successes, n = pair
    low, high = wilson(successes, n)
    assert 0 <= low <= successes / n <= high <= 1
    assert wilson(successes * 4, n * 4)[1] - wilson(successes * 4, n * 4)[0] < high - low


def test_points_follow_the_log_of_the_lift():
    divisor = math.log2(4)
    assert points_for(4, divisor, 10) == 10          # the strongest signal gets the scale
    assert points_for(2, divisor, 10) == 5
    assert points_for(1, divisor, 10) == 0
    assert points_for(0.5, divisor, 10) == -5        # below the base rate: negative
    assert points_for(2, 1, 0.5) == 1                # 0.5 rounds away from zero
    assert points_for(0.5, 1, 0.5) == -1
    assert round_half_away(-2.5) == -3 and round_half_away(2.5) == 3


# --- counts ------------------------------------------------------------------------------------------

def test_counts_match_a_recount_of_the_rows(project, engine):
    folder, history = project
    result = calibrate_json(folder, "--min-count", "1", engine=engine)
    expected = recount(history, None)
    found = {s["label"]: (s["leads"], s["successes"]) for s in result["signals"]}
    assert found == expected
    assert result["leads"] == len(history["leads"])
    assert result["successes"] == len({r["lead_id"] for r in history["outcomes"] if r["stage"].lower() == "won"})
    for signal in result["signals"]:
        assert signal["rate"] == pytest.approx(signal["successes"] / signal["leads"])
        assert signal["lift"] == pytest.approx(signal["rate"] / result["base_rate"])
        assert (signal["low"], signal["high"]) == pytest.approx(wilson(signal["successes"], signal["leads"]))
    # `where` variants name the rules using them; the one that counts events is left out, with a note
    pricing = next(s for s in result["signals"] if s["kind"] == "where" and s["where"].startswith("url starts"))
    assert pricing["used_by"] == ["pricing"] and pricing["event"] == "page_view"
    assert any("count(page_view) >= 3" in note for note in result["notes"])
    assert any("`email`" in note for note in result["notes"])     # more than --max-values values


def test_as_of_cuts_events_and_outcomes(project, engine):
    folder, history = project
    result = calibrate_json(folder, "--min-count", "1", "--as-of", _iso(AS_OF), engine=engine)
    assert {s["label"]: (s["leads"], s["successes"]) for s in result["signals"]} == recount(history, AS_OF)
    assert result["as_of"] == _iso(AS_OF)
    # leads whose first event comes after --as-of did not exist yet: left out of the base rate too
    exists = {row["lead_id"] for row in history["events"] if row["at"] <= _iso(AS_OF)}
    assert 0 < result["leads"] == len(exists) < len(history["leads"])
    assert any("did not exist yet" in note for note in result["notes"])


def test_min_count_withholds_points(project, engine):
    folder, _ = project
    result = calibrate_json(folder, "--min-count", "50", engine=engine)
    for signal in result["signals"]:
        if signal["leads"] < 50 and not signal["undeclared"]:
            assert signal["points"] is None and signal["note"] == "fewer than 50 leads"
    assert any(s["points"] for s in result["signals"])


# --- suggested rules ---------------------------------------------------------------------------------

def test_suggested_rules_parse_and_check_when_pasted(project, engine):
    folder, _ = project
    result = calibrate_json(folder, "--min-count", "1", "--scale", "20", engine=engine)
    block = result["suggested_rules"]
    assert block.count("\n  ") >= 10
    pasted = folder / "pasted.score"
    pasted.write_text(RULES + "\n" + block, encoding="utf-8")
    loaded = load_ruleset(str(pasted))
    assert loaded.checked is not None
    assert loaded.diagnostics == ()          # no error, no warning
    scores = [d for d in loaded.ruleset.declarations if isinstance(d, ast.ScoreBlock)]
    rules = {rule.name.name: rule for rule in ast.rules_of(scores[-1])}
    by_rule = {s["rule"]: s for s in result["signals"] if s["rule"]}
    assert set(rules) == set(by_rule)
    strongest = max(by_rule.values(), key=lambda s: s["lift"])
    assert strongest["points"] == 20 and strongest["lift"] == pytest.approx(result["best_lift"])
    for name, rule in rules.items():
        signal = by_rule[name]
        assert rule.points.sign * rule.points.value.value == signal["points"]
        if signal["kind"] == "field" and not signal["missing"] and isinstance(signal["value"], str):
            # the value from the data comes back exactly: quotes and backslashes escaped, not interpreted
            assert isinstance(rule.condition, ast.Compare)
            assert (rule.condition.left.name, rule.condition.right.value) == (signal["field"], signal["value"])
        elif signal["kind"] != "field":
            assert rule.event.name == signal["event"]
            assert any(isinstance(m, ast.OnceModifier) for m in rule.modifiers)
    assert any(s["value"] == HOSTILE_COUNTRY and s["rule"] for s in result["signals"])


def test_undeclared_values_get_no_rule(project, engine):
    folder, _ = project
    result = calibrate_json(folder, "--min-count", "1", engine=engine)
    undeclared = next(s for s in result["signals"] if s["undeclared"])
    assert undeclared["field"] == "industry" and undeclared["rule"] is None and undeclared["points"] is None


def test_rule_names_never_repeat_a_name_of_the_ruleset(tmp_path, engine):
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    taken = RULES.replace("flagged:", "ev_demo_request:").replace("interest", "calibrated")
    (tmp_path / "rules.score").write_text(taken, encoding="utf-8")
    (tmp_path / "history").mkdir()
    make_history(tmp_path / "history")
    result = calibrate_json(tmp_path, "--min-count", "1", engine=engine)
    assert "score calibrated_2 {" in result["suggested_rules"]
    assert any(s["rule"] == "ev_demo_request_2" for s in result["signals"])
    (tmp_path / "pasted.score").write_text(taken + "\n" + result["suggested_rules"], encoding="utf-8")
    assert load_ruleset(str(tmp_path / "pasted.score")).diagnostics == ()


@settings(max_examples=150)
@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=30))
def test_string_literals_read_back_exactly(value):
    text = f'ruleset "t" version 1\nschema "s.yaml"\nconst c = {string_text(value)}\n'
    tree, diagnostics = parse(text, "t.score")
    assert diagnostics == []
    assert tree.declarations[0].value.value == value


@settings(max_examples=150)
@given(st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20))
def test_names_read_back_exactly_or_are_refused(name):
    written = name_text(name)
    if written is None:
        assert any(c in name for c in "`\r\n")
        return
    tree, diagnostics = parse(f'ruleset "t" version 1\nschema "s.yaml"\nconst {written} = 1\n', "t.score")
    assert diagnostics == []
    assert tree.declarations[0].name.name == name


# --- outputs -------------------------------------------------------------------------------------------

def test_text_and_markdown_outputs(project, engine):
    folder, _ = project
    args = [str(folder / "rules.score"), "--history", str(folder / "history"), "--min-count", "1"]
    text = run(*args, engine=engine)
    assert text.exit_code == 0
    assert "base rate" in text.stdout and "score calibrated {" in text.stdout
    markdown = run(*args, "--format", "markdown", engine=engine)
    assert markdown.exit_code == 0
    rows = [line for line in markdown.stdout.splitlines() if line.startswith("| ")]
    # a `|` inside a value is escaped, so every row has the header's 8 cells
    for row in rows:
        assert len([c for c in row.replace("\\|", "").split("|")[1:-1]]) == 8
    assert "```text\n" in markdown.stdout


def test_output_file(project, engine):
    folder, _ = project
    target = folder / "calibration.json"
    done = run(str(folder / "rules.score"), "--history", str(folder / "history"), "--format", "json",
               "-o", str(target), engine=engine)
    assert done.exit_code == 0 and done.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8"))["leads"] == 160


def test_explicit_tables_and_skipped_rows(project, engine):
    folder, _ = project
    history = folder / "history"
    with open(history / "events.csv", "a", encoding="utf-8") as handle:
        handle.write("L001,page_view,not a time,/x\nL999,page_view,2026-01-02T00:00:00Z,/x\n")
    done = run(str(folder / "rules.score"), "--leads", str(history / "leads.csv"), "--events",
               str(history / "events.csv"), "--outcomes", str(history / "outcomes.csv"), "--format", "json",
               engine=engine)
    assert done.exit_code == 0
    assert json.loads(done.stdout)["skipped_rows"] == {"events": 2}
    assert "events.csv:" in done.stderr and "unknown lead" in done.stderr
    strict = run(str(folder / "rules.score"), "--history", str(history), "--strict", engine=engine)
    assert strict.exit_code == 1 and "events.csv:" in strict.stderr


# --- bad input --------------------------------------------------------------------------------------------

def test_usage_errors_exit_2(project, engine):
    folder, _ = project
    rules, history = str(folder / "rules.score"), str(folder / "history")
    assert run(rules, engine=engine).exit_code == 2                           # no tables
    # a table named on its own replaces the history's, as in simulate: not a usage error
    assert run(rules, "--history", history, "--leads", f"{history}/leads.csv", engine=engine).exit_code == 0
    assert run(rules, "--history", history, "--as-of", "next tuesday", engine=engine).exit_code == 2
    assert run(rules, "--history", history, "--min-count", "0", engine=engine).exit_code == 2
    assert run(rules, "--history", history, "--scale", "-1", engine=engine).exit_code == 2

    assert run(rules, "--history", str(folder / "nowhere"), engine=engine).exit_code == 2
    assert run(rules, "--history", str(folder), engine=engine).exit_code == 2  # no tables in the folder
    assert run(rules, "--history", history, "--success", " ", engine=engine).exit_code == 2


@pytest.mark.parametrize("scale", ["nan", "inf", "-inf", "NaN", "1e400", "0", "1000001"])
def test_a_scale_that_is_not_a_finite_positive_number_is_a_usage_error(project, scale):
    folder, _ = project
    done = run(str(folder / "rules.score"), "--history", str(folder / "history"), "--scale", scale)
    assert done.exit_code == 2, done.output
    assert "--scale" in done.output and "Traceback" not in done.output


def test_bad_ruleset_and_bad_tables_exit_1(project, engine):
    folder, _ = project
    history = folder / "history"
    broken = folder / "broken.score"
    broken.write_text(RULES.replace("page_view where url", "page_vew where url"), encoding="utf-8")
    done = run(str(broken), "--history", str(history), engine=engine)
    assert done.exit_code == 1 and "LS301" in done.stderr
    (history / "events.csv").write_text("lead_id,at\nL001,2026-01-01\n", encoding="utf-8")
    done = run(str(folder / "rules.score"), "--history", str(history), engine=engine)
    assert done.exit_code == 1 and "events.csv" in done.stderr and "`type`" in done.stderr
    assert "Traceback" not in done.output


def test_no_success_means_no_points(project, engine):
    folder, _ = project
    # the success stage exists, but only after --as-of
    (folder / "history" / "outcomes.csv").write_text("lead_id,stage,at\nL001,lost,2026-01-02\nL002,won,2026-06-01\n",
                                                     encoding="utf-8")
    result = calibrate_json(folder, "--min-count", "1", "--as-of", "2026-05-01", engine=engine)
    assert result["successes"] == 0 and result["base_rate"] == 0
    assert result["suggested_rules"] is None and all(s["lift"] is None for s in result["signals"])
    assert any("no lead succeeded" in note for note in result["notes"])

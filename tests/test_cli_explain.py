"""`leadscore explain`: one lead's scores in words, with numbers that agree with `leadscore score`."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.cli import main
from leadscore.compiler import runtime as rt
from leadscore.explain import explain, instant_text, number

REPO = Path(__file__).resolve().parents[1]
ACME = str(REPO / "rulesets" / "acme" / "scoring.score")
DATA = Path(__file__).resolve().parent / "data" / "score"
AS_OF = "2026-05-01T00:00:00Z"
RULESET = leadscore.load(ACME)
SCORER = RULESET.compile()
SOURCE = Path(ACME).read_text(encoding="utf-8")


def run(*args: str, leads: Path = DATA / "leads.csv", events: Path = DATA / "events.csv"):
    return CliRunner().invoke(main, ["explain", ACME, "--leads", str(leads), "--events", str(events),
                                     "--as-of", AS_OF, *args])


def lines_of(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_what_a_sales_rep_reads_for_the_acme_example():
    lines = lines_of(run("--lead", "L-100"))
    assert lines[0] == "lead L-100: acme-b2b version 3, at 2026-05-01T00:00:00Z"
    # each contributing rule with its points, as written in the rule file
    assert "  +20  manufacturer:       +20 if industry == \"Manufacturing\"" in lines
    assert "   +8  company_size: case +8  if employees >= 251" in lines
    # per-event rules: each counted event with its points after decay
    assert "  +0.5  social_click:     +1  per social_click, max 5" in lines
    assert '        +0.5  2026-04-01T00:00:00Z  social_click (network "linkedin")' in lines
    assert sum(line.strip().startswith("+1  2026-05-01T00:00:00Z  page_view") for line in lines) == 5
    # the rules that did not fire, and why
    assert '    us_based:           +5  if country == "US"  (country = "DE")' in lines
    assert "    demo_request:     +50 per demo_request, decay none, max 50  (no demo_request events)" in lines
    assert any("pricing_page:" in line and "(none of the 5 page_view events counted)" in line for line in lines)
    assert "    timeline:  +20 if timeline_days <= 90  (timeline_days = 120)" in lines
    assert any(line.startswith("    binge_reader:") and "(count(content_download within 30d) = 1)" in line
               for line in lines)
    # scores, thresholds with their distance, segments
    assert "interest 42.5" in lines and "total 90.5 = fit + interest" in lines
    at = lines.index("thresholds")
    assert lines[at + 1:at + 6] == ["  mql: not met (fit >= mql_fit and interest >= mql_interest)",
                                    "    fit 48 — needs 40, met",
                                    "    interest 42.5 — needs 50, 7.5 to go",
                                    "  sql: not met (bant >= 75)",
                                    "    bant 50 — needs 75, 25 to go"]
    assert lines[lines.index("segments") + 1:] == ["  grade: C", "  priority: remove"]


def test_timeline_shows_the_scores_after_each_event():
    lines = lines_of(run("--lead", "L-300", "--timeline"))
    table = lines[lines.index("timeline (scores after each event)") + 1:]
    assert table[0].split() == ["at", "event", "fit", "interest", "bant", "total", "thresholds", "met"]
    assert table[1].split() == ["2026-04-20T15:30:00Z", "demo_request", "52", "50", "100", "102", "mql,", "sql"]
    assert table[2].startswith("  2026-04-21T09:00:00Z  page_view (url \"/pricing/enterprise\")")
    assert table[-1].split()[:2] == ["2026-05-01T00:00:00Z", "(as", ] and len(table) == 4   # the June event is later


def test_clamp_and_bad_values_are_explained():
    result = run("--lead", "L-200")
    lines = lines_of(result)
    assert "fit 0" in lines and "  -25  free_email:         -25 if domain(email) in free_email_domains" in lines
    assert "   +8  clamp 0..100" in lines   # 5 + 10 - 25 + 2 = -8, clamped to 0
    assert any("enterprise_finance:" in line and "employees is missing" in line for line in lines)
    assert "note: leads: 1 value that does not fit its type" in result.stderr and "`forty`" in result.stderr
    assert "L-999" not in result.stderr   # other leads' rows are not read


def test_a_rule_cut_by_its_max(tmp_path):
    leads, events = tmp_path / "leads.csv", tmp_path / "events.csv"
    leads.write_text("lead_id\nP\n")
    events.write_text("lead_id,type,at,url\n" + "".join(f"P,page_view,{AS_OF},/pricing/{k}\n" for k in range(3)))
    lines = lines_of(run("--lead", "P", leads=leads, events=events))
    assert "  +15  pricing_page:     +15 per page_view where url starts_with \"/pricing\", max 15" in lines
    assert "(the events add up to 45; the rule's max keeps 15)" in [line.strip() for line in lines]


def test_numbers_agree_with_score():
    scored = CliRunner().invoke(main, ["score", ACME, "--leads", str(DATA / "leads.csv"), "--events",
                                       str(DATA / "events.csv"), "--as-of", AS_OF, "--format", "jsonl"])
    for line in scored.stdout.splitlines():
        row = json.loads(line)
        data = json.loads(run("--lead", row["lead_id"], "--format", "json").stdout)
        assert {s["name"]: s["value"] for s in data["scores"]} == {k: row[k] for k in ("fit", "interest", "bant", "total")}
        assert {t["name"]: t["met"] for t in data["thresholds"]} == {"mql": row["mql"], "sql": row["sql"]}
        assert data["segments"] == {"grade": row["grade"], "priority": row["priority"]}


def test_json_format():
    data = json.loads(run("--lead", "L-100", "--format", "json", "--timeline").stdout)
    assert data["as_of"] == AS_OF and data["fields"]["created_at"] == "2026-01-10T00:00:00Z"
    assert data["fields"]["tech"] == ["hubspot"]
    interest = next(s for s in data["scores"] if s["name"] == "interest")
    click = next(c for c in interest["contributions"] if c["rule"] == "social_click")
    assert click["events"] == [{"type": "social_click", "at": "2026-04-01T00:00:00Z",
                                "properties": {"network": "linkedin"}, "points": 0.5}]
    mql = data["thresholds"][0]
    assert mql["parts"][1] == {"text": "interest >= mql_interest", "met": False, "subject": "interest", "value": 42.5,
                               "op": ">=", "target": 50.0, "gap": 7.5}
    assert data["timeline"][-1]["scores"]["interest"] == 42.5


def test_bad_input_is_a_plain_message(tmp_path):
    garbage = tmp_path / "events.jsonl"
    garbage.write_text("{not json\n[1, 2]\n")
    cases = [(["--lead", "nobody"], {}, 1, "lead `nobody` is not in"),
             (["--lead", "L-100"], {"events": tmp_path / "missing.csv"}, 2, "does not exist"),
             (["--lead", "L-100"], {"events": garbage}, 0, "2 rows that could not be used"),
             ([], {}, 2, "Missing option '--lead'")]
    for args, files, status, message in cases:
        result = run(*args, **files)
        assert result.exit_code == status, result.output
        assert message in result.stderr and "Traceback" not in result.stderr
    bad_time = CliRunner().invoke(main, ["explain", ACME, "--lead", "L-100", "--leads", str(DATA / "leads.csv"),
                                         "--events", str(DATA / "events.csv"), "--as-of", "2026-13-01"])
    assert bad_time.exit_code == 2 and "'--as-of': '2026-13-01' is not a date" in bad_time.stderr


def test_a_disagreement_with_the_reference_is_refused(monkeypatch):
    evaluate = leadscore.api.Scorer.evaluate

    def off_by_a_bit(self, fields, grouped, instant, explain=False):
        result = evaluate(self, fields, grouped, instant, explain)
        return rt.Result({**result.scores, "fit": result.scores["fit"] + 1e-9}, result.thresholds, result.segments,
                         result.reasons)

    monkeypatch.setattr(leadscore.api.Scorer, "evaluate", off_by_a_bit)
    result = run("--lead", "L-100")
    assert result.exit_code == 1 and "disagree" in result.stderr and result.stdout == ""


def test_numbers_for_display():
    assert [number(v) for v in (2.675, 1.005, -2.675, -0.004, 42.5, 50.0, 7.499, None)] == \
        ["2.68", "1.01", "-2.68", "0", "42.5", "50", "7.5", "missing"]
    assert instant_text(1777593600.25) == "2026-05-01T00:00:00.250000Z"


# --- property: an explanation adds up --------------------------------------------------------------

TYPES = ["page_view", "email_open", "content_download", "demo_request", "unsubscribe", "email_bounce"]
T = rt.to_epoch(AS_OF)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(0, 40))
def test_contributions_add_up_to_each_score(seed, n):
    rng = random.Random(seed)
    fields = rt.prepare_fields({"industry": rng.choice(["Manufacturing", "Consulting", None]),
                                "employees": rng.choice([20.0, 300.0, None]), "email": rng.choice(["a@gmail.com", None]),
                                "has_budget": rng.choice([True, None])}, SCORER.field_types)
    events = []
    for _ in range(n):
        kind = rng.choice(TYPES)
        props = {p: rng.choice(["/pricing", "/blog", None]) for p in SCORER.property_types[kind]}
        events.append((kind, T - rng.randrange(0, 200) * 86400.0 - rng.random() * 3600, props))
    x = explain(RULESET, SCORER, SOURCE, "lead", fields, events, T, timeline=True)
    for score in x.scores:
        if score.formula is None:
            assert sum(c.points for c in score.contributions) == pytest.approx(score.value, abs=1e-9)
        for c in score.contributions:
            if c.events and c.uncapped is None:
                assert sum(e.points for e in c.events) == c.points
            if c.uncapped is not None:
                assert abs(c.uncapped) > abs(c.points)
        fired = {c.rule for c in score.contributions}
        assert fired.isdisjoint(u.rule for u in score.unfired)
    for threshold in x.thresholds:
        assert all((part.gap is None) == (part.met or part.value is None) for part in threshold.parts if part.subject)
    assert len(x.timeline) == n and [e.at for e in x.timeline] == sorted(e[1] for e in events)


def test_read_csv_fixture_is_unsorted():
    # the fixture must keep testing grouping: its events are not in lead order
    with open(DATA / "events.csv", newline="") as handle:
        ids = [row["lead_id"] for row in csv.DictReader(io.StringIO(handle.read()))]
    assert ids != sorted(ids)


class _CountingScorer:
    """The compiled scorer, counting its evaluations and the events each one walked."""

    def __init__(self, scorer):
        self.scorer, self.events_walked = scorer, 0

    def __getattr__(self, name):     # the Backend's other attributes
        return getattr(self.scorer, name)

    def evaluate(self, fields, grouped, instant, explain=False):
        self.events_walked += sum(len(events) for events in grouped.values())
        return self.scorer.evaluate(fields, grouped, instant, explain)


def _many_events(n: int) -> list[tuple[str, float, dict]]:
    rng = random.Random(n)
    kinds = ["page_view", "email_open", "content_download", "demo_request"]
    return [(kind, T - rng.randrange(0, 400) * 86400.0 - rng.random() * 3600,
             {p: rng.choice(["/pricing", "/blog"]) for p in SCORER.property_types[kind]})
            for kind in (rng.choice(kinds) for _ in range(n))]


def test_the_timeline_costs_a_bounded_number_of_evaluations_per_event():
    # Each entry evaluates every earlier event: entries for all n events would walk n²/2 events.
    from leadscore.explain import TIMELINE_ROWS

    fields = rt.prepare_fields({"industry": "Manufacturing"}, SCORER.field_types)
    for n in (TIMELINE_ROWS * 2, TIMELINE_ROWS * 4):
        counting = _CountingScorer(SCORER)
        x = explain(RULESET, counting, SOURCE, "lead", fields, _many_events(n), T, timeline=True)
        assert len(x.timeline) == TIMELINE_ROWS and x.timeline_omitted == n - TIMELINE_ROWS
        assert counting.events_walked <= (TIMELINE_ROWS + 1) * n


def test_the_timeline_rows_shown_are_those_of_the_full_timeline():
    from leadscore.explain import TIMELINE_ROWS

    fields = rt.prepare_fields({"industry": "Manufacturing", "employees": 300.0}, SCORER.field_types)
    events = _many_events(TIMELINE_ROWS + 40)
    x = explain(RULESET, SCORER, SOURCE, "lead", fields, events, T, timeline=True)
    ordered = sorted(events, key=lambda e: e[1])
    for k in (0, 1, TIMELINE_ROWS - 1):   # the entry after event `omitted + k`, from all events up to it
        upto = ordered[:x.timeline_omitted + k + 1]
        grouped = {name: [(at, p) for kind, at, p in upto if kind == name] for name in SCORER.property_types}
        expected = SCORER.evaluate(fields, grouped, upto[-1][1])
        assert (x.timeline[k].at, x.timeline[k].scores, x.timeline[k].thresholds) == \
            (upto[-1][1], expected.scores, expected.thresholds)


def test_a_long_timeline_says_how_many_events_it_leaves_out(tmp_path):
    from leadscore.explain import TIMELINE_ROWS

    n = TIMELINE_ROWS + 3
    events = tmp_path / "events.csv"
    events.write_text("lead_id,type,at,url\n" + "".join(
        f"L-100,page_view,2026-03-{1 + k % 28:02d}T10:00:00Z,/blog\n" for k in range(n)), encoding="utf-8")
    result = run("--lead", "L-100", "--timeline", events=events)
    lines = lines_of(result)
    at = lines.index("timeline (scores after each event)")
    assert lines[at + 1] == (f"  (the last {TIMELINE_ROWS} of the lead's {n} events; the 3 before them count in every "
                             f"row; --timeline-rows N|all shows more)")
    assert len(lines) - at - 3 == TIMELINE_ROWS + 1          # header, the rows, the as-of row
    data = json.loads(run("--lead", "L-100", "--timeline", "--format", "json", events=events).stdout)
    assert (len(data["timeline"]), data["timeline_omitted"]) == (TIMELINE_ROWS, 3)


def _long_history(tmp_path: Path, n: int) -> Path:
    events = tmp_path / "events.csv"
    events.write_text("lead_id,type,at,url\n" + "".join(
        f"L-100,page_view,2026-03-{1 + k % 28:02d}T{k // 28:02d}:00:00Z,/blog\n" for k in range(n)), encoding="utf-8")
    return events


def test_timeline_rows_shows_the_last_n_events_or_all_of_them_and_implies_timeline(tmp_path):
    from leadscore.explain import TIMELINE_ROWS

    n = TIMELINE_ROWS + 5
    events = _long_history(tmp_path, n)
    full = json.loads(run("--lead", "L-100", "--timeline-rows", "all", "--format", "json", events=events).stdout)
    assert (len(full["timeline"]), full["timeline_omitted"]) == (n, 0)
    assert [e["at"] for e in full["timeline"]] == sorted(e["at"] for e in full["timeline"])
    for rows in ("1", "7", str(TIMELINE_ROWS), str(n), str(n + 10)):
        data = json.loads(run("--lead", "L-100", "--timeline-rows", rows, "--format", "json", events=events).stdout)
        shown = min(int(rows), n)
        # the same rows as the full timeline's last ones: every earlier event still counts
        assert (data["timeline"], data["timeline_omitted"]) == (full["timeline"][n - shown:], n - shown)
    lines = lines_of(run("--lead", "L-100", "--timeline-rows", "ALL", events=events))
    at = lines.index("timeline (scores after each event)")
    assert lines[at + 1].split()[:2] == ["at", "event"] and len(lines) - at - 2 == n + 1   # every event, as of
    assert "timeline (" not in run("--lead", "L-100", events=events).stdout


@pytest.mark.parametrize("rows", ["0", "-1", "x", "1.5", "", "\x1b[31m"])
def test_a_bad_timeline_rows_is_a_usage_error(rows):
    result = run("--lead", "L-100", "--timeline-rows", rows)
    assert result.exit_code == 2 and "--timeline-rows" in result.output and "Traceback" not in result.output
    assert "\x1b" not in result.output

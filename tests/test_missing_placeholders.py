"""Values that mean "missing" (`missing: [Select, "N/A"]` in the schema, docs/language.md):
such cells are missing in every door — the API (compiled and interpreted), every table format,
history files, the replay and calibrate — and never reported as bad values."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.cli import main
from leadscore.dsl.schema import parse_schema
from leadscore.tables import ArrowTable, ProblemLog, read_changes, read_events, read_leads

SCHEMA = """\
lead:
  id: lead_id
  created: created_at
  fields:
    industry: {type: string, values: [Software, Retail], missing: [Select, "N/A"]}
    employees: {type: number, missing: ["-", unknown]}
    created_at: datetime
events:
  form_submit: {properties: {country: {type: string, missing: ["--"]}}}
  page_view: {properties: {country: string}}
"""

RULES = """\
ruleset "t" version 1
schema "schema.yaml"
score fit {
  no_industry: +10 if industry is missing
  big: +5 if employees >= 10
  no_size: +1 if employees is missing
}
score interest {
  known_country: +20 per form_submit where country is present
  viewed: +1 per page_view where country is present
}
threshold mql: fit >= 10
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "schema.yaml").write_text(SCHEMA)
    (tmp_path / "rules.score").write_text(RULES)
    return tmp_path


def schema_of(text: str):
    schema, diags = parse_schema(text, "schema.yaml")
    return schema, [(d.code, d.span.line) for d in diags]


# --- the schema ------------------------------------------------------------------------------------

def test_the_schema_reads_missing_trimmed_without_repeats():
    schema, diags = schema_of("lead:\n  fields:\n    a: {type: string, missing: [Select, ' N/A ', Select]}\n"
                              "    b: number\n")
    assert diags == []
    assert schema.fields["a"].missing == ("Select", "N/A") and schema.fields["b"].missing == ()


@pytest.mark.parametrize("text, expected", [
    ("lead:\n  fields:\n    a: {type: number, missing: [0]}\n", [("LS604", 3)]),
    ("lead:\n  fields:\n    a: {type: string, missing: []}\n", [("LS602", 3)]),
    ("lead:\n  fields:\n    a: {type: string, missing: Select}\n", [("LS602", 3)]),
    ("lead:\n  fields:\n    a: {type: string, missing: ['']}\n", [("LS602", 3)]),
])
def test_a_bad_missing_list_is_reported(text, expected):
    assert schema_of(text)[1] == expected


# --- the API -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["compile", "interpret"])
def test_the_api_treats_placeholders_as_missing(project, backend):
    scorer = getattr(leadscore.load(str(project / "rules.score")), backend)()
    lead = {"industry": " Select ", "employees": "unknown"}
    events = [{"type": "form_submit", "at": "2026-01-02", "properties": {"country": "--"}},
              {"type": "page_view", "at": "2026-01-02", "properties": {"country": "--"}}]   # not a placeholder here
    result = scorer.score(lead, events, "2026-02-01")
    assert result.scores == {"fit": 11, "interest": 1}
    assert scorer.score({"industry": "Software", "employees": "12"}, [], "2026-02-01").scores["fit"] == 5


def test_score_many_treats_placeholders_as_missing(project):
    scorer = leadscore.load(str(project / "rules.score")).compile()
    [result] = scorer.score_many([({"industry": "N/A", "employees": "-"}, [])], "2026-02-01")
    assert result.scores["fit"] == 11


@settings(max_examples=50, deadline=None)
@given(placeholder=st.sampled_from(["Select", "N/A"]), left=st.sampled_from(["", " ", "\t"]),
       right=st.sampled_from(["", " ", "  "]), employees=st.one_of(st.none(), st.integers(0, 20)))
def test_a_placeholder_scores_as_an_absent_field(tmp_path_factory, placeholder, left, right, employees):
    folder = tmp_path_factory.mktemp("p")
    (folder / "schema.yaml").write_text(SCHEMA)
    (folder / "rules.score").write_text(RULES)
    scorer = leadscore.load(str(folder / "rules.score")).compile()
    base = {} if employees is None else {"employees": employees}
    assert scorer.score({**base, "industry": left + placeholder + right}, [], "2026-02-01") == \
        scorer.score(base, [], "2026-02-01")


# --- the tables ---------------------------------------------------------------------------------------

LEAD_ROWS = [{"lead_id": "a", "industry": "Select", "employees": "-", "created_at": "2026-01-01"},
             {"lead_id": "b", "industry": "Software", "employees": "12", "created_at": "2026-01-01"},
             {"lead_id": "c", "industry": "N/A ", "employees": "many", "created_at": "2026-01-01"}]


def write_leads(folder: Path, fmt: str):
    if fmt == "csv":
        path = folder / "leads.csv"
        path.write_text("lead_id,industry,employees,created_at\n"
                        + "".join(",".join(row.values()) + "\n" for row in LEAD_ROWS))
        return str(path)
    if fmt == "jsonl":
        path = folder / "leads.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in LEAD_ROWS))
        return str(path)
    table = pa.Table.from_pylist(LEAD_ROWS)
    if fmt == "arrow":
        return ArrowTable("q", table)
    pq.write_table(table, folder / "leads.parquet")
    return str(folder / "leads.parquet")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "arrow"])
def test_every_table_format_reads_placeholders_as_missing(project, fmt):
    schema = schema_of(SCHEMA)[0]
    log = ProblemLog()
    leads = dict(read_leads(write_leads(project, fmt), schema, log))
    assert (leads["a"]["industry"], leads["a"]["employees"]) == (None, None)
    assert (leads["b"]["industry"], leads["b"]["employees"]) == ("Software", 12.0)
    assert leads["c"]["industry"] is None
    # only `many` is a bad value: a placeholder never is
    assert [(p.row, p.column, p.kind) for p in log.examples] == [
        ({"csv": 4, "jsonl": 3}.get(fmt, 3), "employees", "bad_value")]


def test_event_properties_use_their_own_types_placeholders(project):
    (project / "events.csv").write_text("lead_id,type,at,country\na,form_submit,2026-01-02,--\n"
                                        "a,page_view,2026-01-02,--\na,form_submit,2026-01-03,FR\n")
    events = [e for _, e in read_events(str(project / "events.csv"), schema_of(SCHEMA)[0], ProblemLog())]
    assert [(e.type, e.properties["country"]) for e in events] == [
        ("form_submit", None), ("page_view", "--"), ("form_submit", "FR")]


def test_changes_values_use_the_fields_placeholders(project):
    (project / "changes.csv").write_text("lead_id,field,value,at\na,industry,Select,2026-01-02\n"
                                         "a,employees,unknown,2026-01-03\na,employees,7,2026-01-04\n")
    log = ProblemLog()
    rows = list(read_changes(str(project / "changes.csv"), schema_of(SCHEMA)[0], log))
    assert [(field, value) for _, field, value, _ in rows] == [("industry", None), ("employees", None),
                                                               ("employees", 7.0)]
    assert log.total() == 0


# --- the commands: replay, calibrate, score ------------------------------------------------------

@pytest.fixture
def history(project: Path) -> Path:
    folder = project / "history"
    folder.mkdir()
    write_leads(folder, "csv")
    (folder / "events.csv").write_text("lead_id,type,at,country\nb,form_submit,2026-01-05,--\n")
    (folder / "outcomes.csv").write_text("lead_id,stage,at\na,won,2026-01-20\nc,won,2026-01-21\n")
    return folder


def run(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_replay_and_calibrate_and_score_see_placeholders_as_missing(project, history):
    code, out, _ = run("simulate", project / "rules.score", "--history", history, "--format", "json")
    assert code == 0
    mql = json.loads(out)["variants"]["baseline"]["thresholds"]["mql"]
    assert mql["crossed"] == 2 and mql["funnel"]["successes"] == 2   # a and c: no industry, both won
    code, out, _ = run("calibrate", project / "rules.score", "--history", history, "--min-count", "1",
                       "--format", "json")
    assert code == 0
    signals = {(s.get("field"), s.get("value"), s.get("missing")): s["leads"]
               for s in json.loads(out)["signals"] if s.get("field") == "industry"}
    assert signals[("industry", None, True)] == 2
    code, out, err = run("score", project / "rules.score", "--leads", history / "leads.csv",
                         "--events", history / "events.csv", "--as-of", "2026-02-01")
    assert code == 0
    assert out.splitlines()[1:] == ["a,11.0,0.0,true", "b,5.0,0.0,false", "c,11.0,0.0,true"]

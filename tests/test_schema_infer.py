"""`leadscore schema infer` (docs/history.md): a starting schema from the tables that loads as
a valid schema, and never overwrites a file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.dsl.schema import parse_schema
from leadscore.ingest.infer import infer_schema
from leadscore.tables import ArrowTable

REPO = Path(__file__).resolve().parents[1]


def write_csv(path: Path, rows: list[list]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return str(path)


def run(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def parsed(text: str):
    schema, diags = parse_schema(text, "schema.yaml")
    assert [d for d in diags if d.is_error] == [], text
    return schema


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    history = tmp_path / "history"
    write_csv(history / "leads.csv", [
        ["Contact ID", "industry", "employees", "signed_up_at", "tech", "has_budget", "score", "email", "revenue"],
        ["c1", "Software", "120", "2026-01-05", "salesforce; hubspot", "yes", "1", "a@x.com", "N/A"],
        ["c2", "Retail", "N/A", "2026-01-06T10:00:00Z", "", "no", "0", "b@x.com", "1000"],
        ["c3", "Software", "", "2026-01-07", "slack", "", "1", "c@x.com", "-"],
        ["c4", "Other", "7", "", "hubspot", "yes", "0", "d@x.com", "25.5"]])
    write_csv(history / "events.csv", [
        ["Contact ID", "type", "at", "url", "amount"],
        ["c1", "page_view", "2026-01-05", "/pricing", ""],
        ["c1", "purchase", "2026-01-06", "", "12.5"],
        ["c2", "page_view", "2026-01-06", "/blog", ""],
        ["c3", "demo_request", "2026-01-07", "", ""]])
    write_csv(history / "outcomes.csv", [["Contact ID", "stage", "at"], ["c1", "won", "2026-02-01"]])
    return history


def test_types_values_lists_placeholders_and_guesses(folder):
    text = infer_schema({"leads": str(folder / "leads.csv"), "events": str(folder / "events.csv")}, 3, "h")
    schema = parsed(text)
    assert schema.id_column == "Contact ID" and schema.created == "signed_up_at"
    fields = schema.fields
    assert {name: spec.type for name, spec in fields.items()} == {
        "industry": "string", "employees": "number", "signed_up_at": "datetime", "tech": "list",
        "has_budget": "boolean", "score": "number", "email": "string", "revenue": "number"}
    assert fields["industry"].values == ("Software", "Other", "Retail")   # most frequent first
    assert fields["email"].values is None                                  # 4 distinct > 3
    assert fields["tech"].values == ("hubspot", "salesforce", "slack")
    assert fields["employees"].missing == ("N/A",) and fields["revenue"].missing == ("N/A", "-")
    assert {name: dict((p, s.type) for p, s in spec.properties.items()) for name, spec in schema.events.items()} == {
        "page_view": {"url": "string"}, "purchase": {"amount": "number"}, "demo_request": {}}
    # the guesses are marked for the user
    assert [line.strip().split(":")[0] for line in text.splitlines() if "# check" in line] == [
        "id", "created", "missing", "missing"]


def test_the_threshold_option_and_the_written_file_checks_a_ruleset(folder, tmp_path):
    out = tmp_path / "rules" / "schema.yaml"
    out.parent.mkdir()
    code, _, _ = run("schema", "infer", "--history", folder, "-o", out, "--max-values", "2")
    assert code == 0
    schema = parsed(out.read_text())
    assert schema.fields["industry"].values is None   # 3 distinct > 2
    (out.parent / "rules.score").write_text(
        'ruleset "t" version 1\nschema "schema.yaml"\nscore fit {\n  big: +10 if employees >= 100\n'
        '  budget: +5 if has_budget\n  crm: +5 if tech contains "hubspot"\n}\n'
        "score interest {\n  views: +1 per page_view where url starts_with \"/pricing\"\n}\n")
    assert run("check", out.parent / "rules.score")[0] == 0
    code, out_text, _ = run("score", out.parent / "rules.score", "--history", folder / ".." / "history",
                            "--as-of", "2026-03-01")
    assert code == 0 and out_text.splitlines()[1] == "c1,20.0,1.0"


def test_never_overwrites(folder, tmp_path):
    out = tmp_path / "schema.yaml"
    out.write_text("mine\n")
    code, _, err = run("schema", "infer", "--history", folder, "-o", out)
    assert code == 1 and "already exists" in err
    assert out.read_text() == "mine\n"
    link = tmp_path / "link.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")   # a dangling link is not written through either
    assert run("schema", "infer", "--history", folder, "-o", link)[0] == 1
    assert not (tmp_path / "nowhere.yaml").exists()


def test_a_history_file_jsonl_and_parquet(tmp_path):
    (tmp_path / "events.jsonl").write_text(
        json.dumps({"lead_id": "a", "type": "view", "at": "2026-01-01", "properties": {"url": "/x", "n": 2}}) + "\n"
        + json.dumps({"lead_id": "b", "type": "view", "at": "2026-01-02", "properties": {"url": "/y"}}) + "\n")
    pq.write_table(pa.table({"lead_id": ["a", "b"], "size": [3, 4], "vip": [True, None],
                             "joined": pa.array([1, 2], pa.timestamp("s"))}), tmp_path / "leads.parquet")
    text = infer_schema({"leads": str(tmp_path / "leads.parquet"), "events": str(tmp_path / "events.jsonl")},
                        20, "h")
    schema = parsed(text)
    assert {n: s.type for n, s in schema.fields.items()} == {"size": "number", "vip": "boolean", "joined": "datetime"}
    assert {p: s.type for p, s in schema.events["view"].properties.items()} == {"url": "string", "n": "number"}
    (tmp_path / "history.yaml").write_text(
        "leads: {sql: \"select * from 'leads.parquet'\"}\nevents: {sql: \"select 'a' as lead_id, 'view' as type,"
        " '2026-01-01' as at, 3.5 as price\"}\noutcomes: {sql: \"select 'a' as lead_id\"}\n")
    code, _, _ = run("schema", "infer", "--history", tmp_path / "history.yaml", "-o", tmp_path / "s.yaml")
    assert code == 0
    assert parsed((tmp_path / "s.yaml").read_text()).events["view"].properties["price"].type == "number"


def test_a_history_that_cannot_be_read(tmp_path):
    (tmp_path / "history.yaml").write_text("leads: {sql: select nope}\nevents: {sql: select 1}\n"
                                           "outcomes: {sql: select 1}\n")
    code, _, err = run("schema", "infer", "--history", tmp_path / "history.yaml", "-o", tmp_path / "s.yaml")
    assert code == 1 and "LS700" in err and not (tmp_path / "s.yaml").exists()


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.lists(names.filter(lambda n: n.strip() and n not in ("lead_id", "type", "at", "properties")),
                        min_size=1, max_size=4, unique=True),
       values=st.lists(st.one_of(names, st.none()), min_size=1, max_size=6), kinds=st.lists(names, min_size=1,
                                                                                             max_size=3))
def test_any_names_and_values_give_a_schema_that_loads_with_the_same_names(columns, values, kinds):
    leads = pa.table({"lead_id": [f"l{k}" for k in range(len(values))],
                      **{name: pa.array(values, pa.string()) for name in columns}})
    events = pa.table({"lead_id": ["l0"] * len(kinds), "type": kinds, "at": ["2026-01-01"] * len(kinds),
                       **{name: pa.array(kinds, pa.string()) for name in columns}})
    text = infer_schema({"leads": ArrowTable("q", leads), "events": ArrowTable("q", events)}, 20, "h\nx")
    schema, diags = parse_schema(text, "schema.yaml")
    assert [d for d in diags if d.is_error] == [], text
    assert list(schema.fields) == columns
    assert set(schema.events) == {k.strip() for k in kinds if k.strip()}
    for spec in schema.fields.values():
        if spec.values:
            assert set(spec.values) <= {v.strip() for v in values if v} | {
                item.strip() for v in values if v for item in v.split(";")}

"""`leadscore diff` beyond the rule file's declarations: schema changes (fields, event types,
properties and values added, removed or retyped), renamed rules, and a ruleset that does not
exist at the revision."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.dsl.schema import parse_schema
from leadscore.rulediff import compare
from leadscore.rulediff.render import render_markdown, render_text, schema_line
from leadscore.rulediff.schema import SchemaChange, compare_schemas

from helpers import ACME_SCHEMA, git, write_ruleset
from test_cli_diff import BASE, _table_rows, parsed

EDITED_SCHEMA = (ACME_SCHEMA
                 .replace("    timeline_days: {type: number}\n", "    timeline_days: {type: string}\n")
                 .replace("    country: {type: string}\n", "")
                 .replace("values: [buyer, end_user, influencer]", "values: [buyer, champion, influencer]")
                 .replace("    email: {type: string}\n", "    email: {type: string}\n    region: {type: string}\n")
                 .replace("  page_view: {properties: {url: string}}",
                          "  page_view: {properties: {url: string, referrer: string}}")
                 .replace("  email_open: {properties: {campaign: string}}", "  email_open: {properties: {campaign: number}}")
                 .replace("  social_click: {properties: {network: string}}",
                          "  social_click:\n    properties:\n      network: {type: string, values: [x, linkedin]}")
                 .replace("  email_bounce: {}\n", "  trial_started: {properties: {plan: string}}\n"))


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def diff(*args: str):
    return run("diff", *args)


def schema_of(text: str):
    schema, diagnostics = parse_schema(text, "schema.yaml")
    assert schema is not None and not [d for d in diagnostics if d.is_error], diagnostics
    return schema


def two_folders(tmp_path: Path, old_schema: str, new_schema: str, old_rules: str = BASE,
                new_rules: str = BASE) -> tuple[str, str]:
    old = write_ruleset(tmp_path / "old", old_rules, schema=old_schema, name="scoring.score")
    new = write_ruleset(tmp_path / "new", new_rules, schema=new_schema, name="scoring.score")
    return str(old), str(new)


def test_every_kind_of_schema_change_in_text(tmp_path):
    result = diff(*two_folders(tmp_path, ACME_SCHEMA, EDITED_SCHEMA))
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "schema: lead field role: added value \"champion\"",
        "schema: lead field role: removed value \"end_user\"",
        "schema: added lead field region: string",
        "schema: lead field timeline_days: type number → string",
        "schema: removed lead field country: string",
        "schema: event page_view: added property referrer: string",
        "schema: event email_open: property campaign: type string → number",
        "schema: event social_click: property network: values (any) → [\"x\", \"linkedin\"]",
        "schema: added event trial_started: {plan: string}",
        "schema: removed event email_bounce",
    ]


def test_schema_changes_in_json_under_their_own_key(tmp_path):
    result = diff(*two_folders(tmp_path, ACME_SCHEMA, EDITED_SCHEMA), "--format", "json")
    document = json.loads(result.stdout)
    assert document["changes"] == [] and document["new_ruleset"] is False
    assert document["schema"][3] == {"kind": "changed", "entity": "lead field", "name": "timeline_days",
                                      "property": None, "field": "type", "old": "number", "new": "string"}
    assert {"kind": "added", "entity": "value", "name": "role", "property": None, "field": None,
            "old": None, "new": '"champion"'} in document["schema"]
    assert {"kind": "added", "entity": "event property", "name": "page_view", "property": "referrer",
            "field": None, "old": None, "new": "string"} in document["schema"]
    assert len(document["schema"]) == 10


def test_schema_changes_in_markdown(tmp_path):
    result = diff(*two_folders(tmp_path, ACME_SCHEMA, EDITED_SCHEMA), "--format", "markdown")
    assert "**no semantic changes**" in result.stdout       # in the rules
    assert "Schema: **10 changes: 4 added, 3 removed, 3 changed**" in result.stdout
    rows = _table_rows(result.stdout)
    assert ["changed", "lead field timeline_days: type", "number", "string"] in rows
    assert ["added", "event page_view property referrer", "", "string"] in rows
    assert ["removed", "lead field role: value", '"end_user"', ""] in rows


def test_columns_and_a_lifted_restriction(tmp_path):
    old = ACME_SCHEMA
    new = ACME_SCHEMA.replace("  id: lead_id\n", "  id: id\n").replace("  created: created_at\n", "") \
        .replace("      values: [buyer, end_user, influencer]\n", "")
    lines = render_text([], compare_schemas(schema_of(old), schema_of(new))).splitlines()
    assert lines == ["schema: id column lead_id → id", "schema: removed created column: created_at",
                     'schema: lead field role: values ["buyer", "end_user", "influencer"] → (any)']


def test_the_same_schema_in_another_order_and_layout_is_no_change():
    reordered = ACME_SCHEMA.replace("    employees: {type: number}\n", "").replace(
        "    job_title: {type: string}\n", "    job_title: {type: string}\n    employees:\n      type: number\n")
    assert compare_schemas(schema_of(ACME_SCHEMA), schema_of(reordered)) == ()


_NAMES = st.sampled_from(["a", "b", "c", "d"])
_SPECS = st.fixed_dictionaries({"type": st.sampled_from(["string", "number", "boolean"]),
                                "values": st.none() | st.lists(st.sampled_from(["x", "y", "z"]), unique=True,
                                                               min_size=1, max_size=3)})


def _schema_text(fields: dict, events: dict) -> str:
    def spec(s: dict) -> dict:
        return {"type": s["type"], **({"values": s["values"]} if s["values"] and s["type"] == "string" else {})}
    return json.dumps({"lead": {"id": "lead_id", "fields": {n: spec(s) for n, s in fields.items()}},
                       "events": {n: {"properties": {p: spec(s) for p, s in props.items()}}
                                  for n, props in events.items()}})


_SCHEMAS = st.builds(_schema_text, st.dictionaries(_NAMES, _SPECS, max_size=4),
                     st.dictionaries(_NAMES, st.dictionaries(_NAMES, _SPECS, max_size=3), max_size=3))


@settings(max_examples=60, deadline=None)
@given(_SCHEMAS, _SCHEMAS)
def test_schema_changes_are_empty_exactly_when_the_schemas_agree_and_mirror_when_swapped(a, b):
    old, new = schema_of(a), schema_of(b)
    forward, backward = compare_schemas(old, new), compare_schemas(new, old)
    def spec(f):   # declared values are a set: their order is no change
        return f.type, None if f.values is None else frozenset(f.values)

    same = ({n: spec(f) for n, f in old.fields.items()} == {n: spec(f) for n, f in new.fields.items()}
            and {e: {p: spec(f) for p, f in s.properties.items()} for e, s in old.events.items()}
            == {e: {p: spec(f) for p, f in s.properties.items()} for e, s in new.events.items()})
    assert (forward == ()) == same
    swap = {"added": "removed", "removed": "added", "changed": "changed"}
    assert sorted((swap[c.kind], c.entity, c.name, c.property) for c in forward) == \
        sorted((c.kind, c.entity, c.name, c.property) for c in backward)
    for change in forward:
        assert schema_line(change).startswith("schema: ")


def test_schema_names_are_shown_safely():
    spaced = SchemaChange("added", "lead field", "bad name\x1b", new="string")
    assert render_text([], [spaced]) == "schema: added lead field `bad name\\x1b`: string\n"
    piped = SchemaChange("added", "event property", "e|x", "bad`name", new="string")
    rows = _table_rows(render_markdown([], "a", "b", [piped]))
    assert rows == [["added", "event e|x property bad`name", "", "string"]]


# --- renamed rules -----------------------------------------------------------------------------

def test_a_rule_with_the_same_body_under_a_new_name_is_renamed(tmp_path):
    renamed = BASE.replace("director_title:", "senior_title:  ")
    old, new = two_folders(tmp_path, ACME_SCHEMA, ACME_SCHEMA, new_rules=renamed)
    result = diff(old, new)
    assert (result.exit_code, result.stdout) == (1, "score fit: rule senior_title: renamed from director_title\n")
    document = json.loads(diff(old, new, "--format", "json").stdout)
    assert document["changes"] == [{"kind": "renamed", "section": "score fit", "entity": "rule",
                                    "name": "senior_title", "field": None, "old": "director_title",
                                    "new": "senior_title"}]
    markdown = diff(old, new, "--format", "markdown").stdout
    assert "**1 change: 1 renamed**" in markdown
    assert _table_rows(markdown) == [["renamed", "score fit", "rule senior_title", "director_title", "senior_title"]]


def test_a_renamed_and_moved_rule_is_both_and_a_changed_body_is_not_a_rename():
    moved = BASE.replace("  uses_salesforce:    +10 if tech contains \"salesforce\"\n", "") \
        .replace("  budget: +20 if has_budget == true\n",
                 "  budget: +20 if has_budget == true\n  crm: +10 if tech contains \"salesforce\"\n")
    changes = compare(parsed(BASE), parsed(moved))
    assert [(c.kind, c.name, c.field, c.old, c.new) for c in changes] == [
        ("renamed", "crm", None, "uses_salesforce", "crm"), ("moved", "crm", "score", "fit", "bant")]
    reworded = BASE.replace("director_title:     +10", "senior_title:       +15")
    kinds = sorted((c.kind, c.name) for c in compare(parsed(BASE), parsed(reworded)))
    assert kinds == [("added", "senior_title"), ("removed", "director_title")]


def test_two_rules_with_one_body_pair_in_file_order():
    twins = BASE.replace("  budget: +20 if has_budget == true\n",
                         "  budget: +20 if has_budget == true\n  budget_2: +20 if has_budget == true\n")
    renamed = twins.replace("budget:", "first:").replace("budget_2:", "second:")
    changes = compare(parsed(twins), parsed(renamed))
    assert [(c.kind, c.old, c.new) for c in changes] == [("renamed", "budget", "first"),
                                                          ("renamed", "budget_2", "second")]


# --- a ruleset that is new at the revision ----------------------------------------------------

@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "README.md").write_text("rules\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        git(folder, *args)
    write_ruleset(folder / "rules", 'ruleset "t" version 1\nschema "schema.yaml"\n'
                  "score fit {\n  big: +10 if employees >= 100\n}\nthreshold mql: fit >= 10\n",
                  name="scoring.score")
    return folder


def test_a_ruleset_missing_at_the_revision_is_a_new_ruleset(repo):
    path = str(repo / "rules" / "scoring.score")
    result = diff(path, "--against", "HEAD")
    assert result.exit_code == 1, result.output
    assert "fatal" not in result.output
    assert result.stdout.splitlines() == [
        "new ruleset: it did not exist at the old revision",
        "header: added ruleset: \"t\"", "header: added version: 1", "header: added schema: \"schema.yaml\"",
        "score fit: added", "score fit: added rule big: +10 if employees >= 100", "threshold mql: added: fit >= 10"]
    document = json.loads(diff(path, "--against", "HEAD", "--format", "json").stdout)
    assert document["new_ruleset"] is True and document["schema"] == []
    assert {"kind": "added", "section": "score fit", "entity": "rule", "name": "big", "field": None,
            "old": None, "new": "+10 if employees >= 100"} in document["changes"]
    markdown = diff(path, "--against", "HEAD", "--format", "markdown").stdout
    assert f"`{path}@HEAD` → `{path}`: **new ruleset, 6 changes: 6 added**" in markdown


def test_simulate_against_a_revision_without_the_ruleset_says_so(repo):
    result = run("simulate", str(repo / "rules" / "scoring.score"), "--history", str(repo), "--against", "HEAD")
    assert result.exit_code == 2
    assert "does not exist at HEAD (a new ruleset)" in result.stderr and "fatal" not in result.stderr

"""The schema file: loading, shape checks and the errors a marketer will meet.

Assertions are on codes and line:column, never on the wording of messages,
except where a message must NOT contain something (file contents).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.dsl.diagnostics import Diagnostic, Severity, has_errors
from leadscore.dsl.schema import FIELD_TYPES, EventSpec, FieldSpec, Schema, parse_schema
from leadscore.dsl.yamlio import YamlMap, load_yaml

from helpers import HEADER, diagnose

ACME = Path(__file__).resolve().parents[1] / "rulesets" / "acme" / "schema.yaml"


def parse(text: str) -> tuple[Schema | None, list[Diagnostic]]:
    return parse_schema(textwrap.dedent(text).lstrip("\n"), "schema.yaml")


def where(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diags]


# --- a good file -------------------------------------------------------------

def test_acme_schema_loads_clean():
    schema, diags = parse_schema(ACME.read_text(encoding="utf-8"), str(ACME))
    assert diags == []
    assert schema.id_column == "lead_id"
    assert schema.created == "created_at"
    assert list(schema.fields)[:3] == ["industry", "employees", "job_title"]  # declaration order
    assert schema.fields["employees"].type == "number"
    assert schema.fields["tech"].type == "list"
    assert schema.fields["created_at"].type == "datetime"
    assert schema.fields["has_budget"].type == "boolean"
    assert schema.fields["role"].values == ("buyer", "end_user", "influencer")
    assert schema.fields["industry"].values[0] == "Financial Services"
    assert schema.fields["email"].values is None
    assert len(schema.events) == 12
    assert schema.events["page_view"].properties["url"].type == "string"
    assert dict(schema.events["demo_request"].properties) == {}
    # Spans point at the declared name.
    span = schema.fields["industry"].span
    assert (span.line, span.column, span.end_column) == (6, 5, 13)
    assert (schema.events["page_view"].span.line, schema.events["page_view"].span.column) == (24, 3)


def test_shorthand_defaults_descriptions_and_names_with_spaces():
    schema, diags = parse("""
        lead:
          fields:
            employees: number
            Lead Source: {type: string, values: [Web, "no"], description: where we met them}
        events:
          page_view:
            description: any page on the site
            properties: {url: string}
          demo_request:
          contact_form: {}
    """)
    assert diags == []
    assert schema.id_column == "lead_id" and schema.created is None
    assert schema.fields["employees"] == FieldSpec("employees", "number", None, schema.fields["employees"].span)
    assert schema.fields["Lead Source"].values == ("Web", "no")
    assert isinstance(schema.events["demo_request"], EventSpec)
    assert dict(schema.events["demo_request"].properties) == {}
    assert schema.events["page_view"].properties["url"].type == "string"
    assert all(f.type in FIELD_TYPES for f in schema.fields.values())


def test_id_may_also_be_declared_as_a_field():
    schema, diags = parse("""
        lead:
          id: account_id
          fields:
            account_id: string
    """)
    assert diags == [] and schema.id_column == "account_id"


# --- values that YAML reads as something else ----------------------------------

def test_bare_no_in_values_is_ls604_at_the_item():
    schema, diags = parse("""
        lead:
          fields:
            subscribed:
              type: string
              values: [yes, maybe, no, 1]
    """)
    assert where(diags) == [("LS604", 5, 16), ("LS604", 5, 28), ("LS604", 5, 32)]
    assert diags[1].hint is not None and '"no"' in diags[1].hint
    # The schema is still built, with the text the user wrote.
    assert schema.fields["subscribed"].values == ("yes", "maybe", "no", "1")


def test_block_list_item_position():
    _, diags = parse("""
        lead:
          fields:
            answer:
              type: string
              values:
                - maybe
                - off
    """)
    assert where(diags) == [("LS604", 7, 11)]


def test_values_on_a_number_field():
    _, diags = parse("""
        lead:
          fields:
            employees: {type: number, values: [a, b]}
    """)
    assert where(diags) == [("LS602", 3, 31)]


def test_repeated_value_is_a_warning():
    _, diags = parse("""
        lead:
          fields:
            role: {type: string, values: [buyer, buyer]}
    """)
    assert where(diags) == [("LS602", 3, 42)]
    assert diags[0].severity is Severity.WARNING


# --- shape errors ------------------------------------------------------------

def test_unknown_key_typo_points_at_the_key_with_a_hint():
    _, diags = parse("""
        lead:
          fields:
            industry:
              typ: string
    """)
    # One mistake, one error: `type` is not also reported as missing.
    assert where(diags) == [("LS602", 4, 7)]
    assert "`type`" in diags[0].hint


def test_top_level_typo():
    _, diags = parse("""
        lead:
          fields: {}
        event:
          demo_request: {}
    """)
    assert where(diags) == [("LS602", 3, 1)]
    assert "`events`" in diags[0].hint


def test_wrong_type_name_points_at_the_value():
    _, diags = parse("""
        lead:
          fields:
            job_title: text
            industry: {type: Strng}
    """)
    assert where(diags) == [("LS602", 3, 16), ("LS602", 4, 22)]
    assert "`string`" in diags[1].hint


def test_missing_lead_and_missing_type():
    _, diags = parse("""
        events: {}
    """)
    assert where(diags) == [("LS602", 1, 1)]
    _, diags = parse("""
        lead:
          fields:
            industry: {values: [a]}
    """)
    assert where(diags) == [("LS602", 3, 15)]


def test_all_errors_are_reported_in_position_order():
    _, diags = parse("""
        lead:
          fields:
            a: texte
            b: {type: number, extra: 1}
        events:
          x: 3
    """)
    assert where(diags) == [("LS602", 3, 8), ("LS602", 4, 23), ("LS602", 6, 6)]


def test_empty_name():
    _, diags = parse("""
        lead:
          fields:
            '': string
    """)
    assert where(diags) == [("LS602", 3, 5)]


# --- created and id ----------------------------------------------------------

def test_created_pointing_at_a_non_datetime_field():
    schema, diags = parse("""
        lead:
          created: employees
          fields:
            employees: number
    """)
    assert where(diags) == [("LS605", 2, 12)]
    assert schema.created is None


def test_created_pointing_at_an_undeclared_field_suggests_one():
    _, diags = parse("""
        lead:
          created: created
          fields:
            created_at: datetime
    """)
    assert where(diags) == [("LS605", 2, 12)]
    assert "created_at" in diags[0].hint


def test_id_declared_with_an_impossible_type():
    _, diags = parse("""
        lead:
          id: flag
          fields:
            flag: boolean
    """)
    assert where(diags) == [("LS605", 2, 7)]


# --- hostile and broken YAML -------------------------------------------------

def test_python_tag_is_reported_not_executed(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.chdir(tmp_path)
    text = f'lead:\n  fields: !!python/object/apply:os.system ["touch {marker}"]\n'
    schema, diags = parse_schema(text, "schema.yaml")
    assert where(diags) == [("LS601", 2, 11)]
    assert not marker.exists()
    _, diags = parse_schema("lead:\n  id: !custom x\n", "schema.yaml")
    assert where(diags) == [("LS601", 2, 7)]


def test_anchors_and_aliases_are_refused():
    _, diags = parse("""
        lead:
          fields:
            a: &t {type: string}
            b: *t
    """)
    assert where(diags) == [("LS601", 3, 8), ("LS601", 4, 8)]


def test_alias_bomb_is_cheap():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(20)]
    _, diags = parse_schema("\n".join(lines) + "\n", "schema.yaml")
    assert {d.code for d in diags} >= {"LS601"}


def test_syntax_error_has_position_and_never_quotes_the_file():
    secret = "hunter2-secret-token"
    text = f"lead:\n  fields:\n    {secret}: [a, b\n  id: x\n"
    schema, diags = parse_schema(text, "schema.yaml")
    assert schema is None
    assert where(diags) == [("LS601", 4, 5)]
    assert all(secret not in d.message and secret not in (d.hint or "") for d in diags)


def test_tab_indentation():
    secret = "hunter2-secret-token"
    schema, diags = parse_schema(f"lead:\n\tfields: {{{secret}: string}}\n", "schema.yaml")
    assert schema is None and where(diags) == [("LS601", 2, 1)]
    assert all(secret not in d.message for d in diags)


def test_duplicate_keys():
    schema, diags = parse("""
        lead:
          fields:
            a: string
            a: number
    """)
    assert where(diags) == [("LS601", 4, 5)]
    assert schema.fields["a"].type == "string"  # the first one is kept


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(text):
    schema, diags = parse_schema(text, "schema.yaml")
    assert schema is None and where(diags) == [("LS602", 1, 1)]


@pytest.mark.parametrize("data", [
    b"\x00\xff\xfe\x01garbage\x80\x81",
    b"lead:\n  id: a\x00b\n",
    bytes(range(256)),
])
def test_binary_garbage(data):
    schema, diags = parse_schema(data.decode("utf-8", errors="replace"), "schema.yaml")
    assert schema is None and diags and all(isinstance(d, Diagnostic) for d in diags)
    assert diags[0].code == "LS600"


def test_nul_position():
    _, diags = parse_schema("lead:\n  id: a\x00b\n", "schema.yaml")
    assert where(diags) == [("LS600", 2, 8)]


def test_a_schema_that_is_not_utf8_is_ls110_like_a_rule_file(tmp_path):
    # One problem, one code: the rule file and its schema are read by the same reader.
    found = diagnose(tmp_path, HEADER, b"lead:\n  id: caf\xe9\n")
    assert found == [("LS110", 2, 10)]


def test_a_schema_with_a_bom_reads_clean(tmp_path):
    assert diagnose(tmp_path, HEADER, "\ufefflead: {fields: {a: string}}\n") == []


def test_deep_nesting_and_huge_numbers():
    assert where(parse_schema("[" * 5000, "s.yaml")[1]) == [("LS601", 1, 1)]
    _, diags = parse_schema("lead:\n  id: " + "9" * 5000 + "\n", "s.yaml")
    assert where(diags) == [("LS601", 2, 7)]


def test_top_level_must_be_a_mapping():
    schema, diags = parse_schema("- lead\n", "schema.yaml")
    assert schema is None and where(diags) == [("LS602", 1, 1)]


def test_second_document():
    schema, diags = parse_schema("lead: {}\n---\nlead: {}\n", "schema.yaml")
    assert schema is None and where(diags) == [("LS601", 2, 1)]


# --- yamlio on its own ---------------------------------------------------------

def test_load_yaml_keeps_keys_and_dates_as_written():
    data, diags = load_yaml("no: 2026-04-01\n2024: x\n", "t.yaml", {"type": "object"})
    assert diags == []
    assert isinstance(data, YamlMap) and data == {"no": "2026-04-01", "2024": "x"}
    assert (data.origins["2024"].key_span.line, data.origins["2024"].key_span.column) == (2, 1)


# --- never raises --------------------------------------------------------------

@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_parse_schema_never_raises(text):
    schema, diags = parse_schema(text, "schema.yaml")
    assert schema is None or isinstance(schema, Schema)
    assert all(isinstance(d, Diagnostic) for d in diags)
    if schema is None:
        assert has_errors(diags)


yamlish = st.lists(st.sampled_from(
    ["lead:", "\n", "  ", "fields:", "events:", "id:", "created:", "type:", "values:", " [", "]", "{", "}",
     ",", "&a", "*a", "!!python/name:os.system", "no", "string", "-", "'", '"', "#", "\t", ":", "? "]),
    max_size=40).map("".join)


@settings(max_examples=300)
@given(yamlish)
def test_parse_schema_never_raises_on_yaml_like_text(text):
    schema, diags = parse_schema(text, "schema.yaml")
    assert schema is None or isinstance(schema, Schema)
    assert all(isinstance(d, Diagnostic) and d.span.line >= 1 and d.span.column >= 1 for d in diags)

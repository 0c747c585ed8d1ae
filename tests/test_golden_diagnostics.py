"""One golden case per diagnostic code: the smallest file that triggers it,
and the line:column the code must be reported at (LANGUAGE.md §8).

Every case is a valid header (`ruleset "t" version 1` + `schema
"schema.yaml"`, lines 1-2) plus the one faulty line, except where the header
itself is the fault. The table must cover every code of the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from leadscore.dsl.diagnostics import CODES, Severity
from leadscore.loader import load_ruleset

from helpers import ACME_SCHEMA, HEADER, diagnose, load, where, write_ruleset

H = HEADER

# Codes that no input can produce. Keep empty unless a code is truly dead;
# test_table_covers_every_code fails for any other code without a case.
UNREACHABLE: dict[str, str] = {
    "LS700": "a history file's code, never a rule file's: tests/test_history_file.py covers it",
}

# A schema where a lead field and an event property share a name (LS304).
SHARED_NAME_SCHEMA = """\
lead:
  fields:
    url: string
events:
  page_view: {properties: {url: string}}
"""


@dataclass(frozen=True)
class Case:
    code: str
    text: str | bytes
    line: int
    column: int
    schema: str | None = ACME_SCHEMA
    in_schema: bool = False  # the position is in schema.yaml, not the rule file
    usage: bool = False  # a finding of `check --strict` only


# A schema and a score block that uses all of it; the score is at most 15.
USAGE_SCHEMA = "events:\n  page_view: {}\nlead:\n  fields:\n    employees: number\n"
USED_BODY = "score s {\n  r: +10 if employees > 1\n  v: +1 per page_view, max 5\n}\n"


BIG = "1" + "0" * 308   # 1e308, written out: two of them overflow


def block(*rules: str) -> str:
    """A score block holding `rules`; its first rule is on line 4."""
    return H + "score s {\n" + "".join(f"  {r}\n" for r in rules) + "}\n"


TOO_MANY_ERRORS = H + "".join(f"const a{i} = ?\n" for i in range(1, 31))

# (code, file text, line, column): the golden table.
TABLE = [
    # --- reading and syntax ------------------------------------------------------
    Case("LS100", block("r: 10 if employees > 1"), 4, 6),          # points without a sign
    Case("LS101", H + "const a = ?\n", 3, 11),
    Case("LS102", H + 'const a = "abc\n', 3, 11),
    Case("LS103", block("r: +1 if job_title matches /abc"), 4, 30),
    Case("LS104", H + 'const a = "a\\qb"\n', 3, 13),
    Case("LS105", H + "const a = 1" + "0" * 400 + "\n", 3, 11),
    Case("LS106", block("r: +1 per page_view within 30m"), 4, 30),
    Case("LS107", H + "const a = " + "(" * 101 + "1" + ")" * 101 + "\n", 3, 12),
    Case("LS108", block("r: +1 if employees < 1 < 2"), 4, 26),
    Case("LS109", H + "const d = 2026-02-30\n", 3, 11),
    Case("LS110", H.encode() + b'const a = "\xff"\n', 3, 12),
    Case("LS111", TOO_MANY_ERRORS, 28, 13),
    Case("LS112", H + 'const a = "' + "x" * 10_000 + '"\n', 3, 11),
    Case("LS113", H + "score s {\n  r: +1 if " + " or ".join(["employees > 1"] * 12_500) + "\n}\n", 4, 3),
    Case("LS114", block("r: case {", *[f"  +1 if employees > {1001 - i}" for i in range(1001)], "}"), 1005, 5),
    # --- file structure ----------------------------------------------------------
    Case("LS200", '# no ruleset line\nschema "schema.yaml"\nconst a = 1\n', 2, 1),
    Case("LS201", 'ruleset "t" version 1\nconst a = 1\n', 1, 1),
    Case("LS202", H + 'ruleset "u" version 2\n', 3, 1),
    Case("LS203", H + "const a = 1\nconst a = 2\n", 4, 7),
    Case("LS204", H + "score reasons = 1\n", 3, 7),
    Case("LS205", H + "const industry = 1\n", 3, 7),
    Case("LS206", 'ruleset "t" version 1.5\nschema "schema.yaml"\n', 1, 21),
    Case("LS207", H + "const a = employees + 1\n", 3, 11),
    # --- names -------------------------------------------------------------------
    Case("LS300", block("r: +1 if employes > 1"), 4, 12),
    Case("LS301", block("r: +1 per page_vew"), 4, 13),
    Case("LS302", block('r: +1 per page_view where urll == "x"'), 4, 29),
    Case("LS303", block('r: +1 if lowr(email) == "x"'), 4, 12),
    Case("LS304", block('r: +1 per page_view where url == "x"'), 4, 29, SHARED_NAME_SCHEMA),
    Case("LS305", block("r: +1 if fit > 1") + "score fit = 1\n", 4, 12),
    Case("LS306", block("r: +1 if foo.employees > 1"), 4, 12),
    # --- types -------------------------------------------------------------------
    Case("LS400", block('r: +1 if employees == "many"'), 4, 12),
    Case("LS401", block("r: +1 if employees"), 4, 12),
    Case("LS402", H + "score t = 1 > 0\n", 3, 11),
    Case("LS403", H + 'const c = "x"\nscore s {\n  r: +c if employees > 1\n}\n', 5, 7),
    Case("LS404", block('r: +1 if industry == "Financial Service"'), 4, 24),
    Case("LS405", block('r: +1 if country in "US"'), 4, 23),
    Case("LS406", block("r: +1 if employees matches /x/"), 4, 12),
    Case("LS407", block("r: +1 if job_title matches /(a/"), 4, 30),
    Case("LS408", block("r: +1 if len(employees) > 1"), 4, 16),
    Case("LS409", H + "const w = 5\nscore s {\n  r: +1 per page_view within w\n}\n", 5, 30),
    Case("LS410", block('r: +1 if country in ["US", 1]'), 4, 30),
    # --- values and rule shape ------------------------------------------------------
    Case("LS500", block("decay steps { 30d: 75%, 20d: 50% }"), 4, 27),
    Case("LS501", block("decay steps { 30d: 150% }"), 4, 22),
    Case("LS502", block("decay steps { 30d: 50%, 60d: 75% }"), 4, 32),
    Case("LS503", block("clamp 10..5"), 4, 3),
    Case("LS504", block("r: +1 per page_view, max 0"), 4, 28),
    Case("LS505", block("r: +1 per page_view, max 5, max 6"), 4, 31),
    Case("LS506", block("r: +1 per page_view, at most 1.5 per day"), 4, 32),
    Case("LS507", H + "score a = b\nscore b = a\n", 3, 7),
    Case("LS508", block("r: +0 if employees > 1"), 4, 6),
    Case("LS509", block("r: +1 if employees > 10 and employees < 5"), 4, 12),
    Case("LS510", H + "const neg = -5\nscore s {\n  r: +neg if employees > 1\n}\n", 5, 6),
    Case("LS511", block("r: case {", "  +1 otherwise", "  +2 if employees > 1", "}"), 5, 5),
    Case("LS512", block("r: +1 per page_view, once, at most 2 per day"), 4, 30),
    # --- check --strict: what nothing uses or reaches ---------------------------------
    Case("LS513", H + "const unused = 5\n" + USED_BODY, 3, 7, schema=USAGE_SCHEMA, usage=True),
    Case("LS514", H + USED_BODY, 6, 5, schema=USAGE_SCHEMA + "    spare: string\n",
         in_schema=True, usage=True),
    Case("LS515", H + USED_BODY + "segment g {\n  A if s >= 20\n  B otherwise\n}\n", 8, 3,
         schema=USAGE_SCHEMA, usage=True),
    Case("LS516", block(f"a: +{BIG} if employees > 1", f"b: +{BIG} if employees > 2"), 3, 7),
    # --- the schema file -------------------------------------------------------------
    Case("LS600", 'ruleset "t" version 1\nschema "missing.yaml"\n', 2, 8, schema=None),
    Case("LS601", H, 4, 4, schema="lead:\n  fields:\n    a: string\n   b: number\n", in_schema=True),
    Case("LS602", H, 3, 15, schema="lead:\n  fields:\n    a: {type: strin}\n", in_schema=True),
    Case("LS603", 'ruleset "t" version 1\nschema "../outside/schema.yaml"\n', 2, 8),
    Case("LS604", H, 3, 32, schema="lead:\n  fields:\n    a: {type: string, values: [yes, b]}\n",
         in_schema=True),
    Case("LS605", H, 2, 12, schema="lead:\n  created: a\n  fields:\n    a: {type: string}\n",
         in_schema=True),
]


def _run(tmp_path: Path, case: Case):
    return load(tmp_path / "rules", case.text, case.schema, usage=case.usage)


def _case(param) -> Case:
    return param.values[0] if hasattr(param, "values") else param


CASES = [_case(c) for c in TABLE]


@pytest.mark.parametrize("case", TABLE, ids=[c.code for c in CASES])
def test_golden_case(tmp_path, case):
    loaded = _run(tmp_path, case)
    found = [d for d in loaded.diagnostics
             if (d.code, d.span.line, d.span.column) == (case.code, case.line, case.column)]
    assert found, f"expected {case.code} at {case.line}:{case.column}, got {where(loaded.diagnostics)}"
    for d in found:
        assert d.severity is CODES[case.code][0]
        expected_file = "schema.yaml" if case.in_schema else "rules.score"
        assert Path(d.span.file).name == expected_file
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column)
    # An error anywhere means the ruleset is not handed on; warnings alone do not stop it.
    if CODES[case.code][0] is Severity.ERROR:
        assert not loaded.ok and loaded.checked is None
    else:
        assert loaded.ok, where(loaded.diagnostics)


def test_table_covers_every_code():
    covered = {c.code for c in CASES}
    assert covered <= set(CODES), covered - set(CODES)
    assert set(UNREACHABLE) <= set(CODES)
    missing = set(CODES) - covered - set(UNREACHABLE)
    assert not missing, f"codes without a golden case: {sorted(missing)}"
    assert len(CASES) == len(covered), "one case per code"


def test_severities_of_the_catalogue():
    # The warnings of the contract (LANGUAGE.md §4.2, §8): everything else is an error.
    warnings = {code for code, (severity, _) in CODES.items() if severity is Severity.WARNING}
    assert warnings == {"LS502", "LS508", "LS509", "LS510", "LS512", "LS513", "LS514", "LS515"}


# --- each golden case is minimal: only the code it is about ------------------------------

# LS107 and LS111 also bring a spurious LS200: see test_a_file_with_a_header_is_never_reported_empty.
@pytest.mark.parametrize("case", [c for c in CASES if c.code not in ("LS107", "LS111")],
                         ids=[c.code for c in CASES if c.code not in ("LS107", "LS111")])
def test_golden_case_reports_only_its_code(tmp_path, case):
    loaded = _run(tmp_path, case)
    assert codes_of(loaded) == {case.code}, where(loaded.diagnostics)


def codes_of(loaded) -> set[str]:
    return {d.code for d in loaded.diagnostics}


# --- the valid variants of the golden cases are clean (each case is about its line) -----

@pytest.mark.parametrize("text", [
    block("r: +10 if employees > 1"),
    block("r: +1 if job_title matches /abc/"),
    H + 'const a = "a\\tb\\n\\"\\\\\\u00e9"\n',
    block("r: +1 per page_view within 30d"),
    H + "const a = " + "(" * 50 + "1" + ")" * 50 + "\n",
    block("r: +1 if " + "(" * 50 + "employees > 1" + ")" * 50),
    block("r: +1 if employees < 1 and 1 < 2"),
    H + "const d = 2026-02-28\n",
    H + "const d = 2026-02-28T10:00:00+02:00\n",
    H + 'score s = 1\nthreshold reasons_ok: s > 0\n',
    'ruleset "t" version "1.5"\nschema "schema.yaml"\n',
    block("r: +1 if employees > 1") + "score fit = s\n",
    block("r: +1 if lower(email) == \"x\""),
    block('r: +1 per page_view where url == "x"'),
    block('r: +1 per page_view where event.url == "x"'),
    block("decay steps { 30d: 75%, 60d: 50%, 90d: 0% }"),
    block("clamp 5..10"),
    block("r: +1 per page_view, max 5, at most 2 per day"),
    block("r: case {", "  +2 if employees > 1", "  +1 otherwise", "}"),
])
def test_corrected_cases_are_clean(tmp_path, text):
    assert diagnose(tmp_path / "rules", text) == []


def test_shared_name_is_accepted_when_qualified(tmp_path):
    text = block('r: +1 per page_view where event.url == "x" and lead.url == "y"')
    assert diagnose(tmp_path / "rules", text, SHARED_NAME_SCHEMA) == []


# --- the loader's own codes ---------------------------------------------------------------

def test_missing_rule_file_is_ls600(tmp_path):
    loaded = load_ruleset(str(tmp_path / "nowhere.score"))
    assert where(loaded.diagnostics) == [("LS600", 1, 1)]
    assert not loaded.ok


def test_missing_schema_file_is_ls600_at_the_schema_path(tmp_path):
    loaded = load(tmp_path / "rules", 'ruleset "t" version 1\nschema "missing.yaml"\n', None)
    assert where(loaded.diagnostics) == [("LS600", 2, 8)]
    # The span covers the quoted path: columns 8 to 21, the end exclusive.
    assert loaded.diagnostics[0].span.end_column == 1 + len('schema "missing.yaml"')
    assert not loaded.ok


def test_schema_outside_the_folder_is_refused_unless_allowed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "schema.yaml").write_text(ACME_SCHEMA, encoding="utf-8")
    rule = write_ruleset(tmp_path / "rules", 'ruleset "t" version 1\nschema "../outside/schema.yaml"\n'
                         "score s {\n  r: +1 if employees > 1\n}\n", schema=None)

    refused = load_ruleset(str(rule))
    assert where(refused.diagnostics) == [("LS603", 2, 8)]
    assert not refused.ok

    allowed = load_ruleset(str(rule), allow_outside_schema=True)
    assert allowed.diagnostics == ()
    assert allowed.ok


@pytest.mark.parametrize("reference", ["/etc/schema.yaml", "sub/../../schema.yaml"])
def test_other_escapes_are_refused(tmp_path, reference):
    loaded = load(tmp_path / "rules", f'ruleset "t" version 1\nschema "{reference}"\n', None)
    assert where(loaded.diagnostics) == [("LS603", 2, 8)]


def test_symlinked_schema_leading_outside_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "schema.yaml").write_text(ACME_SCHEMA, encoding="utf-8")
    rule = write_ruleset(tmp_path / "rules", HEADER, schema=None)
    (tmp_path / "rules" / "schema.yaml").symlink_to(outside / "schema.yaml")
    assert where(load_ruleset(str(rule)).diagnostics) == [("LS603", 2, 8)]
    assert load_ruleset(str(rule), allow_outside_schema=True).ok


def test_schema_in_a_subfolder_is_fine(tmp_path):
    rule = write_ruleset(tmp_path / "rules", 'ruleset "t" version 1\nschema "sub/schema.yaml"\n',
                         schema=ACME_SCHEMA, schema_name="sub/schema.yaml")
    loaded = load_ruleset(str(rule))
    assert loaded.diagnostics == () and loaded.ok


def test_schema_errors_and_rule_errors_are_reported_together(tmp_path):
    schema = "lead:\n  fields:\n    a: {type: strin}\n    n: number\n"
    text = block('r: +1 if n == "x"')
    assert set(diagnose(tmp_path / "rules", text, schema)) >= {("LS602", 3, 15), ("LS400", 4, 12)}


# --- several errors in one file are all reported --------------------------------------

MANY_ERRORS = H + (
    "const a = ?\n"                         # 3: LS101
    'const b = "abc\n'                      # 4: LS102
    "const c = 3 3\n"                       # 5: LS100
    "score s {\n"
    "  r: +1 if foo > 1\n"                  # 7: LS300
    "}\n"
    'threshold t: employees == "x"\n'       # 9: LS400
)


def test_every_error_of_a_file_is_reported(tmp_path):
    found = diagnose(tmp_path / "rules", MANY_ERRORS)
    expected = [("LS101", 3, 11), ("LS102", 4, 11), ("LS100", 5, 13),
                ("LS300", 7, 12), ("LS400", 9, 14)]
    for item in expected:
        assert item in found, (item, found)
    assert sorted({line for _, line, _ in found}) == [3, 4, 5, 7, 9]


def test_errors_in_several_declarations_of_one_kind_are_all_reported(tmp_path):
    text = block("a: +1 if employes > 1", "b: +1 per page_vew", "c: +0 if employees > 1",
                 'd: +1 if industry == "Retai"')
    assert diagnose(tmp_path / "rules", text) == [
        ("LS300", 4, 12), ("LS301", 5, 13), ("LS508", 6, 6), ("LS404", 7, 24)]


# --- known defects: a syntax error that ends the parse costs the whole file -----------

UNCLOSED_PAREN_IN_BLOCK = H + (
    "score s {\n"
    "  a: +1 if employees > 1\n"
    "  r: +1 if (employees > 1\n"
    "}\n"
)


@pytest.mark.parametrize("text", [
    H + "score s {\n  r: +1 if employees > 1\n",                     # block never closed
    UNCLOSED_PAREN_IN_BLOCK,
    H + "const a = " + "(" * 101 + "1" + ")" * 101 + "\n",          # LS107
    TOO_MANY_ERRORS,                                                  # LS111
], ids=["unclosed-block", "unclosed-paren", "too-deep", "too-many-errors"])
def test_a_file_with_a_header_is_never_reported_empty(tmp_path, text):
    assert "LS200" not in {code for code, _, _ in diagnose(tmp_path / "rules", text)}


def test_too_deep_is_reported_on_the_line_of_the_expression(tmp_path):
    lines = set()
    for depth in (95, 96, 97, 98, 99, 150):
        text = block("r: +1 if " + "(" * depth + "employees > 1" + ")" * depth)
        found = diagnose(tmp_path / str(depth), text)
        lines |= {line for code, line, _ in found if code == "LS107"}
    assert lines == {4}


def test_statements_before_an_early_end_are_still_checked(tmp_path):
    # The block is never closed; its rules are read all the same, so the
    # misspelt field is reported alongside the syntax error.
    found = diagnose(tmp_path / "rules", H + "score s {\n  r: +1 if employes > 1\n")
    assert ("LS300", 4, 12) in found
    assert any(code.startswith("LS1") for code, _, _ in found)


def test_too_deep_drops_only_the_rule_that_holds_it(tmp_path):
    deep = "(" * 150 + "employees > 1" + ")" * 150
    found = diagnose(tmp_path / "rules", block(f"r: +1 if {deep}\n  t: +1 if employes > 1"))
    too_deep = [(line, column) for code, line, column in found if code == "LS107"]
    assert len(too_deep) == 1
    line, column = too_deep[0]
    assert line == 4 and 12 <= column < 12 + 150  # on one of the rule's parentheses
    assert ("LS300", 5, 12) in found


def test_an_unclosed_bracket_is_one_error_at_the_bracket(tmp_path):
    # Newlines inside brackets continue the line, so the parser only notices
    # on a later line; the report is the bracket, and later rules still parse.
    assert diagnose(tmp_path / "rules", UNCLOSED_PAREN_IN_BLOCK) == [("LS100", 5, 12)]
    text = block('r: +1 if industry in ["Retail"\n  t: +1 if employes > 1')
    assert diagnose(tmp_path / "list", text) == [("LS100", 4, 24), ("LS300", 5, 12)]

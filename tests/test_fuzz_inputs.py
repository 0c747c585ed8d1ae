"""Fuzzing every user-text position of rule files, schemas and test files
with arbitrary Unicode (lone surrogates included, raw or as `\\u` escapes),
deep nesting and large sizes, through `check`, `fmt --check` and `test`:
never a traceback, always an exit code of 0, 1 or 2."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.cli import main

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Every code point, surrogates (category Cs) included.
ANY_CHAR = st.characters(exclude_categories=())
USER_TEXT = st.one_of(st.text(ANY_CHAR, max_size=30),
                      st.builds(lambda c, n: c * n, ANY_CHAR, st.integers(9_990, 10_010)),  # about LS112
                      st.sampled_from(["\ud800", "\udfff", "a\udc80b", "\x00", "\x1b[31m", "\u2028",
                                       "\ufeff", "::error::x", "`", '"', "\\", "\r\n", "#"]))


def _encode(text: str) -> bytes:
    # A lone surrogate cannot be UTF-8; written raw it becomes invalid bytes (LS110).
    return text.encode("utf-8", "surrogatepass")


def _rule_string(text: str, escaped: bool) -> str:
    # A rule-file string literal: raw characters, or `\uXXXX` escapes (LS104 for surrogates).
    if escaped:
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in text) + '"'
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _yaml_string(text: str, escaped: bool) -> str:
    # A YAML double-quoted scalar: JSON's `\ud800` escapes, or the raw characters.
    return json.dumps(text, ensure_ascii=escaped)


@st.composite
def rule_files(draw) -> str:
    t = lambda: draw(USER_TEXT)                                   # noqa: E731
    e = lambda: draw(st.booleans())                               # noqa: E731
    depth = draw(st.integers(0, 150))
    lines = [
        f"ruleset {_rule_string(t(), e())} version {_rule_string(t(), e())}",
        'schema "schema.yaml"',
        f"# {t()}",
        f"const `{t()}` = {_rule_string(t(), e())}",
        f"const pattern = /{t().replace('/', '')}/",
        "score s {",
        f"  `{t()}`: +1 if job_title == {_rule_string(t(), e())} # {t()}",
        f"  r2: +1 if job_title matches /{t().replace('/', '')}/i",
        f"  r3: +1 if {'(' * depth}employees > 1{')' * depth}",
        f"  r4: +1 per page_view where url starts_with {_rule_string(t(), e())}",
        "}",
        f"segment g {{\n  `{t()}` if s > 1\n  {t()} otherwise\n}}",
    ]
    return "\n".join(draw(st.lists(st.sampled_from(lines), min_size=2, max_size=12))) + "\n"


@st.composite
def schemas(draw) -> str:
    t = lambda: _yaml_string(draw(USER_TEXT), draw(st.booleans()))   # noqa: E731
    depth = draw(st.integers(0, 120))
    return (f"lead:\n  id: {t()}\n  fields:\n    {t()}: string\n"
            f"    job_title: {{type: string, values: [{t()}, {t()}]}}\n"
            f"    employees: number\n    url: {{type: string, description: {t()}}}\n"
            f"    deep: {'[' * depth}{']' * depth or 'number'}\n"
            f"    {t()}: {t()}\n"
            f"events:\n  page_view: {{properties: {{url: string, {t()}: string}}}}\n  {t()}: {{}}\n")


@st.composite
def yaml_test_files(draw) -> str:
    t = lambda: _yaml_string(draw(USER_TEXT), draw(st.booleans()))   # noqa: E731
    depth = draw(st.integers(0, 120))
    return (f"ruleset: {draw(st.sampled_from(['rules.score', t()]))}\n"
            f"as_of: {t()}\ncases:\n"
            f"  - name: {t()}\n    lead: {{job_title: {t()}, employees: 5, {t()}: {t()}}}\n"
            f"    events:\n      - {{type: page_view, at: -1d, properties: {{url: {t()}}}}}\n"
            f"      - {{type: {t()}, at: {t()}}}\n"
            f"    expect: {{scores: {{s: 1, {t()}: 2}}, segments: {{g: {t()}}}, fires: [{t()}]}}\n"
            f"  - name: deep\n    lead: {{employees: {'[' * depth}{']' * depth or '1'}}}\n"
            f"    expect: {{scores: {{s: 0}}}}\n")


def _assert_clean(result, *, allowed=(0, 1, 2)) -> None:
    assert result.exit_code in allowed, (result.exit_code, result.output[-2000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def _write(folder: Path, rules: str, schema: str, tests: str | None = None) -> None:
    (folder / "rules.score").write_bytes(_encode(rules))
    (folder / "schema.yaml").write_bytes(_encode(schema))
    if tests is not None:
        (folder / "rules.test.yaml").write_bytes(_encode(tests))


VALID_SCHEMA = "lead:\n  fields:\n    job_title: string\n    employees: number\n" \
               "events:\n  page_view: {properties: {url: string}}\n"
VALID_RULES = 'ruleset "t" version 1\nschema "schema.yaml"\nscore s {\n  r: +1 if employees > 1\n}\n'


@SETTINGS
@given(rules=rule_files())
def test_any_rule_file_through_check_and_fmt(tmp_path_factory, rules):
    folder = tmp_path_factory.mktemp("rules")
    _write(folder, rules, VALID_SCHEMA)
    runner = CliRunner()
    for form in ("text", "json", "github"):
        _assert_clean(runner.invoke(main, ["check", "--format", form, str(folder / "rules.score")]))
    _assert_clean(runner.invoke(main, ["fmt", "--check", str(folder / "rules.score")]))


@SETTINGS
@given(schema=schemas())
def test_any_schema_through_check(tmp_path_factory, schema):
    folder = tmp_path_factory.mktemp("schema")
    _write(folder, VALID_RULES, schema)
    for form in ("text", "json", "github"):
        _assert_clean(CliRunner().invoke(main, ["check", "--format", form, str(folder / "rules.score")]))


@SETTINGS
@given(tests=yaml_test_files(), rules=st.one_of(st.just(VALID_RULES), rule_files()))
def test_any_test_file_through_test(tmp_path_factory, tests, rules):
    folder = tmp_path_factory.mktemp("tests")
    _write(folder, rules, VALID_SCHEMA, tests)
    for form in ("text", "json"):
        _assert_clean(CliRunner().invoke(main, ["test", "--format", form, str(folder)]))

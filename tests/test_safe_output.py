"""User text in human-readable output is shown, never obeyed (leadscore.safe_text).

Names, values, lead ids and paths come from files anyone can put in a pull request, and CI logs
read what leadscore prints: a newline followed by `::error …` is a GitHub Actions workflow
command, ESC drives the terminal, `[bold]` would be rich markup. The properties of the helper
first, then each command end to end with hostile text, then the fuzz suite: arbitrary Unicode
(surrogates and control characters included) in every user-text position, through every
command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from leadscore.cli import main
from leadscore.safe_text import json_text, markdown, markdown_code, shown

# What may not reach a log raw: C0/C1 controls but the output's own newline and tab, line and
# paragraph separators, bidi controls, lone surrogates.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                 "\ud800-\udfff]")
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)


def assert_safe(output: str) -> None:
    assert not RAW.search(output), repr(RAW.search(output).group())
    for line in output.split("\n"):
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line, line
    assert "Traceback" not in output


def workflow_commands(output: str) -> list[str]:
    return [line for line in output.split("\n") if line.lstrip().startswith("::")]


# --- the helper ------------------------------------------------------------------------------------

@given(text=ANY_TEXT)
def test_shown_text_has_no_control_character_and_no_workflow_command(text):
    safe = shown(text)
    assert "\n" not in safe and "\t" not in safe
    assert_safe(safe)
    assert shown(safe) == safe                        # idempotent: safe to apply twice
    safe.encode("utf-8")                              # printable whatever the terminal's encoding


@given(before=ANY_TEXT, text=ANY_TEXT)
def test_shown_text_never_starts_a_line_where_a_table_may_wrap_it(before, text):
    # rich wraps a cell after whitespace: no `::` may follow any whitespace
    assert not re.search(r"(^|\s)::", shown(text))
    assert not re.search(r"(^|\s)::", shown(before) + " " + shown(text))


def test_shown_escapes_as_python_does():
    assert shown("a\nb\r\t\x1b[31m\x07\x85\u202e\ud800") == "a\\nb\\r\\t\\x1b[31m\\x07\\x85\\u202e\\ud800"
    assert shown("::error::x") == "\\x3a:error::x"
    assert shown("lead ::warning ok") == "lead \\x3a:warning ok"
    assert shown("a::b") == "a::b"                  # not at a line start: as written
    assert shown("x ##[add-mask]y") == "x #\\x23[add-mask]y"
    assert shown("Zürich — ok ✓") == "Zürich — ok ✓"


@given(text=ANY_TEXT)
def test_markdown_text_is_one_plain_table_cell(text):
    cell = markdown(text)
    html = MarkdownIt("commonmark").enable("table").render(f"| a |\n|---|\n| {cell} |\n")
    body = html.split("<tbody>")[1]
    assert body.count("<td>") == 1
    assert not re.search(r"<(?!/?(tbody|tr|td|table)>)", body), body   # no tag from the text: no link, markup


@given(text=ANY_TEXT)
def test_markdown_code_is_one_code_span(text):
    html = MarkdownIt("commonmark").render(f"x {markdown_code(text)}\n")
    assert html.count("<code>") == 1 and html.count("</code>") == 1


@given(value=st.recursive(ANY_TEXT, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner,
                                                                                                 max_size=3)))
@example(value="##[")
@example(value={"###[": ["a ##[error] b"]})
def test_json_text_is_the_same_value_with_nothing_raw(value):
    safe = json_text(json.dumps(value, indent=2, ensure_ascii=False))
    safe.encode("utf-8")
    assert json.loads(safe) == value
    assert_safe(safe)


# --- hostile names through the commands --------------------------------------------------------------

SCHEMA = """\
lead:
  id: lead_id
  created: created_at
  fields:
    plan: {type: string}
    created_at: {type: datetime}
events:
  visit: {properties: {page: string}}
"""


def quoted_name(name: str) -> str:
    return f"`{name}`"


def string_literal(text: str) -> str:
    """`text` as a string literal of the language: only \\" \\\\ and \\uXXXX escapes."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif not char.isprintable() or char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else char)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def rule_file(names: dict, points: int = 10) -> str:
    return (f"ruleset {string_literal(names['ruleset'])} version 1\n"
            'schema "schema.yaml"\n'
            f"const {quoted_name(names['constant'])} = 10\n"
            "score interest {\n"
            f"  {quoted_name(names['rule'])}: +{points} per visit, decay none\n"
            f"  premium: +5 if plan == {string_literal(names['value'])}\n"
            "}\n"
            f"threshold {quoted_name(names['threshold'])}: interest >= {quoted_name(names['constant'])}\n"
            "segment grade {\n"
            f"  {quoted_name(names['label'])} if interest >= 10\n"
            "  other otherwise\n"
            "}\n")


def write_project(folder: Path, names: dict) -> dict[str, Path]:
    """A rule file, a changed copy, a test file and a history (JSONL), every user text from `names`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    paths = {"rules": folder / "rules.score", "changed": folder / "changed.score"}
    for key, points in (("rules", 10), ("changed", 20)):
        # a name no encoding can write leaves the file invalid UTF-8: that is reported too
        paths[key].write_bytes(rule_file(names, points).encode("utf-8", "surrogatepass"))
    lead, value = names["lead"], names["value"]
    case = {"name": names["case"], "lead": {"plan": value},
            "events": [{"type": "visit", "at": "-1d", "properties": {"page": value}}],
            "expect": {"scores": {"interest": 16}}}
    (folder / "rules.test.yaml").write_text(
        json.dumps({"ruleset": "rules.score", "as_of": "2026-05-01T00:00:00Z", "cases": [case]}), encoding="utf-8")
    history = folder / "history"
    history.mkdir(exist_ok=True)
    # Lone surrogates in the tables are the table reader's to refuse (issue 10, item 5); these
    # tests are about what the outputs make of everything else.
    lead, value = (re.sub("[\ud800-\udfff]", "\ufffd", text) for text in (lead, value))
    tables = {
        "leads": [{"lead_id": lead, "plan": value, "created_at": "2026-01-01T00:00:00Z"},
                  {"lead_id": "other", "plan": "x", "created_at": "2026-01-01T00:00:00Z"}],
        "events": [{"lead_id": lead, "type": "visit", "at": f"2026-01-0{day}T10:00:00Z", "page": value}
                   for day in (2, 3)],
        "outcomes": [{"lead_id": lead, "stage": "won", "at": "2026-01-05T00:00:00Z"}],
    }
    for table, rows in tables.items():
        (history / f"{table}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    paths.update({"tests": folder / "rules.test.yaml", "history": history})
    return paths


def commands(paths: dict, names: dict) -> dict[str, list[str]]:
    rules, history = str(paths["rules"]), str(paths["history"])
    tables = ["--leads", f"{history}/leads.jsonl", "--events", f"{history}/events.jsonl"]
    return {
        "test": ["test", str(paths["tests"])],
        "simulate": ["simulate", rules, "--history", history, "--set", f"`{names['constant']}`=5"],
        "simulate markdown": ["simulate", rules, "--history", history, "--format", "markdown"],
        "explain": ["explain", rules, *tables, "--lead", names["lead"], "--as-of", "2026-02-01", "--timeline"],
        "diff": ["diff", rules, str(paths["changed"])],
        "calibrate": ["calibrate", rules, "--history", history, "--min-count", "1"],
        "score": ["score", rules, *tables, "--as-of", "2026-02-01", "-o", str(paths["history"].parent / "out.csv")],
        "check": ["check", rules],
        "test json": ["test", str(paths["tests"]), "--format", "json"],
        "simulate json": ["simulate", rules, "--history", history, "--format", "json"],
        "explain json": ["explain", rules, *tables, "--lead", names["lead"], "--as-of", "2026-02-01", "--timeline",
                         "--format", "json"],
        "diff json": ["diff", rules, str(paths["changed"]), "--format", "json"],
        "calibrate json": ["calibrate", rules, "--history", history, "--min-count", "1", "--format", "json"],
        "check json": ["check", rules, "--format", "json"],
    }


def run_safely(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{args[0]}: {result.exception!r}"
    assert result.exit_code in (0, 1, 2), (args[0], result.exit_code, result.output)
    assert_safe(result.stdout)
    assert_safe(result.stderr)
    return result


PLAIN = {"ruleset": "r", "constant": "bar", "rule": "view", "value": "pro", "threshold": "mql", "label": "hot",
         "lead": "L1", "case": "a case"}
INJECTION = "x\n::error title=pwned::owned\r\n::add-mask::secret"


def github_annotations_only(result) -> None:
    """`check --format github`: every line of standard output is one of its annotations."""
    assert result.exit_code in (0, 1), result.output
    for line in result.stdout.splitlines():
        assert re.match(r"::(error|warning) file=[^\n]*::", line), line
        assert not RAW.search(line), line


@pytest.mark.parametrize("position, text", [
    ("ruleset", INJECTION), ("case", INJECTION), ("lead", INJECTION), ("value", INJECTION),
    ("rule", "a\x1b[2J\x07b"), ("threshold", "::error::x"), ("label", "::warning::y"), ("constant", "\u202ebar"),
])
def test_hostile_text_reaches_no_output_raw(tmp_path, position, text):
    names = {**PLAIN, position: text}
    paths = write_project(tmp_path, names)
    for command, args in commands(paths, names).items():
        result = run_safely(args)
        assert not workflow_commands(result.output), command
    github_annotations_only(CliRunner().invoke(main, ["check", str(paths["rules"]), "--format", "github"]))


def test_a_back_quoted_name_in_a_message_keeps_no_escape_character(tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    rules = tmp_path / "rules.score"
    rules.write_text('ruleset "r" version 1\nschema "schema.yaml"\nthreshold mql: `a\x1b[31m\x07` >= 1\n',
                     encoding="utf-8")
    result = run_safely(["check", str(rules)])
    assert result.exit_code == 1
    assert "a\\x1b[31m\\x07" in result.stdout


def test_the_source_line_under_a_diagnostic_cannot_be_a_workflow_command(tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    rules = tmp_path / "rules.score"
    rules.write_text('ruleset "r" version 1\nschema "schema.yaml"\n  ::error::x ##[add-mask]y\n', encoding="utf-8")
    result = run_safely(["check", str(rules)])
    assert result.exit_code == 1
    assert "    ?:error::x #?[add-mask]y" in result.stdout.splitlines()


def test_a_ruleset_name_cannot_issue_a_workflow_command_from_the_test_report(tmp_path):
    names = {**PLAIN, "case": "fine\n::error file=x::pwned"}
    paths = write_project(tmp_path, names)
    result = run_safely(["test", str(paths["tests"])])
    assert "fine\\n::error file=x::pwned" in result.stdout


def test_rich_reads_no_markup_from_names(tmp_path):
    names = {**PLAIN, "label": "[bold]loud[/bold]", "threshold": "[link=https://example.com]click"}
    paths = write_project(tmp_path, names)
    result = run_safely(["simulate", str(paths["rules"]), "--history", str(paths["history"])])
    assert result.exit_code == 0, result.output
    assert "[bold]loud[/bold]" in result.stdout
    assert "[link=https://example.com]click" in result.stdout


def test_markdown_report_reads_no_markup_from_names(tmp_path):
    names = {**PLAIN, "threshold": "*t* <i>", "lead": "[x](https://example.com) <b>", "ruleset": "*r*|"}
    paths = write_project(tmp_path, names)
    result = run_safely(["simulate", str(paths["rules"]), "--history", str(paths["history"]),
                         "--format", "markdown", "--set", "bar=30"])   # L1 no longer crosses: an example
    assert result.exit_code == 0, result.output
    html = MarkdownIt("commonmark").enable("table").render(result.stdout)
    assert "<a " not in html and "<b>" not in html and "<i>" not in html and "<em>" not in html
    assert "<code>*t* &lt;i&gt;</code>" in html and "[x](https://example.com) &lt;b&gt;" in html
    assert "*r*|" in html


# --- fuzz: arbitrary Unicode in every user-text position, through every command ------------------------

NAME = st.text(st.characters(codec=None, exclude_categories=(), exclude_characters="`\r\n"),
               min_size=1, max_size=12)
POSITIONS = ("ruleset", "constant", "rule", "value", "threshold", "label", "lead", "case")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(position=st.sampled_from(POSITIONS), text=NAME, command=st.sampled_from(
    ["test", "simulate", "simulate markdown", "explain", "diff", "calibrate", "score", "check", "check github",
     "test json", "simulate json", "explain json", "diff json", "calibrate json", "check json"]))
def test_any_text_in_any_position_through_any_command(tmp_path_factory, position, text, command):
    names = {**PLAIN, position: text}
    paths = write_project(tmp_path_factory.mktemp("fuzz"), names)
    if command == "check github":
        github_annotations_only(CliRunner().invoke(main, ["check", str(paths["rules"]), "--format", "github"]))
    else:
        run_safely(commands(paths, names)[command])


def test_hostile_file_names_found_in_a_folder_are_shown_escaped(tmp_path):
    folder = tmp_path / "x\n::error::y \x1b[2J"
    paths = write_project(folder, PLAIN)
    paths["changed"].unlink()
    broken = folder / "z\n::warning::w.score"
    broken.write_text('ruleset "r" version 1\nschema "schema.yaml"\nthreshold mql: nope >= 1\n', encoding="utf-8")
    (folder / "other\n::error::t.test.yaml").write_text("cases: 3\n", encoding="utf-8")
    for args in (["test", str(tmp_path)], ["check", str(tmp_path)]):
        result = run_safely(args)
        assert result.exit_code == 1
        assert "x\\n::error::y \\x1b[2J" in result.output

"""`leadscore check`: output formats, exit codes, --strict, folders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadscore.cli import main
from leadscore.dsl.diagnostics import CODES
from leadscore.dsl.usage import USAGE_CODES

from helpers import ACME_DIR, HEADER, REPO, write_ruleset

HEAD_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<column>\d+): "
                       r"(?P<severity>error|warning)\[(?P<code>LS\d{3})\]: (?P<message>.+)$")
JSON_KEYS = {"file", "line", "column", "end_line", "end_column", "code", "severity", "message",
             "hint"}

CLEAN = HEADER + "score s {\n  r: +1 if employees > 1\n}\n"
# LS300 with a did-you-mean hint (line 4), LS503 without a hint (line 6).
TWO_ERRORS = HEADER + (
    "score s {\n"
    "  r: +1 if employes > 1\n"
    "  q: +2 if employees > 1\n"
    "  clamp 10..5\n"
    "}\n"
)
WARNING_ONLY = HEADER + "score s {\n  r: +0 if employees > 1\n}\n"   # LS508 at 4:6


def run(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def as_json(*args: str) -> list[dict]:
    result = run("--format", "json", *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return json.loads(result.stdout)


# --- text -----------------------------------------------------------------------------------

def test_text_format_head_line_source_line_caret_and_hint(tmp_path):
    path = write_ruleset(tmp_path, TWO_ERRORS)
    result = run(str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    heads = [i for i, line in enumerate(lines) if HEAD_LINE.match(line)]
    assert len(heads) == 2

    first = HEAD_LINE.match(lines[heads[0]])
    assert (first["file"], first["line"], first["column"], first["severity"], first["code"]) == \
        (str(path), "4", "12", "error", "LS300")
    source = TWO_ERRORS.splitlines()[3]
    assert lines[heads[0] + 1] == "  " + source
    caret = lines[heads[0] + 2]
    assert caret == "  " + " " * 11 + "^" * len("employes")
    assert lines[heads[0] + 3].startswith("  hint: ")

    second = HEAD_LINE.match(lines[heads[1]])
    assert (second["line"], second["column"], second["code"]) == ("6", "3", "LS503")
    assert lines[heads[1] + 1] == "  " + TWO_ERRORS.splitlines()[5]
    assert lines[heads[1] + 2] == "  " + "  " + "^" * len("clamp 10..5")
    # No hint for this one: a blank line separates it from the summary.
    assert lines[heads[1] + 3] == ""


def test_caret_lines_up_under_tabs(tmp_path):
    path = write_ruleset(tmp_path, HEADER + "score s {\n\tr: +1 if employes > 1\n}\n")
    lines = run(str(path)).stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if HEAD_LINE.match(line))
    assert HEAD_LINE.match(lines[head])["column"] == "11"
    assert lines[head + 1] == "  \tr: +1 if employes > 1"
    assert lines[head + 2] == "  \t" + " " * 9 + "^" * 8


def test_caret_on_a_very_long_line_stays_under_the_spot(tmp_path):
    padding = " or ".join(["employees > 1"] * 60)
    text = HEADER + f"score s {{\n  r: +1 if {padding} or employes > 1\n}}\n"
    path = write_ruleset(tmp_path, text)
    lines = run(str(path)).stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if HEAD_LINE.match(line))
    shown, caret = lines[head + 1], lines[head + 2]
    assert len(shown) < 140                      # a window, not the whole line
    start = caret.index("^")
    assert shown[start:start + 8] == "employes"
    assert caret[start:] == "^" * 8


def test_text_diagnostics_are_sorted_by_file_and_position(tmp_path):
    text = HEADER + "const a = ?\nscore s {\n  r: +1 if employes > 1\n}\nconst b = ?\n"
    path = write_ruleset(tmp_path, text)
    heads = [HEAD_LINE.match(line) for line in run(str(path)).stdout.splitlines()]
    positions = [(int(m["line"]), int(m["column"])) for m in heads if m]
    assert positions == sorted(positions)
    assert [line for line, _ in positions] == [3, 5, 7]


def test_summary_counts_errors_and_warnings(tmp_path):
    path = write_ruleset(tmp_path, TWO_ERRORS.replace("+2 if", "+0 if"))
    out = run(str(path)).stdout
    assert re.search(r"\b2 errors\b", out) and re.search(r"\b1 warning\b", out)


# --- json -----------------------------------------------------------------------------------

def test_json_keys_and_values(tmp_path):
    path = write_ruleset(tmp_path, TWO_ERRORS)
    items = as_json(str(path))
    assert [set(item) for item in items] == [JSON_KEYS, JSON_KEYS]
    first, second = items
    assert (first["file"], first["line"], first["column"], first["end_line"],
            first["end_column"], first["code"], first["severity"]) == \
        (str(path), 4, 12, 4, 20, "LS300", "error")
    assert isinstance(first["message"], str) and first["message"]
    assert isinstance(first["hint"], str)
    assert (second["code"], second["line"], second["column"], second["hint"]) == \
        ("LS503", 6, 3, None)


def test_json_of_a_clean_file_is_an_empty_list(tmp_path):
    path = write_ruleset(tmp_path, CLEAN)
    result = run("--format", "json", str(path))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_json_severity_matches_the_catalogue(tmp_path):
    path = write_ruleset(tmp_path, TWO_ERRORS.replace("+2 if", "+0 if"))
    items = as_json(str(path))
    assert {item["code"] for item in items} == {"LS300", "LS503", "LS508"}
    for item in items:
        assert item["severity"] == CODES[item["code"]][0].value


def test_json_reports_schema_file_positions(tmp_path):
    path = write_ruleset(tmp_path, HEADER, schema="lead:\n  fields:\n    a: {type: strin}\n")
    items = as_json(str(path))
    assert [(Path(i["file"]).name, i["line"], i["column"], i["code"]) for i in items] == \
        [("schema.yaml", 3, 15, "LS602")]


def test_text_shows_the_schema_line_under_a_schema_diagnostic(tmp_path):
    schema = "lead:\n  fields:\n    a: {type: strin}\n"
    path = write_ruleset(tmp_path, HEADER, schema=schema)
    lines = run(str(path)).stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if HEAD_LINE.match(line))
    match = HEAD_LINE.match(lines[head])
    assert (Path(match["file"]).name, match["line"], match["column"], match["code"]) == \
        ("schema.yaml", "3", "15", "LS602")
    assert lines[head + 1] == "  " + "    a: {type: strin}"
    assert lines[head + 2].index("^") == 2 + 14


# --- github ---------------------------------------------------------------------------------

def test_github_format(tmp_path):
    path = write_ruleset(tmp_path, TWO_ERRORS.replace("+2 if", "+0 if"))
    result = run("--format", "github", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(("::error file=", "::warning file=")) for line in lines)
    assert sum(line.startswith("::warning file=") for line in lines) == 1
    warning = next(line for line in lines if line.startswith("::warning"))
    assert ",line=5,col=6," in warning and "title=LS508" in warning
    error = next(line for line in lines if "title=LS300" in line)
    assert error.startswith("::error file=") and ",line=4,col=12,endLine=4,endColumn=20," in error


def test_github_format_escapes_properties(tmp_path):
    folder = tmp_path / "a,b:c"
    path = write_ruleset(folder, TWO_ERRORS)
    lines = run("--format", "github", str(path)).stdout.splitlines()
    assert lines
    for line in lines:
        file_prop = line.split("file=", 1)[1].split(",line=", 1)[0]
        assert "," not in file_prop and ":" not in file_prop
        assert "a%2Cb%3Ac" in file_prop
        assert "\n" not in line


# --- exit codes -------------------------------------------------------------------------------

def test_exit_0_when_clean(tmp_path):
    assert run(str(write_ruleset(tmp_path, CLEAN))).exit_code == 0


def test_exit_1_on_errors(tmp_path):
    assert run(str(write_ruleset(tmp_path, TWO_ERRORS))).exit_code == 1


def test_exit_1_on_schema_errors(tmp_path):
    path = write_ruleset(tmp_path, CLEAN, schema="lead: [")
    assert run(str(path)).exit_code == 1


def test_exit_1_on_missing_schema(tmp_path):
    path = write_ruleset(tmp_path, CLEAN, schema=None)
    result = run("--format", "json", str(path))
    assert result.exit_code == 1
    assert [(i["code"], i["line"], i["column"]) for i in json.loads(result.stdout)] == \
        [("LS600", 2, 8)]


def test_exit_2_without_paths_in_a_folder_without_rule_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)       # no PATH means the current folder, like `leadscore test`
    assert run().exit_code == 2


def test_exit_2_on_a_nonexistent_path(tmp_path):
    assert run(str(tmp_path / "nope.score")).exit_code == 2


def test_exit_2_on_a_folder_without_score_files(tmp_path):
    (tmp_path / "notes.txt").write_text("score s {\n")
    (tmp_path / "sub").mkdir()
    assert run(str(tmp_path)).exit_code == 2


def test_exit_2_on_an_unknown_format(tmp_path):
    assert run("--format", "xml", str(write_ruleset(tmp_path, CLEAN))).exit_code == 2


@pytest.mark.parametrize("output_format", ["text", "json", "github"])
def test_strict_turns_warnings_into_errors(tmp_path, output_format):
    path = str(write_ruleset(tmp_path, WARNING_ONLY))
    relaxed = run("--format", output_format, path)
    assert relaxed.exit_code == 0
    strict = run("--format", output_format, "--strict", path)
    assert strict.exit_code == 1
    if output_format == "json":
        assert [(i["code"], i["severity"]) for i in json.loads(relaxed.stdout)] == \
            [("LS508", "warning")]
        # --strict also reports the schema's unused fields, as warnings (test_usage.py).
        assert [(i["code"], i["severity"]) for i in json.loads(strict.stdout)
                if i["code"] not in USAGE_CODES] == [("LS508", "error")]
    elif output_format == "github":
        assert relaxed.stdout.startswith("::warning file=")
        assert strict.stdout.startswith("::error file=")
    else:
        assert "warning[LS508]" in relaxed.stdout and "error[LS508]" in strict.stdout


def test_strict_on_a_clean_file_exits_0(tmp_path):
    assert run("--strict", str(write_ruleset(tmp_path, CLEAN))).exit_code == 0


# --- files and folders --------------------------------------------------------------------------

def test_folder_is_searched_recursively_for_score_files(tmp_path):
    write_ruleset(tmp_path / "top", HEADER + "const a = ?\n", name="a.score")
    write_ruleset(tmp_path / "top" / "x" / "y", HEADER + "const b = ?\n", name="deep.score")
    write_ruleset(tmp_path / "top" / "x", CLEAN, name="clean.score")
    (tmp_path / "top" / "x" / "ignored.txt").write_text("const c = ?\n")
    (tmp_path / "top" / "x" / "ignored.score.bak").write_text("const c = ?\n")
    result = run("--format", "json", str(tmp_path / "top"))
    assert result.exit_code == 1
    found = {(Path(i["file"]).name, i["code"], i["line"]) for i in json.loads(result.stdout)}
    assert found == {("a.score", "LS101", 3), ("deep.score", "LS101", 3)}


def test_hidden_and_node_modules_folders_are_not_searched_but_a_file_named_in_one_is_checked(tmp_path):
    write_ruleset(tmp_path / "top", CLEAN)
    for skipped in (".cache", "node_modules", "x/node_modules/pkg", "x/.git"):
        write_ruleset(tmp_path / "top" / skipped, HEADER + "const a = ?\n", name="bad.score")
    write_ruleset(tmp_path / "top" / "node_modules_notes", HEADER + "const a = ?\n", name="bad.score")
    result = run("--format", "json", str(tmp_path / "top"))
    assert result.exit_code == 1
    assert [Path(i["file"]).parent.name for i in json.loads(result.stdout)] == ["node_modules_notes"]
    named = run("--format", "json", str(tmp_path / "top" / "node_modules" / "bad.score"))
    assert named.exit_code == 1 and [i["code"] for i in json.loads(named.stdout)] == ["LS101"]


@pytest.mark.parametrize("command", [["check"], ["fmt", "--check"]])
def test_the_repository_root_holds_only_clean_rule_files(command):
    # The VS Code extension's grammar samples (deliberately partial rules) end in .score.sample.
    result = CliRunner().invoke(main, [*command, str(REPO)])
    assert result.exit_code == 0, result.output


def test_folder_with_a_symlink_loop(tmp_path):
    write_ruleset(tmp_path / "top" / "a", HEADER + "const a = ?\n")
    (tmp_path / "top" / "a" / "back").symlink_to(tmp_path / "top")
    result = run("--format", "json", str(tmp_path / "top"))
    assert result.exit_code == 1
    assert [(Path(i["file"]).name, i["code"]) for i in json.loads(result.stdout)] == \
        [("rules.score", "LS101")]


def test_several_paths_are_all_checked(tmp_path):
    bad = write_ruleset(tmp_path / "one", HEADER + "const a = ?\n")
    good = write_ruleset(tmp_path / "two", CLEAN)
    result = run("--format", "json", str(good), str(bad))
    assert result.exit_code == 1
    assert {i["file"] for i in json.loads(result.stdout)} == {str(bad)}
    assert run(str(good), str(good)).exit_code == 0


def test_allow_schema_outside(tmp_path):
    (tmp_path / "shared").mkdir()
    shutil.copy(ACME_DIR / "schema.yaml", tmp_path / "shared" / "schema.yaml")
    text = CLEAN.replace('schema "schema.yaml"', 'schema "../shared/schema.yaml"')
    path = str(write_ruleset(tmp_path / "rules", text, schema=None))
    refused = run("--format", "json", path)
    assert refused.exit_code == 1
    assert [(i["code"], i["line"], i["column"]) for i in json.loads(refused.stdout)] == \
        [("LS603", 2, 8)]
    assert run("--allow-schema-outside", path).exit_code == 0


def test_a_file_that_is_not_utf8(tmp_path):
    path = write_ruleset(tmp_path, HEADER.encode() + b"const a = \"caf\xe9\"\n")
    result = run("--format", "json", str(path))
    assert result.exit_code == 1
    assert [(i["code"], i["line"], i["column"]) for i in json.loads(result.stdout)] == \
        [("LS110", 3, 15)]
    text = run(str(path))
    assert text.exit_code == 1 and "error[LS110]" in text.stdout

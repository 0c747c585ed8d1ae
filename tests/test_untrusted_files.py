"""Rule files, schemas and test files arrive in pull requests from anyone:
reading them never echoes another file, never blocks, never eats memory,
and every problem is a diagnostic at a file:line:col."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.loader import MAX_FILE_BYTES, read_text

from helpers import HEADER, diagnose, where, write_ruleset

SECRET = "hunter2-s3cr3t"


def check(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def output(result) -> str:
    return result.stdout + (result.stderr or "")


# --- item 1: a schema error never echoes another file's content ----------------------------

@pytest.mark.parametrize("content", [
    f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",  # passwd
    f"root:$6$salt${SECRET}:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n",                # shadow
    f"HOME=/root\0AWS_SECRET={SECRET}\0PATH=/bin\0",                                         # environ
    f"{SECRET}\n",
    f"- {SECRET}\n- other\n",
])
def test_a_file_outside_named_as_schema_is_never_echoed(tmp_path, content):
    outside = tmp_path / "etc" / "passwd"
    outside.parent.mkdir()
    outside.write_text(content, encoding="utf-8")
    rules = write_ruleset(tmp_path / "rules", f'ruleset "t" version 1\nschema "{outside}"\n', None)
    for form in ("text", "json", "github"):
        result = check("--allow-schema-outside", "--format", form, str(rules))
        assert result.exit_code == 1, output(result)
        assert SECRET not in output(result)
        assert "Traceback" not in output(result)


def test_a_credentials_file_as_schema_shows_key_names_only(tmp_path):
    credentials = (f"aws_access_key_id: AKIA{SECRET}\n"
                   f"password: {SECRET}\n"
                   f"notes: |\n  first {SECRET}\n  second {SECRET}\n"
                   f"lead: {{fields: {{a: string}}, token: {SECRET}}}\n")
    rules = write_ruleset(tmp_path, HEADER, credentials)
    result = check(str(rules))
    assert result.exit_code == 1
    assert SECRET not in result.stdout
    # The keys are named and pointed at: that is what the user needs to fix.
    for key in ("aws_access_key_id", "password", "notes", "token"):
        assert f"`{key}` is not a known key" in result.stdout
    assert "\n  password\n  ^^^^^^^^\n" in result.stdout


def test_a_key_that_does_not_read_as_a_name_is_not_quoted(tmp_path):
    rules = write_ruleset(tmp_path, HEADER, f"root:{SECRET}:19000::\nlead: {{}}\n")
    result = check(str(rules))
    assert result.exit_code == 1 and SECRET not in result.stdout
    assert "schema.yaml:1:1: error[LS602]" in result.stdout


def test_known_keys_and_values_are_still_shown(tmp_path):
    schema = "lead:\n  fields:\n    size: {type: numbr, secret: x}\n"
    rules = write_ruleset(tmp_path, HEADER, schema)
    result = check(str(rules))
    assert "\n      size: {type: numbr, secret\n" in result.stdout    # cut after the unknown key
    assert "got `numbr`" in result.stdout


def test_a_syntax_error_in_a_schema_shows_no_line(tmp_path):
    rules = write_ruleset(tmp_path, HEADER, f"lead:\n\tpassword: {SECRET}\n")
    result = check(str(rules))
    assert result.exit_code == 1 and SECRET not in result.stdout
    assert "schema.yaml:2:1: error[LS601]" in result.stdout


# --- item 6: schema paths -------------------------------------------------------------------

@pytest.mark.parametrize("reference", ["loop.yaml", "a\\u0000b.yaml", "x" * 5000 + ".yaml",
                                       "x/" * 2500 + "s.yaml"])
def test_unusable_schema_paths_are_ls600_at_the_schema_line(tmp_path, reference):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "loop.yaml").symlink_to("loop.yaml")
    rules = write_ruleset(folder, f'ruleset "t" version 1\nschema "{reference}"\n', None)
    result = check("--format", "json", str(rules))
    assert result.exit_code == 1, result.output
    assert [(d["code"], d["line"], d["column"]) for d in json.loads(result.stdout)] == [("LS600", 2, 8)]
    assert len(check(str(rules)).stdout) < 2000   # a long path is not printed whole


def test_a_schema_that_is_a_folder_or_device_is_refused(tmp_path):
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    for name in ("folder.yaml", "zero.yaml"):
        found = diagnose(tmp_path, f'ruleset "t" version 1\nschema "{name}"\n', None,
                         allow_outside_schema=True)
        assert found == [("LS600", 2, 8)]


# --- item 9: devices and FIFOs never block or eat memory -------------------------------------

def _leadscore(*args: str, cwd) -> subprocess.CompletedProcess:
    # A separate process: if reading blocked, the test would fail instead of hanging.
    return subprocess.run([sys.executable, "-c", "from leadscore.cli import main; main()", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def test_a_fifo_or_device_as_rule_or_test_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "x.test.yaml")
    os.mkfifo(tmp_path / "fifo.score")
    (tmp_path / "zero.score").symlink_to("/dev/zero")
    (tmp_path / "zero.test.yaml").symlink_to("/dev/zero")
    for command, name in (("check", "fifo.score"), ("check", "zero.score"), ("fmt", "zero.score"),
                          ("test", "x.test.yaml"), ("test", "zero.test.yaml")):
        result = _leadscore(command, name, cwd=tmp_path)
        assert result.returncode == 1, (command, name, result.stderr)
        assert f"{name}:1:1: error[LS600]" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_a_fifo_inside_a_test_folder_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "x.test.yaml")
    result = _leadscore("test", ".", cwd=tmp_path)
    assert result.returncode == 1 and "x.test.yaml:1:1: error[LS600]" in result.stdout


def test_the_byte_limit_holds_while_reading(tmp_path, monkeypatch):
    # /proc files say their size is 0: the limit is counted on what is read.
    for name in ("stat", "fstat"):
        monkeypatch.setattr(os, name, lambda file, real=getattr(os, name), **options: os.stat_result(
            (real(file, **options).st_mode,) + (0,) * 9))
    path = tmp_path / "big.score"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    text, problem = read_text(path, "big.score")
    assert text is None and where([problem]) == [("LS600", 1, 1)]
    path.write_bytes(b"#" * MAX_FILE_BYTES)
    assert read_text(path, "big.score")[0] == "#" * MAX_FILE_BYTES


# --- item 5: invalid text ---------------------------------------------------------------------

def test_invalid_utf8_is_ls110_in_every_kind_of_file(tmp_path):
    rules = write_ruleset(tmp_path, HEADER, b"lead:\n  id: caf\xe9\n")
    result = check("--format", "json", str(rules))
    assert [(d["code"], d["line"], d["column"]) for d in json.loads(result.stdout)] == [("LS110", 2, 10)]
    (tmp_path / "t.test.yaml").write_bytes(b"cases:\n  - name: caf\xe9\n")
    tested = CliRunner().invoke(main, ["test", str(tmp_path / "t.test.yaml")])
    assert tested.exit_code == 1 and "t.test.yaml:2:14: error[LS110]" in tested.stdout


@pytest.mark.parametrize("schema, at", [
    ('lead:\n  fields:\n    job: {type: string, values: ["\\ud800"]}\n', (3, 34)),
    ('lead:\n  fields:\n    "\\udc80x": string\n', (3, 5)),
    ('lead:\n  id: "\\ud83d\\ude00"\n', (2, 7)),
])
def test_a_surrogate_escape_in_a_schema_is_ls601(tmp_path, schema, at):
    rules = write_ruleset(tmp_path, HEADER, schema)
    for form in ("text", "json", "github"):
        result = check("--format", form, str(rules))
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    found = json.loads(check("--format", "json", str(rules)).stdout)
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("LS601", *at)]


def test_a_surrogate_escape_in_a_test_file_is_ls601(tmp_path):
    write_ruleset(tmp_path, HEADER + "score s {\n  r: +1 if employees > 1\n}\n", name="r.score")
    (tmp_path / "r.test.yaml").write_text(
        'cases:\n  - name: "\\ud800"\n    lead: {employees: 2}\n    expect: {scores: {s: 1}}\n')
    for form in ("text", "json"):
        result = CliRunner().invoke(main, ["test", "--format", form, str(tmp_path / "r.test.yaml")])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
        assert "LS601" in result.stdout


# --- item 1, as a property: whatever the layout, unknown values never show ----------------

# No `fields`, `events` or `properties`: under those any key is a name the format
# knows. `id` and `created` get harmless values, `lead` a mapping; every other
# key is unknown wherever it stands, and its value may hold the secret.
_KEYS = st.sampled_from(["lead", "id", "created", "type", "values", "description",
                         "password", "token", "x", "a b", "root:x:0"])


def _yaml_value(draw, key: str, depth: int, flow: bool = False) -> str:
    """A value for `key`: block or flow style, nested at most three levels."""
    if key in ("id", "created"):
        return draw(st.sampled_from(["lead_id", "created_at", '"quoted"']))
    secrets = [SECRET, f'"{SECRET}"', f"[{SECRET}, string]"]
    if not flow:
        secrets += [f"|\n{'  ' * (depth + 1)}{SECRET}", f"\n{'  ' * depth}- {SECRET}"]
    nested = depth < 3 and (key == "lead" or draw(st.booleans()))
    if not nested:
        return "{}" if key == "lead" else draw(st.sampled_from(secrets))
    keys = draw(st.lists(_KEYS, min_size=1, max_size=4, unique=True))
    if flow or draw(st.booleans()):
        return "{" + ", ".join(f"{k}: {_yaml_value(draw, k, depth + 1, True)}" for k in keys) + "}"
    indent = "  " * (depth + 1)
    return "".join(f"\n{indent}{k}: {_yaml_value(draw, k, depth + 1)}" for k in keys)


@st.composite
def schema_shaped_files(draw) -> str:
    keys = draw(st.lists(_KEYS, min_size=1, max_size=5, unique=True))
    return "".join(f"{k}: {_yaml_value(draw, k, 0)}\n" for k in keys)


@settings(max_examples=200, deadline=None)
@given(text=schema_shaped_files())
def test_excerpts_never_show_a_value_of_an_unknown_key(text):
    from leadscore.dsl.schema import parse_schema_and_excerpts, schema_format
    from leadscore.dsl.yamlio import known_text

    _, _, shown = parse_schema_and_excerpts(text, "schema.yaml")
    assert SECRET not in shown
    lines, shown_lines = text.splitlines(), shown.splitlines()
    assert len(shown_lines) <= len(lines)
    for original, excerpt in zip(lines, shown_lines):
        assert original.startswith(excerpt)          # lines are cut or withheld, never changed
    assert known_text(text, None, schema_format()).strip() == ""   # unreadable YAML: nothing shown

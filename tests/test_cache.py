"""What is remembered between runs: written by the readers at the edges, never by the
YAML reader itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import ACME_SCHEMA, HEADER, write_ruleset
from leadscore.cache import ValidYaml
from leadscore.dsl.schema import schema_format
from leadscore.loader import load_ruleset
from leadscore.dsl.yamlio import load_yaml

_FORMAT = {"title": "test format", "type": "object", "required": ["name"],
           "properties": {"name": {"type": "string"}}}


def _files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_the_yaml_reader_alone_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data, diagnostics = load_yaml("name: a\n", "f.yaml", _FORMAT)
    assert data == {"name": "a"} and diagnostics == []
    assert _files(tmp_path / "cache") == []


def test_a_valid_text_is_remembered_and_an_invalid_one_is_not(tmp_path):
    valid = ValidYaml(str(tmp_path / "valid"))
    assert load_yaml("name: a\n", "f.yaml", _FORMAT, valid) == ({"name": "a"}, [])
    assert _files(tmp_path / "valid") == [ValidYaml.key("name: a\n", _FORMAT)]
    _, diagnostics = load_yaml("other: 1\n", "f.yaml", _FORMAT, valid)
    assert [d.code for d in diagnostics] == ["LS602"]
    assert _files(tmp_path / "valid") == [ValidYaml.key("name: a\n", _FORMAT)]


def test_a_remembered_text_is_not_validated_again(tmp_path):
    valid = ValidYaml(str(tmp_path / "valid"))
    valid.remember(ValidYaml.key("other: 1\n", _FORMAT))   # as if found valid before
    assert load_yaml("other: 1\n", "f.yaml", _FORMAT, valid)[1] == []
    assert [d.code for d in load_yaml("other: 1\n", "f.yaml", _FORMAT)[1]] == ["LS602"]


def test_the_key_depends_on_the_text_and_the_format():
    key = ValidYaml.key("name: a\n", _FORMAT)
    assert key != ValidYaml.key("name: b\n", _FORMAT)
    assert key != ValidYaml.key("name: a\n", {**_FORMAT, "title": "another"})


def test_loading_a_ruleset_remembers_its_valid_schema(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rule = write_ruleset(tmp_path / "rules", HEADER + "score s {\n  r: +1 if employees > 1\n}\n")
    assert load_ruleset(str(rule)).ok
    marker = ValidYaml.key(ACME_SCHEMA, schema_format())
    assert marker in _files(tmp_path / "cache" / "leadscore" / "valid-yaml")


def _run(code: str, cache: Path) -> None:
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    subprocess.run([sys.executable, "-c", code], check=True, env=environment, capture_output=True)


def test_the_parser_alone_keeps_no_grammar_tables(tmp_path):
    _run("from leadscore.dsl.parser import parse; parse('ruleset \"t\" version 1\\n', 'r.score')",
         tmp_path / "cache")
    assert _files(tmp_path / "cache") == []


def test_the_command_line_keeps_the_grammar_tables(tmp_path):
    rule = write_ruleset(tmp_path / "rules", HEADER + "score s {\n  r: +1 if employees > 1\n}\n")
    _run(f"from leadscore.cli import main; main(['check', {str(rule)!r}])", tmp_path / "cache")
    assert "grammar.lark-cache" in _files(tmp_path / "cache" / "leadscore")

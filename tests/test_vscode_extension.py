"""The VS Code extension (editors/vscode): its TextMate grammar passes the
annotated samples and the snapshots, knows every keyword of the language,
and the extension packages into a .vsix.

The npm tools run when Node and the extension's node_modules are present
(`.ci/run` installs them with `npm ci`); the other checks need no Node.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile

import pytest

from leadscore.dsl.parser import terminal_patterns

from helpers import REPO

EXTENSION = REPO / "editors" / "vscode"
GRAMMAR = EXTENSION / "syntaxes" / "leadscore.tmLanguage.json"
NPX = shutil.which("npx")
needs_npm = pytest.mark.skipif(
    NPX is None or not (EXTENSION / "node_modules" / ".bin").is_dir(),
    reason="Node and `npm ci` in editors/vscode are needed for the grammar tools")


def _npx(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([NPX, "--no-install", *args], cwd=EXTENSION, capture_output=True,
                          text=True, timeout=timeout)


@needs_npm
def test_annotated_samples_pass():
    done = _npx("vscode-tmgrammar-test", "-g", str(GRAMMAR), "tests/grammar/*.score.sample")
    assert done.returncode == 0, done.stdout + done.stderr
    samples = list((EXTENSION / "tests" / "grammar").glob("*.score.sample"))
    assert samples and done.stdout.count("run successfuly") == len(samples)


@needs_npm
def test_snapshots_match():
    snapshots = list((EXTENSION / "tests" / "snapshots").glob("*.score.sample"))
    assert snapshots and all(sample.with_name(sample.name + ".snap").is_file() for sample in snapshots)
    done = _npx("vscode-tmgrammar-snap", "-g", str(GRAMMAR), "-s", "source.leadscore", "tests/snapshots/*.score.sample")
    assert done.returncode == 0, done.stdout + done.stderr


@needs_npm
def test_a_wrong_annotation_fails(tmp_path):
    # The tool really checks: a sample asserting the wrong scope is refused.
    sample = tmp_path / "wrong.score"
    sample.write_text('# SYNTAX TEST "source.leadscore" "wrong on purpose"\nconst a = 1\n'
                      "#         ^ string.quoted.double.leadscore\n", encoding="utf-8")
    done = _npx("vscode-tmgrammar-test", "-g", str(GRAMMAR), str(sample))
    assert done.returncode != 0


@needs_npm
def test_extension_packages(tmp_path):
    target = tmp_path / "leadscore.vsix"
    done = _npx("vsce", "package", "--allow-missing-repository", "--out", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(target) as vsix:
        names = set(vsix.namelist())
    assert {"extension/package.json", "extension/extension.js",
            "extension/syntaxes/leadscore.tmLanguage.json",
            "extension/language-configuration.json"} <= names
    # The client library travels with the extension; the test samples do not.
    assert any(n.startswith("extension/node_modules/vscode-languageclient/") for n in names)
    assert not any(n.startswith("extension/tests/") for n in names)


def test_grammar_highlights_every_keyword_of_the_language():
    grammar = GRAMMAR.read_text(encoding="utf-8")
    keywords = {text for text in terminal_patterns().values() if text.isidentifier()}
    keywords |= {"contains", "starts_with", "ends_with", "day", "week"}  # regex terminals
    patterns = json.loads(grammar)["repository"]
    words = set()
    for section in ("keyword", "declaration", "literal"):
        words |= set(re.findall(r"[a-z_]+", json.dumps(patterns[section])))
    assert keywords - words == set()


def test_client_starts_the_language_server_over_stdio():
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    assert manifest["contributes"]["languages"][0]["extensions"] == [".score"]
    assert manifest["contributes"]["configuration"]["properties"][
        "leadscore.server.command"]["default"] == ["leadscore", "lsp"]
    assert "vscode-languageclient" in manifest["dependencies"]
    client = (EXTENSION / "extension.js").read_text(encoding="utf-8")
    assert "TransportKind.stdio" in client
    assert (EXTENSION / "package-lock.json").is_file()


def test_language_configuration():
    config = json.loads((EXTENSION / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
    closing = {pair["open"]: pair["close"] for pair in config["autoClosingPairs"]}
    assert closing == {"{": "}", "[": "]", "(": ")", '"': '"', "`": "`"}
    assert ["{", "}"] in config["brackets"]


def test_node_modules_stay_out_of_git():
    ignored = (EXTENSION / ".gitignore").read_text(encoding="utf-8").split()
    assert "node_modules/" in ignored and "*.vsix" in ignored


def test_readme_shows_the_highlighting():
    assert "docs/highlighting.png" in (REPO / "README.md").read_text(encoding="utf-8")
    png = (REPO / "docs" / "highlighting.png").read_bytes()
    assert png.startswith(b"\x89PNG")

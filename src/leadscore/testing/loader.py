"""Test files from disk: finding them, reading them (YAML with positions,
validated by the JSON Schema `test_format.json` beside this module) and
finding the ruleset each one tests. Turning the data into cases is the pure
pass in `cases.py`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..cache import valid_yaml
from ..dsl.diagnostics import Diagnostic, Span, make
from ..dsl.yamlio import YamlMap, load_yaml
from ..loader import read_text, searched

TEST_SUFFIX = ".test.yaml"


@lru_cache(maxsize=1)
def test_format() -> dict:
    """The JSON Schema for test files, shipped beside this module."""
    return json.loads(Path(__file__).with_name("test_format.json").read_text(encoding="utf-8"))


def find_test_files(paths: list[str]) -> list[str]:
    """Files as given, and every `*.test.yaml` below each folder (hidden folders such as
    `.git` and `.venv`, and `node_modules`, skipped), each folder's files sorted."""
    found: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            found.append(os.path.normpath(path))
            continue
        below: list[str] = []
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = [d for d in subfolders if searched(d)]
            below.extend(os.path.join(folder, f) for f in files if f.endswith(TEST_SUFFIX))
        found.extend(sorted(os.path.normpath(f) for f in below))
    return list(dict.fromkeys(found))


@dataclass
class ReadTestFile:
    path: str
    data: YamlMap | None            # None when the file could not be read as a mapping
    source: str                     # the text, for showing lines under diagnostics ("" if unread)
    diagnostics: list[Diagnostic]


def read_test_file(path: str) -> ReadTestFile:
    text, problem = read_text(path, path)
    if problem is not None:
        return ReadTestFile(path, None, "", [problem])
    data, diagnostics = load_yaml(text, path, test_format(), valid_yaml())
    return ReadTestFile(path, data if isinstance(data, YamlMap) else None, text, diagnostics)


def resolve_ruleset(test: ReadTestFile, allow_outside: bool) -> tuple[str | None, Diagnostic | None]:
    """The path of the rule file `test` names (relative to the test file), or
    the one `*.score` file beside it; the path is shown as the user would
    write it from the current folder."""
    folder = os.path.dirname(test.path)
    named = test.data.get("ruleset") if test.data is not None else None
    if isinstance(named, str) and named:
        span = test.data.origins["ruleset"].span
        display = os.path.normpath(os.path.join(folder, named))
        if "\0" in named:   # no file has such a name, and the path functions refuse it
            return None, make("LS600", f"no rule file at {display!r}", span, "the path is relative to the test file")
        try:
            inside = Path(display).resolve().is_relative_to(Path(folder or ".").resolve())
        except (OSError, RuntimeError):   # RuntimeError: a symbolic link loop (Python 3.11)
            return None, make("LS600", "cannot follow the ruleset path", span,
                              "the path is relative to the test file")
        if not allow_outside and not inside:
            # The rule file's lines would be shown under its diagnostics; a test
            # file must not be able to show any file it likes in a CI log.
            return None, make("LS603", "the ruleset path leads outside the test file's folder", span,
                              "keep the test file beside its ruleset, or pass --allow-outside")
        if not os.path.isfile(display):
            beside = _score_files(folder)
            hint = (f"did you mean `{os.path.basename(beside[0])}`?" if len(beside) == 1
                    else "the path is relative to the test file")
            return None, make("LS600", f"no rule file at {display}", span, hint)
        return display, None
    beside = _score_files(folder)
    if len(beside) == 1:
        return beside[0], None
    where = Span.point(test.path, 1, 1)
    if not beside:
        return None, make("LS600", "there is no .score file beside this test file", where,
                          "name the rule file under test: `ruleset: scoring.score`")
    names = ", ".join(os.path.basename(f) for f in beside)
    return None, make("LS600", f"there are several .score files beside this test file ({names})",
                      where, "name the one under test: `ruleset: scoring.score`")


def _score_files(folder: str) -> list[str]:
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names
            if n.endswith(".score") and os.path.isfile(os.path.join(folder or ".", n))]

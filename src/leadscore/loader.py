"""Reading rule files and their schemas from disk: the I/O edge of the
language front end. Everything after reading is a pure pass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .dsl import ast
from .dsl.checker import CheckedRuleset, check
from .dsl.diagnostics import Diagnostic, Span, make
from .dsl.parser import parse
from .dsl.schema import Schema, parse_schema
from .dsl.usage import usage_warnings

# Rule and schema files are small; a larger file is a mistake (or hostile).
MAX_FILE_BYTES = 10 * 1024 * 1024


@dataclass
class LoadedRuleset:
    path: str
    ruleset: ast.Ruleset | None = None
    schema: Schema | None = None
    checked: CheckedRuleset | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # File name -> text, for showing source lines under diagnostics.
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.checked is not None


def read_text(path: str | Path, display: str) -> tuple[str | None, Diagnostic | None]:
    """A file's text, or a diagnostic saying why it cannot be used."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            return None, make("LS600", f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB",
                              Span.point(display, 1, 1))
        data = Path(path).read_bytes()
    except OSError as exc:
        return None, make("LS600", f"cannot read the file: {exc.strerror or 'unreadable'}",
                          Span.point(display, 1, 1))
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, make("LS110", "the file is not UTF-8 text", Span.point(display, line, column),
                          "save it as UTF-8")


def load_ruleset(path: str, *, allow_outside_schema: bool = False,
                 usage: bool = False) -> LoadedRuleset:
    """Read, parse and check one rule file and the schema it names; with
    `usage` (check --strict), also report what nothing uses or reaches."""
    text, problem = read_text(path, path)
    if problem is not None:
        return LoadedRuleset(path, diagnostics=[problem])
    return check_text(path, text, allow_outside_schema=allow_outside_schema, usage=usage)


def check_text(path: str, text: str, *, allow_outside_schema: bool = False,
               usage: bool = False) -> LoadedRuleset:
    """Parse and check the text of a rule file at `path` (an editor's unsaved
    buffer, say); its schema is read from disk relative to `path`."""
    result = LoadedRuleset(path)
    result.sources[path] = text
    ruleset, diagnostics = parse(text, path)
    result.ruleset = ruleset
    result.diagnostics.extend(diagnostics)

    header = ruleset.schema
    if header is not None:
        result.schema = _load_schema(path, header, allow_outside_schema, result)
    checked, diagnostics = check(ruleset, result.schema)
    result.diagnostics.extend(diagnostics)
    # A file with syntax errors is only partly read: never hand it on.
    if not any(d.is_error for d in result.diagnostics):
        result.checked = checked
        if usage and checked is not None:
            result.diagnostics.extend(usage_warnings(checked))
    return result


def _load_schema(rule_path: str, header: ast.SchemaHeader, allow_outside: bool,
                 result: LoadedRuleset) -> Schema | None:
    reference = header.path.value
    folder = Path(rule_path).resolve().parent
    target = (folder / reference).resolve()
    display = os.path.normpath(os.path.join(os.path.dirname(rule_path), reference))
    if not allow_outside and not target.is_relative_to(folder):
        result.diagnostics.append(make(
            "LS603", "the schema path leads outside the rule file's folder", header.path.span,
            "keep the schema beside the rule file, or pass --allow-schema-outside"))
        return None
    if not target.is_file():
        result.diagnostics.append(make(
            "LS600", f"no schema file at {display}", header.path.span,
            "the path is relative to the rule file"))
        return None
    text, problem = read_text(target, display)
    if problem is not None:
        result.diagnostics.append(problem)
        return None
    result.sources[display] = text
    schema, diagnostics = parse_schema(text, display)
    result.diagnostics.extend(diagnostics)
    return schema


def find_rule_files(paths: list[str]) -> list[str]:
    """Files as given, and every `*.score` below each folder, sorted; hidden folders
    below one (`.git`, `.venv`) are skipped, as `leadscore test` skips them."""
    found: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            found.append(path)
            continue
        below: list[str] = []
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            below.extend(os.path.normpath(os.path.join(folder, f)) for f in files
                         if f.endswith(".score") and os.path.isfile(os.path.join(folder, f)))
        found.extend(sorted(below))
    return found

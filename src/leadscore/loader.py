"""Reading rule files and their schemas from disk: the I/O edge of the
language front end. Everything after reading is a pure pass."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from .cache import valid_yaml
from .dsl import ast
from .dsl.checker import CheckedRuleset, check
from .dsl.diagnostics import Diagnostic, Span, make
from .dsl.parser import parse
from .dsl.schema import Schema, parse_schema_and_excerpts
from .dsl.usage import usage_warnings

# Rule and schema files are small; a larger file is a mistake (or hostile).
MAX_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class LoadedRuleset:
    path: str
    ruleset: ast.Ruleset | None = None
    schema: Schema | None = None
    checked: CheckedRuleset | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    # File name -> text, for showing source lines under diagnostics.
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.checked is not None


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _read_bytes(path: str) -> tuple[bytes | None, str | None]:
    if "\0" in path:
        return None, "the path contains a NUL character, which no file name can hold"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the fd's
        # type is checked before anything is read from it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        return None, f"cannot read the file: {_reason(exc)}"
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "a special file")
            return None, f"cannot read the file: it is {kind}, not a regular file"
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(2**20, MAX_FILE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, f"cannot read the file: {_reason(exc)}"
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        return None, f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB"
    return b"".join(chunks), None


def _reason(exc: OSError) -> str:
    reason = (exc.strerror or "unreadable").lower()
    return {errno.ELOOP: "the path is a loop of symbolic links",
            errno.ENAMETOOLONG: "the path is too long"}.get(exc.errno, reason)


def read_text(path: str | Path, display: str, where: Span | None = None
              ) -> tuple[str | None, Diagnostic | None]:
    """The text of an untrusted file (rule file, schema, test file), or a
    diagnostic saying why it cannot be used.

    The one way such files are read: only regular files (a FIFO would block,
    a device such as /dev/zero never ends), at most MAX_FILE_BYTES counted
    while reading (a size from stat is 0 for /proc files), strict UTF-8.
    A problem with the path itself is reported at `where` (say, the `schema`
    line naming it), else at the file's first line."""
    where = where or Span.point(display, 1, 1)
    data, problem = _read_bytes(str(path))
    if problem is not None:
        return None, make("LS600", problem, where)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        at = Span.point(display, line, column)
        return None, make("LS110", f"the file is not UTF-8 text (byte 0x{data[exc.start]:02X})", at,
                          "save it as UTF-8")


def load_ruleset(path: str, *, allow_outside_schema: bool = False,
                 usage: bool = False) -> LoadedRuleset:
    """Read, parse and check one rule file and the schema it names; with
    `usage` (check --strict), also report what nothing uses or reaches."""
    text, problem = read_text(path, path)
    if problem is not None:
        return LoadedRuleset(path, diagnostics=(problem,))
    return check_text(path, text, allow_outside_schema=allow_outside_schema, usage=usage)


def check_text(path: str, text: str, *, allow_outside_schema: bool = False,
               usage: bool = False) -> LoadedRuleset:
    """Parse and check the text of a rule file at `path` (an editor's unsaved
    buffer, say); its schema is read from disk relative to `path`."""
    sources = {path: text}
    ruleset, diagnostics = parse(text, path)
    schema = None
    if ruleset.schema is not None:
        schema, found, schema_sources = _load_schema(path, ruleset.schema, allow_outside_schema)
        diagnostics = [*diagnostics, *found]
        sources.update(schema_sources)
    checked, found = check(ruleset, schema)
    diagnostics = [*diagnostics, *found]
    # A file with syntax errors is only partly read: never hand it on.
    if any(d.is_error for d in diagnostics):
        checked = None
    elif usage and checked is not None:
        diagnostics.extend(usage_warnings(checked))
    return LoadedRuleset(path, ruleset, schema, checked, tuple(diagnostics), sources)


def schema_inside(folder: PurePath, target: PurePath) -> bool:
    """Whether the schema at `target` lies in the rule file's `folder`: both resolved paths on
    disk, or both relative to a repository's root (where `.` is the root itself)."""
    return folder.parts == () or target.is_relative_to(folder)


def schema_outside(span: Span) -> Diagnostic:
    return make("LS603", "the schema path leads outside the rule file's folder", span,
                "keep the schema beside the rule file, or pass --allow-schema-outside")


def _load_schema(rule_path: str, header: ast.SchemaHeader, allow_outside: bool
                 ) -> tuple[Schema | None, list[Diagnostic], dict[str, str]]:
    """The schema a rule file names, its diagnostics, and its text that may be shown."""
    reference = header.path.value
    span = header.path.span
    display = os.path.normpath(os.path.join(os.path.dirname(rule_path), reference))
    if "\0" in reference:
        return None, [make("LS600", "the schema path contains a NUL character, which no file name can hold",
                           span)], {}
    try:
        folder = Path(rule_path).resolve().parent
        target = (folder / reference).resolve()
    except (OSError, RuntimeError) as exc:   # RuntimeError: a symbolic link loop (Python 3.11)
        reason = _reason(exc) if isinstance(exc, OSError) else "the path is a loop of symbolic links"
        return None, [make("LS600", f"cannot follow the schema path: {reason}", span)], {}
    if not allow_outside and not schema_inside(folder, target):
        return None, [schema_outside(span)], {}
    try:
        os.lstat(target)
    except FileNotFoundError:
        return None, [make("LS600", f"no schema file at {_shorten(display)}", span,
                           "the path is relative to the rule file")], {}
    except OSError as exc:
        return None, [make("LS600", f"cannot read the schema: {_reason(exc)}", span)], {}
    text, problem = read_text(target, display, span)
    if problem is not None:
        return None, [problem], {}
    # Only keys and values the schema format knows are ever shown: the path may
    # name any file (a credentials file, /etc/passwd), and CI logs are public.
    schema, diagnostics, excerpts = parse_schema_and_excerpts(text, display, valid_yaml())
    return schema, diagnostics, {display: excerpts}


def _shorten(path: str, limit: int = 200) -> str:
    return path if len(path) <= limit else path[: limit // 2] + "..." + path[-limit // 2:]


def searched(folder_name: str) -> bool:
    """Whether a folder below one given on the command line is searched for rule and test
    files: hidden folders (`.git`, `.venv`) and `node_modules` (other tools' packages) are not."""
    return not folder_name.startswith(".") and folder_name != "node_modules"


def find_rule_files(paths: list[str]) -> list[str]:
    """Files as given, and every `*.score` below each folder, sorted; folders that are not
    `searched` are skipped, as `leadscore test` skips them."""
    found: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            found.append(path)
            continue
        below: list[str] = []
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = [d for d in subfolders if searched(d)]
            below.extend(os.path.normpath(os.path.join(folder, f)) for f in files
                         if f.endswith(".score") and os.path.isfile(os.path.join(folder, f)))
        found.extend(sorted(below))
    return found

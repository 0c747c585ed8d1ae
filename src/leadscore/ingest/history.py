"""A history described in YAML: one DuckDB query per table over the raw exports (docs/history.md).

The file comes from a pull request like any rule file, so it is untrusted: a query may only
read. Each query must be a single SELECT (DuckDB's own parser says which kind of statement it
is, so COPY, ATTACH, INSTALL, LOAD, SET and PRAGMA never run: DuckDB's settings alone would
let COPY and ATTACH write inside the allowed folder), and DuckDB itself is locked down
before any query: no external access except the history file's folder
(`allowed_directories`), no extensions installed or loaded, no temporary directory, then
`lock_configuration` so a query cannot undo any of it.

DuckDB checks the path a query names, then follows symbolic links: a link under the folder
that leads outside it refuses the whole file. It checks a relative path against the
process's working directory, so the queries run with the working directory set to the
history file's folder (on the calling thread, before
any table is read) and the folder as `file_search_path`. Results are Arrow tables in memory,
read by `leadscore.tables` like any file: typing, counting and showing unusable rows (by the
query's output row) stay one implementation.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path

from ..cache import valid_yaml
from ..dsl.diagnostics import Diagnostic, Span, make, render_each, sort_key
from ..dsl.yamlio import YamlMap, load_yaml
from ..tables import ArrowTable, TableError, find_history_tables

HISTORY_SUFFIXES = (".yaml", ".yml")
_MAX_BYTES = 1 << 20   # a history file is a few queries
_LINE = re.compile(r"^LINE (\d+):", re.MULTILINE)


class HistoryError(TableError):
    """The history file cannot be used: its diagnostics, rendered with the file's lines."""

    def __init__(self, diagnostics: list[Diagnostic], text: str):
        self.diagnostics = sorted(diagnostics, key=sort_key)
        # Every diagnostic points into the history file itself.
        super().__init__("\n".join(render_each(self.diagnostics, {d.span.file: text for d in self.diagnostics})))


@lru_cache(maxsize=1)
def history_format() -> dict:
    """The JSON Schema for history files, shipped beside this module."""
    return json.loads(Path(__file__).with_name("history_format.json").read_text(encoding="utf-8"))


def is_history_file(path: str) -> bool:
    return os.path.isfile(path) and os.path.splitext(path)[1].lower() in HISTORY_SUFFIXES


def history_tables(history: str, allow_outside: bool = False,
                   required: tuple[str, ...] = ("leads", "events", "outcomes")) -> dict:
    """The tables of `--history`: a folder's files (paths), or a history file's query results
    (ArrowTable); `changes` only when given."""
    if os.path.isdir(history):
        return find_history_tables(history, required)
    if not is_history_file(history):
        raise TableError(f"{history}: give a folder of tables or a history file (.yaml)")
    return load_history(history, allow_outside)


def tables_of(history: str | None, given: dict, allow_outside: bool = False,
              required: tuple[str, ...] = ("leads", "events", "outcomes"), optional: tuple[str, ...] = ()) -> dict:
    """The tables a command reads: each one named on its own (`given`), else the history's; a
    `required` table neither gives is a TableError, an `optional` one is left out. The history is
    read only when it has a table to give."""
    needed = tuple(table for table in required if not given.get(table))
    wanted = needed or any(not given.get(table) for table in optional)
    found = history_tables(history, allow_outside, needed) if history is not None and wanted else {}
    found.update({table: path for table, path in given.items() if path})
    missing = [table for table in required if table not in found]
    if missing:
        raise TableError(f"no {' and no '.join(missing)} table: give --history DIR or --{missing[0]} FILE")
    return found


def load_history(path: str, allow_outside: bool = False) -> dict[str, ArrowTable]:
    from ..loader import read_text

    # The one reader of untrusted files: regular files only, never blocking, UTF-8, size-limited.
    text, problem = read_text(path, path)
    if problem is not None:
        raise HistoryError([problem], "")
    if len(text.encode("utf-8")) > _MAX_BYTES:
        raise TableError(f"{path}: more than {_MAX_BYTES // 1024} KiB; a history file holds a few queries")
    spec, diags = load_yaml(text, path, history_format(), valid_yaml())
    if any(d.is_error for d in diags) or not isinstance(spec, YamlMap):
        raise HistoryError(diags, text)
    folder = os.path.dirname(os.path.realpath(path))
    if not allow_outside:
        links = _links_outside(folder)
        if links:
            raise HistoryError([make(
                "LS700", f"`{os.path.relpath(links[0], folder)}` is a link to a file outside the history file's folder"
                         + (f" (and {len(links) - 1} more)" if len(links) > 1 else ""),
                Span.point(path, 1, 1), "DuckDB would follow it: replace the link by the file, or give "
                                        "--allow-history-outside")], text)
    shared = spec.get("with") or YamlMap(spec.span)
    shared = [(name, sql, shared.origins[name]) for name, sql in shared.items()]
    tables, problems = {}, {}
    with _sandbox(folder, allow_outside) as con:
        for table, entry in spec.items():
            if table == "with":
                continue
            sql, parts = _compose(shared, entry["sql"], entry.origins["sql"])
            found = _run(con, sql, lambda line, parts=parts: _yaml_span(*_part(parts, line), text, path),
                         table, allow_outside)
            if isinstance(found, Diagnostic):
                problems.setdefault((found.span.line, found.span.column), found)   # a shared query's once
            else:
                tables[table] = ArrowTable(f"{path}:{table}", found)
    if problems:
        raise HistoryError(list(problems.values()), text)
    return tables


def _compose(shared: list, sql: str, origin) -> tuple[str, list]:
    """The query with the `with` queries as common table expressions before it, and where each
    part starts: [(line in the composed text, the part's origin in the YAML file)]."""
    if not shared:
        return sql, [(1, origin)]
    lines, parts = ["WITH RECURSIVE"], []
    for name, query, where in shared:
        lines.append(f"{name} AS (")
        parts.append((len(lines) + 1, where))
        lines += _inner(query)
        lines.append("),")
    lines[-1] = ")"
    lines.append("SELECT * FROM (")
    parts.append((len(lines) + 1, origin))
    lines += _inner(sql)
    lines.append(")")
    return "\n".join(lines), parts


def _inner(query: str) -> list[str]:
    """A query's lines, to go inside parentheses: a closing `;` would end the statement."""
    return query.rstrip().rstrip(";").rstrip().split("\n")


def _part(parts: list, line: int) -> tuple:
    """(origin, line within that part) of a line of the composed text."""
    start, origin = next(((s, o) for s, o in reversed(parts) if s <= line), parts[0])
    return origin, max(1, line - start + 1)


def _links_outside(folder: str) -> list[str]:
    """The symbolic links under `folder` that lead outside it: DuckDB checks the path a query
    names, then follows links."""
    found = []
    for root, dirs, files in os.walk(folder):   # links to folders are listed, not entered
        for name in dirs + files:
            entry = os.path.join(root, name)
            if os.path.islink(entry) and os.path.commonpath([os.path.realpath(entry), folder]) != folder:
                found.append(entry)
    return sorted(found)


@contextlib.contextmanager
def _sandbox(folder: str, allow_outside: bool):
    import duckdb

    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})
    try:
        # Order matters: every setting before the ones that lock the rest.
        con.execute("SET temp_directory = ''")
        con.execute("SET allowed_directories = ?", [["/" if allow_outside else folder.rstrip(os.sep) + os.sep]])
        con.execute("SET file_search_path = ?", [folder])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        with contextlib.chdir(folder):
            yield con
    finally:
        con.close()


def _run(con, sql: str, at, table: str, allow_outside: bool):
    """The query's result (an Arrow table), or the Diagnostic saying why not; `at(line)`: where
    a line of `sql` is in the YAML file."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        return _query_error(error, at, table, sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        return make("LS700", f"the {table} query must be one SELECT (found: {kinds})", at(1),
                    "a history query only reads: write one SELECT (WITH ... SELECT is fine)")
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.PermissionException as error:
        where = re.search(r'file "([^"]*)"', str(error))
        named = f"`{where.group(1)}`" if where else "a file"
        hint = ("only local files can be read" if allow_outside else
                "a history file reads only files under its own folder; give --allow-history-outside "
                "to read elsewhere (network addresses are never read)")
        return make("LS700", f"the {table} query may not read {named}", at(_query_line(str(error), sql)), hint)
    except duckdb.Error as error:
        return _query_error(error, at, table, sql)


def _query_error(error: Exception, at, table: str, sql: str) -> Diagnostic:
    """DuckDB's message in plain words: its first line without the error class; what else it
    says (candidates, not the query it quotes) goes in the hint."""
    lines = [line.strip() for line in str(error).strip().splitlines()]
    message = re.sub(r"^[A-Za-z ]*Error: ", "", lines[0]) if lines and lines[0] else type(error).__name__
    more = [line if len(line) <= 160 else line[:157] + "..."
            for line in lines[1:] if line and not _LINE.match(line) and set(line) != {"^"}][:2]
    hint = "; ".join(more + ["run the query in DuckDB from the history file's folder to try it"])
    return make("LS700", f"the {table} query failed: {message}", at(_query_line(str(error), sql)), hint)


def _query_line(message: str, sql: str) -> int:
    """The query's line DuckDB points at (`LINE n:`), else the first line with the name it quotes."""
    found = _LINE.search(message)
    if found:
        return int(found.group(1))
    quoted = re.search(r'"([^"]+)"', message.strip().split("\n")[0])
    if quoted:
        for number, line in enumerate(sql.splitlines(), 1):
            if quoted.group(1).lower() in line.lower():
                return number
    return 1


def _yaml_span(origin, query_line: int, text: str, path: str) -> Span:
    """The line of the YAML file holding the query's `query_line`: a block scalar (`|`, `>`)
    starts on the line after its indicator."""
    span = origin.span
    lines = text.splitlines()
    first = lines[span.line - 1][span.column - 1:] if span.line <= len(lines) else ""
    if first[:1] in ("|", ">"):
        line = min(span.line + query_line, span.end_line, len(lines))
        content = lines[line - 1] if line <= len(lines) else ""
        column = len(content) - len(content.lstrip()) + 1
        return Span(path, line, column, line, max(column + 1, len(content) + 1))
    return Span(path, span.line, span.column, span.line, span.end_column if span.end_line == span.line
                else len(lines[span.line - 1]) + 1)

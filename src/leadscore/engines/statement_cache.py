"""The DuckDB statement of a program, kept between runs of the command line: building it with
sqlglot costs a few tenths of a second, as much as DuckDB's whole statement on a small table.

The text is kept in the private cache folder (cache.py), named by a hash of what it is a
function of: the lowered program (every field, a set's members in sorted order), the id
column, `reasons`, and the code that writes it (the statement's modules and sqlglot's version).
The instant is not in it: the statement reads the bound parameter `$instant`. A program that
holds a value of a type not foreseen here is not kept (it is built each time, only slower).

The replay's statements are kept in the same folder (`kept`, simulator/duckdb_instants.py).
The folder keeps the KEPT_STATEMENTS most recently used of them all: a hit touches its file, and
writing a new one removes the files least recently touched beyond that. Runs may do either at
once: a file another run removed, or one that cannot be read, is only built again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from ..atomic import write_atomically
from ..cache import statement_folder

# the modules the statement's text is a function of, besides the program
_WRITERS = ("engines/sql/select.py", "engines/sql/expressions.py", "engines/sql/dialects.py",
            "engines/duckdb_engine.py", "semantics.py", "lower.py")
_fingerprint: str | None = None
T = TypeVar("T")
# A few KB each (14 KB for the acme rule file): a bound on files, not bytes, keeps the folder
# under a few MB for any one user's rule files, options and leadscore versions.
KEPT_STATEMENTS = 64
# score's statement (.sql) and the replay's two (.instants.json, simulator/duckdb_instants.py);
# nothing else is removed
_ENTRY = re.compile(r"[0-9a-f]{64}(?:\.sql|\.instants\.json)\Z")


def cached_statement(program, id_column: str, reasons: bool, build: Callable[[], str]) -> str:
    """`build()`, or the text it gave for the same program and code in an earlier run."""
    try:
        key = statement_key(program, id_column, reasons)
    except TypeError:
        return build()
    return kept(key + ".sql", build, _text)


def _text(kept_text: str) -> str:
    if not kept_text:   # an empty file (a full disk): built and written anew
        raise ValueError("empty")
    return kept_text


def kept(name: str, build: Callable[[], str], read: Callable[[str], T]) -> T:
    """read(the text kept in the folder under `name`), or, when there is none or `read` refuses
    it (ValueError, KeyError, TypeError), read(build()) with the built text kept for later runs.
    `name` is a key and a suffix `_ENTRY` matches: only such files are ever pruned."""
    folder = statement_folder()
    if folder is None:
        return read(build())
    path = os.path.join(folder, name)
    try:
        with open(path, encoding="utf-8") as handle:
            found = read(handle.read())
        _touch(path)
        return found
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        pass   # none yet, or unreadable: built and written anew
    text = build()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        write_atomically(path, text)   # a reader sees the whole text or none
    except OSError:
        return read(text)   # not keeping it only costs the time saved
    prune(folder, KEPT_STATEMENTS)
    return read(text)


def _touch(path: str) -> None:
    """Mark a statement as just used (its modification time orders the folder)."""
    try:
        os.utime(path)
    except OSError:   # removed by another run's pruning meanwhile: it is built again when asked
        pass


def prune(folder: str, keep: int) -> None:
    """Remove all but the `keep` statements touched last (ties: by name, for a fixed order)."""
    used: list[tuple[int, str]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if _ENTRY.match(entry.name):
                    try:
                        used.append((entry.stat().st_mtime_ns, entry.name))
                    except OSError:   # removed by another run since the listing
                        pass
    except OSError:
        return
    used.sort(reverse=True)
    for _, name in used[keep:]:
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:   # already removed by another run, or not a file: left as it is
            pass


def statement_key(program, id_column: str, reasons: bool) -> str:
    digest = hashlib.sha256(_code_fingerprint().encode())
    for part in (canonical(program), repr(id_column), repr(reasons)):
        digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def canonical(value) -> str:
    """A text equal for equal values in every process (a set's repr follows the hash seed)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__}:{value!r}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ",".join(f"{f.name}={canonical(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__qualname__}({inner})"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}[{','.join(map(canonical, value))}]"
    if isinstance(value, (set, frozenset)):
        return "set{" + ",".join(sorted(map(canonical, value))) + "}"
    if isinstance(value, Mapping):   # in order: a schema's order is part of the program
        return "map{" + ",".join(f"{canonical(k)}:{canonical(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no canonical text for {type(value).__name__}")


def _code_fingerprint() -> str:
    global _fingerprint
    if _fingerprint is None:
        root = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256(_sqlglot_version())
        for name in _WRITERS:
            digest.update(b"\0" + (root / name).read_bytes())
        _fingerprint = digest.hexdigest()
    return _fingerprint


def _sqlglot_version() -> bytes:
    """sqlglot's version file, read rather than imported: a kept statement then costs no sqlglot
    import (0.1 s of start-up)."""
    spec = importlib.util.find_spec("sqlglot")
    try:
        return (Path(spec.origin).parent / "_version.py").read_bytes()
    except (OSError, TypeError):   # an installation without the file
        import sqlglot

        return sqlglot.__version__.encode()

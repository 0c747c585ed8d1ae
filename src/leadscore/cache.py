"""Where leadscore keeps what it may reuse between runs (Lark's parse tables,
which YAML texts were found valid, the DuckDB statements of rule files). The readers at the edges (loader, test
files, history files) hand a `ValidYaml` to the YAML reader, which stays a
pure function of its arguments.

Lark's cache is a pickle, so it must never come from a folder another user
can write: the cache lives in the user's own cache folder, and a folder that
is not private to this user is not used at all (every run then builds
afresh, which is only slower).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys


_grammar_tables: str | None = None
_statements: str | None = None


def keep_grammar_tables() -> None:
    """Let the parser keep Lark's LALR tables (~0.2 s to build; Lark keys them by the grammar's
    hash), and the duckdb engine its statements (engines/statement_cache.py), in the private
    cache folder. The command line calls this; without it both are built afresh and no file
    is touched."""
    global _grammar_tables, _statements
    folder = cache_dir()
    _grammar_tables = os.path.join(folder, "grammar.lark-cache") if folder else None
    _statements = os.path.join(folder, "duckdb-statements") if folder else None


def statement_folder() -> str | None:
    """Where the duckdb engine may keep its statements, when the command line allowed it."""
    return _statements


def grammar_tables() -> str | None:
    """Where Lark may keep the parser's tables, when the command line allowed it."""
    return _grammar_tables


def cache_dir() -> str | None:
    """The private cache folder, created if needed; None when unusable."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "leadscore")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError:
        return None
    if sys.platform != "win32":
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
    return path if os.access(path, os.W_OK) else None


class ValidYaml:
    """Which YAML texts were found valid against which JSON Schema: an empty file per pair,
    named by a hash of both (the data is a function of the two)."""

    def __init__(self, folder: str):
        self.folder = folder

    @staticmethod
    def key(text: str, json_schema: dict) -> str:
        return hashlib.sha256(json.dumps(json_schema, sort_keys=True).encode("utf-8")
                              + b"\0" + text.encode("utf-8", "surrogatepass")).hexdigest()

    def known(self, key: str) -> bool:
        return os.path.exists(os.path.join(self.folder, key))

    def remember(self, key: str) -> None:
        try:
            os.makedirs(self.folder, exist_ok=True)
            with open(os.path.join(self.folder, key), "w", encoding="utf-8"):
                pass
        except OSError:
            pass  # not remembering only costs the time saved


def valid_yaml() -> ValidYaml | None:
    """The record of valid YAML texts in the private cache folder; None when there is none."""
    folder = cache_dir()
    return ValidYaml(os.path.join(folder, "valid-yaml")) if folder else None

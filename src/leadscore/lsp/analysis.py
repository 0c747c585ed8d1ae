"""One open document, read: its ruleset, schema, diagnostics and names.

A `file:` document is checked like `leadscore check` checks the file on disk
(its schema is read relative to it, never outside its folder); any other
document (an unsaved `untitled:` buffer) has no folder, so no schema is read
and names are not checked against one."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..dsl import ast
from ..dsl.checker import CheckedRuleset, check
from ..dsl.diagnostics import Diagnostic
from ..dsl.parser import parse
from ..dsl.schema import Schema
from ..loader import check_text
from .symbols import SymbolIndex, index


@dataclass(frozen=True)
class Analysis:
    path: str | None              # the file on disk, None for an unsaved buffer
    text: str
    ruleset: ast.Ruleset
    schema: Schema | None
    checked: CheckedRuleset | None
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]       # file name -> text, the schema's included
    symbols: SymbolIndex

    @property
    def file(self) -> str:
        return self.ruleset.file

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def analyse(text: str, path: str | None, display: str) -> Analysis:
    """`path` is an absolute file path, or None when the document has none."""
    if path is None:
        ruleset, diagnostics = parse(text, display)
        _, more = check(ruleset, None)
        return Analysis(None, text, ruleset, None, None, tuple(diagnostics + more), {display: text},
                        index(ruleset, None))
    loaded = check_text(os.path.abspath(path), text)
    return Analysis(path, text, loaded.ruleset, loaded.schema, loaded.checked,
                    tuple(loaded.diagnostics), dict(loaded.sources), index(loaded.ruleset, loaded.schema))

"""Helpers the commands share: load a ruleset or exit with its diagnostics, write files atomically."""

from __future__ import annotations

import sys

import click


def load_or_exit(path: str, allow_schema_outside: bool = False):
    """The checked ruleset, or every diagnostic on stderr and exit 1."""
    from ..api import Ruleset
    from ..dsl.diagnostics import render_text, sort_key
    from ..loader import load_ruleset

    loaded = load_ruleset(path, allow_outside_schema=allow_schema_outside)
    if loaded.checked is None:
        for d in sorted(loaded.diagnostics, key=sort_key):
            click.echo(render_text(d, loaded.sources.get(d.span.file, "").splitlines()), err=True)
        errors = sum(d.is_error for d in loaded.diagnostics)
        click.echo(f"{path}: {errors} error{'s' * (errors != 1)}; fix them first "
                   f"(`leadscore check {path}`)", err=True)
        sys.exit(1)
    return Ruleset(loaded.checked, tuple(loaded.diagnostics))


def write_atomically(path: str, text: str) -> None:
    """Write the whole file or nothing: a failure never leaves half a file."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".leadscore-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise

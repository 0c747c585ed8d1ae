"""`leadscore fmt`: the one canonical layout, every comment kept."""

from __future__ import annotations

import os
import sys

import click


@click.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Change nothing; print a unified diff.")
def command(paths: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Rewrite rule files (every *.score file under folders; default: this folder) in the
    one canonical layout, keeping every comment.

    A file keeps its line endings (CRLF or LF, as its first line ends) and
    its byte order mark. A symbolic link is written through to its target, a
    hard-linked file in place; a link found in a folder that leads outside it
    is left alone (name it to format it). Exit status: 0 nothing to do (or
    done), 1 with --check when a file would change, or when a file has syntax
    errors, is read-only or changed while it was formatted (it is left as it
    is).
    """
    from ..loader import find_rule_files

    failed = changed = False
    for path in paths or (".",):
        for file in find_rule_files([path]):
            if os.path.isdir(path) and not _inside(file, path):
                click.echo(f"note: {file}: left alone: a symbolic link to a file outside {path}", err=True)
                continue
            result = _format_file(file, check, show_diff)
            failed |= result == "failed"
            changed |= result == "changed"
    sys.exit(1 if failed or (check and changed) else 0)


def _inside(file: str, folder: str) -> bool:
    real_folder = os.path.realpath(folder)
    return os.path.commonpath([os.path.realpath(file), real_folder]) == real_folder


def _format_file(file: str, check: bool, show_diff: bool) -> str:
    """Format one file: "failed", "changed" (or would change) or "same"."""
    import difflib

    from ..atomic import RewriteRefused, rewrite_file
    from ..dsl.diagnostics import render_each
    from ..dsl.formatter import format_ruleset, in_layout_of, shape
    from ..dsl.parser import parse
    from ..loader import read_text

    text, problem = read_text(file, file)
    if problem is not None:
        click.echo(render_each([problem], {})[0], err=True)
        return "failed"
    ruleset, diagnostics = parse(text, file)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        for shown_error in render_each(errors, {file: text}):
            click.echo(shown_error, err=True)
        click.echo(f"{file}: not formatted: fix the syntax errors first", err=True)
        return "failed"
    formatted = in_layout_of(text, format_ruleset(ruleset))
    if formatted == text:
        return "same"
    # Never write a layout that reads back differently: that would be a
    # formatter bug, and the user's rules must not pay for it.
    reparsed, _ = parse(formatted, file)
    if shape(reparsed) != shape(ruleset):
        click.echo(f"{file}: internal error: the formatted text would not mean the same; "
                   "left unchanged (please report this)", err=True)
        return "failed"
    if show_diff:
        click.echo("".join(difflib.unified_diff(
            text.splitlines(True), formatted.splitlines(True), file, file)), nl=False)
    if check:
        click.echo(f"would reformat {file}")
    elif not show_diff:
        try:
            rewrite_file(file, text, formatted)
        except (RewriteRefused, OSError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            click.echo(f"{file}: not formatted: {reason}; left unchanged", err=True)
            return "failed"
        click.echo(f"reformatted {file}")
    return "changed"

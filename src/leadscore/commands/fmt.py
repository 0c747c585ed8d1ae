"""`leadscore fmt`: the one canonical layout, every comment kept."""

from __future__ import annotations

import sys

import click


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Change nothing; print a unified diff.")
def command(paths: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Rewrite rule files in the one canonical layout, keeping every comment.

    A file keeps its line endings (CRLF or LF, as its first line ends) and
    its byte order mark. A symbolic link is written through to its target, a
    hard-linked file in place. Exit status: 0 nothing to do (or done), 1 with
    --check when a file would change, or when a file has syntax errors, is
    read-only or changed while it was formatted (it is left as it is).
    """
    import difflib

    from ..atomic import RewriteRefused, rewrite_file
    from ..dsl.diagnostics import render_text
    from ..dsl.formatter import format_ruleset, in_layout_of, shape
    from ..dsl.parser import parse
    from ..loader import find_rule_files, read_text

    failed = changed = False
    for file in find_rule_files(list(paths)):
        text, problem = read_text(file, file)
        if problem is not None:
            click.echo(render_text(problem, None), err=True)
            failed = True
            continue
        ruleset, diagnostics = parse(text, file)
        errors = [d for d in diagnostics if d.is_error]
        if errors:
            for d in errors:
                click.echo(render_text(d, text.splitlines()), err=True)
            click.echo(f"{file}: not formatted: fix the syntax errors first", err=True)
            failed = True
            continue
        formatted = in_layout_of(text, format_ruleset(ruleset))
        if formatted == text:
            continue
        # Never write a layout that reads back differently: that would be a
        # formatter bug, and the user's rules must not pay for it.
        reparsed, _ = parse(formatted, file)
        if shape(reparsed) != shape(ruleset):
            click.echo(f"{file}: internal error: the formatted text would not mean the same; "
                       "left unchanged (please report this)", err=True)
            failed = True
            continue
        changed = True
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
                failed = True
                continue
            click.echo(f"reformatted {file}")
    sys.exit(1 if failed or (check and changed) else 0)

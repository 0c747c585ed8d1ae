"""The `leadscore` command. Thin: parse options, call a pass, print.

Heavy modules (Lark, the checker) are imported inside commands so that
`leadscore --help` and CI start-up stay fast.
"""

from __future__ import annotations

import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadscore")
def main() -> None:
    """Lead scoring as code: check, compile and simulate scoring rules."""


@main.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]),
              default="text", show_default=True, help="How to print the diagnostics.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def check_command(paths: tuple[str, ...], output_format: str, strict: bool,
                  allow_schema_outside: bool) -> None:
    """Check rule files (or every *.score file under folders).

    Exit status: 0 clean, 1 errors (or warnings with --strict), 2 usage error.
    """
    from .dsl.diagnostics import (promote_warnings, render_github, render_json, render_text,
                                  sort_key)
    from .loader import find_rule_files, load_ruleset

    files = find_rule_files(list(paths))
    if not files:
        raise click.UsageError("no .score files found under " + ", ".join(paths))
    everything = []
    sources: dict[str, list[str]] = {}
    for file in files:
        loaded = load_ruleset(file, allow_outside_schema=allow_schema_outside)
        diagnostics = loaded.diagnostics
        if strict:
            diagnostics = promote_warnings(diagnostics)
        everything.extend(sorted(diagnostics, key=sort_key))
        for name, text in loaded.sources.items():
            sources[name] = text.splitlines()

    errors = sum(d.is_error for d in everything)
    warnings = len(everything) - errors
    if output_format == "json":
        click.echo(render_json(everything))
    else:
        for d in everything:
            if output_format == "github":
                click.echo(render_github(d))
            else:
                click.echo(render_text(d, sources.get(d.span.file)))
                click.echo()
        summary = f"checked {len(files)} file{'s' * (len(files) != 1)}: " \
                  f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        click.echo(summary, err=output_format == "github")
    sys.exit(1 if errors else 0)


@main.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Change nothing; print a unified diff.")
def fmt_command(paths: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Rewrite rule files in the one canonical layout, keeping every comment.

    Exit status: 0 nothing to do (or done), 1 with --check when a file would
    change or when a file has syntax errors (it is left as it is).
    """
    import difflib

    from .dsl.diagnostics import render_text
    from .dsl.formatter import format_ruleset, shape
    from .dsl.parser import parse
    from .loader import find_rule_files, read_text

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
        formatted = format_ruleset(ruleset)
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
            write_atomically(file, formatted)
            click.echo(f"reformatted {file}")
    sys.exit(1 if failed or (check and changed) else 0)


def _load_or_exit(path: str, allow_schema_outside: bool = False):
    """The checked ruleset, or every diagnostic on stderr and exit 1."""
    from .api import Ruleset
    from .dsl.diagnostics import render_text, sort_key
    from .loader import load_ruleset

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


@main.command("compile")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The module to write (default: standard output).")
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def compile_command(ruleset: str, output: str | None, allow_schema_outside: bool) -> None:
    """Compile a ruleset to a standalone Python module.

    The module needs only the standard library (and google-re2 when the
    ruleset uses `matches`) and exposes score(lead, events, as_of).
    """
    from importlib import resources

    from .compiler.python import generate, standalone

    checked = _load_or_exit(ruleset, allow_schema_outside).checked
    runtime_source = resources.files("leadscore.compiler").joinpath("runtime.py").read_text("utf-8")
    source = standalone(generate(checked), runtime_source)
    if output is None:
        click.echo(source, nl=False)
    else:
        write_atomically(output, source)
        click.echo(f"wrote {output}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

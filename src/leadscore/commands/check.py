"""`leadscore check`: parse and check rule files, report every diagnostic."""

from __future__ import annotations

import sys

import click


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]),
              default="text", show_default=True, help="How to print the diagnostics.")
@click.option("--strict", is_flag=True,
              help="Treat warnings as errors; also warn (without failing) about unused "
                   "declarations and unreachable segment labels.")
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def command(paths: tuple[str, ...], output_format: str, strict: bool,
                  allow_schema_outside: bool) -> None:
    """Check rule files (every *.score file under folders; default: this folder).

    Exit status: 0 clean, 1 errors (or warnings with --strict), 2 usage error.
    """
    from ..dsl.diagnostics import promote_warnings, render_each, render_github, render_json, sort_key
    from ..dsl.usage import USAGE_CODES
    from ..loader import find_rule_files, load_ruleset

    given = list(paths) or ["."]
    files = find_rule_files(given)
    if not files:
        raise click.UsageError("no .score files found under " + ", ".join(given))
    everything = []
    sources: dict[str, str] = {}
    for file in files:
        loaded = load_ruleset(file, allow_outside_schema=allow_schema_outside, usage=strict)
        diagnostics = loaded.diagnostics
        if strict:
            # The usage findings stay warnings: a schema shared with the CRM
            # often declares more than one ruleset uses.
            diagnostics = promote_warnings([d for d in diagnostics if d.code not in USAGE_CODES]) \
                + [d for d in diagnostics if d.code in USAGE_CODES]
        everything.extend(sorted(diagnostics, key=sort_key))
        sources.update(loaded.sources)

    errors = sum(d.is_error for d in everything)
    warnings = len(everything) - errors
    if output_format == "json":
        click.echo(render_json(everything))
    elif output_format == "github":
        for d in everything:
            click.echo(render_github(d))
    else:
        for text in render_each(everything, sources):
            click.echo(text)
            click.echo()
        summary = f"checked {len(files)} file{'s' * (len(files) != 1)}: " \
                  f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        click.echo(summary, err=output_format == "github")
    sys.exit(1 if errors else 0)

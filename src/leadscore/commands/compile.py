"""`leadscore compile`: a standalone Python module for a ruleset."""

from __future__ import annotations

import click

from ..safe_text import shown

from .common import load_or_exit, write_atomically


@click.command("compile")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The module to write (default: standard output).")
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def command(ruleset: str, output: str | None, allow_schema_outside: bool) -> None:
    """Compile a ruleset to a standalone Python module.

    The module needs only the standard library (and google-re2 when the
    ruleset uses `matches`) and exposes score(lead, events, as_of).
    """
    from importlib import resources

    from ..compiler.python import generate, standalone

    checked = load_or_exit(ruleset, allow_schema_outside).checked
    runtime_source = resources.files("leadscore.compiler").joinpath("runtime.py").read_text("utf-8")
    source = standalone(generate(checked), runtime_source)
    if output is None:
        click.echo(source, nl=False)
    else:
        write_atomically(output, source)
        click.echo(shown(f"wrote {output}"), err=True)

"""`leadscore compile`: a standalone Python module for a ruleset, or one SQL SELECT statement."""

from __future__ import annotations

import click

from ..safe_text import shown
from .common import load_or_exit, parse_instant, sql_refused, write_atomically


@click.command("compile")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The module to write (default: standard output).")
@click.option("--target", type=click.Choice(["python", "sql"]), default="python", show_default=True,
              help="A Python module, or one SQL SELECT statement (docs/engines.md).")
@click.option("--dialect", type=click.Choice(["duckdb", "spark", "snowflake", "bigquery", "postgres"]),
              help="The SQL dialect (--target sql; default duckdb).")
@click.option("--as-of", "instant", callback=parse_instant, metavar="INSTANT",
              help="SQL: score at this instant (default: the database's current time when it runs).")
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def command(ruleset: str, output: str | None, target: str, dialect: str | None, instant: float | None,
            allow_schema_outside: bool) -> None:
    """Compile a ruleset to a standalone Python module or a SQL SELECT.

    The module needs only the standard library (and google-re2 when the
    ruleset uses `matches`) and exposes score(lead, events, as_of). The SQL
    statement reads the relations `leads` and `events` and returns the
    columns of `leadscore score`.
    """
    if target == "python" and (dialect is not None or instant is not None):
        raise click.UsageError("--dialect and --as-of are options of --target sql")
    checked = load_or_exit(ruleset, allow_schema_outside).checked
    source = (_python(checked) if target == "python"
              else _sql(checked, dialect or "duckdb", instant))
    if output is None:
        click.echo(source, nl=False)
    else:
        write_atomically(output, source)
        click.echo(shown(f"wrote {output}"), err=True)


def _python(checked) -> str:
    from importlib import resources

    from ..compiler.python import generate, standalone

    runtime_source = resources.files("leadscore.compiler").joinpath("runtime.py").read_text("utf-8")
    return standalone(generate(checked), runtime_source)


def _sql(checked, dialect: str, instant: float | None) -> str:
    from ..engines.sql import SqlUnsupported, to_sql
    from ..lower import lower

    try:
        # no trailing semicolon: a dbt model or a subquery takes the statement as it is
        return to_sql(lower(checked), checked.schema.id_column, dialect, instant) + "\n"
    except SqlUnsupported as refused:
        sql_refused(checked.ruleset.file, refused)

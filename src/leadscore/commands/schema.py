"""`leadscore schema infer`: a starting schema file from the history's tables."""

from __future__ import annotations

import os
import sys

import click


@click.group("schema")
def command() -> None:
    """Work with schema files."""


@command.command("infer")
@click.option("--history", required=True, type=click.Path(exists=True),
              help="A folder of tables, or a history file (.yaml) of DuckDB queries.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The schema file to write; never overwritten.")
@click.option("--max-values", type=click.IntRange(1), default=20, show_default=True, metavar="N",
              help="A text field with at most N distinct values gets `values:`.")
@click.option("--allow-history-outside", is_flag=True,
              help="Let a history file's queries read files outside its folder (never the network).")
def infer(history: str, output: str, max_values: int, allow_history_outside: bool) -> None:
    """Write a starting schema inferred from the leads and events of --history: field types,
    `values` of low-cardinality text, event types and their properties, placeholders as
    `missing`. The id column and `created` are guesses, marked `check` in comments.

    Exit status: 0 written, 1 the file exists or a table cannot be read, 2 usage error.
    """
    from ..ingest.infer import infer_schema
    from ..tables import TableError
    from .common import tables_or_exit

    if os.path.lexists(output):   # checked first too, so nothing is read in vain
        _exists(output)
    tables = tables_or_exit(history, allow_history_outside, {"leads": None, "events": None})
    try:
        text = infer_schema(tables, max_values, history)
    except TableError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    try:
        with open(output, "x", encoding="utf-8") as handle:   # "x": created here, or an error
            handle.write(text)
    except FileExistsError:
        _exists(output)
    except OSError as error:
        click.echo(f"error: {output}: {error.strerror or error}", err=True)
        sys.exit(1)
    click.echo(f"wrote {output}: check the lines marked `check`, then point a ruleset at it", err=True)


def _exists(output: str) -> None:
    click.echo(f"error: {output} already exists; schema infer never overwrites a file "
               "(remove it, or give another -o)", err=True)
    sys.exit(1)

"""`leadscore calibrate`: success rates of events and field values against the base rate,
with suggested points written as rules (docs/calibrate.md)."""

from __future__ import annotations

import math
import os
import sys

import click

from ..safe_text import shown
from ..scratch import remove_stale_spill_folders
from ..simulator.calibrate_engines import ENGINES
from .common import check_spark_options, parse_instant, spark_options


_TABLE = click.Path(exists=True, dir_okay=False)
_MAX_SCALE = 1_000_000


def _scale(ctx: click.Context, param: click.Parameter, value: float) -> float:
    # FloatRange lets nan (no comparison holds) and inf through; either makes every
    # suggested point infinite or undefined.
    if not (math.isfinite(value) and 0 < value <= _MAX_SCALE):
        raise click.BadParameter(f"{value} is not a number above 0 and at most {_MAX_SCALE:,}")
    return value



@click.command("calibrate")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("--history", type=click.Path(exists=True),
              help="A folder holding leads, events and outcomes tables (.csv, .jsonl or .parquet), or a "
                   "history file (.yaml) of DuckDB queries.")
@click.option("--allow-history-outside", is_flag=True,
              help="Let a history file's queries read files outside its folder (never the network).")
@click.option("--leads", "leads_path", type=_TABLE, help="The leads table (instead of --history).")
@click.option("--events", "events_path", type=_TABLE, help="The events table (instead of --history).")
@click.option("--outcomes", "outcomes_path", type=_TABLE, help="The outcomes table (instead of --history).")
@click.option("--as-of", callback=parse_instant, metavar="TIME",
              help="Ignore events and outcomes after this date or time, or `now` (default: none).")
@click.option("--success", "success_stage", default="won", show_default=True, metavar="STAGE",
              help="The outcome stage that counts as success (any case).")
@click.option("--lost", "lost_stage", default="lost", show_default=True, metavar="STAGE",
              help="The outcome stage that counts as lost (any case), for --decided-only.")
@click.option("--decided-only", is_flag=True,
              help="Count only leads with a success or a loss (by --as-of): open deals are no failures.")
@click.option("--scale", type=float, callback=_scale, default=10, show_default=True, metavar="S",
              help="Points of the strongest signal.")
@click.option("--min-count", type=click.IntRange(1), default=30, show_default=True, metavar="N",
              help="Suggest points only for signals shown by at least N leads.")
@click.option("--max-values", type=click.IntRange(1), default=20, show_default=True, metavar="N",
              help="A text field without declared values is categorical up to N distinct values.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this file instead of stdout.")
@click.option("--strict", is_flag=True, help="Stop at the first row that cannot be used.")
@click.option("--engine", type=click.Choice(list(ENGINES)), default="duckdb", show_default=True,
              help="python: counted in this process; duckdb: counted in SQL by DuckDB, in process; spark: "
                   "the same statements on Spark (pip install 'leadscore[spark]', Java 17+). Same results; "
                   "see docs/calibrate.md.")
@click.option("--memory-limit", default="2GB", show_default=True, metavar="SIZE",
              help="duckdb engine: DuckDB's memory limit; beyond it, it spills to a temporary folder.")
@spark_options("one core per CPU")
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def command(ruleset: str, history: str | None, allow_history_outside: bool, leads_path: str | None,
            events_path: str | None, outcomes_path: str | None, as_of: float | None, success_stage: str,
            lost_stage: str, decided_only: bool, scale: float,
            min_count: int, max_values: int, output_format: str, output: str | None, strict: bool,
            engine: str, memory_limit: str, spark_master: str | None, spark_remote: str | None,
            allow_schema_outside: bool) -> None:
    """How often leads that show each event type, `where` variant and field value
    succeed, against the base rate; suggested points as rules ready to paste.

    Exit status: 0 done, 1 a ruleset or table that cannot be used (or the engine failed, out of
    memory), 2 usage error.
    """
    from ..simulator.calibrate import Options, plan_signals, summarise
    from ..simulator.calibrate_engines import EngineFailed, Settings
    from ..simulator.calibrate_render import render_json, render_markdown, render_text
    from ..simulator.variants import UsageError
    from ..tables import ProblemLog, TableError
    from .common import load_or_exit, tables_or_exit, write_atomically

    check_spark_options(engine, spark_master, spark_remote)
    remove_stale_spill_folders()
    paths = tables_or_exit(history, allow_history_outside,
                           {"leads": leads_path, "events": events_path, "outcomes": outcomes_path})
    if not success_stage.strip():
        raise click.BadParameter("the success stage is empty", param_hint="--success")

    loaded = load_or_exit(ruleset, allow_schema_outside)
    checked = loaded.checked
    if engine == "spark":
        _java_patterns(loaded)
    options = Options(success_stage.strip(), as_of, scale, min_count, max_values, lost_stage.strip(), decided_only)
    log = ProblemLog(keep=3, strict=strict)
    try:
        plan = plan_signals(checked, max_values)
        tally = ENGINES[engine](plan, paths, log, options, Settings(memory_limit, spark_master, spark_remote, _cpus()))
    except TableError as error:
        click.echo(shown(f"error: {error}"), err=True)
        sys.exit(1)
    except EngineFailed as error:
        for line in log.summary_lines():
            click.echo(shown(line), err=True)
        click.echo(shown(f"error: {error}"), err=True)
        sys.exit(1)
    except UsageError as error:
        raise click.UsageError(str(error)) from None
    for line in log.summary_lines():
        click.echo(shown(line), err=True)
    skipped: dict[str, int] = {}
    for (table, kind), n in log.counts.items():
        if kind != "unknown_column":
            skipped[table] = skipped.get(table, 0) + n

    result = summarise(plan, tally, options)
    render = {"text": render_text, "markdown": render_markdown, "json": render_json}[output_format]
    text = render(result, skipped)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomically(output, text)


def _java_patterns(loaded) -> None:
    """Exit 1, before anything is read, at the first `matches` pattern Spark's Java regexes would
    read differently from RE2 (as `score --engine spark`)."""
    from ..engines.sql import SqlUnsupported
    from ..engines.sql.dialects import check_patterns
    from .common import sql_refused

    try:
        check_patterns(loaded.lower(), "spark")
    except SqlUnsupported as refused:
        sql_refused(loaded.checked.ruleset.file, refused)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

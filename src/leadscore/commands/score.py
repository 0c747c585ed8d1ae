"""`leadscore score`: score every lead of the history tables at one instant (docs/scoring.md)."""

from __future__ import annotations

import os
import sys

import click

from ..safe_text import shown
from ..scratch import remove_stale_spill_folders
from ..signals import stopped_in_order
from .common import (check_spark_options, history_options, load_or_exit, parse_instant, spark_options, sql_refused,
                     tables_or_exit)


def report_problems(log) -> None:
    """What was counted while reading, one line per kind of problem, on standard error."""
    for line in log.summary_lines():
        click.echo(shown("note: " + line), err=True)


@click.command("score")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@history_options
@click.option("--leads", "leads_file", type=click.Path(exists=True, dir_okay=False),
              help="The leads table (.csv, .jsonl or .parquet).")
@click.option("--events", "events_file", type=click.Path(exists=True, dir_okay=False),
              help="The events table (.csv, .jsonl or .parquet), in any order.")
@click.option("--as-of", "instant", required=True, callback=parse_instant, metavar="INSTANT",
              help="Score at this instant: `now`, or ISO 8601 (no offset means UTC, a date means midnight UTC).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The file to write (default: standard output); written whole or not at all.")
@click.option("--format", "output_format", type=click.Choice(["csv", "jsonl"]),
              help="Output format (default: from the -o extension, else csv).")
@click.option("--explain", is_flag=True, help="Add a `reasons` column: the contributing rules, as JSON.")
@click.option("--strict", is_flag=True, help="Any row that cannot be used is an error (exit 1, nothing written).")
@click.option("--jobs", type=click.IntRange(min=0), default=None,
              help="python engine: worker processes for large tables (default 1); duckdb and spark: "
                   "threads / local cores (default one per CPU). 0: one per CPU.")
@click.option("--engine", type=click.Choice(["python", "duckdb", "spark"]), default="duckdb", show_default=True,
              help="python: the generated Python scorer; duckdb: one SQL statement in DuckDB, in process; "
                   "spark: the same statement on Spark (pip install 'leadscore[spark]', Java 17+). "
                   "See docs/engines.md.")
@click.option("--memory-limit", default="2GB", show_default=True, metavar="SIZE",
              help="duckdb engine: DuckDB's memory limit; beyond it, it spills to a temporary folder.")
@spark_options()
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
@stopped_in_order()
def command(ruleset: str, history: str | None, allow_history_outside: bool, leads_file: str | None,
            events_file: str | None, instant: float, output: str | None, output_format: str | None,
            explain: bool, strict: bool, jobs: int | None, engine: str, memory_limit: str, spark_master: str | None,
            spark_remote: str | None, allow_schema_outside: bool) -> None:
    """Score every lead of LEADS at --as-of: one row per lead, in input order.

    Columns: lead_id, every score, threshold and segment in declaration
    order. Rows that cannot be used are counted and the first ones shown
    (file:row) on standard error. Exit status: 0 scored, 1 an unusable file
    (or row, with --strict), 2 usage error, 130 / 143 stopped by Ctrl-C /
    SIGTERM (temporary files removed).
    """
    from ..atomic import atomic_file
    from ..batch import output as formats
    from ..engines import EngineError
    from ..explain import instant_text
    from ..tables import ProblemLog, TableError

    _check_engine_options(engine, spark_master, spark_remote)
    if engine != "spark":   # Spark's client converts pandas objects with pyarrow: it keeps pyarrow's own answer
        from ..arrow_without_pandas import answer_without_pandas

        answer_without_pandas()
    # the SQL engines' threads cost no start-up, unlike the python engine's worker processes
    jobs = (1 if engine == "python" else 0) if jobs is None else jobs
    remove_stale_spill_folders()
    tables = tables_or_exit(history, allow_history_outside, {"leads": leads_file, "events": events_file})
    leads_file, events_file = tables["leads"], tables["events"]
    if output_format is None:
        extension = os.path.splitext(output)[1].lower() if output else ".csv"
        if extension not in formats.FORMATS:
            raise click.UsageError(f"cannot tell the format of {output} from its extension; "
                                   "use --format csv or --format jsonl")
        output_format = formats.FORMATS[extension]
    loaded = load_or_exit(ruleset, allow_schema_outside)
    schema = loaded.checked.schema
    log = ProblemLog(strict=strict)
    if engine == "spark":
        from ..engines.spark_tables import score_tables_spark
        from ..engines.sql import SqlUnsupported
        from ..engines.sql.dialects import check_patterns

        program = loaded.lower()
        try:   # before the tables are read: a pattern Spark would read differently
            check_patterns(program, "spark")
        except SqlUnsupported as refused:
            sql_refused(loaded.checked.ruleset.file, refused)

        def score(out):
            return score_tables_spark(program, schema, leads_file, events_file, instant, out, fmt=output_format,
                                      explain=explain, log=log, threads=jobs or _cpus(), master=spark_master,
                                      remote=spark_remote)
    elif engine == "duckdb":
        from ..engines.duckdb_tables import score_tables_duckdb

        program = loaded.lower()

        def score(out):
            return score_tables_duckdb(program, schema, leads_file, events_file, instant, out, fmt=output_format,
                                       explain=explain, log=log, threads=jobs or _cpus(), memory_limit=memory_limit)
    else:
        from ..batch import score_tables

        scorer = loaded.compile()

        def score(out):
            return score_tables(scorer, schema, leads_file, events_file, instant, out, fmt=output_format,
                                explain=explain, log=log, jobs=jobs or _cpus())
    try:
        if output is None:
            summary = score(sys.stdout)
        else:
            with atomic_file(output) as handle:
                summary = score(handle)
    except EngineError as error:
        report_problems(log)
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except TableError as error:
        report_problems(log)
        click.echo(shown(f"error: {error}" + (" (--strict)" if error.problem and strict else "")), err=True)
        sys.exit(1)
    except BrokenPipeError:
        # the reader of standard output stopped (`| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as error:
        click.echo(shown(f"error: {error.filename or output or 'the output'}: {error.strerror or error}"), err=True)
        sys.exit(1)
    report_problems(log)
    later = f"; {summary.later:,} later event{'s' * (summary.later != 1)} left out" if summary.later else ""
    click.echo(shown(f"scored {summary.leads:,} lead{'s' * (summary.leads != 1)} ({summary.events:,} "
                     f"event{'s' * (summary.events != 1)}) at {instant_text(instant)}{later}"
                     + (f"; wrote {output}" if output else "")), err=True)


def _check_engine_options(engine: str, spark_master: str | None, spark_remote: str | None) -> None:
    """Each engine's own options are refused with another engine: never silently ignored."""
    check_spark_options(engine, spark_master, spark_remote)
    source = click.get_current_context().get_parameter_source("memory_limit")
    if engine == "python" and source is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--memory-limit is an option of --engine duckdb")


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

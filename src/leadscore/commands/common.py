"""Helpers the commands share: load a ruleset or exit with its diagnostics, read an instant,
write files atomically."""

from __future__ import annotations

import sys

import click

from ..atomic import write_atomically  # noqa: F401  (the commands import it from here)
from ..safe_text import shown


def load_or_exit(path: str, allow_schema_outside: bool = False):
    """The checked ruleset, or every diagnostic on stderr and exit 1."""
    from ..api import Ruleset
    from ..dsl.diagnostics import render_each, sort_key
    from ..loader import load_ruleset

    loaded = load_ruleset(path, allow_outside_schema=allow_schema_outside)
    if loaded.checked is None:
        for text in render_each(sorted(loaded.diagnostics, key=sort_key), loaded.sources):
            click.echo(text, err=True)
        errors = sum(d.is_error for d in loaded.diagnostics)
        click.echo(shown(f"{path}: {errors} error{'s' * (errors != 1)}; fix them first "
                         f"(`leadscore check {path}`)"), err=True)
        sys.exit(1)
    return Ruleset(loaded.checked, tuple(loaded.diagnostics))


def ruleset_at_revision(path: str, revision: str, allow_outside: bool):
    """`--against`: the rule file and its schema as they were at `revision`, read from Git here
    (the edge) and checked by simulator.variants. Raises variants.UsageError (NotAtRevision when
    the file is not in the revision) or variants.RulesetProblems."""
    from .. import git
    from ..simulator import variants

    if revision.startswith("-"):   # never read as one of git's options
        raise variants.UsageError(f"--against {revision}: not a revision")
    try:
        rule = git.file_at_revision(path, revision)
    except git.GitMissing:
        raise variants.UsageError("--against needs git, which is not installed") from None
    except git.NoSuchRevision as error:
        raise variants.UsageError(f"--against {revision}: no such commit, branch or tag in the repository at "
                                  f"{error.root}") from None
    except git.NotInRevision:
        raise variants.NotAtRevision(f"--against {revision}: {path} does not exist at {revision} "
                                     "(a new ruleset)") from None
    except git.GitFailed as error:
        raise variants.UsageError(str(error)) from None
    parsed = variants.parse_at_revision(path, revision, rule.relative, rule.text, allow_outside)
    schema_text = None
    if parsed.schema is not None:
        try:
            schema_text = git.text_at_revision(rule.root, revision, parsed.schema)
        except git.GitFailed:
            pass   # reported as no schema file at that path
    return variants.check_at_revision(parsed, schema_text)
def sql_refused(file: str, refused: Exception):
    """Exit 1 with a statement's refusal (engines.sql.SqlUnsupported): "line N: ..." reads
    file:N: ..., as every other error of a rule file."""
    where = str(refused)
    message = f"{file}:{where[5:]}" if where.startswith("line ") else f"{file}: {where}"
    click.echo(shown(f"error: {message}"), err=True)
    raise SystemExit(1)


def spark_options(local_cores: str = "--jobs cores"):
    """`--spark-master` and `--spark-remote`, the spark engine's way to a cluster; without them,
    local mode with `local_cores`."""
    def options(func):
        func = click.option("--spark-remote", metavar="sc://HOST:PORT",
                            help="spark engine: a Spark Connect server (pip install 'leadscore[spark]' includes its client).")(func)
        return click.option("--spark-master", metavar="URL",
                            help="spark engine: the cluster's master (spark://host:7077, yarn, k8s://...); "
                                 f"default: local mode with {local_cores}.")(func)
    return options


def check_spark_options(engine: str, spark_master: str | None, spark_remote: str | None) -> None:
    """The spark engine's options are refused with another engine, and --memory-limit (DuckDB's)
    with the spark engine: never silently ignored."""
    if engine != "spark" and (spark_master or spark_remote):
        raise click.UsageError("--spark-master and --spark-remote are options of --engine spark")
    if spark_master and spark_remote:
        raise click.UsageError("--spark-master and --spark-remote each name the cluster: give one")
    source = click.get_current_context().get_parameter_source("memory_limit")
    if engine == "spark" and source is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--memory-limit is an option of --engine duckdb; Spark's memory is its own setting "
                               "(spark.driver.memory: docs/engines.md)")


def parse_instant(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """An instant option (--as-of, --start, --end): `now` (the moment the command started), or
    ISO 8601, a date is midnight UTC, no offset means UTC -> epoch seconds."""
    if value is None:
        return None
    if value.strip().lower() == "now":
        return _started(ctx)
    from ..compiler import runtime as rt

    try:
        return rt.to_epoch(value, "a date (2026-10-01), an ISO 8601 time (2026-10-01T09:30:00Z) or now")
    except rt.InputError as error:
        raise click.BadParameter(str(error)) from None


def _started(ctx: click.Context) -> float:
    """This run's `now`, read once so that `--start now --end now` is one instant."""
    import time

    return ctx.meta.setdefault("leadscore.now", time.time())
def history_options(func):
    """`--history` (a folder of tables or a history file) and `--allow-history-outside`, for the
    commands that otherwise take one file per table."""
    func = click.option("--allow-history-outside", is_flag=True,
                        help="Let a history file's queries read files outside its folder (never the network).")(func)
    return click.option("--history", type=click.Path(exists=True),
                        help="A folder of tables, or a history file (.yaml) of DuckDB queries, instead of one "
                             "option per table.")(func)


def tables_or_exit(history: str | None, allow_outside: bool, given: dict[str, str | None]) -> dict:
    """Each table of `given`: its option's file, else `--history`'s. A history file that cannot
    be used: its diagnostics on stderr and exit 1."""
    from ..ingest.history import HistoryError, tables_of
    from ..tables import TableError

    if history is None:
        missing = [f"--{table}" for table, path in given.items() if not path]
        if missing:
            raise click.UsageError(f"give --history, or {' and '.join(missing)}")
        return dict(given)
    try:
        found = tables_of(history, given, allow_outside, tuple(given))
    except HistoryError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    except TableError as error:
        raise click.UsageError(str(error)) from None
    return {table: found[table] for table in given}

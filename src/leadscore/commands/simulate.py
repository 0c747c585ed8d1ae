"""`leadscore simulate`: replay the history through a ruleset, or two, and report what changes
(docs/simulate.md)."""

from __future__ import annotations

import os
import re
import sys

import click

from ..safe_text import shown
from ..scratch import remove_stale_spill_folders, spill_folder
from ..semantics import DAY, UNIT_SECONDS
from ..signals import stopped_in_order
from ..simulator.engine_choice import DEFAULT_ENGINE, ENGINES, IN_DRIVER, EngineSettings, make_engine
from .common import check_spark_options, parse_instant, ruleset_at_revision, spark_options, sql_refused

_UNBOUNDED = 10_000      # columns: tables take their own width
_TABLE = click.Path(exists=True, dir_okay=False)
_FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def _horizon(ctx, param, value: str) -> float:
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw]?)\s*", value)
    if not found or float(found.group(1)) <= 0:
        raise click.BadParameter(f"{value!r} is not a duration: write a positive number of hours, days or "
                                 "weeks, e.g. 90d, 12h, 2w")
    return float(found.group(1)) * {**UNIT_SECONDS, "": DAY}[found.group(2)]


@click.command("simulate")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("--history", type=click.Path(exists=True),
              help="A folder holding the leads, events, outcomes (and changes) tables, or a history file "
                   "(.yaml) of DuckDB queries.")
@click.option("--allow-history-outside", is_flag=True,
              help="Let a history file's queries read files outside its folder (never the network).")
@click.option("--leads", "leads_path", type=_TABLE, help="The leads table (instead of the folder's).")
@click.option("--events", "events_path", type=_TABLE, help="The events table (instead of the folder's).")
@click.option("--outcomes", "outcomes_path", type=_TABLE, help="The outcomes table (instead of the folder's).")
@click.option("--changes", "changes_path", type=_TABLE, help="The field changes table (instead of the folder's).")
@click.option("--baseline", "baseline_path", type=click.Path(exists=True, dir_okay=False),
              help="Compare with this ruleset file (the baseline; RULESET is the candidate).")
@click.option("--against", metavar="REV", help="Compare with RULESET as it is at this Git revision.")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Override a constant (repeatable); applies to the candidate.")
@click.option("--sweep", metavar="NAME=START:STOP:STEP", help="Report every metric for each value of a constant.")
@click.option("--start", callback=parse_instant, metavar="DATE",
              help="Start of the window, or `now` (default: midnight UTC of the earliest timestamp).")
@click.option("--end", callback=parse_instant, metavar="DATE",
              help="End of the window, excluded, or `now` (default: the midnight after the latest event, change or lead creation).")
@click.option("--success", default="won", show_default=True, metavar="STAGE",
              help="The outcome stage that counts as success (any case).")
@click.option("--lost", metavar="STAGE",
              help="The outcome stage that counts as lost (any case) [default: lost].")
@click.option("--horizon", default="90d", show_default=True, callback=_horizon, metavar="DURATION",
              help="How long after crossing a success still counts (h, d or w).")
@click.option("--capacity", type=click.FloatRange(0), metavar="N",
              help="New MQLs sales can contact per week; weeks above it are counted.")
@click.option("--target", type=click.IntRange(1), metavar="N",
              help="Successes wanted: the funnel says how many leads and crossings they need.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json", "html"]),
              help="Report format (default: from the -o extension, else text).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to this file.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write the HTML report here.")
@click.option("--examples", type=click.IntRange(0), default=5, show_default=True, metavar="N",
              help="Flipped leads shown per threshold and kind of change.")
@click.option("--by", "by", multiple=True, metavar="FIELD",
              help="Every threshold metric per value of this lead field, or per `cohort` (month of the "
                   "lead's first instant); repeatable.")
@click.option("--leads-out", type=click.Path(dir_okay=False), metavar="FILE.csv",
              help="Write one row per lead with an instant in the window: its crossings, success and amount.")
@click.option("--flips-out", type=click.Path(dir_okay=False), metavar="FILE.csv",
              help="Write every lead that flips between the two variants, with the cause.")
@click.option("--strict", is_flag=True, help="Any row that cannot be used is an error (exit 1).")
@click.option("--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes (0: one per CPU).")
@click.option("--engine", "engine_name", type=click.Choice(sorted(ENGINES)), default=DEFAULT_ENGINE,
              show_default=True,
              help="python: the generated scorer, lead by lead; duckdb: every lead's instants in a few SQL "
                   "statements in DuckDB, in process (today slower than python); spark: the same statements on "
                   "Spark (pip install 'leadscore[spark]', Java 17+; --jobs is then its local mode's cores). "
                   "All give the same results. See docs/engines.md.")
@click.option("--memory-limit", default="2GB", show_default=True, metavar="SIZE",
              help="duckdb engine: each DuckDB's memory limit (one per worker process); beyond it, it "
                   "spills to a temporary folder.")
@spark_options()
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
@stopped_in_order()
def command(ruleset: str, history: str | None, allow_history_outside: bool, leads_path, events_path, outcomes_path,
            changes_path,
            baseline_path: str | None, against: str | None, settings: tuple[str, ...], sweep: str | None,
            start: float | None, end: float | None, success: str, lost: str | None, horizon: float, capacity: float | None,
            target: int | None, output_format: str | None, output: str | None, html_path: str | None,
            examples: int, by: tuple[str, ...], leads_out: str | None, flips_out: str | None, strict: bool, jobs: int, engine_name: str,
            memory_limit: str, spark_master: str | None, spark_remote: str | None, allow_schema_outside: bool) -> None:
    """Replay the history through RULESET and report, per threshold, how many leads cross,
    how many of them succeed, how early, and at what weekly volume.

    With --baseline or --against, or with --set alone, two variants are compared: each
    metric side by side, and the leads that flip. Exit status: 0 done, 1 a ruleset or table
    that cannot be used (or a bad row, with --strict), 2 usage error, 130 / 143 stopped by
    Ctrl-C / SIGTERM (temporary files removed).
    """
    from ..ingest.history import HistoryError
    from ..simulator import variants as v
    from ..simulator.history import HistoryFiles
    from ..simulator.run import Options, SweepRequest, simulate
    from ..engines import EngineError
    from ..tables import ProblemLog, TableError

    check_spark_options(engine_name, spark_master, spark_remote)
    remove_stale_spill_folders()
    if baseline_path and against:
        raise click.UsageError("give --baseline or --against, not both")
    if not history and not (leads_path and events_path and outcomes_path):
        raise click.UsageError("give --history DIR, or --leads, --events and --outcomes")
    if start is not None and end is not None and end <= start:
        raise click.UsageError("--end must come after --start")
    output_format = output_format or _FORMATS.get(os.path.splitext(output or "")[1].lower(), "text")
    if "html" in (output_format, "html" if html_path else None):
        _html_report()   # fails early, before a long replay, if the report module is missing
    try:
        found = _variants(v, ruleset, baseline_path, against, settings, allow_schema_outside)
        request = SweepRequest(*v.sweep_values(found[-1].checked, sweep)) if sweep else None
        by = _breakdowns(v, found[-1].checked.schema, by)
        if flips_out and len(found) < 2:
            raise v.UsageError("--flips-out needs two variants to compare: give --baseline, --against or --set")
        files = HistoryFiles.find(history, {"leads": leads_path, "events": events_path, "outcomes": outcomes_path,
                                            "changes": changes_path}, allow_history_outside)
    except v.UsageError as error:
        raise click.UsageError(shown(error)) from None
    except v.RulesetProblems as error:
        _diagnostics(error)
        sys.exit(1)
    except HistoryError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    except TableError as error:
        raise click.UsageError(shown(error)) from None
    if engine_name == "spark":
        _java_patterns(found)
    cores = jobs or _cpus()
    # an engine replaying in the driver gets --jobs as its own cores, and no worker processes
    workers = 1 if engine_name in IN_DRIVER else cores
    options = Options(success, horizon, start, end, capacity, target, workers, examples, by,
                      bool(flips_out), lost or "lost", lost is not None)
    log = ProblemLog(strict=strict)
    try:
        with spill_folder() as scratch, _Progress() as progress:
            engine = make_engine(engine_name, EngineSettings(cores, _cpus(), memory_limit, scratch, spark_master,
                                                             spark_remote))
            simulation = simulate(found, files, options, log, request, progress, engine)
    except EngineError as error:
        click.echo(shown(f"error: {error}"), err=True)
        sys.exit(1)
    except v.UsageError as error:
        raise click.UsageError(shown(error)) from None
    except TableError as error:
        _problems(log)
        click.echo(shown(f"error: {_table_error(error)}" + (" (--strict)" if error.problem and strict else "")),
                   err=True)
        sys.exit(1)
    if not (output_format == "text" and output is None):
        _problems(log)   # a text report on standard output lists them itself
    _write(simulation, options, log, output_format, output, html_path)
    _lead_tables(simulation, leads_out, flips_out)


def _variants(v, ruleset: str, baseline_path, against, settings, allow_outside) -> list:
    from ..dsl.formatter import name as written

    current, _ = v.load_file(ruleset, allow_outside)
    overrides = v.parse_settings(settings)
    described = "".join(f" --set {written(name)}={text}" for name, text in overrides)   # `mql bar`=60
    candidate = v.Variant("candidate", v.override(current, overrides) if overrides else current,
                          ruleset + described)
    if baseline_path:
        return [v.Variant("baseline", v.load_file(baseline_path, allow_outside)[0], baseline_path), candidate]
    if against:
        return [v.Variant("baseline", ruleset_at_revision(ruleset, against, allow_outside), f"{ruleset} @ {against}"),
                candidate]
    if overrides:
        return [v.Variant("baseline", current, ruleset), candidate]
    return [v.Variant("baseline", current, ruleset)]


def _java_patterns(variants) -> None:
    """Exit 1, before anything is read, at the first `matches` pattern Spark's Java regexes would
    read differently from RE2 (as `score --engine spark`)."""
    from ..engines.sql import SqlUnsupported
    from ..engines.sql.dialects import check_patterns
    from ..lower import lower

    for variant in variants:
        try:
            check_patterns(lower(variant.checked), "spark")
        except SqlUnsupported as refused:
            sql_refused(variant.checked.ruleset.file, refused)


def _breakdowns(v, schema, by: tuple[str, ...]) -> tuple[str, ...]:
    """The --by names, each once: lead fields of the schema, or `cohort`."""
    from ..simulator.breakdowns import COHORT

    for name in by:
        if name not in schema.fields and name != COHORT:
            known = ", ".join(list(schema.fields) + [COHORT])
            raise v.UsageError(f"--by {name}: the schema has no lead field of that name (give one of: {known})")
    return tuple(dict.fromkeys(by))


def _diagnostics(error) -> None:
    from ..dsl.diagnostics import render_each, sort_key

    errors = sorted((d for d in error.diagnostics if d.is_error), key=sort_key)
    sources = {file: _source(error.sources, file) for file in {d.span.file for d in errors}}
    for text in render_each(errors, sources):
        click.echo(text, err=True)
    count = sum(d.is_error for d in error.diagnostics)
    click.echo(shown(f"{error}: {count} error{'s' * (count != 1)}"), err=True)


def _source(sources: dict[str, str], file: str) -> str:
    """The text a diagnostic points into: a `--set` value or a Git revision's file as read, else
    the rule file on disk (an error that only a `--set` value reveals points into it)."""
    if file in sources:
        return sources[file]
    from ..loader import read_text

    text, _ = read_text(file, file)     # the one reader of untrusted files: regular files, size-limited
    return text or ""


def _table_error(error) -> str:
    from ..simulator.results import problem_text

    return problem_text(error.problem) if error.problem is not None else str(error)


def _problems(log) -> None:
    from ..simulator.results import problems

    for found in problems(log):
        first = f" (first: {found['first']})" if found["first"] else ""
        click.echo(shown(f"note: {found['table']}: {found['count']:,} × {found['kind'].replace('_', ' ')}{first}"),
                   err=True)


def _html_report():
    try:
        from ..simulator.report_html import html_report
    except ImportError:
        raise click.UsageError("the HTML report is not available in this installation") from None
    return html_report


def _write(simulation, options, log, output_format: str, output: str | None, html_path: str | None) -> None:
    from ..simulator.render_json import render_json
    from ..simulator.results import result_json
    from .common import write_atomically

    result = result_json(simulation, options, log)
    try:
        if html_path:
            write_atomically(html_path, _html_report()(result))
            click.echo(f"wrote {html_path}", err=True)
        if output_format == "text":
            _text(result, output)
            return
        if output_format == "json":
            text = render_json(result)
        elif output_format == "markdown":
            from ..simulator.render_markdown import render_markdown
            text = render_markdown(result)
        else:
            text = _html_report()(result)
        if output:
            write_atomically(output, text)
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)
    except OSError as error:
        click.echo(shown(f"error: {error.filename or output}: {error.strerror or error}"), err=True)
        sys.exit(1)


def _lead_tables(simulation, leads_out: str | None, flips_out: str | None) -> None:
    from ..simulator.lead_tables import flips_csv, leads_csv
    from .common import write_atomically

    for path, make in ((leads_out, leads_csv), (flips_out, flips_csv)):
        if not path:
            continue
        try:
            write_atomically(path, make(simulation))
        except OSError as error:
            click.echo(shown(f"error: {error.filename or path}: {error.strerror or error}"), err=True)
            sys.exit(1)
        click.echo(shown(f"wrote {path}"), err=True)


def _text(result: dict, output: str | None) -> None:
    import io

    from rich.console import Console

    from ..simulator.render_text import render_text
    from .common import write_atomically

    if output is None:
        # Piped (a CI log): as wide as the tables are, not cut at 80 columns.
        render_text(result, Console(highlight=False, soft_wrap=False,
                                    width=None if sys.stdout.isatty() else _UNBOUNDED))
        return
    buffer = io.StringIO()
    render_text(result, Console(file=buffer, width=_UNBOUNDED, color_system=None, highlight=False))
    write_atomically(output, buffer.getvalue())
    click.echo(f"wrote {output}", err=True)


class _Progress:
    """A progress bar on standard error when it is a terminal, for any replay still running after
    DELAY seconds (buckets done of all; one bucket shows as a moving bar)."""

    DELAY = 1.0

    def __enter__(self):
        import threading

        self.bar = None
        self.done, self.total = 0, None
        self.lock = threading.Lock()
        self.timer = None
        if sys.stderr.isatty():
            self.timer = threading.Timer(self.DELAY, self.show)
            self.timer.daemon = True
            self.timer.start()
        return self.update

    def show(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with self.lock:
            if self.bar is not None or self.timer is None:
                return
            self.bar = Progress("replaying", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("replay", total=self.total if self.total and self.total > 1 else None,
                                          completed=self.done)

    def update(self, done: int, total: int) -> None:
        with self.lock:
            self.done, self.total = done, total
            if self.bar is not None and total > 1:
                self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.bar is not None:
                self.bar.stop()


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

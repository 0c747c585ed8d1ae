"""The engines that count calibration signals (docs/calibrate.md, `--engine`). Each reads the
history tables with the project's readers, in the same order, and gives the same Tally, which
calibrate.summarise turns into rates, intervals and suggestions.

An engine is a function (plan, tables, log, options, settings) -> Tally. A SQL engine is the
statements of calibrate_sql.py on a runner (calibrate_sql.Runner): another SQL engine is one
more entry of ENGINES, `_in_sql(its runner)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # the command lists the engines without loading them
    from ..tables import ProblemLog
    from .calibrate import Options, Plan, Tally
    from .calibrate_sql import Runner


class EngineFailed(Exception):
    """A SQL engine could not run (a bad memory limit, memory exhausted, Spark missing or
    failing): said in one line."""


@dataclass(frozen=True)
class Settings:
    memory_limit: str = "2GB"          # duckdb: its memory limit, spilling beyond it
    spark_master: str | None = None    # spark: a cluster's master URL, else local mode
    spark_remote: str | None = None    # spark: a Spark Connect server (sc://host:port)
    threads: int = 1                   # spark: local mode's cores


def python_tally(plan: Plan, tables: Mapping, log: ProblemLog, options: Options, settings: Settings) -> Tally:
    from ..tables import read_events, read_leads, read_outcomes
    from .calibrate import count_signals

    schema = plan.checked.schema
    return count_signals(plan, read_outcomes(tables["outcomes"], log, id_column=schema.id_column),
                         read_leads(tables["leads"], schema, log),
                         lambda known: read_events(tables["events"], schema, log, known_leads=known), options)


def _in_sql(runner: Callable[[Settings], AbstractContextManager[Runner]]) -> Callable[..., Tally]:
    def tally(plan: Plan, tables: Mapping, log: ProblemLog, options: Options, settings: Settings) -> Tally:
        from .calibrate_sql import Inputs, tally_in_sql
        from .calibrate_tables import load_history

        inputs = Inputs.of(plan)
        with runner(settings) as run:
            load_history(plan, inputs, tables, log, options, run)
            return tally_in_sql(plan, options, inputs, run)
    return tally


@contextmanager
def _duckdb(settings: Settings) -> Iterator[Runner]:
    from ..engines.duckdb_runner import duckdb_runner
    from ..engines import EngineError

    try:
        with duckdb_runner(settings.memory_limit) as run:
            yield run
    except EngineError as error:
        raise EngineFailed(str(error)) from None


@contextmanager
def _spark(settings: Settings) -> Iterator[Runner]:
    from ..engines.spark_runner import spark_runner
    from ..engines import EngineError
    from ..engines.sql import SqlUnsupported

    try:
        with spark_runner(settings.spark_master, settings.spark_remote, settings.threads) as run:
            yield run
    except (EngineError, SqlUnsupported) as error:   # SqlUnsupported: a pattern Java reads differently
        raise EngineFailed(str(error)) from None


ENGINES: dict[str, Callable[..., Tally]] = {"python": python_tally, "duckdb": _in_sql(_duckdb),
                                            "spark": _in_sql(_spark)}

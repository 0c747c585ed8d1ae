"""`simulate --engine`: the replay engines by name, each built for one run (docs/engines.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .engine import Engine


@dataclass(frozen=True)
class EngineSettings:
    jobs: int                   # --jobs: the run's worker processes (IN_DRIVER engines: their cores)
    cpus: int
    memory_limit: str           # per DuckDB (one per worker process)
    scratch: str | None         # the run's spill folder
    spark_master: str | None = None     # spark: a cluster's master URL
    spark_remote: str | None = None     # spark: a Spark Connect server (sc://host:port)


def _python(settings: EngineSettings) -> Engine:
    from .python_backend import PythonEngine

    return PythonEngine()


def _duckdb(settings: EngineSettings) -> Engine:
    from .duckdb_backend import DuckDBEngine

    # the workers share the CPUs: each DuckDB gets its part of them
    return DuckDBEngine(settings.memory_limit, settings.scratch, max(1, settings.cpus // max(1, settings.jobs)))


def _spark(settings: EngineSettings) -> Engine:
    from .spark_backend import SparkEngine

    return SparkEngine(settings.spark_master, settings.spark_remote, settings.jobs)


ENGINES: dict[str, Callable[[EngineSettings], Engine]] = {"python": _python, "duckdb": _duckdb, "spark": _spark}
# engines whose buckets are replayed in this process whatever --jobs says: a Spark session
# never crosses a fork, and Spark spreads each statement over its own cores
IN_DRIVER = frozenset({"spark"})
# duckdb: the faster replay at every size measured (1.4x to 1.9x the Python engine on 100,000
# leads, 1.1x to 1.5x on 10,000), flat in cost on a lead with a very long history
# (docs/engines.md, "How the DuckDB replay chooses its instants")
DEFAULT_ENGINE = "duckdb"


def make_engine(name: str, settings: EngineSettings) -> Engine:
    return ENGINES[name](settings)

"""The Spark engine: the program's SQL statement (engines/sql), written in Spark's dialect from
the same sqlglot tree, run by Spark SQL over Arrow tables registered as temporary views.

Everything about the Spark session is here, at the edge: starting one (local mode, a cluster's
master, or Spark Connect), its settings, and turning Spark's and Java's failures into one line
(EngineError). `run_select_spark` runs any statement built by engines/sql over named Arrow
tables; `SparkBackend` offers the api.Backend interface.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from .. import lower as lo
from . import EngineError
from .duckdb_engine import SqlBackend
from .sql import build_select
from .sql.dialects import dialect_sql

INSTALL = "pip install 'leadscore[spark]'"
JAVA_INSTALL = "Java 17 or later (Debian/Ubuntu: apt-get install openjdk-17-jre-headless), or set JAVA_HOME"
# Settings on every session (a cluster's or Connect's too): the session's time zone never
# enters a result (ages are epoch-second differences), but UTC keeps the TIMESTAMP columns as
# the files say; field names differing only in case are different columns.
_SQL_SETTINGS = {"spark.sql.session.timeZone": "UTC", "spark.sql.caseSensitive": "true"}


def spark_session(master: str | None = None, remote: str | None = None, threads: int = 1):
    """A Spark session: Spark Connect at `remote` (sc://host:port), else the cluster at `master`,
    else local mode with `threads` cores. Raises EngineError when pyspark, its Connect
    packages or Java are missing, or when Spark cannot start."""
    try:
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(f"the spark engine needs pyspark: {INSTALL}") from None
    if remote is not None:
        return _connect_session(remote)
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise EngineError(f"the spark engine needs {JAVA_INSTALL}")
    builder = _jvm_builder(SparkSession.builder, master, threads)
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as jvm_output:
        try:
            with _stderr_to(jvm_output):
                session = builder.getOrCreate()
            for key, value in _SQL_SETTINGS.items():
                session.conf.set(key, value)
        except (PySparkException, OSError) as error:
            jvm_output.seek(0)
            said = [line.strip() for line in jvm_output.read().splitlines() if line.strip()]
            raise EngineError(f"spark could not start: {said[-1] if said else _first_line(error)}") from None
    return session


# this process's session of each Connect server, by URL (Connect's getOrCreate would hand
# back the first session whatever the URL)
_connect_sessions: dict[str, Any] = {}


def _connect_session(remote: str):
    """A session of the Spark Connect server at `remote`. Connect's own builder, not
    SparkSession.builder.remote: that one refuses when this process already has a local session
    and turns the whole process into a Connect client (SPARK_CONNECT_MODE_ENABLED)."""
    try:
        from pyspark.sql.connect.utils import check_dependencies

        # pyspark 4.0 names the module it checks for; from 4.1 it takes no argument
        check_dependencies(*(("pyspark.sql.connect",) if inspect.signature(check_dependencies).parameters else ()))
        from pyspark.sql.connect.client.retries import DefaultPolicy
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError as missing:
        raise EngineError(f"--spark-remote needs Spark Connect's packages ({missing}): {INSTALL}") from None
    session = _connect_sessions.get(remote)
    if session is not None and not session.is_stopped:
        return session
    with spark_errors("spark could not reach the Spark Connect server at " + remote):
        # create, not getOrCreate: that one returns the process's first session whatever the URL
        session = ConnectSession.builder.remote(remote).create()
        # Connect retries an unreachable server for ten minutes: the first call (the settings)
        # gives up after a few seconds; the run's later calls keep Connect's patience
        patient = session.client.get_retry_policies()
        session.client.set_retry_policies([DefaultPolicy(max_retries=4)])
        try:
            # pyspark 4.3 also warns of the spent retries: the one-line error below says it all
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
                for key, value in _SQL_SETTINGS.items():
                    session.conf.set(key, value)
        finally:
            session.client.set_retry_policies(patient)
    _connect_sessions[remote] = session
    return session


@contextmanager
def _stderr_to(file):
    """Standard error (file descriptor 2) goes to `file` meanwhile, and stays there for the
    processes started meanwhile: the JVM's start-up notes (its banner, log4j's, the JDK's)
    never reach the user's terminal; they are read back only when the start fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _jvm_builder(builder, master: str | None, threads: int):
    # Spark's own logging goes to this file's settings: errors reach the user as one line
    # of ours, not as log4j output on the terminal
    option = f"-Dlog4j2.configurationFile={_log_config()}"
    builder = (builder.appName("leadscore")
               .config("spark.driver.extraJavaOptions", java_option_text(option))
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.warehouse.dir", _warehouse()))
    if master is None:
        # one machine: no network beyond loopback, and as many shuffle partitions as cores
        # (Spark's default of 200 is for clusters and costs seconds on a small table)
        builder = (builder.master(f"local[{max(1, threads)}]")
                   .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.sql.shuffle.partitions", str(max(1, threads))))
    else:
        builder = builder.master(master)
    return builder


@functools.cache
def _warehouse() -> str:
    """The session's warehouse folder (a file: URL): an empty scratch folder of this process's,
    removed at exit. Spark's default is `spark-warehouse` in the working directory, which Spark
    creates when its catalog starts; leadscore keeps only temporary views, so nothing is stored."""
    folder = tempfile.mkdtemp(prefix="leadscore-spark-warehouse-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder).as_uri()


def _log_config() -> str:
    return str(resources.files("leadscore.engines").joinpath("spark-log4j2.properties"))


def java_option_text(option: str) -> str:
    """`option` as one word of spark.*.extraJavaOptions, which Spark's launcher splits at
    white space and reads quotes and backslashes in: each of those escaped (a path with a
    space, a quote or a backslash stays one option)."""
    return "".join("\\" + c if c.isspace() or c in "\\\"'" else c for c in option)


def spark_sql(select: exp.Expression) -> str:
    """A statement built by engines/sql in Spark's dialect (regexes in Java's syntax)."""
    return dialect_sql(select.copy(), "spark")


def run_select_spark(session, select: exp.Expression, tables: dict[str, pa.Table]) -> pa.Table:
    """Run `select` on `session` with each of `tables` as the temporary view of its name: the
    result as an Arrow table, rows in no particular order. Raises EngineError when Spark fails,
    SqlUnsupported for a pattern Java would read differently (check_patterns says where)."""
    return run_sql_spark(session, spark_sql(select), tables)


def run_sql_spark(session, sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    """As run_select_spark, for a statement already in Spark's dialect."""
    with spark_errors():
        for name, table in tables.items():
            dataframe(session, table).createOrReplaceTempView(name)
        try:
            return session.sql(sql).toArrow()
        finally:
            for name in tables:
                session.catalog.dropTempView(name)


def dataframe(session, table: pa.Table):
    """`table` as a DataFrame of `session`. An empty table with its schema in Spark's types:
    Spark Connect infers a schema from the rows, and refuses a table without any."""
    if table.num_rows:
        return session.createDataFrame(table)
    from pyspark.sql.pandas.types import from_arrow_schema

    return session.createDataFrame(table, schema=from_arrow_schema(table.schema))


@contextmanager
def spark_errors(said: str = "spark") -> Iterator[None]:
    """Spark's, the JVM bridge's and Spark Connect's failures within, as one-line EngineErrors
    (`said`: the first line of Spark's message)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    _quiet_query_context_loggers()
    try:
        yield
    except (PySparkException, Py4JError) as error:
        raise EngineError(f"{said}: {_first_line(error)}") from None


def _quiet_query_context_loggers() -> None:
    """pyspark logs a failed query's error and Java stack trace on stderr before raising it
    (on Spark Connect, as JSON): the error reaches the user once, as spark_errors' line."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


# a Spark Connect failure that never reached Spark SQL (the server out of memory, a message
# too large) says only gRPC's details, inside the call's repr
_GRPC_DETAILS = re.compile(r'^<_\w+ of RPC that terminated with:.*?\bdetails = "([^"\n]*)"', re.DOTALL)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    grpc = _GRPC_DETAILS.match(text)
    return grpc.group(1) if grpc else (text.splitlines() or [type(error).__name__])[0]


class SparkBackend(SqlBackend):
    """api.Backend on Spark: the local session of this process (started on first use) unless
    one is given."""

    name = "spark"

    def __init__(self, program: lo.ScoringProgram, schema=None, session: Any = None) -> None:
        super().__init__(program, schema)
        self._session = session

    def _statement(self, instant: float, explain: bool) -> str:
        return spark_sql(build_select(self.program, self._key, instant, explain))

    def _run(self, statement: str, leads: pa.Table, events: pa.Table) -> pa.Table:
        if self._session is None:
            self._session = spark_session()
        return run_sql_spark(self._session, statement, {"leads": leads, "events": events})

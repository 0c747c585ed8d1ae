"""Fixtures shared across test files: one local Spark session and one Spark Connect server for
the whole run."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
CONNECT_START_SECONDS = 180


def _unavailable(reason: str):
    """Skip, saying why, unless LEADSCORE_REQUIRE_SPARK=1 (as in CI): then a failure."""
    if os.environ.get("LEADSCORE_REQUIRE_SPARK") == "1":
        pytest.fail(f"LEADSCORE_REQUIRE_SPARK=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def spark():
    """The run's local Spark session (2 cores)."""
    from leadscore.engines import EngineError

    if importlib.util.find_spec("pyspark") is None:
        _unavailable("pyspark is not installed (pip install 'leadscore[spark]')")
    from leadscore.engines.spark_engine import spark_session

    try:
        session = spark_session(threads=2)
    except EngineError as error:
        _unavailable(str(error))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_remote(tmp_path_factory):
    """sc://localhost:PORT: the run's Spark Connect server, started once (pyspark's spark-submit
    with the Connect server class, local mode, 2 cores, loopback only, a free port) and stopped
    at the end of the run. Its log is in the run's temporary folder."""
    if importlib.util.find_spec("pyspark") is None:
        _unavailable("pyspark is not installed (pip install 'leadscore[spark]')")
    from leadscore.engines import EngineError
    from leadscore.engines.spark_engine import spark_session

    try:
        from pyspark.sql.connect.utils import check_dependencies  # noqa: F401
        import grpc  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as missing:
        _unavailable(f"Spark Connect's client packages are missing ({missing}): pip install 'leadscore[spark]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    server = _start_connect_server(port, log)
    try:
        _wait_for(server, port, log)
        url = f"sc://localhost:{port}"
        try:
            session = spark_session(remote=url)
        except EngineError as error:
            _unavailable(f"{error} (server log: {log})")
        yield url
        session.stop()
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_connect_server(port: int, log: Path) -> subprocess.Popen:
    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    settings = {"spark.connect.grpc.binding.port": port, "spark.connect.grpc.binding.address": "127.0.0.1",
                "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
                "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": 2,
                # the server's catalog folder beside its log, not in the working directory
                "spark.sql.warehouse.dir": (log.parent / "warehouse").as_uri()}
    command = [str(submit), "--class", CONNECT_SERVER, "--master", "local[2]", "--name", "leadscore-tests"]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    # exec: terminate() reaches the JVM itself, not the launcher script
    with open(log, "wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "SPARK_HOME": str(submit.parent.parent)})


def _wait_for(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + CONNECT_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            _unavailable(f"the Spark Connect server stopped at start (exit {server.returncode}; log: {log})")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    _unavailable(f"the Spark Connect server did not listen on port {port} within {CONNECT_START_SECONDS} s "
                 f"(log: {log})")

"""Fixtures shared across test files: one Spark session for the whole run."""

from __future__ import annotations

import importlib.util
import os

import pytest


@pytest.fixture(scope="session")
def spark():
    """The run's local Spark session (2 cores). Skipped, saying why, when pyspark or Java is
    missing, unless LEADSCORE_REQUIRE_SPARK=1 (as in CI), which makes that a failure."""
    from leadscore.engines import EngineError

    required = os.environ.get("LEADSCORE_REQUIRE_SPARK") == "1"
    if importlib.util.find_spec("pyspark") is None:
        reason = "pyspark is not installed (pip install 'leadscore[spark]')"
        pytest.fail(f"LEADSCORE_REQUIRE_SPARK=1 but {reason}") if required else pytest.skip(reason)
    from leadscore.engines.spark_engine import spark_session

    try:
        session = spark_session(threads=2)
    except EngineError as error:
        pytest.fail(f"LEADSCORE_REQUIRE_SPARK=1 but {error}") if required else pytest.skip(str(error))
    yield session
    session.stop()

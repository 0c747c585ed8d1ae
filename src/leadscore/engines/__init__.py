"""Engines that score outside Python: the lowered program as one SQL statement (sql/), run in
process by DuckDB (duckdb_engine.py), on Spark (spark_engine.py), or written out for a
warehouse (`compile --target sql`)."""


class EngineError(Exception):
    """An engine could not run the statement (out of memory, a bad --memory-limit, Spark or
    Java missing): said as one line."""

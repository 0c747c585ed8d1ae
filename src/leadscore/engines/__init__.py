"""Engines that score outside Python: the lowered program as one SQL statement (sql/), run in
process by DuckDB (duckdb_engine.py) or written out for a warehouse (`compile --target sql`)."""

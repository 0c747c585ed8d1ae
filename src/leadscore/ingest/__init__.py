"""Getting real data in: histories described by DuckDB queries (`history`) and a starting
schema inferred from the tables (`infer`)."""

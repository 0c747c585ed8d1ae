"""Scoring every lead of the history tables at one instant (docs/scoring.md).

`spill` reads the tables once and buckets them by lead, `bucket` scores one bucket with the
compiled scorer, `pipeline` runs the buckets and writes the rows in input order, `output`
formats them, `summary` is what a run reports.
"""

__all__ = ["Summary", "score_tables"]


def __getattr__(name: str):
    # the pipeline is loaded on first use: the duckdb and spark engines need only `output`
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

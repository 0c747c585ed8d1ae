"""Scoring every lead of the history tables at one instant (docs/scoring.md).

`spill` reads the tables once and buckets them by lead, `bucket` scores one bucket with the
compiled scorer, `pipeline` runs the buckets and writes the rows in input order, `output`
formats them.
"""

from .pipeline import Summary, score_tables

__all__ = ["Summary", "score_tables"]

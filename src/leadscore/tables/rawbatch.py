"""A batch of a table's rows as read, before typing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Batch:
    cols: dict            # column name -> pyarrow array, or Python list (JSONL lines pyarrow refused)
    n: int
    row_of: object        # batch index -> row number in the file
    pre: list             # [(row, column, reason, kind)] found while reading (malformed rows)

"""Unusable rows and cells: counted per (table, kind), the first few kept with file and row."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from .convert import show_value

_NOTES = {"unknown_column", "score_overflow"}   # counted, but not unusable rows: strict lets them pass
_PHRASES = {
    "bad_value": ("value that does not fit its type", "values that do not fit their type"),
    "bad_timestamp": ("row with an unusable time", "rows with an unusable time"),
    "unknown_lead": ("row for an unknown lead", "rows for an unknown lead"),
    "unknown_event_type": ("row with an unknown event type", "rows with an unknown event type"),
    "duplicate_lead": ("repeated lead id (first row kept)", "repeated lead ids (first rows kept)"),
    "missing_column": ("missing column", "missing columns"),
    "bad_row": ("row that could not be used", "rows that could not be used"),
    "unknown_column": ("unknown column ignored", "unknown columns ignored"),
    "score_overflow": ("lead with a score too large to represent (written as missing)",
                       "leads with a score too large to represent (written as missing)"),
}


@dataclass(frozen=True, slots=True)
class RowProblem:
    table: str
    file: str
    row: int
    column: str | None
    reason: str
    kind: str

    def __str__(self) -> str:
        column = f"{self.column}: " if self.column and self.kind == "bad_value" else ""
        return f"{self.file}:{self.row} {column}{self.reason}"


class TableError(Exception):
    def __init__(self, what: RowProblem | str):
        self.problem = what if isinstance(what, RowProblem) else None
        super().__init__(str(what))


class ProblemLog:
    """Counts every unusable row/cell per (table, kind) and keeps the first `keep` examples of each."""

    def __init__(self, keep: int = 10, strict: bool = False):
        self.keep, self.strict = keep, strict
        self.counts: dict[tuple[str, str], int] = {}
        self.examples: list[RowProblem] = []
        self._held: dict[str, ProblemLog] = {}

    def add(self, problem: RowProblem) -> None:
        held = self._held.get(problem.kind)
        if held is not None:
            held.add(problem)
            return
        if self.strict and problem.kind not in _NOTES:
            raise TableError(problem)
        key = (problem.table, problem.kind)
        self.counts[key] = seen = self.counts.get(key, 0) + 1
        if seen <= self.keep:
            self.examples.append(problem)

    def add_counted(self, first: list[RowProblem], count: int) -> None:
        """`count` problems of one table and kind found elsewhere (a worker process), of which
        `first` are the first in file order."""
        for problem in first:
            self.add(problem)
        if first and count > len(first):
            key = (first[0].table, first[0].kind)
            self.counts[key] += count - len(first)

    @contextmanager
    def holding(self, *kinds: str):
        """Problems of `kinds` found inside the block are added when it ends well, kind by kind
        in the order given (raising then in strict mode): an engine that finds them while reading
        reports them where the Python engine does, which finds them after reading both tables."""
        self._held = {kind: ProblemLog(max(1, self.keep)) for kind in kinds}
        try:
            yield
        finally:
            held, self._held = self._held, {}
        for kind in kinds:
            if held[kind].examples:
                self.add_counted(held[kind].examples, held[kind].total())

    def total(self) -> int:
        return sum(self.counts.values())

    def summary_lines(self) -> list[str]:
        lines = []
        for (table, kind), n in self.counts.items():
            first = next(p for p in self.examples if (p.table, p.kind) == (table, kind)) if self.keep else None
            phrase = _PHRASES.get(kind, (kind, kind))[n != 1]
            lines.append(f"{table}: {n} {phrase}" + (f" (first: {first})" if first else ""))
        return lines


def repeated_lead(lead: str) -> str:
    return f"lead `{show_value(lead)}` repeated; its first row is kept"


def overflowed_lead(lead: str) -> str:
    return f"lead `{show_value(lead)}`: a score too large to represent is missing"


def unknown_lead(lead: str) -> str:
    return f"unknown lead `{show_value(lead)}`"

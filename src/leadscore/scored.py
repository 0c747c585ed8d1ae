"""`ScoredLeads`: the results of many leads, as `Backend.evaluate_many` returns them to the
batch loop and `leadscore score` writes them (batch/output.py).

Per lead, in the order given: its scores, thresholds and segments as tuples in declaration
order, and, when asked, its reasons as (score, rule, points, kind, events) tuples. Kept as
tuples, not `Result`s: the rows are formatted a column at a time from them, for every lead of
a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from .compiler.runtime import Result


@dataclass(frozen=True)
class ScoredLeads:
    scores: list[tuple]              # per lead: float | None per score
    thresholds: list[tuple]          # per lead: bool per threshold
    segments: list[tuple]            # per lead: label | None per segment
    reasons: list[tuple] | None      # per lead: its reason tuples; None unless explained

    def __len__(self) -> int:
        return len(self.scores)

    @staticmethod
    def of_tuples(evaluated: list[tuple], explain: bool) -> ScoredLeads:
        """From (scores, thresholds, segments, reasons) per lead, as generated code returns them."""
        if not evaluated:
            return ScoredLeads([], [], [], [] if explain else None)
        scores, thresholds, segments, reasons = map(list, zip(*evaluated))
        return ScoredLeads(scores, thresholds, segments, reasons if explain else None)

    @staticmethod
    def of_results(results: list[Result], explain: bool) -> ScoredLeads:
        return ScoredLeads([tuple(r.scores.values()) for r in results],
                           [tuple(r.thresholds.values()) for r in results],
                           [tuple(r.segments.values()) for r in results],
                           [tuple((x.score, x.rule, x.points, x.kind, x.events) for x in r.reasons) for r in results]
                           if explain else None)

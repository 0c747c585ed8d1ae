"""The replay engine's interface: one bucket of leads and one ruleset variant in, columns out.

A backend computes, for every lead of a bucket (docs/simulate.md): the crossing instant of
each threshold, the first instant each segment label was reached, and the scores,
thresholds and segments at the lead's last instant. Asked to, it also records the scores
and thresholds at every instant where a recorded threshold could first hold (a sweep
evaluates its values over these paths). The Python backend (`python_backend`) runs the
compiled scorer lead by lead; a columnar backend can take its place behind `Engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..api import Scorer
from ..compiler.analysis import ReplayAnalysis
from ..compiler.python import generate
from ..dsl.checker import CheckedRuleset
from ..lower import lower
from .history import Bucket


@dataclass(frozen=True)
class Window:
    start: float
    end: float          # excluded; no instant of a replay lies at or after it


@dataclass
class Plan:
    """One variant, compiled for replay."""

    name: str
    checked: CheckedRuleset
    scorer: Scorer
    analysis: ReplayAnalysis
    labels: tuple[tuple[str, ...], ...]      # per segment, its labels in line order (distinct: LS203)
    record: tuple[int, ...] = ()             # thresholds whose paths a sweep reads

    @staticmethod
    def of(name: str, checked: CheckedRuleset, record: tuple[int, ...] = (),
           unknown: frozenset[str] = frozenset()) -> Plan:
        program = lower(checked)
        analysis = ReplayAnalysis(checked, unknown, program)
        fixed = frozenset(name for kind, name in analysis.fixed_names if kind == "score")
        scorer = Scorer(generate(checked, analysis.atoms, fixed, program))
        labels = tuple(tuple(label.label for label in s.labels) for s in program.segments)
        return Plan(name, checked, scorer, analysis, labels, record)

    @property
    def thresholds(self) -> tuple[str, ...]:
        return self.scorer.thresholds

    @property
    def scores(self) -> tuple[str, ...]:
        return self.scorer.scores

    @property
    def segments(self) -> tuple[str, ...]:
        return self.scorer.segments


@dataclass(frozen=True)
class Recording:
    """Scores and thresholds at recorded instants, rows of one lead together in time order."""

    lead: np.ndarray            # int64: the lead's index in the bucket
    at: np.ndarray              # float64
    scores: np.ndarray          # (rows, scores) float64, nan when missing
    thresholds: np.ndarray      # (rows, thresholds) bool


@dataclass(frozen=True)
class Replayed:
    """One variant's replay of one bucket; nan where there is no such instant."""

    crossings: np.ndarray                   # (leads, thresholds)
    first_labels: list[np.ndarray]          # per segment: (leads, labels)
    final_scores: np.ndarray                # (leads, scores), nan when missing or no instant
    final_thresholds: np.ndarray            # (leads, thresholds) bool
    final_segments: np.ndarray              # (leads, segments) int: label index, -1 when missing
    evaluations: int
    recording: Recording | None = None


@dataclass(frozen=True)
class Evaluated:
    """Results of (lead, instant) pairs, row i for pair i."""

    scores: np.ndarray          # (rows, scores) float64, nan when missing
    thresholds: np.ndarray      # (rows, thresholds) bool
    segments: np.ndarray        # (rows, segments) int64: label index, -1 when missing
    points: np.ndarray | None = None     # with reasons: (rows, reasons) float64, each one's points
    reasons: tuple[str, ...] = ()        # with reasons: `score.rule` of each column of `points`


class Engine(Protocol):
    def replay(self, bucket: Bucket, plan: Plan, window: Window) -> Replayed:
        """Every lead of the bucket through the variant, at the instants that can matter."""

    def evaluate_at(self, bucket: Bucket, lead: int, plan: Plan, instant: float) -> tuple:
        """One lead's result at one instant, with reasons: (scores, thresholds, segments, reasons)."""

    def evaluate_many(self, bucket: Bucket, plan: Plan, rows: np.ndarray, instants: np.ndarray,
                      reasons: bool = False) -> Evaluated:
        """Lead rows[i] (of the bucket) at instants[i], for every i, in one call."""

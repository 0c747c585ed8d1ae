"""The values `leadscore test` passes from stage to stage.

loader: test file -> CaseFile; runner: CaseFile + scorer -> CaseOutcome;
coverage: outcomes -> Coverage; report: everything -> text or JSON.
Times are epoch seconds (UTC), the runtime's representation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..compiler.runtime import Result
from ..dsl.diagnostics import Span

# When neither the file, the case nor the score says otherwise, a score passes
# when it equals the expected value as `leadscore` displays it (2 decimals).
DEFAULT_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class ScoreExpectation:
    name: str
    value: float | None        # None: the score must be missing
    tolerance: float
    span: Span                 # the expected value in the test file


@dataclass(frozen=True, slots=True)
class OutcomeExpectation:
    """A threshold (bool) or a segment (label, None for missing)."""

    name: str
    value: bool | str | None
    span: Span


@dataclass(frozen=True, slots=True)
class FiringExpectation:
    rule: str
    fires: bool                # True: must fire; False: must not fire
    span: Span


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    span: Span                 # where the case starts
    as_of: float
    lead: Mapping[str, Any]    # field -> value as the API takes it (times as epoch seconds)
    events: tuple[Mapping[str, Any], ...]   # {"type", "at", "properties"}, as the API takes them
    scores: tuple[ScoreExpectation, ...]
    thresholds: tuple[OutcomeExpectation, ...]
    segments: tuple[OutcomeExpectation, ...]
    firing: tuple[FiringExpectation, ...]


@dataclass(frozen=True, slots=True)
class CaseFile:
    path: str
    ruleset: str               # the rule file's path, as shown to the user
    cases: tuple[Case, ...]
    # Cases left out because of problems in the test file (name, where it starts).
    invalid: tuple[tuple[str, Span], ...] = ()


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One expectation the result did not meet."""

    what: str                  # "score `fit`", "threshold `mql`", "rule `free_email`"
    expected: str
    actual: str
    span: Span


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    file: str
    ruleset: str
    case: Case
    result: Result
    branches: Mapping[str, int | None]   # case rule -> index of the branch chosen (0-based)
    mismatches: tuple[Mismatch, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True, slots=True)
class CoverageItem:
    """A rule, or one branch of a case rule, that a test can make fire."""

    score: str
    rule: str
    branch: int | None         # 0-based branch index; None for the rule itself
    span: Span
    text: str                  # the branch as written, for the report ("" for a rule)

    @property
    def label(self) -> str:
        if self.branch is None:
            return f"{self.score}.{self.rule}"
        return f"{self.score}.{self.rule} branch {self.branch + 1}: {self.text}"


@dataclass(frozen=True, slots=True)
class LabelItem:
    """A segment label that a test can make a lead get."""

    segment: str
    label: str
    span: Span                 # the label in the rule file


@dataclass(frozen=True, slots=True)
class Coverage:
    ruleset: str
    items: tuple[CoverageItem, ...]
    fired: frozenset[CoverageItem]
    # Segment labels are counted on their own: a label may be unreachable by design, and
    # --coverage-min is about the rules (docs/testing.md, "Coverage").
    labels: tuple[LabelItem, ...] = ()
    reached: frozenset[LabelItem] = frozenset()

    @property
    def not_fired(self) -> tuple[CoverageItem, ...]:
        return tuple(item for item in self.items if item not in self.fired)

    @property
    def not_reached(self) -> tuple[LabelItem, ...]:
        return tuple(label for label in self.labels if label not in self.reached)

    @property
    def labels_not_seen(self) -> Mapping[str, tuple[str, ...]]:
        """Segment -> its labels (declaration order) that no case produced."""
        out: dict[str, tuple[str, ...]] = {}
        for label in self.not_reached:
            out[label.segment] = out.get(label.segment, ()) + (label.label,)
        return out

    @property
    def percent(self) -> float:
        return 100.0 if not self.items else 100.0 * len(self.fired) / len(self.items)

    def meets(self, minimum: float) -> bool:
        # Compared on counts so that 99.99% never passes a 100% minimum by rounding.
        return len(self.fired) * 100 >= minimum * len(self.items)

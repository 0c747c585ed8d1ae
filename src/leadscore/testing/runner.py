"""Score each case with the compiled scorer and compare the result with the
case's expectations: Case -> CaseOutcome."""

from __future__ import annotations

from typing import Callable, Mapping

from ..compiler.runtime import Result
from .model import Case, CaseFile, CaseOutcome, Mismatch

# Scores are floats: an expectation written with tolerance 0 must still pass
# when the sum of the rules differs from it by rounding noise only.
FLOAT_NOISE = 1e-9


def format_number(value: float | None) -> str:
    """A score or points as people write them: 40, 12.5, 41.891234 (at most 6 decimals)."""
    if value is None:
        return "missing"
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_points(value: float) -> str:
    return ("+" if value >= 0 else "") + format_number(value)


def format_outcome(value: bool | str | None) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def score_matches(expected: float | None, actual: float | None, tolerance: float) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    return abs(actual - expected) <= tolerance + FLOAT_NOISE


def compare(case: Case, result: Result) -> tuple[Mismatch, ...]:
    """Every expectation of `case` that `result` does not meet, in file order."""
    out: list[Mismatch] = []
    for score in case.scores:
        actual = result.scores.get(score.name)
        if not score_matches(score.value, actual, score.tolerance):
            expected = format_number(score.value)
            if score.value is not None:
                expected += f" (± {format_number(score.tolerance)})"
            out.append(Mismatch(f"score `{score.name}`", expected, format_number(actual), score.span))
    for threshold in case.thresholds:
        actual = result.thresholds.get(threshold.name)
        if actual != threshold.value:
            out.append(Mismatch(f"threshold `{threshold.name}`", format_outcome(threshold.value),
                                format_outcome(actual), threshold.span))
    for segment in case.segments:
        actual = result.segments.get(segment.name)
        if actual != segment.value:
            out.append(Mismatch(f"segment `{segment.name}`", format_outcome(segment.value),
                                format_outcome(actual), segment.span))
    points = fired_rules(result)
    for firing in case.firing:
        fired = firing.rule in points
        if fired != firing.fires:
            expected = "fires" if firing.fires else "does not fire"
            actual = f"fired ({format_points(points[firing.rule])})" if fired else "did not fire"
            out.append(Mismatch(f"rule `{firing.rule}`", expected, actual, firing.span))
    return tuple(sorted(out, key=lambda m: (m.span.line, m.span.column)))


def fired_rules(result: Result) -> dict[str, float]:
    """Rule -> its points, for every rule that contributed (group limits,
    inactivity and clamps are not rules)."""
    return {r.rule: r.points for r in result.reasons if r.kind == "rule"}


def run_case_file(case_file: CaseFile, score: Callable[..., Result],
                  choose_branches: Callable[[Case], Mapping[str, int | None]]) -> list[CaseOutcome]:
    """Each case scored by `score(lead, events, as_of, explain=True)` (a Backend's: the
    reasons say which rules fired); `choose_branches` says which branch of each case rule
    the case took, for coverage."""
    outcomes = []
    for case in case_file.cases:
        result = score(case.lead, case.events, case.as_of, explain=True)
        outcomes.append(CaseOutcome(case_file.path, case_file.ruleset, case, result,
                                    choose_branches(case), compare(case, result)))
    return outcomes

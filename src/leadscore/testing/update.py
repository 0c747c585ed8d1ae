"""`leadscore test --update`: the actual scores, thresholds and segments written over the
expected ones that they do not meet.

Each expected value is replaced where it is written (its span in the test file), so
comments, layout, flow or block style and every other value stay as they are, and the
change reads as a small diff in review. `fires` and `does_not_fire` are left alone: a rule
that fires where it should not is a question for the author, not a value to copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ..dsl.diagnostics import Span
from .model import CaseOutcome, ScoreExpectation
from .runner import format_number, score_matches

# A label YAML reads back as the same text when written bare (not yes/no/null/a number...).
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


@dataclass(frozen=True)
class Edit:
    span: Span          # the expected value as written
    what: str           # "score `fit`"
    old: str            # the text written there
    new: str            # the YAML text that replaces it


def edits(outcomes: Iterable[CaseOutcome], sources: dict[str, list[str]]) -> list[Edit]:
    """An edit for every expected score, threshold and segment a result did not meet
    (written on one line: an expected value spread over several lines is left alone)."""
    out = []
    for outcome in outcomes:
        case, result = outcome.case, outcome.result
        for score in case.scores:
            actual = result.scores.get(score.name)
            if not score_matches(score.value, actual, score.tolerance):
                out.append(_edit(score.span, f"score `{score.name}`", _score_text(score, actual), sources))
        for threshold in case.thresholds:
            actual = result.thresholds.get(threshold.name)
            if actual is not None and actual != threshold.value:
                out.append(_edit(threshold.span, f"threshold `{threshold.name}`",
                                 "true" if actual else "false", sources))
        for segment in case.segments:
            actual = result.segments.get(segment.name)
            if actual != segment.value:
                out.append(_edit(segment.span, f"segment `{segment.name}`", _label_text(actual), sources))
    return [edit for edit in out if edit.span.line == edit.span.end_line]


def _score_text(expected: ScoreExpectation, actual: float | None) -> str:
    """The shortest decimal that passes with the expectation's own tolerance."""
    if actual is None:
        return "null"
    for digits in range(7):
        text = format_number(round(actual, digits))
        if score_matches(float(text), actual, expected.tolerance):
            return text
    return repr(actual)


def _label_text(label: str | None) -> str:
    if label is None:
        return "null"
    if _BARE.fullmatch(label) and label.lower() not in _YAML_WORDS:
        return label
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _edit(span: Span, what: str, new: str, sources: dict[str, list[str]]) -> Edit:
    lines = sources.get(span.file, [])
    old = lines[span.line - 1][span.column - 1:span.end_column - 1] if 0 < span.line <= len(lines) else ""
    return Edit(span, what, old, new)


def apply(text: str, file_edits: list[Edit]) -> str:
    """`text` with every edit made, from the last to the first so that positions hold."""
    lines = text.splitlines(keepends=True)
    for edit in sorted(file_edits, key=lambda e: (e.span.line, e.span.column), reverse=True):
        span = edit.span
        line = lines[span.line - 1]
        lines[span.line - 1] = line[:span.column - 1] + edit.new + line[span.end_column - 1:]
    return "".join(lines)

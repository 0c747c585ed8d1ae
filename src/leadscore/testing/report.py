"""What `leadscore test` prints: pytest-like text, or one JSON document for CI.

A run is its test-file diagnostics, the outcome of every case, and the
coverage of every ruleset tested; `Run` holds them and decides the verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..compiler.runtime import Result, from_epoch
from ..dsl.diagnostics import Diagnostic, Span, render_each, to_json_dict
from ..safe_text import json_text, shown
from .model import CaseOutcome, Coverage
from .runner import format_number, format_outcome, format_points

WIDTH = 80


@dataclass
class Run:
    files: list[str]                                              # the test files, in run order
    outcomes: list[CaseOutcome] = field(default_factory=list)
    invalid_cases: list[tuple[str, Span]] = field(default_factory=list)   # (name, where), not run
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict)   # file -> lines, for diagnostics
    coverages: list[Coverage] = field(default_factory=list)
    coverage_min: float | None = None
    deselected: int = 0                                           # cases left out by -k

    @property
    def failed(self) -> list[CaseOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def files_with_errors(self) -> int:
        return len({d.span.file for d in self.diagnostics if d.is_error})

    @property
    def below_minimum(self) -> list[Coverage]:
        if self.coverage_min is None:
            return []
        return [c for c in self.coverages if not c.meets(self.coverage_min)]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.files_with_errors and not self.below_minimum


# --- text ----------------------------------------------------------------------------------

def render_text_report(run: Run) -> str:
    out: list[str] = []
    if run.diagnostics:
        out.append(_rule_line("ERRORS", "="))
        texts = {file: "\n".join(lines) for file, lines in run.sources.items()}
        for shown_diagnostic in render_each(run.diagnostics, texts):   # safe already
            out.append(shown_diagnostic)
            out.append("")
    # Every other line holds names, paths and values from the test and rule files.
    lines = _case_lines(run)
    if run.failed:
        lines.append("")
        lines.append(_rule_line("FAILURES", "="))
        for outcome in run.failed:
            lines.extend(_failure(outcome, run))
    if run.coverages:
        lines.append("")
        lines.append(_rule_line("coverage", "="))
        for coverage in run.coverages:
            lines.extend(_coverage(coverage, run.coverage_min))
    lines.append(_rule_line(_summary(run), "="))
    out.extend(shown(line) for line in lines)
    return "\n".join(out)


def _case_lines(run: Run) -> list[str]:
    """One line per case, in file order; a case the test file's errors kept from running is ERROR."""
    order = {file: index for index, file in enumerate(run.files)}
    lines = [(order.get(o.file, 0), o.case.span.line,
              f"{o.file}::{o.case.name} {'PASSED' if o.passed else 'FAILED'}") for o in run.outcomes]
    lines += [(order.get(span.file, 0), span.line, f"{span.file}::{name} ERROR")
              for name, span in run.invalid_cases]
    return [text for _, _, text in sorted(lines, key=lambda entry: entry[:2])]


def _rule_line(title: str, char: str) -> str:
    title = f" {shown(title)} "
    left = max(3, (WIDTH - len(title)) // 2)
    return char * left + title + char * max(3, WIDTH - left - len(title))


def _failure(outcome: CaseOutcome, run: Run) -> list[str]:
    case = outcome.case
    out = [_rule_line(f"{outcome.file}:{case.span.line}: {case.name}", "_")]
    for m in outcome.mismatches:
        out.append(f"{m.span.file}:{m.span.line}:{m.span.column}: {m.what}: "
                   f"expected {m.expected}, got {m.actual}")
    out.append("")
    out.append(f"  {outcome.ruleset} as of {_instant(case.as_of)}:")
    out.extend(_breakdown(outcome, run))
    out.append("")
    return out


def _instant(seconds: float) -> str:
    return from_epoch(seconds).isoformat().replace("+00:00", "Z")


def _breakdown(outcome: CaseOutcome, run: Run) -> list[str]:
    """Every score with the reasons that add up to it, then thresholds and segments."""
    result: Result = outcome.result
    out = []
    for score, value in result.scores.items():
        reasons = result.reasons_for(score)
        out.append(f"    {score} = {format_number(value)}")
        for r in reasons:
            out.append(f"      {format_points(r.points):>10}  {_reason_name(r, outcome, run)}")
    if result.thresholds:
        out.append("    thresholds: " + ", ".join(f"{name} {format_outcome(value)}"
                                                   for name, value in result.thresholds.items()))
    if result.segments:
        out.append("    segments: " + ", ".join(f"{name} {format_outcome(value)}"
                                                 for name, value in result.segments.items()))
    return out


def _reason_name(reason, outcome: CaseOutcome, run: Run) -> str:
    if reason.kind == "group":
        return f"(limit of group {reason.rule})"
    if reason.kind in ("inactivity", "clamp"):
        return f"({reason.kind})"
    name = reason.rule
    if reason.events is not None:
        name += f" ({reason.events} event{'s' * (reason.events != 1)})"
    branch = outcome.branches.get(reason.rule)
    if branch is not None:
        text = next((item.text for coverage in run.coverages if coverage.ruleset == outcome.ruleset
                     for item in coverage.items if item.rule == reason.rule and item.branch == branch),
                    "")
        name += f" (branch {branch + 1}: {text})"
    return name


def percent_text(coverage: Coverage) -> str:
    # Rounded down, so a coverage that misses anything never shows as 100%.
    tenths = int(coverage.percent * 10 + 1e-9)
    return f"{tenths // 10}%" if tenths % 10 == 0 else f"{tenths / 10:.1f}%"


def _coverage(coverage: Coverage, minimum: float | None) -> list[str]:
    fired, total = len(coverage.fired), len(coverage.items)
    out = [f"{coverage.ruleset}: {fired} of {total} rules and case branches fired "
           f"({percent_text(coverage)})"]
    if coverage.not_fired:
        out.append("  never fired:")
        out.extend(f"    {item.span.file}:{item.span.line}:{item.span.column}: {item.label}"
                   for item in coverage.not_fired)
    if coverage.labels:
        out.append(f"  segment labels: {len(coverage.reached)} of {len(coverage.labels)} reached")
    if coverage.not_reached:
        out.append("  no case reaches:")
        out.extend(f"    {label.span.file}:{label.span.line}:{label.span.column}: "
                   f"segment {label.segment} label {label.label}" for label in coverage.not_reached)
    if minimum is not None and not coverage.meets(minimum):
        out.append(f"  FAILED: below the minimum of {format_number(minimum)}%")
    return out


def _summary(run: Run) -> str:
    parts = [f"{len(run.outcomes) - len(run.failed)} passed"]
    if run.failed:
        parts.append(f"{len(run.failed)} failed")
    if run.deselected:
        parts.append(f"{run.deselected} deselected")
    if run.files_with_errors:
        parts.append(f"{run.files_with_errors} file{'s' * (run.files_with_errors != 1)} with errors")
    if run.below_minimum:
        parts.append("coverage below the minimum")
    return ", ".join(parts)


# --- JSON ------------------------------------------------------------------------------------

def render_json_report(run: Run) -> str:
    document = {
        "ok": run.ok,
        "summary": {"test_files": len(run.files), "cases": len(run.outcomes),
                    "passed": len(run.outcomes) - len(run.failed), "failed": len(run.failed),
                    "files_with_errors": run.files_with_errors, "deselected": run.deselected},
        "diagnostics": [to_json_dict(d) for d in run.diagnostics],
        "not_run": [{"file": span.file, "line": span.line, "name": name}
                    for name, span in run.invalid_cases],
        "cases": [_case_json(o) for o in run.outcomes],
        "coverage_min": run.coverage_min,
        "coverage": [_coverage_json(c, run.coverage_min) for c in run.coverages],
    }
    return json_text(json.dumps(document, indent=2, ensure_ascii=False))


def _case_json(outcome: CaseOutcome) -> dict:
    case, result = outcome.case, outcome.result
    return {
        "file": outcome.file, "line": case.span.line, "name": case.name,
        "ruleset": outcome.ruleset, "as_of": _instant(case.as_of), "passed": outcome.passed,
        "mismatches": [{"what": m.what, "expected": m.expected, "actual": m.actual,
                        "line": m.span.line, "column": m.span.column} for m in outcome.mismatches],
        "scores": result.scores, "thresholds": result.thresholds, "segments": result.segments,
        "reasons": [r.as_dict() for r in result.reasons],
        # 1-based, as the report shows them; null when no branch was taken.
        "branches": {rule: None if index is None else index + 1
                     for rule, index in outcome.branches.items()},
    }


def _coverage_json(coverage: Coverage, minimum: float | None) -> dict:
    return {
        "ruleset": coverage.ruleset, "fired": len(coverage.fired), "total": len(coverage.items),
        "percent": coverage.percent,
        "meets_minimum": None if minimum is None else coverage.meets(minimum),
        "not_fired": [{"score": i.score, "rule": i.rule,
                       "branch": None if i.branch is None else i.branch + 1, "text": i.text,
                       "file": i.span.file, "line": i.span.line, "column": i.span.column}
                      for i in coverage.not_fired],
        "segment_labels_not_seen": {k: list(v) for k, v in coverage.labels_not_seen.items()},
        "labels_reached": len(coverage.reached), "labels_total": len(coverage.labels),
    }

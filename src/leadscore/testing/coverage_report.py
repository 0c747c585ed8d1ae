"""`leadscore test --coverage-format json`: the coverage alone, as one JSON document for
tools (a coverage badge, a review bot), in the spirit of `opa test --coverage --format json`.

Every rule, case branch and segment label is listed with where it is written and whether
a case covered it, so a tool needs no other file to annotate the rule file.
"""

from __future__ import annotations

import json

from ..safe_text import json_text
from .model import Coverage
from .report import Run


def render_coverage_json(run: Run) -> str:
    document = {
        "coverage_min": run.coverage_min,
        "meets_minimum": None if run.coverage_min is None else not run.below_minimum,
        "rulesets": [_ruleset(c, run.coverage_min) for c in run.coverages],
    }
    return json_text(json.dumps(document, indent=2, ensure_ascii=False))


def _ruleset(coverage: Coverage, minimum: float | None) -> dict:
    return {
        "ruleset": coverage.ruleset,
        "percent": coverage.percent,
        "covered": len(coverage.fired),
        "total": len(coverage.items),
        "meets_minimum": None if minimum is None else coverage.meets(minimum),
        "rules": [{"score": i.score, "rule": i.rule, "branch": None if i.branch is None else i.branch + 1,
                   "text": i.text, "file": i.span.file, "line": i.span.line, "column": i.span.column,
                   "covered": i in coverage.fired} for i in coverage.items],
        "labels_reached": len(coverage.reached),
        "labels_total": len(coverage.labels),
        "labels": [{"segment": label.segment, "label": label.label, "file": label.span.file,
                    "line": label.span.line, "column": label.span.column, "reached": label in coverage.reached}
                   for label in coverage.labels],
    }

"""The conformance suite (tests/conformance/*.yaml, described in its README): every case on
every backend. A backend is anything with `score(lead, events, as_of) -> Result`."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

import leadscore
from leadscore.api import BACKENDS
from leadscore.loader import load_ruleset

SUITE = Path(__file__).resolve().parent / "conformance"
AS_OF = "2026-06-01T12:00:00Z"
CASE_FILES = sorted(p for p in SUITE.glob("*.yaml") if p.name != "schema.yaml")
_AGE = re.compile(r"(-?\d+(?:\.\d+)?)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _cases():
    for path in CASE_FILES:
        for number, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]):
            name = case.get("name") or case.get("condition")
            yield pytest.param(case, id=f"{path.stem}[{number}] {name}")


CASES = list(_cases())


def _write(folder: Path, case: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    schema = case.get("schema") or (SUITE / "schema.yaml").read_text(encoding="utf-8")
    (folder / "schema.yaml").write_text(schema, encoding="utf-8")
    body = case.get("rules") or f"score fit {{\n  r: +1 if {case['condition']}\n}}\n"
    path = folder / "rules.score"
    path.write_text(f'ruleset "conformance" version 1\nschema "schema.yaml"\n{body}', encoding="utf-8")
    return path


def _instant(event: dict, as_of: str) -> str:
    if "at" in event:
        return event["at"]
    terms = _AGE.findall(str(event["ago"]))
    assert terms, f"not an age: {event['ago']!r}"
    seconds = sum(float(amount) * _UNIT[unit] for amount, unit in terms)
    return (datetime.fromisoformat(as_of.replace("Z", "+00:00")) - timedelta(seconds=seconds)).isoformat()


def _expect_number(found, expected, tolerance: float) -> bool:
    if expected is None or found is None:
        return found is expected
    return math.isclose(found, expected, rel_tol=0, abs_tol=tolerance) if tolerance else found == expected


@pytest.mark.parametrize("backend", [*BACKENDS, pytest.param("spark", marks=pytest.mark.slow)])
@pytest.mark.parametrize("case", CASES)
def test_conformance(request, tmp_path, case, backend):
    if backend == "spark":
        request.getfixturevalue("spark")   # the run's one session, which compile() then uses
    run_case(tmp_path, case, lambda ruleset: ruleset.compile(backend=backend))


def run_case(tmp_path, case: dict, compile_) -> None:
    """One case's checks on the scorer `compile_` makes of its ruleset (anything with
    `score(lead, events, as_of, explain=True) -> Result`)."""
    path = _write(tmp_path, case)
    if "diagnostic" in case:
        loaded = load_ruleset(str(path))
        assert case["diagnostic"] in {d.code for d in loaded.diagnostics}, \
            [(d.code, d.span.line, d.message) for d in loaded.diagnostics]
        return
    scorer = compile_(leadscore.load(str(path)))
    as_of = case.get("as_of", AS_OF)
    assert case["checks"], "a case without checks tests nothing"
    for check in case["checks"]:
        events = [{"type": e["type"], "at": _instant(e, as_of), "properties": e.get("properties", {})}
                  for e in check.get("events", [])]
        result = scorer.score(check.get("lead", {}), events, as_of, explain=True)
        where = f"check {check!r}: got {result!r}"
        if "fires" in check:
            assert result.scores["fit"] == (1.0 if check["fires"] else 0.0), where
        tolerance = check.get("tolerance", 0.0)
        for name, expected in check.get("scores", {}).items():
            assert _expect_number(result.scores[name], expected, tolerance), where
        for name, expected in check.get("thresholds", {}).items():
            assert result.thresholds[name] is expected, where
        for name, expected in check.get("segments", {}).items():
            assert result.segments[name] == expected, where
        if "reasons" in check:
            found = [[r.score, r.rule, r.kind, r.points, r.events] for r in result.reasons]
            assert found == check["reasons"], where
        if check.get("reasons_add_up"):
            for name, score in result.scores.items():
                total = sum(r.points for r in result.reasons_for(name))
                assert score is None or math.isclose(total, score, abs_tol=1e-9), where
        if "reason_kinds" in check:
            assert {r.kind for r in result.reasons} >= set(check["reason_kinds"]), where


def test_every_file_names_its_feature_and_every_case_expects_something():
    assert len(CASE_FILES) >= 8
    for path in CASE_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["feature"] and data["cases"], path
        for case in data["cases"]:
            assert ("rules" in case) != ("condition" in case), case
            assert ("diagnostic" in case) != ("checks" in case), case

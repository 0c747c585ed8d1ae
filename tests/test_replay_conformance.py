"""The replay conformance suite (tests/conformance/replay/*.yaml, described in its README):
every case through every replay engine, from history tables on disk to crossing instants.

A case's history is written as JSONL tables and read, spilled and prepared exactly as
`simulate` does, so an engine sees the bucket it sees in a real run. Each case is replayed
twice: as a plain variant, and recording every threshold (the score paths a sweep reads),
which must find the same and record each crossing as the first row where it holds (with no
constant's value relied on, as when one is swept)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml

import leadscore
from leadscore.compiler import runtime as rt
from leadscore.simulator import history
from leadscore.simulator.duckdb_backend import DuckDBEngine
from leadscore.simulator.engine import Plan, Replayed, Window
from leadscore.simulator.python_backend import PythonEngine
from leadscore.tables import ProblemLog


def _spark(request):
    from leadscore.simulator.spark_backend import SparkEngine

    return SparkEngine(session=request.getfixturevalue("spark"))    # the run's one local session


# Every replay engine runs every case (Spark: SPARK_CASES); another engine joins with one line here.
ENGINES = {"python": lambda request: PythonEngine(), "duckdb": lambda request: DuckDBEngine(), "spark": _spark}
# Spark runs one or two cases of every file (its statements take a second each to plan): ties,
# once and at most; half-life and steps decay crossing at midnights; inactivity and days_since;
# field changes (with a `where` on a changed field, on the Python scorer); derived scores, clamp
SPARK_CASES = {"event-instants[1]", "fading-negatives[1]", "fading-negatives[2]", "windows-inactivity-days-since[1]",
               "windows-inactivity-days-since[2]", "field-changes[0]", "derived-segments-clamp[2]"}

SUITE = Path(__file__).resolve().parent / "conformance" / "replay"
CASE_FILES = sorted(p for p in SUITE.glob("*.yaml") if p.name != "schema.yaml")
NONE = "none"
DEFAULT_TOLERANCE = 1e-9


def _cases():
    for path in CASE_FILES:
        for number, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]):
            yield f"{path.stem}[{number}]", case


def _runs():
    """(case, engine) pairs; Spark's marked slow."""
    for key, case in _cases():
        for engine in ENGINES:
            if engine != "spark":
                yield pytest.param(case, engine, id=f"{key} {case['name']}-{engine}")
            elif key in SPARK_CASES:
                yield pytest.param(case, engine, id=f"{key} {case['name']}-{engine}", marks=pytest.mark.slow)


RUNS = list(_runs())


# --- values as the case files write them ----------------------------------------------------------

def _text(value):
    """YAML reads an unquoted timestamp as a date or datetime: back to ISO text, UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _micros(value) -> int:
    return round(rt.to_epoch(value) * 1_000_000)


def _iso(seconds: float) -> str:
    if math.isnan(seconds):
        return NONE
    micros = round(seconds * 1_000_000)
    found = datetime.fromtimestamp(micros // 1_000_000, timezone.utc).replace(microsecond=micros % 1_000_000)
    return found.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _same_instant(found: float, expected) -> bool:
    if expected == NONE:
        return math.isnan(found)
    return not math.isnan(found) and round(found * 1_000_000) == _micros(expected)


def _same_number(found: float | None, expected, tolerance: float) -> bool:
    if expected is None or expected == NONE:
        return found is None or math.isnan(found)
    return found is not None and not math.isnan(found) and math.isclose(found, expected, rel_tol=0,
                                                                          abs_tol=tolerance)


# --- the case on disk, through the simulator's own reading -------------------------------------------

def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _history(folder: Path, case: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / "leads.jsonl", [{key: _text(value) for key, value in lead.items()}
                                          for lead in case["leads"]])
    _write_jsonl(folder / "events.jsonl", [
        {"lead_id": e["lead"], "type": e["type"], "at": _text(e["at"]), "properties": e.get("properties", {})}
        for e in case.get("events", [])])
    (folder / "outcomes.csv").write_text("lead_id,stage,at\n", encoding="utf-8")   # a replay reads none
    if "changes" in case:
        _write_jsonl(folder / "changes.jsonl", [
            {"lead_id": c["lead"], "field": c["field"], "value": _text(c["value"]), "at": _text(c["at"])}
            for c in case["changes"]])
    return folder


def _load(folder: Path, case: dict) -> leadscore.Ruleset:
    folder.mkdir(parents=True, exist_ok=True)
    schema = case.get("schema") or (SUITE / "schema.yaml").read_text(encoding="utf-8")
    (folder / "schema.yaml").write_text(schema, encoding="utf-8")
    path = folder / "rules.score"
    path.write_text(f'ruleset "replay-conformance" version 1\nschema "schema.yaml"\n{case["rules"]}',
                    encoding="utf-8")
    return leadscore.load(str(path))


def _bucket(tmp_path: Path, case: dict, loaded: leadscore.Ruleset, end: float) -> history.Bucket:
    files = history.HistoryFiles.find(str(_history(tmp_path / "history", case)), {})
    schema = loaded.checked.schema
    spill = history.spill_history(files, schema, ProblemLog(strict=True), 1, None)
    bucket = history.prepare(spill, 0, schema.created, end, 10)
    assert bucket.problems == {}, f"the case's history has unusable rows: {bucket.problems}"
    return bucket


# --- the comparison ---------------------------------------------------------------------------------

def _check_lead(found: Replayed, plan: Plan, k: int, lead: str, expected: dict, tolerance: float) -> list[str]:
    """What differs for one lead, as lines naming the lead, the item, what was expected and found."""
    wrong = []
    if expected.get("instants") == NONE:
        expected = {"crossings": {name: NONE for name in plan.thresholds},
                    "labels": {s: {label: NONE for label in labels} for s, labels in zip(plan.segments, plan.labels)},
                    "final": {"scores": {name: NONE for name in plan.scores},
                              "thresholds": {name: False for name in plan.thresholds},
                              "segments": {name: NONE for name in plan.segments}}}
    crossings = expected["crossings"]
    assert set(crossings) == set(plan.thresholds), f"{lead}: crossings must name every threshold"
    for i, name in enumerate(plan.thresholds):
        if not _same_instant(found.crossings[k, i], crossings[name]):
            wrong.append(f"{lead} crossing {name}: expected {crossings[name]}, found {_iso(found.crossings[k, i])}")
    labels = expected.get("labels", {})
    assert set(labels) == set(plan.segments), f"{lead}: labels must name every segment"
    for s, segment in enumerate(plan.segments):
        assert set(labels[segment]) == set(plan.labels[s]), f"{lead}: {segment} must name every label"
        for j, label in enumerate(plan.labels[s]):
            value = found.first_labels[s][k, j]
            if not _same_instant(value, labels[segment][label]):
                wrong.append(f"{lead} first {segment} = {label}: expected {labels[segment][label]}, "
                             f"found {_iso(value)}")
    final = expected["final"]
    assert set(final["scores"]) == set(plan.scores), f"{lead}: final scores must name every score"
    for i, name in enumerate(plan.scores):
        if not _same_number(found.final_scores[k, i], final["scores"][name], tolerance):
            wrong.append(f"{lead} final {name}: expected {final['scores'][name]}, found {found.final_scores[k, i]!r}")
    assert set(final["thresholds"]) == set(plan.thresholds), f"{lead}: final thresholds must name every threshold"
    for i, name in enumerate(plan.thresholds):
        if bool(found.final_thresholds[k, i]) is not final["thresholds"][name]:
            wrong.append(f"{lead} final {name}: expected {final['thresholds'][name]}")
    assert set(final["segments"]) == set(plan.segments), f"{lead}: final segments must name every segment"
    for s, name in enumerate(plan.segments):
        index = int(found.final_segments[k, s])
        label = NONE if index < 0 else plan.labels[s][index]
        if label != final["segments"][name]:
            wrong.append(f"{lead} final {name}: expected {final['segments'][name]}, found {label}")
    return wrong


def _check_recording(found: Replayed, plan: Plan, leads: int) -> list[str]:
    """Each recorded threshold's crossing is the first recorded row where it holds."""
    recording, wrong = found.recording, []
    for k in range(leads):
        rows = recording.lead == k
        at = recording.at[rows]
        if not np.all(np.diff(at) >= 0):
            wrong.append(f"lead {k}: recorded instants are not in time order: {at.tolist()}")
        for i, name in enumerate(plan.thresholds):
            holding = at[recording.thresholds[rows, i]]
            first = holding[0] if len(holding) else math.nan
            if not (math.isnan(first) and math.isnan(found.crossings[k, i]) or first == found.crossings[k, i]):
                wrong.append(f"lead {k}: {name} first holds at recorded {_iso(first)}, "
                             f"crosses at {_iso(found.crossings[k, i])}")
    return wrong


def _check_instant(engine, bucket, index: dict, plan: Plan, check: dict, tolerance: float) -> list[str]:
    """`at` checks: one lead's result at one instant (the engine's `evaluate_at`)."""
    lead, when = check["lead"], _text(check["at"])
    scores, thresholds, segments, _ = engine.evaluate_at(bucket, index[lead], plan, rt.to_epoch(when))
    wrong = []
    for name, expected in check.get("scores", {}).items():
        value = scores[plan.scores.index(name)]
        if not _same_number(value, expected, tolerance):
            wrong.append(f"{lead} at {when}: {name} expected {expected}, found {value!r}")
    for name, expected in check.get("thresholds", {}).items():
        if thresholds[plan.thresholds.index(name)] is not expected:
            wrong.append(f"{lead} at {when}: {name} expected {expected}")
    for name, expected in check.get("segments", {}).items():
        label = segments[plan.segments.index(name)]
        if (NONE if label is None else label) != expected:
            wrong.append(f"{lead} at {when}: {name} expected {expected}, found {label}")
    return wrong


@pytest.mark.parametrize(("case", "engine"), RUNS)
def test_replay_conformance(tmp_path, case, engine, request):
    loaded = _load(tmp_path / "rules", case)
    window = Window(rt.to_epoch(_text(case["window"]["start"])), rt.to_epoch(_text(case["window"]["end"])))
    bucket = _bucket(tmp_path, case, loaded, window.end)
    index = bucket.index()
    tolerance = case.get("tolerance", DEFAULT_TOLERANCE)
    assert set(case["expect"]) == set(index), "every lead of the case has its expectation"
    replayer = ENGINES[engine](request)
    plain = Plan.of("plain", loaded.checked)
    # as a sweep records: every threshold, relying on no constant's value
    recorded = Plan.of("recorded", loaded.checked, tuple(range(len(plain.thresholds))),
                       frozenset(loaded.checked.constants))
    wrong = []
    for plan in (plain, recorded):
        found = replayer.replay(bucket, plan, window)
        for lead, expected in case["expect"].items():
            wrong += [f"[{plan.name}] {line}" for line in
                      _check_lead(found, plan, index[lead], lead, expected, tolerance)]
        if plan.record:
            wrong += _check_recording(found, plan, len(bucket))
    for check in case.get("at", []):
        wrong += _check_instant(replayer, bucket, index, plain, check, tolerance)
    assert not wrong, "\n".join(wrong)


def test_every_case_shows_its_arithmetic_and_has_its_parts():
    assert CASE_FILES
    assert SPARK_CASES <= {key for key, _ in _cases()}, "Spark's subset names cases that exist"
    for path in CASE_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["feature"] and data["cases"], path
        for case in data["cases"]:
            assert case.get("why", "").strip(), f"{path.name}: {case['name']}: the hand arithmetic goes in `why`"
            assert {"rules", "window", "leads", "expect"} <= set(case), f"{path.name}: {case['name']}"

"""Shared by the simulator tests: tiny histories on disk, buckets built in memory, and the
oracle replay (the reference interpreter at every instant of LANGUAGE.md §9, nothing skipped)."""

from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import leadscore
from leadscore.compiler import runtime as rt
from leadscore.simulator.bulk_replay import bulk_replay
from leadscore.simulator.duckdb_backend import DuckDBEngine
from leadscore.simulator.history import Bucket
from leadscore.simulator.instants import DAY, lead_span
from leadscore.simulator.python_backend import PythonEngine

class BulkPythonEngine(PythonEngine):
    """The bulk replay's choice of instants, each evaluated by the Python scorer: tests that
    choice apart from any SQL."""

    def replay(self, bucket, plan, window):
        return bulk_replay(self, bucket, plan, window)


# every replay engine, by name: the hand-computed replays run on each; the hypothesis tests of
# test_simulator_skip and _sweep on the cheap ones (a DuckDB statement takes a second to build
# per generated ruleset: test_duckdb_replay runs fewer examples on it)
REPLAY_ENGINES = {"python": PythonEngine, "bulk": BulkPythonEngine, "duckdb": DuckDBEngine}
CHEAP_ENGINES = {"python": PythonEngine, "bulk": BulkPythonEngine}

SCHEMA = """
lead:
  id: lead_id
  created: created_at
  fields:
    industry: {type: string, values: [Software, Retail, Other]}
    employees: number
    created_at: datetime
    has_budget: boolean
events:
  page_view: {properties: {url: string}}
  email_open: {}
  demo_request: {}
  unsubscribe: {}
"""


def ts(text: str) -> float:
    """An ISO instant (no offset: UTC) as epoch seconds."""
    return rt.to_epoch(text)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ruleset(folder: Path, body: str, name: str = "t", schema: str = SCHEMA) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.yaml").write_text(schema)
    path = folder / f"{name}.score"
    path.write_text(f'ruleset "{name}" version 1\nschema "schema.yaml"\n{body}\n')
    return path


def write_table(path: Path, header: list[str], rows: list[list]) -> str:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return str(path)


def history(folder: Path, leads: list[dict], events: list[tuple], outcomes: list[tuple] = (),
            changes: list[tuple] | None = None) -> Path:
    """leads: dicts with lead_id and fields; events: (lead, type, at, url); outcomes: (lead, stage, at);
    changes: (lead, field, value, at)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["lead_id", "industry", "employees", "created_at", "has_budget"]
    write_table(folder / "leads.csv", names, [[lead.get(n) for n in names] for lead in leads])
    write_table(folder / "events.csv", ["lead_id", "type", "at", "url"], [list(e) for e in events])
    write_table(folder / "outcomes.csv", ["lead_id", "stage", "at"], [list(o) for o in outcomes])
    if changes is not None:
        write_table(folder / "changes.csv", ["lead_id", "field", "value", "at"], [list(c) for c in changes])
    return folder


def bucket_of(checked, leads: list[tuple[str, dict]], events: list[tuple[str, str, float, dict]],
              changes: list[tuple[str, str, object, float]] = (), end: float = math.inf) -> Bucket:
    """A bucket built straight from Python values (runtime representation), events in input order."""
    ids = [lead for lead, _ in leads]
    field_types = {n: s.type for n, s in checked.schema.fields.items()}
    fields = [rt.prepare_fields(values, field_types) for _, values in leads]
    created = [f.get(checked.schema.created) if checked.schema.created else None for f in fields]
    at, kinds, pairs, starts = [], [], [], [0]
    for lead in ids:
        mine = sorted((e for e in events if e[0] == lead and e[2] < end), key=lambda e: e[2])
        for _, kind, when, properties in mine:
            at.append(when)
            kinds.append(kind)
            pairs.append((when, properties))
        starts.append(len(at))
    rows, change_starts = [], [0]
    for lead in ids:
        # as `prepare`: changes at or after the end stay (never applied, they make the field missing)
        rows.extend(sorted(((when, name, value) for who, name, value, when in changes if who == lead),
                           key=lambda c: c[0]))
        change_starts.append(len(rows))
    return Bucket(ids, list(range(len(ids))), fields, created, at, kinds, pairs, starts, rows, change_starts)


def every_instant(bucket: Bucket, k: int, end: float) -> list[float]:
    lo, hi = bucket.starts[k], bucket.starts[k + 1]
    span = lead_span(bucket.at, lo, hi, bucket.created[k], end)
    if span is None:
        return []
    midnights = np.arange(span.m0, span.m1 + DAY / 2, DAY).tolist() if span.m0 <= span.m1 else []
    return sorted(set(bucket.at[lo:hi]) | set(midnights))


def oracle(ruleset_: leadscore.Ruleset, bucket: Bucket, end: float) -> list[dict]:
    """Per lead: crossings, first labels, final result, from the interpreter at every instant."""
    interpreter = ruleset_.interpret()
    out = []
    for k in range(len(bucket)):
        crossings, firsts, final = {}, {}, None
        lo, hi = bucket.starts[k], bucket.starts[k + 1]
        changes = bucket.changes[bucket.change_starts[k]:bucket.change_starts[k + 1]]
        for instant in every_instant(bucket, k, end):
            fields = dict(bucket.fields[k])
            for name in {c[1] for c in changes}:
                fields[name] = None
            for when, name, value in changes:
                if when <= instant:
                    fields[name] = value
            grouped = {name: [] for name in ruleset_.checked.schema.events}
            for e in range(lo, hi):
                if bucket.at[e] <= instant:
                    grouped[bucket.kinds[e]].append(bucket.pairs[e])
            final = interpreter.evaluate(fields, grouped, instant)
            for name, held in final.thresholds.items():
                if held:
                    crossings.setdefault(name, instant)
            for name, label in final.segments.items():
                if label is not None:
                    firsts.setdefault((name, label), instant)
        out.append({"crossings": crossings, "labels": firsts, "final": final})
    return out

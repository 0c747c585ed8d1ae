"""Benchmark: the acme program at every event instant of 100k leads / ~3M events, in one SQL
statement on DuckDB (engines/sql/instants.py), against the Python replay's evaluate_at.

    python benchmarks/bench_instants.py [--leads N] [--sample N]

Same process, same data (bench_score.make_data: events over 180 days). The statement
evaluates every (lead, event instant) pair; the Python backend's evaluate_at runs on a sample
of the pairs (it re-reads the lead's events at each instant) and its time is scaled to all
pairs. The sample's results must agree (scores to 1e-9, thresholds and segments equal).
Reported: rows (pairs) per second of each and their ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import leadscore  # noqa: E402
from bench_score import make_data  # noqa: E402
from leadscore.engines.duckdb_engine import connect  # noqa: E402
from leadscore.lower import lower  # noqa: E402
from leadscore.simulator.duckdb_bucket import bucket_tables  # noqa: E402
from leadscore.simulator.duckdb_instants import evaluate_instants  # noqa: E402
from leadscore.simulator.engine import Plan  # noqa: E402
from leadscore.simulator.history import Bucket  # noqa: E402
from leadscore.simulator.python_backend import PythonEngine  # noqa: E402


def bucket_of(data: list) -> Bucket:
    at, kinds, pairs, starts = [], [], [], [0]
    for _, grouped in data:
        for when, kind, properties in sorted((e[0], kind, e[1]) for kind, found in grouped.items() for e in found):
            at.append(when)
            kinds.append(kind)
            pairs.append((when, properties))
        starts.append(len(at))
    n = len(data)
    return Bucket([f"L{k}" for k in range(n)], list(range(n)), [f for f, _ in data], [None] * n, at, kinds, pairs,
                  starts, [], [0] * (n + 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=20_000, help="pairs evaluated by the Python backend")
    args = parser.parse_args()
    ruleset = leadscore.load(str(ROOT / "rulesets" / "acme" / "scoring.score"))
    plan, program = Plan.of("acme", ruleset.checked), lower(ruleset.checked)
    data = make_data(args.leads, plan.scorer.property_types, plan.scorer.field_types)
    bucket = bucket_of(data)
    counts = np.diff(np.asarray(bucket.starts))
    lead_rows = np.repeat(np.arange(len(bucket), dtype=np.int64), counts)
    instants = np.asarray(bucket.at, dtype=np.float64)
    print(f"{len(bucket):,} leads, {len(instants):,} (lead, event instant) pairs, acme ruleset")

    connection = connect()
    started = time.perf_counter()
    tables = bucket_tables(bucket, ruleset.checked.schema)
    prepared = time.perf_counter() - started
    started = time.perf_counter()
    table = evaluate_instants(connection, program, tables, lead_rows, instants)
    sql = time.perf_counter() - started
    assert table.num_rows == len(instants)

    rng = random.Random(5)
    sample = sorted(rng.sample(range(len(instants)), min(args.sample, len(instants))))
    engine = PythonEngine()
    started = time.perf_counter()
    expected = [engine.evaluate_at(bucket, int(lead_rows[i]), plan, float(instants[i])) for i in sample]
    python = (time.perf_counter() - started) * len(instants) / len(sample)

    columns = [column.to_pylist() for column in table.columns]
    n_scores, n_thresholds = len(plan.scores), len(plan.thresholds)
    for i, (scores, thresholds, segments, _) in zip(sample, expected):
        found = [columns[1 + k][i] for k in range(n_scores)]
        assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(found, scores)), (i, found, scores)
        assert tuple(columns[1 + n_scores + k][i] for k in range(n_thresholds)) == tuple(thresholds), i
        assert tuple(columns[1 + n_scores + n_thresholds + k][i] for k in range(len(segments))) == tuple(segments), i

    rows = len(instants)
    print(f"  Arrow tables of the bucket:      {prepared:7.2f} s")
    print(f"  one SQL statement (DuckDB):      {sql:7.2f} s   {rows / sql:12,.0f} rows/s")
    print(f"  Python evaluate_at (scaled from {len(sample):,}): {python:7.2f} s   {rows / python:12,.0f} rows/s")
    print(f"  ratio: the statement is {python / sql:.1f}x faster than the Python backend "
          f"({python / (sql + prepared):.1f}x with the tables' preparation)")


if __name__ == "__main__":
    main()

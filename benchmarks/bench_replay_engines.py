"""Benchmark: the replay on the Python and the DuckDB engine, same process, same buckets
(docs/engines.md, "How the DuckDB replay chooses its instants").

    python benchmarks/bench_replay_engines.py [--quick] [--sweep-only]

1. acme, 100k leads / ~3M events over 180 days (--quick: 10k / ~300k): every threshold's
   crossing, every label's first instant, the final state; DuckDB vs Python (goal >= 10x),
   results checked equal.
2. A ruleset whose thresholds cross at midnight (fading negative points, `days_since`,
   inactivity), 20k leads / ~300k events over 120 days (--quick: 4k / ~60k): the same.
3. A 20-value sweep of `mql_interest` on acme against one replay, both on DuckDB (goal <= 1.2x);
   `--sweep-only` runs this part alone.

Both engines run in this one process: Python on one core, DuckDB with one thread per core of
the machine (its default, as in `simulate --jobs 1`); `--threads N` says otherwise. As on the
command line, DuckDB's statements are kept between runs (a first run writes them, about half a
second, later runs read them); `--no-kept-statements` writes them in this run, as a first run.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import leadscore  # noqa: E402
from bench_replay import ACME, END, buckets_of  # noqa: E402
from bench_score import T, make_data  # noqa: E402
from leadscore.cache import keep_grammar_tables  # noqa: E402
from leadscore.compiler import runtime as rt  # noqa: E402
from leadscore.simulator.duckdb_backend import DuckDBEngine  # noqa: E402
from leadscore.simulator.engine import Plan, Window  # noqa: E402
from leadscore.simulator.history import Bucket  # noqa: E402
from leadscore.simulator.python_backend import PythonEngine  # noqa: E402
from leadscore.simulator.sweep import sweep_crossings, swept_thresholds  # noqa: E402

DAY = 86400.0
MIDNIGHT_SCHEMA = """
lead:
  id: lead_id
  created: created_at
  fields:
    employees: number
    created_at: datetime
events:
  page_view: {properties: {url: string}}
  demo_request: {}
  unsubscribe: {}
  complaint: {}
"""
MIDNIGHT_RULES = """ruleset "midnights" version 1
schema "schema.yaml"
score interest {
  view: +10 per page_view, decay half_life 14d
  demo: +40 per demo_request, decay none
  unsub: -30 per unsubscribe, decay half_life 10d
  complaint: -25 per complaint, decay linear 30d
  stale: -10 if days_since(page_view) > 21
  young: +5 if days_since(created_at) < 30
  inactivity after 14d: -2 every 7d
}
score fit {
  big: +10 if employees >= 100
}
threshold mql: interest >= 30
threshold sql: interest + fit >= 60
segment temperature {
  hot if interest >= 50
  warm if interest >= 20
  cold otherwise
}
"""


def midnight_buckets(n: int, checked, seed: int = 11) -> list[Bucket]:
    rng = random.Random(seed)
    kinds, weights = ["page_view", "demo_request", "unsubscribe", "complaint"], [12, 1, 2, 1]
    field_types = {name: spec.type for name, spec in checked.schema.fields.items()}
    out = []
    for start in range(0, n, 20_000):
        ids, fields, created, at, event_kinds, pairs, starts = [], [], [], [], [], [], [0]
        for k in range(start, min(n, start + 20_000)):
            origin = T - rng.random() * 120 * DAY
            values = rt.prepare_fields({"employees": rng.choice([10, 200, None]),
                                        "created_at": rt.from_epoch(float(round(origin)))}, field_types)
            ids.append(f"lead-{k:06d}")
            fields.append(values)
            created.append(values["created_at"])
            times = sorted(float(round(origin + rng.random() * (T - origin))) for _ in range(rng.randint(5, 25)))
            for when in times:
                kind = rng.choices(kinds, weights)[0]
                at.append(when)
                event_kinds.append(kind)
                pairs.append((when, {"url": "/pricing" if rng.random() < 0.3 else "/blog"} if kind == "page_view"
                              else {}))
            starts.append(len(at))
        m = len(ids)
        out.append(Bucket(ids, list(range(start, start + m)), fields, created, at, event_kinds, pairs, starts, [],
                          [0] * (m + 1)))
    return out


def timed(engine, buckets: list[Bucket], plan: Plan, window: Window):
    """(wall seconds, processor seconds of this process and its threads), the replays."""
    began, cpu = time.perf_counter(), time.process_time()
    found = [engine.replay(b, plan, window) for b in buckets]
    return (time.perf_counter() - began, time.process_time() - cpu), found


def differences(first, second) -> int:
    """Buckets whose crossings, first labels or final thresholds and segments differ, or final
    scores by more than 1e-9 (SQL's sums may differ in the last bits, docs/engines.md)."""
    count = 0
    for a, b in zip(first, second):
        same = np.array_equal(a.crossings, b.crossings, equal_nan=True) and \
            all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a.first_labels, b.first_labels)) and \
            np.allclose(a.final_scores, b.final_scores, rtol=1e-9, atol=1e-9, equal_nan=True) and \
            np.array_equal(a.final_thresholds, b.final_thresholds) and \
            np.array_equal(a.final_segments, b.final_segments)
        count += not same
    return count


def compare(title: str, buckets: list[Bucket], plan: Plan, window: Window, duckdb: DuckDBEngine) -> None:
    events = sum(len(b.at) for b in buckets)
    leads = sum(len(b) for b in buckets)
    (python_seconds, python_cpu), expected = timed(PythonEngine(), buckets, plan, window)
    (duckdb_seconds, duckdb_cpu), found = timed(duckdb, buckets, plan, window)
    differ = differences(found, expected)
    print(f"{title}: {leads:,} leads, {events:,} events")
    print(f"  python engine: {python_seconds:7.2f} s ({python_cpu:.2f} processor s)  "
          f"{sum(r.evaluations for r in expected):,} evaluations")
    print(f"  duckdb engine: {duckdb_seconds:7.2f} s ({duckdb_cpu:.2f} processor s)  "
          f"{sum(r.evaluations for r in found):,} evaluations  "
          f"= {python_seconds / duckdb_seconds:.1f}x faster (goal >= 10x); "
          f"{'equal results' if not differ else f'{differ} buckets DIFFER'}")


def sweep(buckets: list[Bucket], checked, window: Window, duckdb: DuckDBEngine) -> None:
    constant = "mql_interest"
    values = [float(v) for v in range(20, 120, 5)]
    plain = Plan.of("acme", checked)
    (one, _), _ = timed(duckdb, buckets, plain, window)
    plan = Plan.of("sweep", checked, swept_thresholds(checked, constant), frozenset({constant}))
    began = time.perf_counter()
    for bucket in buckets:
        replayed = duckdb.replay(bucket, plan, window)
        sweep_crossings(checked, constant, replayed.recording, values, len(bucket))
    seconds = time.perf_counter() - began
    print(f"sweep of {constant}, {len(values)} values, duckdb: {seconds:7.2f} s = {seconds / one:.2f}x one replay "
          f"({one:.2f} s; goal <= 1.2x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the leads (a fifth for the midnights)")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB's threads (default: the cores)")
    parser.add_argument("--no-kept-statements", action="store_true",
                        help="write DuckDB's statements in this run rather than read those an earlier run kept")
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep against one replay (part 3)")
    args = parser.parse_args()
    if not args.no_kept_statements:
        keep_grammar_tables()   # as the command line does
    duckdb = DuckDBEngine(threads=args.threads)
    print(f"duckdb threads: {duckdb.threads}")
    acme = leadscore.load(str(ACME))
    scorer = acme.compile()
    buckets = buckets_of(make_data(10_000 if args.quick else 100_000, scorer.property_types, scorer.field_types))
    window = Window(T - 200 * DAY, END)
    if args.sweep_only:
        timed(duckdb, buckets, Plan.of("acme", acme.checked), window)   # warm, as part 1 leaves DuckDB and memory
    else:
        compare("acme", buckets, Plan.of("acme", acme.checked), window, duckdb)
    sweep(buckets, acme.checked, window, duckdb)
    if args.sweep_only:
        return
    del buckets
    # one folder for every run: the ruleset's path is part of its program, and so of the key
    # its kept statements are found by
    folder = Path(tempfile.gettempdir()) / "leadscore-bench-replay-midnights"
    folder.mkdir(exist_ok=True)
    (folder / "schema.yaml").write_text(MIDNIGHT_SCHEMA)
    (folder / "rules.score").write_text(MIDNIGHT_RULES)
    checked = leadscore.load(str(folder / "rules.score")).checked
    buckets = midnight_buckets(4_000 if args.quick else 20_000, checked)
    compare("midnight crossings", buckets, Plan.of("midnights", checked), Window(T - 130 * DAY, END), duckdb)


if __name__ == "__main__":
    main()

"""Benchmark: `leadscore score` end to end, spark engine (local mode) vs duckdb engine, same run.

    python benchmarks/bench_spark.py [--leads N] [--jobs N] [--repeat N]

The data of bench_engines.py (100k leads, ~3M events with the acme ruleset, events in random
order), as CSV and Parquet. Spark's local session is started once before the rounds and its
start-up is shown apart (the command reuses the process's session, as a long-lived job would);
each engine then scores both files through the click command, the best of `--repeat` rounds
shown with events/s and the spark/duckdb ratio. The spark rows are checked against the duckdb
rows (scores to 1e-9, thresholds and segments equal). Needs `pip install 'leadscore[spark]'`
and Java 17+.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engines import rows, run, same  # noqa: E402
from bench_score import ROOT, make_data, write_tables  # noqa: E402

import leadscore  # noqa: E402
from leadscore.engines import EngineError  # noqa: E402
from leadscore.engines.spark_engine import spark_session  # noqa: E402

ENGINES = ("duckdb", "spark")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2, help="threads (duckdb) / local[N] cores (spark)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best of each is shown")
    args = parser.parse_args()
    path = str(ROOT / "rulesets" / "acme" / "scoring.score")
    scorer = leadscore.load(path).compile()
    data = make_data(args.leads, scorer.property_types, scorer.field_types)
    events = sum(len(v) for _, g in data for v in g.values())
    start = time.perf_counter()
    try:
        session = spark_session(threads=args.jobs)
    except EngineError as error:
        sys.exit(f"bench_spark: {error}")
    started = time.perf_counter() - start
    best: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as folder:
        paths = write_tables(Path(folder), data, scorer.field_types)
        print(f"{args.leads:,} leads, {events:,} events, acme ruleset, --jobs {args.jobs}; events in random order")
        print(f"  spark local[{args.jobs}] session started in {started:.1f} s (not in the times below)")
        for _ in range(args.repeat):   # interleaved: a slow spell of a shared machine hits every run
            for fmt in ("csv", "parquet"):
                outputs = {}
                for engine in ENGINES:
                    out = str(Path(folder) / f"scores-{engine}.csv")
                    seconds = run(path, *paths[fmt], out, engine, args.jobs)
                    best[fmt, engine] = min(best.get((fmt, engine), math.inf), seconds)
                    outputs[engine] = rows(out)
                same(outputs["duckdb"], outputs["spark"], len(scorer.scores))
    session.stop()
    for fmt in ("csv", "parquet"):
        duckdb, spark = best[fmt, "duckdb"], best[fmt, "spark"]
        print(f"  {fmt:<7} duckdb {duckdb:6.2f} s {events / duckdb:>11,.0f} events/s   "
              f"spark {spark:6.2f} s {events / spark:>11,.0f} events/s   spark takes {spark / duckdb:4.2f}x as long")


if __name__ == "__main__":
    main()

"""Profile: where the DuckDB replay's time goes, per function (cProfile), on acme's benchmark
data (bench_replay_engines.py's first part).

    python benchmarks/profile_duckdb_replay.py [--leads N] [--sweep] [--top N] [--sort tottime|cumtime]
                                               [--callers NAME ...]

`--sweep`: the recording replay of bench_replay_engines' 20-value sweep of `mql_interest`.

The buckets are built first, outside the profile; a replay of a small bucket of other leads
runs before (the statements prepared, DuckDB warm), then each bucket's replay under the profiler.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import leadscore  # noqa: E402
from bench_replay import ACME, END, buckets_of  # noqa: E402
from bench_score import T, make_data  # noqa: E402
from leadscore.cache import keep_grammar_tables  # noqa: E402
from leadscore.simulator.duckdb_backend import DuckDBEngine  # noqa: E402
from leadscore.simulator.engine import Plan, Window  # noqa: E402
from leadscore.simulator.sweep import swept_thresholds  # noqa: E402

DAY = 86400.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--sweep", action="store_true", help="the sweep's recording replay")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumtime"))
    parser.add_argument("--callers", nargs="*", default=[], help="also who calls the functions matching these")
    args = parser.parse_args()
    keep_grammar_tables()
    acme = leadscore.load(str(ACME))
    scorer = acme.compile()
    buckets = buckets_of(make_data(args.leads, scorer.property_types, scorer.field_types))
    plan, window = Plan.of("acme", acme.checked), Window(T - 200 * DAY, END)
    if args.sweep:
        plan = Plan.of("sweep", acme.checked, swept_thresholds(acme.checked, "mql_interest"),
                       frozenset({"mql_interest"}))
    engine = DuckDBEngine()
    warm = buckets_of(make_data(500, scorer.property_types, scorer.field_types, seed=3))
    engine.replay(warm[0], plan, window)
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    for bucket in buckets:
        engine.replay(bucket, plan, window)
    profile.disable()
    print(f"{len(buckets)} buckets, {sum(len(b.at) for b in buckets):,} events: "
          f"{time.perf_counter() - began:.2f} s under the profiler")
    stats = pstats.Stats(profile).sort_stats(args.sort)
    stats.print_stats(args.top)
    for name in args.callers:
        stats.print_callers(name)


if __name__ == "__main__":
    main()

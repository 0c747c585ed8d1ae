"""Benchmark: `leadscore simulate` end to end as the history grows, and with one very long lead.

    python benchmarks/bench_simulate_scale.py [--quick] [--format parquet|csv] [--history-file]
                                              [--engines duckdb,python] [--python-up-to X] [--jobs N]
                                              [--memory-limit 1GB] [--skip-30m] [--limit-30m SECONDS]
                                              [--skip-scales] [--skip-long-lead]

Generates (vectorised, in chunks: this process stays small) acme histories of the shape of
bench_scale.py's — 100k leads and ~3M events at 1x over 180 days, leads with a creation time,
events in random order, one lead in ten won — and runs `leadscore simulate` on each in a child
process, as the shell would:

1. 1x, 3x and 10x (`--quick`: 0.1x, 0.3x, 1x) on each engine: wall time, events/s, the time per
   x against the first size's (linear growth: ~1.0), and peak memory. The Python engine runs
   only up to `--python-up-to` (default 3x, `--quick` 1x): at 10x it takes a quarter of an hour.
2. 30M events (10x; `--quick`: 3M) on the duckdb engine: peak memory, goal < 2 GB (a busy
   machine may stop it after `--limit-30m` seconds: the peak of the part run is reported so).
3. One lead with 100k events (`--quick`: 20k) among leads with ~30, against a history of the
   same size spread evenly, on both engines: goal, no stall (the ratio within a small factor).

Times are wall and CPU seconds (the child's and its workers'; a busy machine stretches wall
time, so the growth is judged on CPU). Peak memory is the child's process tree: the largest
single process (os.wait4's maxrss over the child and its workers) and the sum over the tree
sampled from /proc (PSS, so pages the workers share with the parent count once).
`--history-file` reads the tables through a history.yaml (one DuckDB query per table).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "acme" / "scoring.score"
T = 1_780_000_000   # the history's last instant, epoch seconds
DAY = 86_400
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

# the generated history's shape is bench_scale's (same event mix); memory is read as bench_replay does
from bench_replay import tree_pss_kb  # noqa: E402
from bench_scale import CHUNK, EVENTS_PER_LEAD, KINDS, LEADS_PER_X, PROPERTIES, lead_ids  # noqa: E402


def _times(seconds: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(seconds, pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%SZ")


def write_history(folder: Path, n_leads: int, n_events: int, fmt: str, heavy: int = 0, seed: int = 7) -> None:
    """leads, events and outcomes tables: `n_events` events over 180 days, of which `heavy` go to
    the first lead and the rest to the others at random."""
    rng = np.random.default_rng(seed)
    created = T - 180 * DAY - rng.integers(0, 30 * DAY, n_leads)
    leads = pa.table({"lead_id": lead_ids(np.arange(n_leads)),
                      "industry": pa.array(rng.choice(["Software", "Retail", "Financial Services", "Manufacturing",
                                                       "Other"], n_leads)),
                      "employees": pa.array(rng.choice([5.0, 80.0, 300.0, 8000.0], n_leads)),
                      "country": pa.array(rng.choice(["US", "DE", "FR"], n_leads)),
                      "role": pa.array(rng.choice(["buyer", "end_user", "influencer"], n_leads)),
                      "created_at": _times(created)})
    _write(folder / f"leads.{fmt}", [leads], fmt)
    won = np.flatnonzero(rng.random(n_leads) < 0.1)
    outcomes = pa.table({"lead_id": lead_ids(won), "stage": pa.array(["won"] * len(won)),
                         "at": _times(T - rng.integers(0, 90 * DAY, len(won)))})
    _write(folder / f"outcomes.{fmt}", [outcomes], fmt)
    kinds = list(KINDS)
    weights = np.array([w for _, w in KINDS.values()])
    pool = pa.array([f"/{'pricing' if i % 4 == 0 else 'blog'}/{i}" for i in range(8)])

    def chunks():
        for start in range(0, n_events, CHUNK):
            n = min(CHUNK, n_events - start)
            kind = rng.choice(len(kinds), n, p=weights / weights.sum())
            owner = rng.integers(1 if heavy else 0, n_leads, n)
            owner[np.arange(start, start + n) < heavy] = 0     # the first `heavy` events: lead 0's
            columns = {"lead_id": lead_ids(owner), "type": pa.array(np.array(kinds)[kind]),
                       "at": _times(T - rng.integers(0, 180 * DAY, n))}
            values = pool.take(pa.array(rng.integers(0, len(pool), n)))
            for prop in PROPERTIES:
                has = pa.array(np.isin(kind, [k for k, name in enumerate(kinds) if KINDS[name][0] == prop]))
                columns[prop] = pc.if_else(has, values, pa.scalar(None, pa.string()))
            table = pa.table(columns)
            # random order in the file, so the long lead's events are spread over it
            yield table.take(pa.array(rng.permutation(n)))

    _write(folder / f"events.{fmt}", chunks(), fmt)


def _write(path: Path, tables, fmt: str) -> None:
    writer = None
    for table in tables:
        if writer is None:
            writer = (pq.ParquetWriter(str(path), table.schema) if fmt == "parquet"
                      else pcsv.CSVWriter(str(path), table.schema))
        writer.write_table(table)
    writer.close()


def history_file(folder: Path, fmt: str) -> Path:
    """A history.yaml reading the generated tables, one query per table."""
    path = folder / "history.yaml"
    path.write_text("".join(f"{table}:\n  sql: select * from '{table}.{fmt}'\n"
                            for table in ("leads", "events", "outcomes")))
    return path


def simulate(history: Path, engine: str, jobs: int, memory_limit: str,
             limit: float | None = None) -> tuple[float, float, int, int, bool]:
    """Wall seconds, CPU seconds, the largest process's peak resident bytes and the tree's peak
    PSS bytes of one `leadscore simulate` child process, and whether it finished (it is stopped after `limit`
    seconds)."""
    args = [sys.executable, "-m", "leadscore.cli", "simulate", str(RULESET), "--history", str(history),
            "--engine", engine, "--jobs", str(jobs), "--memory-limit", memory_limit, "--format", "json",
            "-o", os.devnull]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT)
        tree, finished = 0, True
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if limit is not None and time.perf_counter() - start > limit:
                finished = False
                child.terminate()     # the run removes its spill folder on SIGTERM
                _, status, usage = os.wait4(child.pid, 0)
                break
            tree = max(tree, tree_pss_kb(child.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        if finished and os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            sys.exit(f"leadscore simulate --engine {engine} failed:\n{errors.read().decode()}")
    # CPU seconds of the child and its workers (reaped by it): the measure a busy machine moves
    # least, where wall time stretches with every other process
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss * 1024, tree * 1024, finished    # kilobytes on Linux



def run(n_leads: int, n_events: int, engine: str, args, heavy: int = 0,
        limit: float | None = None) -> tuple[float, float, int, int, bool]:
    with tempfile.TemporaryDirectory(prefix="bench-simulate-scale-") as name:
        folder = Path(name)
        write_history(folder, n_leads, n_events, args.format, heavy)
        history = history_file(folder, args.format) if args.history_file else folder
        return simulate(history, engine, args.jobs, args.memory_limit, limit)


def _gb(value: int) -> str:
    return f"{value / 2**30:5.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="0.1x, 0.3x and 1x; a long lead of 20k events")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--history-file", action="store_true", help="read the tables through a history.yaml")
    parser.add_argument("--engines", default="duckdb,python")
    parser.add_argument("--python-up-to", type=float, default=None, help="largest x the python engine runs")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB's limit (simulate --memory-limit)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-30m", action="store_true")
    parser.add_argument("--skip-long-lead", action="store_true")
    parser.add_argument("--skip-scales", action="store_true")
    parser.add_argument("--limit-30m", type=float, default=None, metavar="SECONDS",
                        help="stop the 30M run after this long and report the peak so far (a busy machine)")
    args = parser.parse_args()
    engines = args.engines.split(",")
    scales = (0.1, 0.3, 1) if args.quick else (1, 3, 10)
    python_up_to = args.python_up_to if args.python_up_to is not None else (1 if args.quick else 3)
    source = "a history.yaml over " if args.history_file else ""
    print(f"leadscore simulate (acme), {source}{args.format} tables, --jobs {args.jobs}, "
          f"--memory-limit {args.memory_limit}", flush=True)
    sizes = {}
    if not args.skip_scales:
        for engine in engines:
            base = None
            for scale in scales:
                if engine == "python" and scale > python_up_to:
                    print(f"  {engine:6} {scale:>4}x skipped (--python-up-to {python_up_to:g})")
                    continue
                n_leads, n_events = int(LEADS_PER_X * scale), int(LEADS_PER_X * scale) * EVENTS_PER_LEAD
                seconds, cpu, largest, tree, _ = run(n_leads, n_events, engine, args)
                sizes[(engine, scale)] = seconds
                base = base or cpu / scale
                print(f"  {engine:6} {scale:>4}x {n_events:>12,} events {seconds:8.1f} s wall, {cpu:8.1f} s CPU "
                      f"{n_events / cpu:>10,.0f} events/CPU-s  {cpu / scale / base:5.2f}x the first size's "
                      f"CPU per x   peak {_gb(largest)} (largest process), {_gb(tree)} (tree)", flush=True)
    if not args.skip_30m:
        scale = 1 if args.quick else 10
        if ("duckdb", scale) not in sizes:
            n_events = LEADS_PER_X * scale * EVENTS_PER_LEAD
            seconds, cpu, largest, tree, finished = run(LEADS_PER_X * scale, n_events, "duckdb", args,
                                                   limit=args.limit_30m)
            done = "" if finished else " (stopped there: the peak of the part run)"
            print(f"  duckdb {n_events:,} events: {seconds:.1f} s wall, {cpu:.1f} s CPU{done}, "
                  f"peak {_gb(largest)} (largest process), {_gb(tree)} (tree); goal < 2 GB", flush=True)
    if not args.skip_long_lead:
        long, n_leads = (20_000, 2_000) if args.quick else (100_000, 10_000)
        n_events = long + (n_leads - 1) * EVENTS_PER_LEAD
        for engine in engines:
            _, even, *_ = run(n_leads, n_events, engine, args)
            _, skewed, largest, _, _ = run(n_leads, n_events, engine, args, heavy=long)
            print(f"  {engine:6} one lead with {long:,} of {n_events:,} events: {skewed:6.1f} s CPU, spread evenly "
                  f"{even:6.1f} s = {skewed / even:5.2f}x (goal: a small factor); peak {_gb(largest)}", flush=True)


if __name__ == "__main__":
    main()

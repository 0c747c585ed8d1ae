"""Benchmark: `leadscore score --engine duckdb` as the history grows, time and peak memory.

    python benchmarks/bench_scale.py [--quick] [--format parquet|csv] [--memory-limit 1GB]

Generates (vectorised, in chunks: the generator's own memory stays small) histories of the shape
of bench_score.py's — 100k leads and ~3M events at 1x, events in random order, the acme ruleset —
at 1x, 3x and 10x (30M events), and runs `leadscore score` on each in a child process, as the
shell would: wall time, events/s and the child's peak resident memory (os.wait4). The lines
should grow linearly in time, and the 10x run's peak memory stay under 2 GB.
`--quick`: 0.1x, 0.3x and 1x, for a check in a minute.
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
T = 1_780_000_000   # the as-of instant, epoch seconds
DAY = 86_400
LEADS_PER_X, EVENTS_PER_LEAD = 100_000, 30
KINDS = {"page_view": ("url", 12), "email_open": ("campaign", 6), "email_click": ("campaign", 3),
         "social_click": ("network", 2), "content_download": ("asset", 2), "webinar_attended": ("webinar", 1),
         "contact_form": (None, 1), "demo_request": (None, 0.3), "unsubscribe": (None, 0.2),
         "email_bounce": (None, 0.3), "newsletter_signup": (None, 0.5), "webinar_registered": ("webinar", 0.7)}
PROPERTIES = sorted({p for p, _ in KINDS.values() if p})
CHUNK = 1_000_000   # events generated and written at a time


def lead_ids(numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise("lead-", pc.utf8_lpad(pa.array(numbers).cast(pa.string()), 8, "0"), "")


def write_history(folder: Path, scale: float, fmt: str, seed: int = 7) -> tuple[str, str, int]:
    """leads and events files of `scale` x (100k leads, ~3M events); the number of events."""
    rng = np.random.default_rng(seed)
    n_leads = int(LEADS_PER_X * scale)
    leads = pa.table({"lead_id": lead_ids(np.arange(n_leads)),
                      "industry": pa.array(rng.choice(["Software", "Retail", "Financial Services", "Other"], n_leads)),
                      "employees": pa.array(rng.choice([5.0, 80.0, 300.0, 8000.0], n_leads)).cast(pa.string()),
                      "country": pa.array(rng.choice(["US", "DE", "FR"], n_leads))})
    paths = (str(folder / f"leads.{fmt}"), str(folder / f"events.{fmt}"))
    _write(paths[0], [leads], fmt)
    n_events = n_leads * EVENTS_PER_LEAD
    kinds = list(KINDS)
    weights = np.array([w for _, w in KINDS.values()])

    def chunks():
        for start in range(0, n_events, CHUNK):
            n = min(CHUNK, n_events - start)
            kind = rng.choice(len(kinds), n, p=weights / weights.sum())
            at = pa.array(T - rng.integers(0, 180 * DAY, n), pa.timestamp("s"))
            columns = {"lead_id": lead_ids(rng.integers(0, n_leads, n)), "type": pa.array(np.array(kinds)[kind]),
                       "at": pc.strftime(at, format="%Y-%m-%dT%H:%M:%SZ")}
            pool = pa.array([f"/{'pricing' if i % 4 == 0 else 'blog'}/{i}" for i in range(8)]).take(
                pa.array(rng.integers(0, 8, n)))
            for prop in PROPERTIES:
                has = pa.array(np.isin(kind, [k for k, name in enumerate(kinds) if KINDS[name][0] == prop]))
                columns[prop] = pc.if_else(has, pool, pa.scalar(None, pa.string()))
            yield pa.table(columns)

    _write(paths[1], chunks(), fmt)
    return paths[0], paths[1], n_events


def _write(path: str, tables, fmt: str) -> None:
    writer = None
    for table in tables:
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema) if fmt == "parquet" else pcsv.CSVWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def score(leads: str, events: str, memory_limit: str, jobs: int) -> tuple[float, float, int]:
    """Wall seconds, processor seconds (user + system: on a shared machine the steadier figure)
    and peak resident bytes of one `leadscore score` child process."""
    args = [sys.executable, "-m", "leadscore.cli", "score", str(RULESET), "--leads", leads, "--events", events,
            "--as-of", "2026-05-28T20:26:40Z", "-o", os.devnull, "--format", "csv", "--jobs", str(jobs),
            "--engine", "duckdb", "--memory-limit", memory_limit]
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    said = child.stderr.read().decode()
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0 or "scored" not in said:
        sys.exit(f"leadscore score failed:\n{said}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024   # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="0.1x, 0.3x and 1x instead of 1x, 3x and 10x")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB's limit (score --memory-limit)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    scales = (0.1, 0.3, 1) if args.quick else (1, 3, 10)
    print(f"leadscore score --engine duckdb, {args.format}, --jobs {args.jobs}, --memory-limit {args.memory_limit}")
    base = None
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
            leads, events, n = write_history(Path(folder), scale, args.format)
            seconds, cpu, peak = score(leads, events, args.memory_limit, args.jobs)
        base = base or seconds / scale
        print(f"  {scale:>4}x {n:>12,} events {seconds:8.2f} s {n / seconds:>12,.0f} events/s "
              f"{seconds / scale / base:5.2f}x the 1st run's time per x   processor {cpu:7.2f} s   peak {peak / 2**30:5.2f} GB",
              flush=True)


if __name__ == "__main__":
    main()

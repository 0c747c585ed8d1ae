"""Benchmark: `leadscore calibrate` on 100k leads / ~3M events (the acme ruleset), Python engine
against the DuckDB engine, in the same run.

    python benchmarks/bench_calibrate.py [--leads N] [--repeat N]

The history is bench_score.py's generated data written as CSV files by bench_replay.py
(leads, events in random order, and an outcomes table: about 10% of the leads won). Each
engine runs the command end to end in this process (reading and typing the tables, counting,
the report), interleaved `--repeat` times; the best time of each is shown, with the ratio.
The two JSON reports must be identical. Then the peak memory of each engine, in a child
process (bench_replay.py's measure: the PSS of the process and its children, sampled).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import leadscore  # noqa: E402
from bench_replay import _tree_pss_kb, write_history  # noqa: E402
from bench_score import make_data  # noqa: E402
from leadscore.cli import main as cli  # noqa: E402

ACME = ROOT / "rulesets" / "acme" / "scoring.score"
ENGINES = ("python", "duckdb")


def calibrate(folder: Path, engine: str) -> tuple[float, str]:
    out = folder / f"calibration-{engine}.json"
    args = ["calibrate", str(ACME), "--history", str(folder), "--format", "json", "-o", str(out), "--engine", engine]
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()) as err:
        cli.main(args, standalone_mode=False)
    seconds = time.perf_counter() - start
    if err.getvalue():
        sys.exit(f"leadscore calibrate --engine {engine} did not run cleanly:\n{err.getvalue()}")
    return seconds, out.read_text(encoding="utf-8")


def peak_memory(folder: Path, engine: str) -> float:
    """MB at the peak of `leadscore calibrate --engine ENGINE` run as its own process."""
    child = subprocess.Popen([sys.executable, "-m", "leadscore.cli", "calibrate", str(ACME), "--history", str(folder),
                              "--format", "json", "-o", str(folder / "memory.json"), "--engine", engine],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_pss_kb(child.pid))
        time.sleep(0.02)
    if child.returncode != 0:
        sys.exit(f"leadscore calibrate --engine {engine} failed:\n{child.stderr.read()}")
    return peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best of each engine is shown")
    args = parser.parse_args()
    scorer = leadscore.load(str(ACME)).compile()
    data = make_data(args.leads, scorer.property_types, scorer.field_types)
    events = sum(len(v) for _, g in data for v in g.values())
    best = {engine: math.inf for engine in ENGINES}
    with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as name:
        folder = Path(name)
        start = time.perf_counter()
        write_history(folder, data)
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"{args.leads:,} leads, {events:,} events, acme ruleset (CSV {size:.0f} MB, written in "
              f"{time.perf_counter() - start:.0f} s)")
        for _ in range(args.repeat):   # interleaved: a slow spell of a shared machine hits both
            reports = {}
            for engine in ENGINES:
                seconds, reports[engine] = calibrate(folder, engine)
                best[engine] = min(best[engine], seconds)
            if reports["duckdb"] != reports["python"]:
                sys.exit("the two engines' reports differ")
        memory = {engine: peak_memory(folder, engine) for engine in ENGINES}
    for engine in ENGINES:
        print(f"  calibrate --engine {engine:<7} {best[engine]:7.2f} s   {events / best[engine]:>11,.0f} events/s   "
              f"peak memory {memory[engine]:5.0f} MB")
    print(f"  duckdb is {best['python'] / best['duckdb']:.2f}x faster than python (same run); reports identical")


if __name__ == "__main__":
    main()

"""Benchmark: `leadscore score` end to end, python engine vs duckdb engine, same run.

    python benchmarks/bench_engines.py [--leads N] [--jobs N] [--repeat N]

The data of bench_score.py (100k leads, ~3M events with the acme ruleset), written as CSV and
Parquet with the events in random order (`at` as ISO text), and as Parquet with `at` a
timestamp[us, UTC] ("parquet-ts"); each engine scores every file through the click command, as
the shell would call it, and the best of `--repeat` rounds is shown with events/s
and the duckdb/python ratio, then the processor seconds (user + system, worker processes and
DuckDB's threads included: on a shared machine, steadier than wall time). The duckdb rows are
checked against the python rows (scores to 1e-9, thresholds and segments equal). A third run
scores with the duckdb engine but the events read the other way than `score` reads them at this
size: in bulk into DuckDB (score_tables_duckdb(columnar=True)) for the text files, which `score`
reads with the project's reader up to EXACT_READER_MAX_EVENTS events; with the project's reader
(columnar=False) for parquet-ts, which `score` reads in bulk: the two readers compared
(docs/engines.md).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_score import ROOT, T, make_data, write_tables  # noqa: E402

import leadscore  # noqa: E402
from leadscore.cli import main as cli  # noqa: E402
from leadscore.compiler import runtime as rt  # noqa: E402
from leadscore.engines.duckdb_tables import score_tables_duckdb  # noqa: E402
from leadscore.tables import ProblemLog  # noqa: E402


def processor_seconds() -> float:
    """User + system seconds of this process (DuckDB's threads included) and its finished
    children (the python engine's workers): on a shared machine, steadier than wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(ruleset: str, leads: str, events: str, out: str, engine: str, jobs: int) -> tuple[float, float]:
    args = ["score", ruleset, "--leads", leads, "--events", events, "--as-of", rt.from_epoch(T).isoformat(),
            "-o", out, "--jobs", str(jobs), "--engine", engine]
    start, cpu = time.perf_counter(), processor_seconds()
    with contextlib.redirect_stderr(io.StringIO()) as err:
        cli.main(args, standalone_mode=False)
    seconds = time.perf_counter() - start
    if "scored" not in err.getvalue() or "note:" in err.getvalue():
        sys.exit(f"leadscore score --engine {engine} did not run cleanly:\n{err.getvalue()}")
    return seconds, processor_seconds() - cpu


def run_other_reader(ruleset: str, leads: str, events: str, out: str, jobs: int, columnar: bool
                     ) -> tuple[float, float]:
    """The duckdb engine with the events read in bulk (`columnar`) or by the project's reader;
    timed as `run` (the rule file loaded and checked inside the time)."""
    start, cpu = time.perf_counter(), processor_seconds()
    loaded = leadscore.load(ruleset)
    with open(out, "w", encoding="utf-8", newline="") as handle:
        score_tables_duckdb(loaded.lower(), loaded.checked.schema, leads, events, T, handle, fmt="csv",
                            explain=False, log=ProblemLog(), threads=jobs, columnar=columnar)
    return time.perf_counter() - start, processor_seconds() - cpu


FORMATS = ("csv", "parquet", "parquet-ts")


def with_timestamps(events: str, folder: Path) -> str:
    """The Parquet events file again with `at` a timestamp[us, UTC] (bench_score writes it as text)."""
    table = pq.read_table(events)
    at = pc.strptime(table["at"], format="%Y-%m-%dT%H:%M:%SZ", unit="us").cast(pa.timestamp("us", "UTC"))
    path = str(folder / "events-ts.parquet")
    pq.write_table(table.set_column(table.schema.get_field_index("at"), "at", at), path)
    return path


def rows(path: str) -> list[tuple]:
    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(strings_can_be_null=False,
                                                                     column_types={"lead_id": pa.string()}))
    return list(zip(*(table.column(k).to_pylist() for k in range(table.num_columns))))


def same(python: list[tuple], duckdb: list[tuple], scores: int) -> None:
    assert len(python) == len(duckdb)
    for a, b in zip(python, duckdb):
        assert a[0] == b[0] and a[1 + scores:] == b[1 + scores:], (a, b)
        assert all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for x, y in zip(a[1:1 + scores], b[1:1 + scores])), (a, b)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (python) / threads (duckdb)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best of each is shown")
    args = parser.parse_args()
    path = str(ROOT / "rulesets" / "acme" / "scoring.score")
    scorer = leadscore.load(path).compile()
    data = make_data(args.leads, scorer.property_types, scorer.field_types)
    events = sum(len(v) for _, g in data for v in g.values())
    best: dict = {}
    best_cpu: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as folder:
        paths = write_tables(Path(folder), data, scorer.field_types)
        paths["parquet-ts"] = (paths["parquet"][0], with_timestamps(paths["parquet"][1], Path(folder)))
        print(f"{args.leads:,} leads, {events:,} events, acme ruleset, --jobs {args.jobs}; events in random order")
        for _ in range(args.repeat):   # interleaved: a slow spell of a shared machine hits every run
            for fmt in FORMATS:
                outputs = {}
                for engine in ("python", "duckdb", "other"):
                    out = str(Path(folder) / f"scores-{engine}.csv")
                    seconds, cpu = (run_other_reader(path, *paths[fmt], out, args.jobs, fmt != "parquet-ts")
                                    if engine == "other" else run(path, *paths[fmt], out, engine, args.jobs))
                    best[fmt, engine] = min(best.get((fmt, engine), math.inf), seconds)
                    best_cpu[fmt, engine] = min(best_cpu.get((fmt, engine), math.inf), cpu)
                    outputs[engine] = rows(out)
                same(outputs["python"], outputs["duckdb"], len(scorer.scores))
                same(outputs["python"], outputs["other"], len(scorer.scores))
    for fmt in FORMATS:
        python, duckdb, other = best[fmt, "python"], best[fmt, "duckdb"], best[fmt, "other"]
        reader = "project's reader" if fmt == "parquet-ts" else "bulk reader"
        print(f"  {fmt:<10} python {python:6.2f} s {events / python:>11,.0f} events/s   "
              f"duckdb {duckdb:6.2f} s {events / duckdb:>11,.0f} events/s   duckdb is {python / duckdb:4.2f}x   "
              f"duckdb, {reader} {other:6.2f} s {events / other:>11,.0f} events/s")
        print(f"  {'':<10} processor seconds (user + system): python {best_cpu[fmt, 'python']:6.2f}   "
              f"duckdb {best_cpu[fmt, 'duckdb']:6.2f}   duckdb, {reader} {best_cpu[fmt, 'other']:6.2f}")


if __name__ == "__main__":
    main()

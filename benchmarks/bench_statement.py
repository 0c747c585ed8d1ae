"""Benchmark: the DuckDB scoring statement alone, against the bare group-by it cannot beat.

    python benchmarks/bench_statement.py [--leads N] [--threads N] [--repeat N]

The data of bench_score.py (100k leads, ~3M events, the acme ruleset) loaded into native DuckDB
tables with the statement's column types, then, in alternating rounds on one connection: the
statement `score --engine duckdb` runs (run_select's text, the instant bound), the same with
the reason columns (`--explain`), and `SELECT lead_id, count(*) FROM events GROUP BY lead_id`,
the least any statement reading every event once per lead costs. Best of `--repeat` rounds,
wall and processor seconds (DuckDB's threads included: on a shared machine, the steadier one).
No file reading and no Python per row: what the statement itself costs (docs/engines.md).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from sqlglot import exp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_score import ROOT, T, make_data, write_tables  # noqa: E402

import leadscore  # noqa: E402
from leadscore.dsl import types as t  # noqa: E402
from leadscore.engines.duckdb_engine import connect, duckdb_sql  # noqa: E402
from leadscore.engines.sql.select import property_columns  # noqa: E402

# each field's cells as written by write_tables, typed as the statement reads them
_TYPED = {t.STRING: "{c}", t.NUMBER: "CAST({c} AS DOUBLE)", t.BOOLEAN: "CAST({c} AS BOOLEAN)",
          t.DATETIME: "CAST({c} AS TIMESTAMPTZ)", t.LIST: "string_split({c}, ';')"}


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(connection, program, leads: str, events: str) -> None:
    fields = [f"{_TYPED[kind].format(c=quoted(name))} AS {quoted(name)}" for name, kind in program.field_types.items()]
    connection.execute(f"CREATE TABLE leads AS SELECT lead_id, {', '.join(fields)} FROM read_parquet(?)", [leads]).fetchall()
    properties = "".join(f", {quoted(name)}" for name in property_columns(program.property_types))
    connection.execute(f'CREATE TABLE events AS SELECT lead_id, type, CAST("at" AS TIMESTAMPTZ) AS "at"{properties} '
                       "FROM read_parquet(?)", [events]).fetchall()


def processor_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best of each is shown")
    args = parser.parse_args()

    loaded = leadscore.load(str(ROOT / "rulesets/acme/scoring.score"))
    program = loaded.lower()
    data = make_data(args.leads, program.property_types, program.field_types)
    connection = connect()
    connection.execute(f"SET threads = {args.threads}").fetchall()
    with tempfile.TemporaryDirectory() as folder:
        leads, events = write_tables(Path(folder), data, program.field_types)["parquet"]
        load(connection, program, leads, events)
    count = connection.execute("SELECT count(*) FROM events").fetchall()[0][0]
    instant = exp.Placeholder(this="instant")
    runs = {"statement": (duckdb_sql(program, "lead_id", instant), {"instant": T}),
            "statement, reasons": (duckdb_sql(program, "lead_id", instant, reasons=True), {"instant": T}),
            "group-by floor": ("SELECT lead_id, count(*) FROM events GROUP BY lead_id", None)}
    best = {name: (float("inf"), float("inf")) for name in runs}
    for _ in range(args.repeat):
        for name, (sql, params) in runs.items():
            start, cpu = time.perf_counter(), processor_seconds()
            rows = connection.sql(sql, params=params).to_arrow_table().num_rows
            wall, used = time.perf_counter() - start, processor_seconds() - cpu
            assert rows == args.leads or name == "group-by floor", (name, rows)
            best[name] = (min(best[name][0], wall), min(best[name][1], used))
    print(f"{args.leads:,} leads, {count:,} events, acme ruleset, native DuckDB tables, {args.threads} threads")
    floor = best["group-by floor"]
    for name, (wall, used) in best.items():
        print(f"  {name:20s} {wall:6.3f} s  {count / wall / 1e6:6.1f}M events/s  processor {used:6.3f} s"
              f"  {used / floor[1]:5.1f}x the floor's processor time")


if __name__ == "__main__":
    main()

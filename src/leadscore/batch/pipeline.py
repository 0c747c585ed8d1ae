"""Batch scoring end to end: spill the tables into buckets, score each bucket (in worker
processes with `jobs` > 1), report the problems, write the rows in the leads' input order.

Memory is bounded by the bucket size, not the number of leads: the number of buckets grows
with the files, and the rows of several buckets are merged back into input order from their
files, a record batch at a time.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..scratch import spill_folder
from ..signals import worker_pool
from ..tables import ProblemLog, RowProblem, table_format
from . import output
from .bucket import Scored, Setup, score_bucket
from .spill import Buckets, Layout, Spilled, spill
from .summary import Summary

# A bucket's size, as rows of the input: well under 100 MB of Python objects while scored.
EVENTS_PER_BUCKET = 300_000
# `leadscore score` makes smaller buckets still: each event of a bucket becomes Python objects, and
# at 300,000 events they are scored 8% slower per event than at 200,000 (the processor's caches).
SCORE_EVENTS_PER_BUCKET = 200_000
LEADS_PER_BUCKET = 60_000     # and below 65,536, so numpy sorts lead numbers by radix
MAX_BUCKETS = 512
PARALLEL_FROM = 100_000      # events: below this, worker processes cost more than they save
_ROW_BYTES = {"csv": (60, 40), "jsonl": (120, 70)}   # (lead, event): short rows, so estimates err high
_OUTPUT = pa.schema([("pos", pa.int64()), ("row", pa.string())])
_WRITE_ROWS = 8192


def score_tables(backend, schema, leads: str, events: str, instant: float, out: TextIO, *, fmt: str,
                 explain: bool, log: ProblemLog, jobs: int = 1) -> Summary:
    """Score every lead of `leads` at `instant` and write one row per lead to `out`. Problems go
    to `log` (raising TableError in strict mode) before anything is written."""
    layout = Layout.of(schema)
    names = output.columns(backend.scores, backend.thresholds, backend.segments, explain)
    setup = Setup(layout, backend, instant, explain, output.rows_formatter(fmt, names, explain), max(1, log.keep),
                  tuple(backend.scores.index(name) for name in backend.blocks))
    count = bucket_count(leads, events, jobs, min(EVENTS_PER_BUCKET, SCORE_EVENTS_PER_BUCKET))
    # a `with` of its own: its removal is due from the moment the folder exists, even if a
    # signal comes before the next statement
    with (spill_folder() if count > 1 else nullcontext()) as folder, ExitStack() as stack:
        buckets = Buckets(count, folder, layout)
        spilled = spill(leads, events, schema, layout, log, buckets)
        results = _score_all(spilled, setup, min(jobs, count))
        _report(results, spilled, schema.id_column, log)
        head = output.header(fmt, names)
        if head:
            out.write(head)
        if count == 1:
            rows = results[0].rows
            _write(out, ("".join(rows[start:start + _WRITE_ROWS]) for start in range(0, len(rows), _WRITE_ROWS)))
        else:
            streams = [stack.enter_context(ipc.open_stream(_output_path(folder, b))) for b in range(count)]
            _write(out, _merged(streams))
    return Summary(sum(r.leads for r in results), sum(r.events for r in results), sum(r.later for r in results))


def bucket_count(leads: str, events: str, jobs: int, events_per_bucket: int | None = None) -> int:
    n_leads, n_events = _estimate_rows(leads, 0), _estimate_rows(events, 1)
    per_bucket = events_per_bucket or EVENTS_PER_BUCKET
    count = max(1, math.ceil(n_events / per_bucket), math.ceil(n_leads / LEADS_PER_BUCKET))
    if jobs > 1 and n_events >= PARALLEL_FROM:
        count = math.ceil(count / jobs) * jobs   # every worker gets as many buckets
    return min(count, MAX_BUCKETS)


def _estimate_rows(path: str, which: int) -> int:
    fmt = table_format(path)
    if fmt == "arrow":
        return path.table.num_rows
    if fmt == "parquet":
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException):
            return 0   # the reader reports what is wrong with the file
    try:
        return os.path.getsize(path) // _ROW_BYTES[fmt][which]
    except OSError:
        return 0


@dataclass
class _Result:
    """What a bucket hands back to the main process (its rows stay in memory or in a file)."""

    leads: int
    events: int
    later: int
    problems: dict
    rows: list[str]


# The run a worker process scores buckets of: set before the pool forks, inherited by it.
_RUN: tuple[Spilled, Setup] | None = None


def _score_all(spilled: Spilled, setup: Setup, jobs: int) -> list[_Result]:
    global _RUN
    count = spilled.buckets.count
    if count == 1:
        scored = score_bucket(spilled.buckets.read("leads", 0), spilled.buckets.read("events", 0), setup)
        return [_Result(len(scored.rows), scored.events, scored.later, scored.problems, scored.rows)]
    _RUN = (spilled, setup)
    try:
        if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
            # fork: the workers inherit the compiled scorer and the layout, nothing is pickled in
            with worker_pool(jobs) as pool:
                return pool.map(_score_spilled, range(count), chunksize=1)
        return [_score_spilled(bucket) for bucket in range(count)]
    finally:
        _RUN = None


def _score_spilled(bucket: int) -> _Result:
    spilled, setup = _RUN
    buckets = spilled.buckets
    scored: Scored = score_bucket(buckets.read("leads", bucket), buckets.read("events", bucket), setup)
    with ipc.new_stream(_output_path(buckets.folder, bucket), _OUTPUT) as writer:
        for start in range(0, len(scored.rows), _WRITE_ROWS):
            writer.write_batch(pa.record_batch([pa.array(scored.positions[start:start + _WRITE_ROWS], pa.int64()),
                                                pa.array(scored.rows[start:start + _WRITE_ROWS], pa.string())],
                                               schema=_OUTPUT))
    return _Result(len(scored.rows), scored.events, scored.later, scored.problems, [])


def _output_path(folder: str, bucket: int) -> str:
    return os.path.join(folder, f"rows-{bucket}.arrow")


def _merged(streams: list) -> Iterator[str]:
    """The rows of all buckets in position order, as text, a stretch at a time. Each bucket's
    rows are in position order, so every row up to the smallest last position of the batches at
    hand can be placed: each stretch uses up at least one batch, and no more than a batch per
    bucket is held."""
    batches = [iter(stream) for stream in streams]
    held: dict[int, tuple[np.ndarray, pa.Array]] = {}

    def take_next(bucket: int) -> None:
        batch = next(batches[bucket], None)
        while batch is not None and batch.num_rows == 0:
            batch = next(batches[bucket], None)
        if batch is None:
            held.pop(bucket, None)
        else:
            held[bucket] = (batch.column(0).to_numpy(), batch.column(1))

    for bucket in range(len(streams)):
        take_next(bucket)
    while held:
        bound = min(positions[-1] for positions, _ in held.values())
        positions, rows = [], []
        for bucket, (mine, text) in list(held.items()):
            cut = int(np.searchsorted(mine, bound, "right"))
            positions.append(mine[:cut])
            rows.append(text.slice(0, cut))
            if cut == len(mine):
                take_next(bucket)
            else:
                held[bucket] = (mine[cut:], text.slice(cut))
        yield "".join(pa.concat_arrays(rows).take(np.argsort(np.concatenate(positions))).to_pylist())


def _report(results: list[_Result], spilled: Spilled, id_column: str, log: ProblemLog) -> None:
    """The buckets' problems, merged into file order, into the log."""
    for kind, table in (("duplicate_lead", "leads"), ("unknown_lead", "events"), ("score_overflow", "leads")):
        found = [r.problems[kind] for r in results if kind in r.problems]
        if not found:
            continue
        first = sorted(example for _, examples in found for example in examples)[:log.keep or 1]
        file = spilled.lead_file if table == "leads" else spilled.event_file
        log.add_counted([RowProblem(table, file, spilled.row(table, position), id_column, reason, kind)
                         for position, reason in first], sum(count for count, _ in found))


def _write(out: TextIO, texts: Iterator[str]) -> None:
    for text in texts:
        out.write(text)

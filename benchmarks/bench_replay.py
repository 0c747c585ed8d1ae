"""Benchmark: replaying 100k leads / ~3M events through the acme ruleset (LANGUAGE.md §9).

    python benchmarks/bench_replay.py [--quick] [--leads N] [--sample N] [--jobs N] [--skip-files]

Same process, same prepared data (events over 180 days, as in bench_score.py):

1. The replay engine (`leadscore.simulator`, Python backend): every threshold's crossing
   instant, every segment label's first instant, the final state, for every lead.
2. Baselines, hand-written Python of the same rules (bench_score.by_hand) in a plain replay
   loop, with the same bookkeeping:
   A. straightforward: evaluated at every instant of LANGUAGE.md §9 (each event time and
      every midnight). It takes ~40 ms per lead, so it runs on a sample of leads and its
      time is scaled to all leads (leads are drawn independently; the scaling is linear).
      Goal: engine <= 1.0x A. Its results must equal the engine's on the sample.
   B. event instants only (and the final instant): not a correct §9 replay (a threshold
      crossed at midnight as negative points fade is missed), but the least work a replay
      can do; shown so the skipping is judged against the floor, not a strawman.
3. A 20-value sweep of `mql_interest` (one recording replay plus a lookup per value) against
   one replay. Goal <= 1.5x. Checked against per-value replays on the sample.
4. Peak memory of `leadscore simulate` end to end (CSV files, events in random order) at two
   sizes, in a child process: bounded by a bucket, not by the history.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import leadscore  # noqa: E402
from bench_score import T, by_hand, make_data  # noqa: E402
from leadscore.simulator.engine import Plan, Window  # noqa: E402
from leadscore.simulator.history import Bucket  # noqa: E402
from leadscore.simulator.python_backend import PythonEngine  # noqa: E402
from leadscore.simulator.sweep import sweep_crossings, swept_thresholds  # noqa: E402
from leadscore.simulator.variants import literal, override  # noqa: E402

DAY = 86400.0
END = (T // DAY + 1) * DAY            # the replay's end: the midnight after the last event
BUCKET = 20_000                       # leads per bucket, as the file pipeline makes them
ACME = ROOT / "rulesets" / "acme" / "scoring.score"
GRADES, PRIORITIES = ("A", "B", "C", "D"), ("call_within_24h", "nurture", "low_cost_follow_up", "remove")


def buckets_of(data) -> list[Bucket]:
    out = []
    for start in range(0, len(data), BUCKET):
        part = data[start:start + BUCKET]
        at, kinds, pairs, starts = [], [], [], [0]
        for _, grouped in part:
            for when, kind, pair in sorted(((e[0], k, e) for k, v in grouped.items() for e in v),
                                           key=lambda x: x[0]):
                at.append(when)
                kinds.append(kind)
                pairs.append(pair)
            starts.append(len(at))
        n = len(part)
        out.append(Bucket([f"lead-{start + k:06d}" for k in range(n)], list(range(start, start + n)),
                          [f for f, _ in part], [None] * n, at, kinds, pairs, starts, [], [0] * (n + 1)))
    return out


# --- the hand-written baselines ------------------------------------------------------------------

def hand_replay(bucket: Bucket, k: int, midnights: bool):
    """(crossings of mql and sql, first instants of the labels, final result) of one lead."""
    at, kinds, pairs = bucket.at, bucket.kinds, bucket.pairs
    lo, hi = bucket.starts[k], bucket.starts[k + 1]
    fields = bucket.fields[k]
    if hi == lo:
        return None
    first_midnight, last_midnight = (at[lo] // DAY + 1) * DAY, math.ceil(END / DAY) * DAY - DAY
    instants = sorted(set(at[lo:hi]))
    if midnights:
        instants = sorted(set(instants) | set(np.arange(first_midnight, last_midnight + 1, DAY).tolist()))
    elif first_midnight <= last_midnight:
        instants.append(max(instants[-1], last_midnight))
    grouped = {name: [] for name in ("page_view", "email_open", "email_click", "social_click", "content_download",
                                     "newsletter_signup", "webinar_registered", "webinar_attended", "contact_form",
                                     "demo_request", "unsubscribe", "email_bounce")}
    crossings, labels, e, result = [None, None], {}, lo, None
    for instant in instants:
        while e < hi and at[e] <= instant:
            grouped[kinds[e]].append(pairs[e])
            e += 1
        result = by_hand(fields, grouped, instant)
        for i, held in enumerate(result[1]):
            if held and crossings[i] is None:
                crossings[i] = instant
        for name, label in zip(("grade", "priority"), result[2]):
            labels.setdefault((name, label), instant)
    return crossings, labels, result


def run_hand(buckets: list[Bucket], leads: int, midnights: bool) -> float:
    done, start = 0, time.perf_counter()
    for bucket in buckets:
        for k in range(len(bucket)):
            if done == leads:
                return time.perf_counter() - start
            hand_replay(bucket, k, midnights)
            done += 1
    return time.perf_counter() - start


def check_against_hand(buckets: list[Bucket], replayed, leads: int) -> int:
    """Leads whose crossings, first labels or final segments differ from baseline A."""
    differ = 0
    bucket, found = buckets[0], replayed[0]
    for k in range(min(leads, len(bucket))):
        hand = hand_replay(bucket, k, True)
        if hand is None:
            continue
        crossings, labels, result = hand
        mine = [None if math.isnan(v) else v for v in found.crossings[k]]
        firsts = {(name, label): found.first_labels[s][k, i] for s, (name, names) in
                  enumerate((("grade", GRADES), ("priority", PRIORITIES))) for i, label in enumerate(names)
                  if not math.isnan(found.first_labels[s][k, i])}
        final = tuple(names[i] for names, i in zip((GRADES, PRIORITIES), found.final_segments[k]))
        if mine != crossings or firsts != labels or final != result[2]:
            differ += 1
    return differ


# --- the engine ----------------------------------------------------------------------------------------

def run_engine(buckets: list[Bucket], plan: Plan):
    engine, window = PythonEngine(), Window(T - 200 * DAY, END)
    start = time.perf_counter()
    found = [engine.replay(b, plan, window) for b in buckets]
    return time.perf_counter() - start, found


def run_sweep(buckets: list[Bucket], checked, values: list[float]):
    constant = "mql_interest"
    swept = swept_thresholds(checked, constant)
    plan = Plan.of("sweep", checked, swept, frozenset({constant}))
    engine, window = PythonEngine(), Window(T - 200 * DAY, END)
    start = time.perf_counter()
    out = []
    for bucket in buckets:
        replayed = engine.replay(bucket, plan, window)
        out.append(sweep_crossings(checked, constant, replayed.recording, values, len(bucket)))
    return time.perf_counter() - start, out


def check_sweep(buckets: list[Bucket], checked, values: list[float], found, leads: int) -> int:
    """Sample leads whose swept crossing differs from a replay with that value."""
    sample = Bucket(*(getattr(buckets[0], f)[:n] for f, n in (
        ("ids", leads), ("positions", leads), ("fields", leads), ("created", leads))),
        buckets[0].at, buckets[0].kinds, buckets[0].pairs, buckets[0].starts[:leads + 1], [], [0] * (leads + 1))
    differ = 0
    for k, value in enumerate(values[::5]):
        plan = Plan.of("v", override(checked, [("mql_interest", literal(value))]))
        replayed = PythonEngine().replay(sample, plan, Window(T - 200 * DAY, END))
        swept = found[0][0][k * 5, :leads]
        same = (replayed.crossings[:, 0] == swept) | (np.isnan(replayed.crossings[:, 0]) & np.isnan(swept))
        differ += int((~same).sum())
    return differ


# --- end to end, in a child process ------------------------------------------------------------------

def write_history(folder: Path, data, seed: int = 5) -> None:
    rng = random.Random(seed)
    ids = [f"lead-{k:06d}" for k in range(len(data))]
    fields = list(data[0][0])
    leads = {"lead_id": ids}
    for name in fields:
        values = [f[name] for f, _ in data]
        leads[name] = [None if v is None else ";".join(v) if isinstance(v, tuple) else v for v in values]
    types, ats, owners, urls = [], [], [], []
    for k, (_, grouped) in enumerate(data):
        for kind, events in grouped.items():
            for when, properties in events:
                types.append(kind)
                ats.append(int(when))
                owners.append(k)
                urls.append(properties.get("url"))
    order = list(range(len(types)))
    rng.shuffle(order)
    events = pa.table({"lead_id": [ids[owners[i]] for i in order], "type": [types[i] for i in order],
                       "at": pc.strftime(pa.array([ats[i] for i in order], pa.timestamp("s")),
                                         format="%Y-%m-%dT%H:%M:%SZ"),
                       "url": [urls[i] for i in order]})
    won = [k for k in range(len(data)) if rng.random() < 0.1]
    outcomes = pa.table({"lead_id": [ids[k] for k in won], "stage": ["won"] * len(won),
                         "at": pc.strftime(pa.array([int(T - rng.random() * 60 * DAY) for _ in won],
                                                    pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%SZ")})
    pcsv.write_csv(pa.table(leads), folder / "leads.csv")
    pcsv.write_csv(events, folder / "events.csv")
    pcsv.write_csv(outcomes, folder / "outcomes.csv")


def end_to_end(data, leads: int, jobs: int) -> tuple[float, float]:
    """(seconds, peak memory MB) of `leadscore simulate` on a history of the first `leads` leads.

    The peak is sampled from /proc: the proportional set size (PSS) of the child and its worker
    processes, summed, so pages the workers share with it count once. (getrusage's maxrss of
    a child would count this big benchmark process, whose pages the child holds until exec.)"""
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as folder:
        write_history(Path(folder), data[:leads])
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "leadscore.cli", "simulate", str(ACME), "--history", folder,
                                  "--format", "json", "-o", str(Path(folder) / "result.json"), "--jobs", str(jobs)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_pss_kb(child.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            sys.exit(f"leadscore simulate failed:\n{child.stderr.read()}")
    return seconds, peak / 1024


def tree_pss_kb(pid: int) -> int:
    """The memory of a process and its descendants now, in kB (0 for those already gone)."""
    total, stack = 0, [pid]
    while stack:
        found = stack.pop()
        try:
            rollup = Path(f"/proc/{found}/smaps_rollup").read_text()
            total += sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
            for task in Path(f"/proc/{found}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10k leads, a sample of 300")
    parser.add_argument("--leads", type=int, default=None)
    parser.add_argument("--sample", type=int, default=None, help="leads replayed by baseline A")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the end-to-end run")
    parser.add_argument("--skip-files", action="store_true", help="skip the end-to-end memory measurement")
    args = parser.parse_args()
    n = args.leads or (10_000 if args.quick else 100_000)
    sample = min(n, args.sample or (300 if args.quick else 2_000))
    ruleset = leadscore.load(str(ACME))
    scorer = ruleset.compile()
    data = make_data(n, scorer.property_types, scorer.field_types)
    events = sum(len(v) for _, g in data for v in g.values())
    buckets = buckets_of(data)
    print(f"{n:,} leads, {events:,} events over 180 days, acme ruleset; baseline A on {sample:,} leads")

    plan = Plan.of("acme", ruleset.checked)
    engine_seconds, replayed = run_engine(buckets, plan)
    evaluations = sum(r.evaluations for r in replayed)
    instants = sum(len(set(b.at[b.starts[k]:b.starts[k + 1]])) for b in buckets for k in range(len(b)))
    a_sample = run_hand(buckets, sample, True)
    a_seconds = a_sample * n / sample
    b_seconds = run_hand(buckets, n, False)
    differ = check_against_hand(buckets, replayed, sample)
    print(f"  replay engine:                     {engine_seconds:7.2f} s  {evaluations:,} evaluations "
          f"({evaluations / instants:.2f} per event instant)")
    print(f"  A: hand-written, every instant:    {a_seconds:7.2f} s  (measured {a_sample:.2f} s on {sample:,} "
          f"leads)  engine = {engine_seconds / a_seconds:.3f}x  (goal <= 1.0x)")
    print(f"  B: hand-written, event instants:   {b_seconds:7.2f} s  engine = {engine_seconds / b_seconds:.2f}x  "
          "(not a correct replay: the floor)")
    print(f"  results equal to A on the sample:  {'yes' if differ == 0 else f'NO, {differ} leads differ'}")

    values = [float(v) for v in range(20, 120, 5)]
    sweep_seconds, swept = run_sweep(buckets, ruleset.checked, values)
    sweep_differ = check_sweep(buckets, ruleset.checked, values, swept, min(sample, len(buckets[0])))
    print(f"  sweep of mql_interest, {len(values)} values: {sweep_seconds:7.2f} s  = "
          f"{sweep_seconds / engine_seconds:.2f}x one replay (goal <= 1.5x); "
          f"{'equal' if sweep_differ == 0 else f'{sweep_differ} crossings differ'} to per-value replays on the sample")

    if not args.skip_files:
        sizes = sorted({max(1, n // 4), n})
        for size in sizes:
            seconds, peak = end_to_end(data, size, args.jobs)
            print(f"  leadscore simulate end to end, {size:,} leads (CSV, events shuffled, --jobs {args.jobs}): "
                  f"{seconds:6.1f} s, peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()

"""Benchmark: the Python API, input normalisation included, against hand-written Python.

    python benchmarks/bench_api.py [--leads N]

Same process, same Python values (lead dicts, event dicts with aware datetimes, an aware
as-of), the acme ruleset (35 rules):
- `scorer.score(lead, events, as_of)` one lead at a time, and `scorer.score_many(...)`;
- a careful hand-written function of the same rules taking the same values: it groups and
  sorts the events, converts the times, and applies the rules (bench_score.by_hand), trusting
  its input (no type checks).
Goal: the API <= 1.0x the hand-written time. Reasons are not built (explain=False).
Times are this process's CPU time (time.process_time): on a machine shared with other work,
wall-clock time also counts the moments the process waits for a processor.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import leadscore  # noqa: E402
from bench_score import T, by_hand, make_data  # noqa: E402


def raw_inputs(data, field_types):
    """What an API caller holds: native values, datetimes for times, events in one list."""
    leads, events = [], []
    for fields, grouped in data:
        lead = {}
        for name, value in fields.items():
            if value is not None and field_types[name] == "datetime":
                value = datetime.fromtimestamp(value, timezone.utc)
            elif isinstance(value, tuple):
                value = list(value)
            lead[name] = value
        leads.append(lead)
        events.append([{"type": kind, "at": datetime.fromtimestamp(at, timezone.utc), "properties": props}
                       for kind, group in grouped.items() for at, props in group])
    return leads, events


def hand_written(types):
    def score(lead, events, as_of):
        instant = as_of.timestamp()
        grouped = {kind: [] for kind in types}
        for e in events:
            at = e["at"].timestamp()
            if at <= instant:
                grouped[e["type"]].append((at, e["properties"]))
        for group in grouped.values():
            group.sort(key=lambda e: e[0])
        return by_hand(lead, grouped, instant)
    return score


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best of each is shown")
    args = parser.parse_args()
    scorer = leadscore.load(str(ROOT / "rulesets" / "acme" / "scoring.score")).compile()
    data = make_data(args.leads, scorer.property_types, scorer.field_types)
    leads, events = raw_inputs(data, scorer.field_types)
    as_of = datetime.fromtimestamp(T, timezone.utc)
    hand = hand_written(scorer.property_types)

    for lead, evs in zip(leads[:2000], events[:2000]):   # the baseline computes the same thing
        result, expected = scorer.score(lead, evs, as_of), hand(lead, evs, as_of)
        assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(result.scores.values(), expected[0]))
        assert tuple(result.thresholds.values()) == expected[1]

    by_id = dict(enumerate(leads))
    events_by_id = dict(enumerate(events))

    def best(fn) -> float:
        times = []
        for _ in range(args.repeat):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        return min(times)

    baseline = best(lambda: [hand(lead, evs, as_of) for lead, evs in zip(leads, events)])
    one = best(lambda: [scorer.score(lead, evs, as_of) for lead, evs in zip(leads, events)])
    many = best(lambda: scorer.score_many(by_id, events_by_id, as_of))
    n_events = sum(map(len, events))
    print(f"{args.leads:,} leads, {n_events:,} events, acme ruleset, best of {args.repeat}")
    print(f"  hand-written Python (baseline): {baseline:7.2f} s CPU")
    print(f"  scorer.score, one at a time:    {one:7.2f} s   {one / baseline:5.2f}x the baseline (goal <= 1.0x)")
    print(f"  scorer.score_many:              {many:7.2f} s   {many / baseline:5.2f}x the baseline")


if __name__ == "__main__":
    main()

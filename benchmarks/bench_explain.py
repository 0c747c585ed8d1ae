"""Benchmark: `explain --timeline` for one acme lead with many events, and how it grows.

    python benchmarks/bench_explain.py [--small N] [--large N]

Same process, the same lead and ruleset, the explanation built from prepared events (reading
the tables is bench_tables.py's business): the timeline of a lead with --small events (10,000,
the baseline) and of one with --large events (40,000). Each timeline entry evaluates every
earlier event (decay makes each count anew at every instant), so entries for every event would
grow quadratically: 4× the events, 16× the time. The timeline keeps its last TIMELINE_ROWS
entries, so its cost is linear. Goal: large / small <= 6× for 4× the events (linear, with
room for cache effects).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import leadscore  # noqa: E402
from leadscore.compiler import runtime as rt  # noqa: E402
from leadscore.explain import TIMELINE_ROWS, explain  # noqa: E402

DAY = 86400.0
T = 1_780_000_000.0
KINDS = ["page_view", "email_open", "email_click", "content_download", "webinar_attended", "demo_request"]


def lead_events(n: int, properties: dict) -> list[tuple[str, float, dict]]:
    rng = random.Random(n)
    return [(kind, T - rng.random() * 720 * DAY, {p: rng.choice(["/pricing/a", "/blog/b"]) for p in properties[kind]})
            for kind in (rng.choice(KINDS) for _ in range(n))]


def timed(ruleset, scorer, source: str, fields: dict, events: list) -> float:
    start = time.perf_counter()
    x = explain(ruleset, scorer, source, "bench", fields, events, T, timeline=True)
    elapsed = time.perf_counter() - start
    assert len(x.timeline) == min(len(events), TIMELINE_ROWS)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=40_000)
    args = parser.parse_args()
    path = ROOT / "rulesets" / "acme" / "scoring.score"
    ruleset = leadscore.load(str(path))
    scorer = ruleset.compile()
    source = path.read_text(encoding="utf-8")
    fields = rt.prepare_fields({"industry": "Manufacturing", "employees": 300}, scorer.field_types)
    timed(ruleset, scorer, source, fields, lead_events(1_000, scorer.property_types))   # warm up
    small = timed(ruleset, scorer, source, fields, lead_events(args.small, scorer.property_types))
    large = timed(ruleset, scorer, source, fields, lead_events(args.large, scorer.property_types))
    growth = args.large / args.small
    print(f"explain --timeline, one acme lead (the last {TIMELINE_ROWS} events get a row):")
    print(f"  {args.small:>7,} events (baseline): {small:7.2f} s")
    print(f"  {args.large:>7,} events:            {large:7.2f} s")
    print(f"  ratio large / baseline:    {large / small:7.2f}x for {growth:g}x the events "
          f"(linear {growth:g}x, quadratic {growth * growth:g}x; goal <= {growth * 1.5:g}x)")


if __name__ == "__main__":
    main()

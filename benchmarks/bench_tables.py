"""Benchmark: reading a 3M-row events CSV with `leadscore.tables.read_events`.

    python benchmarks/bench_tables.py [--events N] [--leads N]

Generates an events table (~30 events per lead, types and properties from the
Acme schema, ISO 8601 times in UTC) in a temporary folder, then times, in the
same run on the same machine:
- read_events: pyarrow batches, column-wise typing, Event objects;
- baseline: the loop one would write first — csv.DictReader, the same typed
  conversion per row (datetime.fromisoformat per time), one Event per row.
Both are consumed completely and must yield every event. The machine this
runs on may be shared: each reader is timed --repeat times, interleaved, and
the best time of each is compared.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from leadscore.dsl.schema import parse_schema  # noqa: E402
from leadscore.tables import Event, ProblemLog, read_events  # noqa: E402

SCHEMA = ROOT / "rulesets" / "acme" / "schema.yaml"
START = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp())
YEAR = 365 * 86400
# Rough shares of a B2B marketing history: mostly page views and emails.
WEIGHTS = {"page_view": 40, "email_open": 25, "email_click": 8, "social_click": 5, "content_download": 4,
           "newsletter_signup": 2, "webinar_registered": 2, "webinar_attended": 1, "contact_form": 1,
           "demo_request": 1, "unsubscribe": 0.5, "email_bounce": 0.5}
SAMPLES = {"url": [f"/{p}" for p in ("pricing", "product", "blog/scoring", "docs", "careers", "about")],
           "campaign": [f"q{q}-{name}" for q in range(1, 5) for name in ("launch", "nurture", "promo")],
           "network": ["linkedin", "twitter", "facebook"],
           "asset": ["whitepaper.pdf", "ebook.pdf", "case-study.pdf"],
           "webinar": ["intro", "advanced", "roadmap"]}


def generate(path: Path, schema, events: int, leads: int, seed: int = 7) -> None:
    """Write the events CSV column-wise with pyarrow (a Python loop would take longer than the read)."""
    rng = random.Random(seed)
    types = [t for t in schema.events if t in WEIGHTS]
    props = sorted({p for t in types for p in schema.events[t].properties})
    ids = [f"lead-{i:06d}" for i in range(leads)]
    type_col = pa.array(rng.choices(types, weights=[WEIGHTS[t] for t in types], k=events))
    at = pa.array([START + rng.randrange(YEAR) for _ in range(events)], pa.timestamp("s"))
    columns = {"lead_id": pa.array(rng.choices(ids, k=events)), "type": type_col,
               "at": pc.strftime(at, format="%Y-%m-%dT%H:%M:%SZ")}
    for prop in props:
        owners = pa.array([t for t in types if prop in schema.events[t].properties])
        values = pa.array(rng.choices(SAMPLES.get(prop, ["x"]), k=events))
        columns[prop] = pc.if_else(pc.is_in(type_col, owners), values, pa.scalar(None, pa.string()))
    pcsv.write_csv(pa.table(columns), path, pcsv.WriteOptions(quoting_style="needed"))


def baseline(path: Path, schema):
    """The straightforward reader: one dict per row, conversions per cell."""
    specs = {name: spec.properties for name, spec in schema.events.items()}
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            spec = specs.get(row["type"])
            if spec is None or not row["lead_id"]:
                continue
            try:
                at = datetime.fromisoformat(row["at"])
            except ValueError:
                continue
            if at.tzinfo is None:
                at = at.replace(tzinfo=timezone.utc)
            properties = {}
            for name, field in spec.items():
                value = row.get(name) or None
                if value is not None:
                    value = NAIVE[field.type](value)
                properties[name] = value
            yield row["lead_id"], Event(row["type"], at.timestamp(), properties)


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _time(text: str):
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


NAIVE = {"string": str, "number": _number, "datetime": _time,
         "boolean": lambda text: {"true": True, "yes": True, "1": True, "false": False, "no": False,
                                  "0": False}.get(text.strip().lower()),
         "list": lambda text: [item.strip() for item in text.split(";") if item.strip()] or None}


def timed(rows, expected: int) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in rows)
    seconds = time.perf_counter() - start
    if count != expected:
        sys.exit(f"expected {expected} events, got {count}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--leads", type=int, default=None, help="default: events / 30")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds, each timing all three readers in turn; the best round of each is shown")
    args = parser.parse_args()
    leads = args.leads or max(1, args.events // 30)
    schema, diagnostics = parse_schema(SCHEMA.read_text(encoding="utf-8"), str(SCHEMA))
    if schema is None:
        sys.exit("\n".join(d.message for d in diagnostics))
    known = {f"lead-{i:06d}" for i in range(leads)}

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.csv"
        start = time.perf_counter()
        generate(path, schema, args.events, leads)
        print(f"generated {args.events:,} events for {leads:,} leads "
              f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f}s")
        readers = {"read_events": lambda: read_events(str(path), schema, log),
                   "read_events + known_leads": lambda: read_events(str(path), schema, log, known),
                   "baseline (csv.DictReader)": lambda: baseline(path, schema)}
        times: dict[str, list[float]] = {label: [] for label in readers}
        for _ in range(args.repeat):   # interleaved, so a slow spell of the machine hits every reader
            for label, rows in readers.items():
                log = ProblemLog()
                times[label].append(timed(rows(), args.events))
                if log.total():
                    sys.exit("\n".join(log.summary_lines()))

    for label, seconds in times.items():
        print(f"{label:<27} best {min(seconds):6.2f}s  {args.events / min(seconds) / 1e6:5.2f}M events/s"
              f"   (all: {', '.join(f'{s:.2f}' for s in seconds)})")
    ours, base = min(times["read_events"]), min(times["baseline (csv.DictReader)"])
    print(f"speed-up over baseline: {base / ours:.1f}x")


if __name__ == "__main__":
    main()

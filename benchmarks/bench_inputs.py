"""Benchmark: hostile sizes in rule and schema files (issue 10, items 10 and 11).

    python benchmarks/bench_inputs.py

Each case is measured against a baseline in the same run on the same machine:
- a schema with 100,000 `values`: `parse_schema` against PyYAML's bare
  `safe_load` of the same text (the floor: reading the YAML at all);
- a 10 MB string literal and a 600,000-operand `or` chain (10 MB): the parse's
  time and peak memory, against the file's size. Both are refused (LS112,
  LS113); what matters is that refusing them stays cheap.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from leadscore.dsl.parser import _lark, parse  # noqa: E402
from leadscore.dsl.schema import parse_schema  # noqa: E402

HEADER = 'ruleset "bench" version 1\nschema "schema.yaml"\n'


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def peak(function, *args) -> int:
    tracemalloc.start()   # slows the run down: timed separately
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    values = ", ".join(f"v{i}" for i in range(100_000))
    schema = f"lead:\n  fields:\n    industry: {{type: string, values: [{values}]}}\n"
    ours, (parsed, _) = timed(parse_schema, schema, "schema.yaml")
    assert len(parsed.fields["industry"].values) == 100_000
    floor, _ = timed(yaml.safe_load, schema)
    print(f"schema, 100,000 values: {ours:.1f} s, {ours / floor:.2f}x a bare safe_load ({floor:.1f} s)")

    _lark()
    for name, text in (("10 MB string literal", HEADER + 'const a = "' + "x" * 10_000_000 + '"\n'),
                       ("600,000-operand `or`", HEADER + "score s {\n  r: +1 if "
                        + " or ".join(["employees > 1"] * 600_000) + "\n}\n")):
        seconds, _ = timed(parse, text, "rules.score")
        most = peak(parse, text, "rules.score")
        print(f"{name} ({len(text) / 1e6:.1f} MB): {seconds:.1f} s, peak {most / 1e6:.0f} MB "
              f"({most / len(text):.1f}x the file)")


if __name__ == "__main__":
    main()

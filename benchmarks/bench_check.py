"""Benchmark: parse + check a generated 2,000-line ruleset, and `leadscore check` start-up.

    python benchmarks/bench_check.py

Baselines are measured in the same run on the same machine:
- front end: Lark's bare LALR parse of the same text with the same grammar
  (no AST, no checking) — the floor any front end on Lark stands on;
- start-up: `python -c pass` — the interpreter's own start-up.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from leadscore.dsl.checker import check  # noqa: E402
from lark import Lark  # noqa: E402

from leadscore.dsl.parser import LinePostLexer, grammar_text, parse  # noqa: E402
from leadscore.dsl.schema import parse_schema  # noqa: E402

SCHEMA = ROOT / "rulesets" / "acme" / "schema.yaml"
TARGET_LINES = 2000


def generate_ruleset(lines: int) -> str:
    """A ruleset of about `lines` lines using every kind of rule."""
    out = ['ruleset "bench" version 1', 'schema "schema.yaml"', "",
           'const free = ["gmail.com", "yahoo.com"]', "const bar = 40", ""]
    block = 0
    while len(out) < lines - 12:
        out += [f"score s{block} {{", "  decay half_life 30d", "  clamp 0..100",
                "  inactivity after 60d: -5 every 7d"]
        for i in range(40):
            k = f"{block}_{i}"
            kind = i % 5
            if kind == 0:
                out.append(f'  fin_{k}: +{i + 1} if industry == "Financial Services" '
                           f"and employees >= {i * 100}")
            elif kind == 1:
                out.append(f"  visit_{k}: +1 per page_view where url starts_with \"/p{i}\" "
                           f"within 30d, max {i + 5}, at most 3 per day")
            elif kind == 2:
                out.append(f"  title_{k}: +5 if job_title matches /\\b(chief|vp{i})\\b/i "
                           "and domain(email) not in free")
            elif kind == 3:
                out += [f"  size_{k}: case {{", "    +7 if employees >= 1000",
                        "    +3 if employees >= 50", "    +1 otherwise", "  }"]
            else:
                out.append(f"  binge_{k}: +25 if count(content_download within 30d) >= {i}")
        out += ["}", ""]
        block += 1
    names = " + ".join(f"s{b}" for b in range(block))
    out += [f"score total = {names}", "threshold mql: total >= bar",
            "segment grade {", "  A if total >= 80", "  B otherwise", "}"]
    return "\n".join(out) + "\n"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def front_end(text: str, schema) -> None:
    ruleset, diagnostics = parse(text, "bench.score")
    checked, more = check(ruleset, schema)
    assert checked is not None, (diagnostics + more)[:3]


def startup(cmd: list[str], repeat: int = 7) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    text = generate_ruleset(TARGET_LINES)
    n_lines = text.count("\n")
    schema, problems = parse_schema(SCHEMA.read_text(), str(SCHEMA))
    assert schema is not None and not problems
    # The baseline: a plain Lark LALR parser of the same grammar building its
    # parse tree with positions on, as a front end without our passes would.
    lark = Lark(grammar_text(), parser="lalr", strict=True, propagate_positions=True,
                postlex=LinePostLexer())
    front_end(text, schema)  # warm up (grammar tables, regex caches)

    bare = best_of(lambda: lark.parse(text), 5)
    ours = best_of(lambda: front_end(text, schema), 5)
    print(f"ruleset: {n_lines} lines")
    print(f"  Lark bare parse (baseline): {bare * 1000:7.1f} ms  {n_lines / bare:9,.0f} lines/s")
    print(f"  parse + AST + check:        {ours * 1000:7.1f} ms  {n_lines / ours:9,.0f} lines/s")
    print(f"  ratio ours / baseline:      {ours / bare:7.2f}x")

    with tempfile.TemporaryDirectory() as folder:
        rule_file = Path(folder) / "acme.score"
        shutil.copy(ROOT / "rulesets" / "acme" / "scoring.score", rule_file)
        shutil.copy(SCHEMA, Path(folder) / "schema.yaml")
        python = startup([sys.executable, "-c", "pass"])
        check_cmd = startup([sys.executable, "-m", "leadscore.cli", "check", str(rule_file)])
    print("start-up (median of 7):")
    print(f"  python -c pass (baseline):  {python * 1000:7.1f} ms")
    print(f"  leadscore check acme:       {check_cmd * 1000:7.1f} ms  (goal < 300 ms)")
    print(f"  ratio ours / baseline:      {check_cmd / python:7.2f}x")


if __name__ == "__main__":
    main()

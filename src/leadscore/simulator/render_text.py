"""The simulation result as terminal tables (rich).

Names, labels and lead ids come from the rule file and the tables: every cell and title is a
`Text` (never read as rich markup) of `shown` text, and every line is printed with markup off.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..safe_text import shown
from . import formatting as f


def _text(value: str) -> Text:
    return Text(shown(value))


def _line(console: Console, text: str) -> None:
    console.print(shown(text), highlight=False, markup=False, soft_wrap=True)


def render_text(result: dict, console: Console) -> None:
    console.print("[bold]Simulation[/bold]", highlight=False)
    for line in f.header_lines(result, shown, lambda name: f"`{shown(name)}`"):
        _line(console, line)   # one line each, as in Markdown
    variants = result["variants"]
    names = list(variants)
    compare = names == ["baseline", "candidate"]
    thresholds = list(dict.fromkeys(t for v in variants.values() for t in v["thresholds"]))
    for threshold in thresholds:
        metrics = [v["thresholds"].get(threshold, {}) for v in variants.values()]
        table = Table(title=_text(f"threshold {threshold}"), title_justify="left", show_edge=False)
        table.add_column("metric")
        for name in names:
            table.add_column(_text(name), justify="right")
        if compare:
            table.add_column("change", justify="right")
        for label, kind, values in f.metric_rows(metrics):
            row = [label] + [f.value(v, kind) for v in values]
            if compare:
                row.append(f.delta(values[0], values[1], kind))
            table.add_row(*row)
        console.print()
        console.print(table)
        _breakdowns(console, variants, threshold)
        flips = result.get("flips", {}).get(threshold)
        if flips:
            _flips(console, threshold, flips)
    _segments(console, variants)
    _ranking(console, variants)
    if "sweep" in result:
        _sweep(console, result["sweep"])
    _notes(console, result)


def _flips(console: Console, threshold: str, flips: dict) -> None:
    counts = ", ".join(f"{text} {flips.get(key, 0):,}" for key, text in f.FLIPS)
    _line(console, f"leads that flip on {threshold}: {counts}")
    for e in flips.get("examples") or []:
        points = f.flip_points(e)
        _line(console, f"  {e['lead_id']}: {e['change']} ({e['baseline'] or f.NONE} → {e['candidate'] or f.NONE}); "
                       f"cause: {f.flip_cause(e)}; {f.flip_outcome(e)}"
                       + (f"; points at {e['at']}: {points}" if points else ""))


def _breakdowns(console: Console, variants: dict, threshold: str) -> None:
    for field in f.breakdown_fields(variants, threshold):
        head, rows = f.breakdown_table(variants, threshold, field)
        table = Table(title=_text(f"threshold {threshold} by {field}"), title_justify="left", show_edge=False)
        for i, name in enumerate(head):
            table.add_column(_text(name), justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(_text(row[0]), *row[1:])
        console.print()
        console.print(table)


def _ranking(console: Console, variants: dict) -> None:
    head, rows = f.ranking_rows(variants)
    if not rows:
        return
    table = Table(title="ranking power of each score's peak in the window", title_justify="left", show_edge=False)
    for i, name in enumerate(head):
        table.add_column(name, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(_text(row[0]), _text(row[1]), *row[2:])
    console.print()
    console.print(table)


def _segments(console: Console, variants: dict) -> None:
    segments = list(dict.fromkeys(s for v in variants.values() for s in v.get("segments", {})))
    for segment in segments:
        table = Table(title=_text(f"segment {segment} (leads with an instant in the window)"),
                      title_justify="left", show_edge=False)
        head, rows = f.segment_table(variants, segment)
        table.add_column("label")
        for name in head[1:]:
            table.add_column(_text(name), justify="right")
        for row in rows:
            table.add_row(_text(row[0]), *row[1:])
        console.print()
        console.print(table)


def _sweep(console: Console, sweep: dict) -> None:
    thresholds = list(dict.fromkeys(t for p in sweep["points"] for t in p["thresholds"]))
    how = ("one replay, values evaluated over the stored score paths" if sweep["method"] == "paths"
           else "one replay per value")
    for threshold in thresholds:
        table = Table(title=_text(f"sweep of {sweep['constant']} ({sweep['variant']}, {how}): threshold {threshold}"),
                      title_justify="left", show_edge=False)
        table.add_column(_text(sweep["constant"]), justify="right")
        for name in f.sweep_head():
            table.add_column(name, justify="right")
        for point in sweep["points"]:
            table.add_row(f"{point['value']:g}", *f.sweep_cells(point["thresholds"][threshold]))
        console.print()
        console.print(table)


def _notes(console: Console, result: dict) -> None:
    lines = [f"{p['table']}: {p['count']:,} × {p['kind'].replace('_', ' ')}" + (f" (first: {p['first']})"
                                                                              if p["first"] else "")
             for p in result.get("problems", [])] + list(result.get("notes", []))
    if lines:
        console.print()
        for line in lines:
            _line(console, f"note: {line}")

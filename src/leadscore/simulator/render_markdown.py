"""The simulation result as Markdown, to post on a pull request."""

from __future__ import annotations

from ..safe_text import markdown, markdown_code, markdown_with_code
from . import formatting as f

_EXAMPLES_SHOWN = 10


def _cell(text: str) -> str:
    """Text in a table cell: on one line, pipes escaped, no markup or HTML from names."""
    return markdown(text)


def _table(head: list[str], rows: list[list[str]], right: int = 1) -> list[str]:
    align = ["---"] * min(right, len(head)) + ["---:"] * (len(head) - right)
    return ["| " + " | ".join(map(_cell, head)) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(map(_cell, row)) + " |" for row in rows)]


def render_markdown(result: dict) -> str:
    variants = result["variants"]
    names = list(variants)
    compare = names == ["baseline", "candidate"]
    out = ["## leadscore simulation", ""]
    out += [f"- {line}" for line in f.header_lines(result, markdown, markdown_code)]
    thresholds = list(dict.fromkeys(t for v in variants.values() for t in v["thresholds"]))
    for threshold in thresholds:
        metrics = [v["thresholds"].get(threshold, {}) for v in variants.values()]
        rows = []
        for label, kind, values in f.metric_rows(metrics):
            row = [label] + [f.value(v, kind) for v in values]
            if compare:
                row.append(f.delta(values[0], values[1], kind))
            rows.append(row)
        out += ["", f"### Threshold {markdown_code(threshold)}", ""]
        out += _table(["metric", *names, *(["change"] if compare else [])], rows)
        for field in f.breakdown_fields(variants, threshold):
            head, by_rows = f.breakdown_table(variants, threshold, field)
            out += ["", f"#### Threshold {markdown_code(threshold)} by {markdown_code(field)}", ""]
            out += _table(head, by_rows)
        flips = result.get("flips", {}).get(threshold)
        if flips:
            out += ["", "Leads that flip: " + ", ".join(f"{text} **{flips.get(key, 0):,}**" for key, text in f.FLIPS)]
            examples = (flips.get("examples") or [])[:_EXAMPLES_SHOWN]
            if examples:
                out += ["", "<details><summary>Examples</summary>", ""]
                out += _table(["lead", "change", "baseline", "candidate", "cause", "outcome", "points there"],
                              [[e["lead_id"], e["change"], e["baseline"] or f.NONE, e["candidate"] or f.NONE,
                                f.flip_cause(e), f.flip_outcome(e), f.flip_points(e) or f.NONE]
                               for e in examples], right=7)
                out += ["", "</details>"]
    for segment in dict.fromkeys(s for v in variants.values() for s in v.get("segments", {})):
        head, rows = f.segment_table(variants, segment)
        out += ["", f"### Segment {markdown_code(segment)} (leads with an instant in the window)", ""]
        out += _table(head, rows)
    head, ranking = f.ranking_rows(variants)
    if ranking:
        out += ["", "### Ranking power (each score's peak in the window)", ""] + _table(head, ranking, right=2)
    if "sweep" in result:
        sweep = result["sweep"]
        swept = list(dict.fromkeys(t for p in sweep["points"] for t in p["thresholds"]))
        for threshold in swept:
            out += ["", f"### Sweep of {markdown_code(sweep['constant'])}: threshold {markdown_code(threshold)}", ""]
            out += _table([sweep["constant"], *f.sweep_head()],
                          [[f"{p['value']:g}", *f.sweep_cells(p["thresholds"][threshold])] for p in sweep["points"]],
                          right=0)
    notes = [f"{p['table']}: {p['count']:,} × {p['kind'].replace('_', ' ')}" for p in result.get("problems", [])]
    notes += result.get("notes", [])
    if notes:
        out += ["", "### Notes", ""] + [f"- {markdown_with_code(n)}" for n in notes]
    return "\n".join(out) + "\n"

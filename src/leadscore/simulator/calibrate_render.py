"""A calibration as text (terminal), Markdown (a pull request) or JSON (machines).

Labels hold names and values from data files: every output but JSON shows them through
`leadscore.safe_text` (control and bidi characters as escapes, no CI workflow command), and
the Markdown output puts them in code spans with `|` escaped, so no value can break a line,
a table or a layout.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from ..safe_text import json_text, markdown_code, markdown_with_code, shown
from .calibrate import Calibration, Row
from .calibrate_rules import where_text

_NONE = "—"


def _percent(value: float | None) -> str:
    return _NONE if value is None else f"{value:.1%}"


def _lift(value: float | None) -> str:
    return _NONE if value is None else f"{value:.2f}"


def _points(row: Row) -> str:
    return "" if row.points is None else f"{row.points:+d}" if row.points else "0"


def _instant(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def _sections(cal: Calibration) -> list[tuple[str, list[Row]]]:
    events = [r for r in cal.rows if r.signal.kind != "field"]
    fields = [r for r in cal.rows if r.signal.kind == "field"]
    return [(title, rows) for title, rows in (("Events before success", events), ("Lead fields", fields)) if rows]


def _headline(cal: Calibration) -> list[str]:
    interval = f" (95% interval {_percent(cal.base_interval[0])}–{_percent(cal.base_interval[1])})" \
        if cal.base_interval else ""
    until = _instant(cal.options.as_of)
    return [f"{cal.ruleset} version {cal.version}: {cal.leads} leads, {cal.successes} successes at stage "
            f"\"{cal.options.success_stage}\", base rate {_percent(cal.base_rate)}{interval}",
            "Events count when they happened before the lead's success"
            + (f", up to {until}; leads that did not exist then are left out." if until else ".")
            + (f" Only decided leads count (a success or a loss at stage \"{cal.options.lost_stage}\")."
               if cal.options.decided_only else "")]


def _cells(row: Row) -> list[str]:
    return [str(row.leads), str(row.successes), _percent(row.rate),
            f"{_percent(row.low)}–{_percent(row.high)}", _lift(row.lift), _points(row), row.note or ""]


_COLUMNS = ["leads", "successes", "rate", "95% interval", "lift", "points", "note"]


def render_text(cal: Calibration, skipped_rows: dict[str, int] | None = None) -> str:
    lines = _headline(cal)
    for title, rows in _sections(cal):
        table = [["signal"] + _COLUMNS] + [[shown(r.signal.label)] + _cells(r) for r in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines += ["", title]
        for line in table:
            cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:-1], widths[1:-1])]
            lines.append(("  " + "  ".join(cells) + "  " + line[-1]).rstrip())
    lines += _skipped_and_notes(cal, skipped_rows, shown)
    if cal.suggestion:
        lines += ["", "Suggested rules (paste into the ruleset, then review):", "",
                  *cal.suggestion.rstrip("\n").split("\n")]
    return "\n".join(shown(line) for line in lines) + "\n"


def _skipped_and_notes(cal: Calibration, skipped_rows: dict[str, int] | None, show) -> list[str]:
    lines = []
    if skipped_rows:
        lines += ["", "Skipped rows: " + ", ".join(f"{table} {n}" for table, n in skipped_rows.items())]
    if cal.notes:
        lines += ["", "Notes:"] + [f"- {show(note)}" for note in cal.notes]
    return lines


def _code(text: str) -> str:
    """A Markdown code span holding any text, safe inside a table cell."""
    return markdown_code(text, in_table=True)


def render_markdown(cal: Calibration, skipped_rows: dict[str, int] | None = None) -> str:
    head = _headline(cal)
    lines = ["### Calibration: " + markdown_with_code(head[0]), "", markdown_with_code(head[1])]
    for title, rows in _sections(cal):
        lines += ["", f"#### {title}", "", "| signal | " + " | ".join(_COLUMNS) + " |",
                  "|---|" + "---:|" * (len(_COLUMNS) - 1) + "---|"]
        for row in rows:
            cells = _cells(row)
            lines.append(f"| {_code(row.signal.label)} | " + " | ".join(cells[:-1]) + f" | {cells[-1]} |")
    lines += _skipped_and_notes(cal, skipped_rows, markdown_with_code)
    if cal.suggestion:
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", cal.suggestion)), default=0))
        lines += ["", "#### Suggested rules", "", f"{fence}text", cal.suggestion.rstrip("\n"), fence]
    return "\n".join(lines) + "\n"


def _row_json(row: Row) -> dict:
    s = row.signal
    return {
        "kind": s.kind, "label": s.label, "event": s.event,
        "where": where_text(s.where) if s.where is not None else None,
        "used_by": list(s.used_by), "field": s.field, "value": s.value,
        "missing": s.missing, "undeclared": s.undeclared,
        "range": [s.low, s.high] if s.ftype == "number" and not s.missing else None,
        "leads": row.leads, "successes": row.successes, "rate": row.rate,
        "low": row.low, "high": row.high, "lift": row.lift, "direction": row.direction,
        "points": row.points, "rule": row.rule_name, "note": row.note,
    }


def calibration_json(cal: Calibration, skipped_rows: dict[str, int] | None = None) -> dict:
    """The stable JSON document (docs/calibrate.md lists every key)."""
    options = cal.options
    return {
        "ruleset": cal.ruleset, "version": cal.version, "as_of": _instant(options.as_of),
        "success_stage": options.success_stage,
        "decided_only": options.decided_only,
        "lost_stage": options.lost_stage.strip().lower() if options.decided_only else None,
        "scale": int(options.scale) if float(options.scale).is_integer() else options.scale,
        "min_count": options.min_count,
        "leads": cal.leads, "successes": cal.successes, "base_rate": cal.base_rate,
        "base_rate_low": cal.base_interval[0] if cal.base_interval else None,
        "base_rate_high": cal.base_interval[1] if cal.base_interval else None,
        "best_lift": cal.best_lift, "divisor": cal.divisor,
        "signals": [_row_json(row) for row in cal.rows],
        "suggested_rules": cal.suggestion, "notes": list(cal.notes),
        "skipped_rows": dict(skipped_rows or {}),
    }


def render_json(cal: Calibration, skipped_rows: dict[str, int] | None = None) -> str:
    return json_text(json.dumps(calibration_json(cal, skipped_rows), indent=2, ensure_ascii=False)) + "\n"

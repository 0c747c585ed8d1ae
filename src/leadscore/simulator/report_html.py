"""The simulation result (docs/simulate.md JSON shape) as one self-contained HTML page.

    html = html_report(result)

A pure function of the result. The page holds its style and its charts
(inline SVG), names no URL, and carries a Content-Security-Policy that
forbids every fetch, so it opens with no network. Every piece of text from
the result (ruleset, threshold, score and variant names, notes) is
HTML-escaped: rule files and histories are untrusted input.

Sections follow what the result holds and are left out when it does not
hold them; docs/report.md lists the keys each section reads. Values of an
unexpected type are ignored, never trusted.
"""

from __future__ import annotations

import json
import math
from html import escape

from . import report_charts as charts
from .formatting import METRICS as _METRICS
from .formatting import NONE as _NONE
from .formatting import sweep_cells as _sweep_cells
from .formatting import sweep_head as _sweep_head
from .formatting import breakdown_table as _breakdown_table

_KNOWN = {key for key, _, _ in _METRICS} | {"weekly", "by", "by_other"}
# Which way a change is an improvement (green) or not (red); other metrics stay neutral.
_BETTER = {"precision": 1, "recall": 1, "lift": 1, "lead_time_median_days": -1, "lead_time_p90_days": -1,
           "weeks_over_capacity": -1, "decided_precision": 1, "revenue": 1, "revenue_recall": 1,
           "revenue_per_crossing": 1}
_EXAMPLES_SHOWN = 20

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 24px 32px 48px; color: #111827; background: #fff;
       font-size: 14px; line-height: 1.45; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #e5e7eb; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #4b5563; margin: 0; }
.meta span + span::before { content: " · "; color: #9ca3af; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #f0f0f0; text-align: right; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
th.text, td.text { text-align: left; }
.up { color: #15803d; } .down { color: #b91c1c; }
.side { display: flex; flex-wrap: wrap; gap: 0 40px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 20px; }
.card small { color: #6b7280; }
summary { cursor: pointer; color: #374151; }
figure { margin: 8px 0 16px; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #4b5563; font-size: 12px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
footer { margin-top: 40px; color: #9ca3af; font-size: 12px; }
"""
# Nothing may be fetched: styles are inline, images (none) could only be data: URLs.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# --- reading the result defensively ---------------------------------------------------------------

def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _arr(value) -> list:
    return value if isinstance(value, list) else []


def _num(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _variants(result: dict) -> dict[str, dict]:
    """The variants, baseline and candidate first."""
    found = {str(k): v for k, v in _obj(result.get("variants")).items() if isinstance(v, dict)}
    order = [k for k in ("baseline", "candidate") if k in found] + [k for k in found if k not in
                                                                     ("baseline", "candidate")]
    return {k: found[k] for k in order}


def _thresholds(variants: dict[str, dict]) -> list[str]:
    names: dict[str, None] = {}
    for variant in variants.values():
        names.update((str(k), None) for k, v in _obj(variant.get("thresholds")).items() if isinstance(v, dict))
    return list(names)


# --- formatting ------------------------------------------------------------------------------------

def _plain_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) >= 1e-3 else f"{value:.3g}"


def _format(value, kind: str = "decimal") -> str:
    """A metric for a table cell (escaped)."""
    if isinstance(value, list):
        items = [_format(v) for v in value[:6]]
        return escape(f"{len(value)}") + (f" ({', '.join(items)}{', …' if len(value) > 6 else ''})" if value else "")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return escape(value)
    number = _num(value)
    if number is None:
        return _NONE
    if kind == "share":
        return f"{100 * number:.1f}%"
    if kind == "ratio":
        return f"{number:.2f}"
    if kind == "days":
        return f"{number:,.1f} d"
    if kind == "count":
        return _plain_number(number)
    return f"{number:,.1f}" if not number.is_integer() else _plain_number(number)


def _delta(before, after, kind: str, better: int = 0) -> str:
    """The change from baseline to candidate; coloured when `better` says which way is good."""
    a, b = _num(before), _num(after)
    if a is None or b is None:
        return ""
    change = b - a
    if change == 0:
        return "0"
    text = {"share": f"{100 * change:+.1f} pp", "ratio": f"{change:+.2f}",
            "days": f"{change:+.1f} d"}.get(kind, f"{change:+,.0f}" if change.is_integer() else f"{change:+,.1f}")
    if not better:
        return text
    return f'<span class="{"up" if change * better > 0 else "down"}">{text}</span>'


def _label(key) -> str:
    return escape(str(key).replace("_", " "))


def _table(head: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = ()) -> str:
    """Cells are HTML already (escaped by the caller)."""
    def cell(tag: str, i: int, content: str) -> str:
        return f'<{tag} class="text">{content}</{tag}>' if i in text_columns else f"<{tag}>{content}</{tag}>"

    out = ["<table>", "<thead><tr>" + "".join(cell("th", i, h) for i, h in enumerate(head)) + "</tr></thead>",
           "<tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


class _Charts:
    """Numbers the charts so each SVG's ids are unique in the page."""

    def __init__(self) -> None:
        self.count = 0

    def key(self) -> str:
        self.count += 1
        return f"c{self.count}"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


# --- sections ------------------------------------------------------------------------------------

def _header(result: dict, variants: dict[str, dict]) -> str:
    baseline = next(iter(variants.values()), {})
    name = baseline.get("ruleset")
    title = "Simulation" + (f": {name}" if isinstance(name, str) else "")
    version = baseline.get("version")
    if isinstance(version, (str, int)) and not isinstance(version, bool):
        title += f" version {version}"
    window = _obj(result.get("window"))
    meta = []
    if isinstance(window.get("start"), str) or isinstance(window.get("end"), str):
        meta.append(f"window {escape(str(window.get('start', '…')))} → {escape(str(window.get('end', '…')))} "
                    "(end excluded)")
    if isinstance(result.get("success_stage"), str):
        meta.append(f"success stage <code>{escape(result['success_stage'])}</code>")
    if _num(result.get("horizon_days")) is not None:
        meta.append(f"horizon {_plain_number(_num(result['horizon_days']))} days")
    capacity = _num(result.get("capacity"))
    meta.append(f"capacity {_plain_number(capacity)} per week" if capacity is not None else "no capacity given")
    cards = []
    for key, label in (("leads", "leads"), ("successes", "successes")):
        if _num(result.get(key)) is not None:
            cards.append(f'<div class="card"><b>{_plain_number(_num(result[key]))}</b><small>{label}</small></div>')
    leads, wins = _num(result.get("leads")), _num(result.get("successes"))
    if leads and wins is not None:
        cards.append(f'<div class="card"><b>{100 * wins / leads:.1f}%</b><small>success rate</small></div>')
    skipped = {str(k): _num(v) for k, v in _obj(result.get("skipped_rows")).items() if _num(v)}
    if skipped:
        text = ", ".join(f"{escape(k)} {_plain_number(v)}" for k, v in skipped.items())
        cards.append(f'<div class="card"><b>{_plain_number(sum(skipped.values()))}</b>'
                     f"<small>rows skipped ({text})</small></div>")
    return (f"<header><h1>{escape(title)}</h1>"
            f'<p class="meta">{"".join(f"<span>{m}</span>" for m in meta)}</p>'
            f'<div class="cards">{"".join(cards)}</div></header>')


def _variants_section(variants: dict[str, dict]) -> str:
    rows = []
    for name, variant in variants.items():
        constants = _obj(variant.get("constants"))
        shown = ", ".join(f"<code>{escape(str(k))} = {_format(v)}</code>" for k, v in constants.items())
        rows.append([escape(name), escape(str(variant.get("ruleset", ""))), escape(str(variant.get("version", ""))),
                     escape(str(variant.get("source", ""))), shown])
    return ('<section id="variants"><h2>Variants</h2>'
            + _table(["variant", "ruleset", "version", "source", "constants"], rows, (1, 2, 3, 4)) + "</section>")


def _metric_rows(metrics: list[dict]) -> list[tuple[str, str, int, list]]:
    """(label, kind, which way is better, value per variant) for the known metrics, then any other
    scalar (nested objects one level deep, as `funnel · leads`)."""
    rows = [(escape(label), kind, _BETTER.get(key, 0), [m.get(key) for m in metrics])
            for key, label, kind in _METRICS if any(key in m for m in metrics)]
    extra: dict[tuple[str, ...], None] = {}
    for m in metrics:
        for key, value in m.items():
            if key in _KNOWN:
                continue
            if isinstance(value, dict):
                extra.update(((key, inner), None) for inner, v in value.items() if not isinstance(v, (dict, list)))
            elif not isinstance(value, list) or all(not isinstance(v, (dict, list)) for v in value):
                extra[(key,)] = None
    for path in extra:
        values = [_obj(m.get(path[0])).get(path[1]) if len(path) == 2 else m.get(path[0]) for m in metrics]
        kind = "share" if path[-1].endswith("rate") else "decimal"
        rows.append((" · ".join(_label(p) for p in path), kind, 0, values))
    return rows


def _thresholds_section(variants: dict[str, dict], thresholds: list[str]) -> str:
    names = list(variants)
    compare = names[:2] == ["baseline", "candidate"]
    parts = ['<section id="thresholds"><h2>Thresholds</h2><div class="side">']
    for threshold in thresholds:
        metrics = [_obj(_obj(v.get("thresholds")).get(threshold)) for v in variants.values()]
        head = ["metric"] + [escape(n) for n in names] + (["change"] if compare else [])
        rows = []
        for label, kind, better, values in _metric_rows(metrics):
            row = [label] + [_format(v, kind) for v in values]
            if compare:
                row.append(_delta(values[0], values[1], kind, better))
            rows.append(row)
        parts.append(f'<div><h3>Threshold <code>{escape(threshold)}</code></h3>{_table(head, rows)}</div>')
    parts.append("</div></section>")
    return "\n".join(parts)


def _breakdowns_section(variants: dict[str, dict], thresholds: list[str]) -> str:
    """The `--by` tables, as the text report has them (the largest groups, then "other")."""
    parts = []
    for threshold in thresholds:
        for field in _breakdown_fields(variants, threshold):
            try:
                head, rows = _breakdown_table(variants, threshold, field)
            except (AttributeError, KeyError, TypeError, ValueError):
                continue     # a hand-made result of another shape
            parts.append(f"<h3>Threshold <code>{escape(threshold)}</code> by <code>{escape(field)}</code></h3>"
                         + _table([escape(h) for h in head], [[escape(c) for c in row] for row in rows], (0,)))
    if not parts:
        return ""
    return '<section id="breakdowns"><h2>Breakdowns</h2>' + "\n".join(parts) + "</section>"


def _breakdown_fields(variants: dict[str, dict], threshold: str) -> list[str]:
    return list(dict.fromkeys(str(name) for v in variants.values()
                              for name in _obj(_obj(_obj(v.get("thresholds")).get(threshold)).get("by"))))


def _sweep_section(result: dict, variants: dict[str, dict], figures: _Charts) -> str:
    sweep = _obj(result.get("sweep"))
    points = [p for p in _arr(sweep.get("points")) if isinstance(p, dict) and _num(p.get("value")) is not None]
    if not points:
        return ""
    constant = str(sweep.get("constant", "value"))
    points.sort(key=lambda p: _num(p["value"]))
    values = [_num(p["value"]) for p in points]
    # the value as written in the variant the sweep varies (the candidate, when there are two)
    name = sweep.get("variant")
    swept = (_obj(variants.get(name)) if isinstance(name, str) else {}) or _obj(next(iter(variants.values()), {}))
    current = _num(_obj(swept.get("constants")).get(constant))
    capacity = _num(result.get("capacity"))
    names: dict[str, None] = {}
    for p in points:
        names.update((str(k), None) for k, v in _obj(p.get("thresholds")).items() if isinstance(v, dict))
    parts = [f'<section id="sweep"><h2>Sweep of <code>{escape(constant)}</code></h2>']
    for threshold in names:
        metrics = [_obj(_obj(p.get("thresholds")).get(threshold)) for p in points]
        series = {key: [_num(m.get(key)) for m in metrics] for key in ("precision", "recall", "weekly_mean")}
        svg = charts.sweep_chart(figures.key(), constant, threshold, values, series["precision"], series["recall"],
                                 series["weekly_mean"], capacity, current)
        parts.append(_figure(svg, f"Threshold <code>{escape(threshold)}</code> for each value of "
                                  f"<code>{escape(constant)}</code>: precision and recall (left axis), mean "
                                  "crossings per week (right axis) against the sales capacity."))
        try:
            rows = [[_plain_number(v)] + [escape(c) for c in _sweep_cells(m)] for v, m in zip(values, metrics)]
            parts.append("<details><summary>Every value as a table</summary>"
                         + _table([escape(constant)] + [escape(h) for h in _sweep_head()], rows) + "</details>")
        except (AttributeError, TypeError, ValueError):
            pass     # a hand-made result of another shape: the chart says it
        weekly = {f"{constant} = {_plain_number(v)}": s for v, m in zip(values, metrics) if (s := _weekly_series(m))}
        if weekly:
            weeks = list(dict.fromkeys(w for s in weekly.values() for w, _ in s))
            counts = {n: [dict(s).get(w, 0.0) for w in weeks] for n, s in weekly.items()}
            parts.append(_figure(charts.weekly_chart(figures.key(), threshold, weeks, counts, capacity),
                                 f"Threshold <code>{escape(threshold)}</code>: crossings per ISO week for each value "
                                 f"of <code>{escape(constant)}</code>"
                                 + (" against the capacity." if capacity is not None else " (no capacity given).")))
    parts.append("</section>")
    return "\n".join(parts)


def _weekly_series(metrics: dict) -> list[tuple[str, float]] | None:
    weeks = []
    for i, item in enumerate(_arr(metrics.get("weekly"))):
        if isinstance(item, dict) and _num(item.get("crossed")) is not None:
            weeks.append((str(item.get("week", i + 1)), _num(item["crossed"])))
        elif _num(item) is not None:
            weeks.append((str(i + 1), _num(item)))
    return weeks or None


def _weekly_section(result: dict, variants: dict[str, dict], thresholds: list[str], figures: _Charts) -> str:
    capacity = _num(result.get("capacity"))
    parts = []
    for threshold in thresholds:
        per_variant = {n: _obj(_obj(v.get("thresholds")).get(threshold)) for n, v in variants.items()}
        series = {n: s for n, m in per_variant.items() if (s := _weekly_series(m))}
        if series:
            weeks = list(dict.fromkeys(w for s in series.values() for w, _ in s))
            counts = {n: [dict(s).get(w, 0.0) for w in weeks] for n, s in series.items()}
            svg = charts.weekly_chart(figures.key(), threshold, weeks, counts, capacity)
            caption = "Crossings per ISO week for each variant"
        else:
            summary = {n: {s: _num(m.get(f"weekly_{s}")) for s in ("mean", "p90", "max")}
                       for n, m in per_variant.items() if any(_num(m.get(f"weekly_{s}")) is not None
                                                              for s in ("mean", "p90", "max"))}
            if not summary:
                continue
            svg = charts.weekly_summary_chart(figures.key(), threshold, summary, capacity)
            caption = "Mean, p90 and largest crossings per week for each variant"
        caption += " against the capacity" if capacity is not None else " (no capacity given)"
        parts.append(_figure(svg, f"Threshold <code>{escape(threshold)}</code>. {caption}."))
    if not parts:
        return ""
    return '<section id="weekly"><h2>Weekly volume against capacity</h2>' + "\n".join(parts) + "</section>"


def _histogram(value) -> tuple[list[float], list[float], list[float]] | None:
    """(edges, successful, other) when the histogram is well formed, else None."""
    h = _obj(value)
    edges, successful, other = ([_num(x) for x in _arr(h.get(k))] for k in ("edges", "successful", "other"))
    if len(edges) < 2 or len(successful) != len(edges) - 1 or len(other) != len(edges) - 1:
        return None
    if None in edges or None in successful or None in other:
        return None
    if any(x < 0 for x in successful + other) or any(b <= a for a, b in zip(edges, edges[1:])):
        return None
    return edges, successful, other


def _scores_section(variants: dict[str, dict], figures: _Charts) -> str:
    scores: dict[str, None] = {}
    for variant in variants.values():
        scores.update((str(k), None) for k in _obj(variant.get("score_distributions")))
    parts = []
    for score in scores:
        found = {n: _obj(v.get("score_distributions")).get(score) for n, v in variants.items()}
        histograms = {n: h for n, value in found.items() if (h := _histogram(value))}
        if histograms:
            svg = charts.score_chart(figures.key(), score, histograms, _cuts(found))
            parts.append(_figure(svg, f"Score <code>{escape(score)}</code> at each lead's peak in the window: the "
                                      "share of successful leads and of the other leads in each range; dashed, "
                                      "the bars thresholds set on it."))
    for threshold in dict.fromkeys(str(t) for v in variants.values()
                                   for t in _obj(v.get("score_distributions_at_crossing"))):
        for score in dict.fromkeys(str(s) for v in variants.values()
                                   for s in _obj(_obj(v.get("score_distributions_at_crossing")).get(threshold))):
            found = {n: _obj(_obj(v.get("score_distributions_at_crossing")).get(threshold)).get(score)
                     for n, v in variants.items()}
            histograms = {n: h for n, value in found.items() if (h := _histogram(value))}
            if histograms:
                svg = charts.score_chart(figures.key(), score, histograms, _cuts(found))
                parts.append(_figure(svg, f"Score <code>{escape(score)}</code> when threshold "
                                          f"<code>{escape(threshold)}</code> is crossed in the window."))
    if not parts:
        return ""
    return '<section id="scores"><h2>Score distributions</h2>' + "\n".join(parts) + "</section>"


def _cuts(found: dict) -> dict[str, dict[str, float]]:
    """variant -> threshold -> bar, from each histogram's `thresholds`."""
    return {n: {str(t): _num(b) for t, b in _obj(_obj(h).get("thresholds")).items() if _num(b) is not None}
            for n, h in found.items()}


def _ranking_section(variants: dict[str, dict], figures: _Charts) -> str:
    """Per score: the areas under its ROC and precision-recall curves, and both curves."""
    scores = list(dict.fromkeys(str(s) for v in variants.values() for s in _obj(v.get("ranking"))))
    parts = []
    for score in scores:
        found = {name: _obj(_obj(v.get("ranking")).get(score)) for name, v in variants.items()}
        rows = [[escape(name), _format(_num(r.get("leads")), "count"), _format(_num(r.get("positives")), "count"),
                 _format(_num(r.get("roc_auc")), "ratio"), _format(_num(r.get("pr_auc")), "ratio")]
                for name, r in found.items() if r]
        curves = {name: (_points(r.get("roc"), "fpr", "tpr"), _points(r.get("pr"), "recall", "precision"))
                  for name, r in found.items() if r}
        parts.append(f"<h3>Score <code>{escape(score)}</code></h3>"
                     + _table(["variant", "leads ranked", "positives", "ROC AUC", "PR AUC"], rows))
        if any(a or b for a, b in curves.values()):
            parts.append(_figure(charts.ranking_chart(figures.key(), score, curves),
                                 f"Score <code>{escape(score)}</code> at each lead's peak in the window: ROC and "
                                 "precision-recall curves, every peak value taken as a cut."))
    if not parts:
        return ""
    return '<section id="ranking"><h2>Ranking power</h2>' + "\n".join(parts) + "</section>"


def _points(value, x: str, y: str) -> list[tuple[float, float]]:
    out = []
    for point in _arr(value):
        point = _obj(point)
        if _num(point.get(x)) is not None and _num(point.get(y)) is not None:
            out.append((_num(point[x]), _num(point[y])))
    return out


def _rules_section(variants: dict[str, dict]) -> str:
    """Per rule, the leads it gave points at their crossing or last instant; 0 stands out."""
    names = list(dict.fromkeys(str(r) for v in variants.values() for r in _obj(v.get("rules"))))
    if not names:
        return ""
    rows = []
    for rule in names:
        cells = []
        for v in variants.values():
            count = _num(_obj(v.get("rules")).get(rule))
            cells.append('<span class="down">0</span>' if count == 0 else _format(count, "count"))
        rows.append([f"<code>{escape(rule)}</code>"] + cells)
    return ('<section id="rules"><h2>Rules that gave points</h2><p class="meta">Leads each rule gave points '
            "(not 0) at their earliest crossing in the window, else at their last instant in it.</p>"
            + _table(["rule"] + [escape(n) for n in variants], rows) + "</section>")


def _flips_section(result: dict) -> str:
    flips = {str(k): v for k, v in _obj(result.get("flips")).items() if isinstance(v, dict)}
    if not flips:
        return ""
    parts = ['<section id="flips"><h2>Leads that flip</h2>']
    for threshold, found in flips.items():
        counts = [[_label(k), _format(v, "count")] for k, v in found.items() if _num(v) is not None]
        parts.append(f"<h3>Threshold <code>{escape(threshold)}</code></h3>" + _table(["change", "leads"], counts))
        examples = [e for e in _arr(found.get("examples")) if isinstance(e, dict)][:_EXAMPLES_SHOWN]
        if examples:
            keys = list(dict.fromkeys(str(k) for e in examples for k in e))
            rows = [[_format(e.get(k)) if not isinstance(e.get(k), list)
                     else escape(", ".join(str(x) for x in e[k])) for k in keys] for e in examples]
            parts.append(_table([_label(k) for k in keys], rows, tuple(range(len(keys)))))
    parts.append("</section>")
    return "\n".join(parts)


def _notes_section(result: dict) -> str:
    notes = [n for n in _arr(result.get("notes")) if isinstance(n, str)]
    if not notes:
        return ""
    return ('<section id="notes"><h2>Notes</h2><ul>' + "".join(f"<li>{escape(n)}</li>" for n in notes)
            + "</ul></section>")


def html_report(result: dict) -> str:
    """The whole page for a simulation result."""
    # Read as the JSON document it stands for: keys become strings, other values their text.
    result = _obj(json.loads(json.dumps(result, default=str, skipkeys=True)))
    variants = _variants(result)
    thresholds = _thresholds(variants)
    figures = _Charts()
    body = [_header(result, variants)]
    if variants:
        body.append(_variants_section(variants))
    if thresholds:
        body.append(_thresholds_section(variants, thresholds))
        body.append(_breakdowns_section(variants, thresholds))
    body += [_sweep_section(result, variants, figures), _weekly_section(result, variants, thresholds, figures),
             _scores_section(variants, figures), _ranking_section(variants, figures), _rules_section(variants),
             _flips_section(result),
             _notes_section(result)]
    title = _header_title(variants)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        *[part for part in body if part],
        "<footer>Made by leadscore simulate. This page is self-contained: it fetches nothing.</footer>",
        "</body>", "</html>", ""])


def _header_title(variants: dict[str, dict]) -> str:
    name = next(iter(variants.values()), {}).get("ruleset")
    return "leadscore simulation" + (f": {name}" if isinstance(name, str) else "")

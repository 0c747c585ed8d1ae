"""How the text and Markdown reports show the result's values: the same rows, the same words."""

from __future__ import annotations

from collections.abc import Callable

from .breakdowns import SHOWN

NONE = "—"

# key, label, kind
METRICS = (
    ("crossed", "crossed", "count"),
    ("precision", "precision", "share"),
    ("recall", "recall", "share"),
    ("lift", "lift", "ratio"),
    ("base_rate", "base rate", "share"),
    ("lead_time_median_days", "lead time, median", "days"),
    ("lead_time_p90_days", "lead time, p90", "days"),
    ("censored", "censored", "count"),
    ("weekly_mean", "crossings per week, mean", "decimal"),
    ("weekly_p90", "crossings per week, p90", "decimal"),
    ("weekly_max", "crossings per week, max", "count"),
    ("weeks_over_capacity", "weeks over capacity", "count"),
    ("decided_precision", "decided precision", "share"),
    ("losses", "lost after crossing", "count"),
    ("open", "still open", "count"),
    ("revenue", "revenue after crossing", "decimal"),
    ("revenue_recall", "revenue recall", "share"),
    ("revenue_per_crossing", "revenue per crossing", "decimal"),
)
FUNNEL = (
    ("leads", "funnel: leads with an instant", "count"),
    ("crossed", "funnel: crossed", "count"),
    ("successes", "funnel: successes after crossing", "count"),
    ("leads_needed", "leads needed for the target", "count"),
    ("crossings_needed", "crossings needed for the target", "count"),
)
CONFUSION = (
    ("true_positives", "true positives: crossed, successful within H", "count"),
    ("false_positives", "false positives: crossed, not successful within H", "count"),
    ("false_negatives", "false negatives: successes not crossed before", "count"),
    ("true_negatives", "true negatives: the other leads", "count"),
)
SHORT = {"weekly_mean": "per week", "weekly_max": "week max", "weeks_over_capacity": "weeks over"}
SWEEP_COLUMNS = tuple(key for key, _, _ in METRICS)      # every metric, then the funnel's successes
FLIPS = (("newly_crossed", "newly crossed"), ("no_longer_crossed", "no longer crossed"),
         ("earlier", "crossed earlier"), ("later", "crossed later"))


def flip_outcome(example: dict) -> str:
    """Whether a flipped lead became a customer (reached the success stage), and when."""
    return f"success at {example['success_at']}" if example.get("success_at") else "no success"


def flip_cause(example: dict) -> str:
    return "; ".join(example.get("cause") or []) or NONE


def flip_points(example: dict) -> str:
    """The rules' points at the example's instant, when they say more than the cause."""
    rules = example.get("rules") or []
    return "" if set(rules) <= set(example.get("cause") or []) else "; ".join(rules)


def sweep_head() -> list[str]:
    return [SHORT.get(key, label(key)) for key in SWEEP_COLUMNS] + ["successes after crossing"]


def sweep_cells(metrics: dict) -> list[str]:
    """One sweep value's row: every metric, then the funnel's successes after crossing."""
    return [value(metrics.get(key), kind_of(key)) for key in SWEEP_COLUMNS] + \
        [value(metrics.get("funnel", {}).get("successes"), "count")]


def segment_table(variants: dict, segment: str) -> tuple[list[str], list[list[str]]]:
    """(head, rows) of a segment: per label, per variant the leads that reached it and hold it at
    the end. Labels are user text for each report to escape."""
    head = ["label"] + [f"{name}: {what}" for name in variants for what in ("reached", "at the end")]
    labels = list(dict.fromkeys(label for v in variants.values() for label in v.get("segments", {})
                                .get(segment, {})))
    rows = []
    for label_ in labels:
        row = [label_]
        for v in variants.values():
            found = v.get("segments", {}).get(segment, {}).get(label_)
            row += [value(found["reached"], "count"), value(found["final"], "count")] if found else [NONE, NONE]
        rows.append(row)
    return head, rows


def value(v, kind: str) -> str:
    if v is None:
        return NONE
    if kind == "count":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    if kind == "share":
        return f"{100 * v:.1f}%"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "days":
        return f"{v:.1f} d"
    return f"{v:,.1f}"


def delta(before, after, kind: str) -> str:
    if before is None or after is None:
        return NONE
    change = after - before
    if kind == "count":
        return f"{change:+,.0f}" if float(change).is_integer() else f"{change:+,.1f}"
    if kind == "share":
        return f"{100 * change:+.1f} pt"
    if kind == "ratio":
        return f"{change:+.2f}"
    if kind == "days":
        return f"{change:+.1f} d"
    return f"{change:+,.1f}"


def label(key: str) -> str:
    return next((text for k, text, _ in METRICS if k == key), key.replace("_", " "))


def kind_of(key: str) -> str:
    return next((kind for k, _, kind in METRICS if k == key), "decimal")


def metric_rows(metrics: list[dict]) -> list[tuple[str, str, list]]:
    """(label, kind, value per variant) for the metrics and the funnel."""
    rows = [(text, kind, [m.get(key) for m in metrics]) for key, text, kind in METRICS]
    for key, text, kind in CONFUSION:
        if any(key in m.get("confusion", {}) for m in metrics):
            rows.append((text, kind, [m.get("confusion", {}).get(key) for m in metrics]))
    for key, text, kind in FUNNEL:
        if any(key in m.get("funnel", {}) for m in metrics):   # the target rows only with --target
            rows.append((text, kind, [m.get("funnel", {}).get(key) for m in metrics]))
    return rows


def header_lines(result: dict, text: Callable[[str], str], code: Callable[[str], str]) -> list[str]:
    """The lines above the tables; user text goes through `text`, or `code` for a name shown as
    code (each report's own escaping)."""
    variants = result["variants"]
    first = next(iter(variants.values()))
    window = result["window"]
    lines = [f"ruleset {text(first['ruleset'])} version {text(first['version'])}; window {window['start']} → "
             f"{window['end']} (end excluded)",
             f"{result['leads']:,} leads ({result['leads_in_window']:,} with an instant in the window), "
             f"{result['successes']:,} successes ({result['successes_in_window']:,} in the window); success "
             f"stage {code(result['success_stage'])}, horizon {result['horizon_days']} days, "
             + (f"capacity {result['capacity']} per week" if result["capacity"] is not None else "no capacity given")]
    if len(variants) > 1:
        lines.append("; ".join(f"{name}: {text(v['source'])}" for name, v in variants.items()))
    skipped = result.get("skipped_rows") or {}
    if skipped:
        lines.append("rows left out: " + ", ".join(f"{table} {n:,}" for table, n in skipped.items()))
    return lines



BY_COLUMNS = ("crossed", "precision", "recall", "lift", "base_rate", "lead_time_median_days", "censored",
              "weekly_mean")
BY_COMPARED = ("crossed", "precision", "recall", "lift")     # per variant, when two are compared
SHORT_BY = {"lead_time_median_days": "lead time", "weekly_mean": "per week"}
MISSING = "(missing)"


def ranking_rows(variants: dict) -> tuple[list[str], list[list[str]]]:
    """(head, rows): per score and variant, the leads ranked, positives and both areas."""
    rows = []
    for name, variant in variants.items():
        for score, r in variant.get("ranking", {}).items():
            rows.append([score, name, value(r.get("leads"), "count"), value(r.get("positives"), "count"),
                         value(r.get("roc_auc"), "ratio"), value(r.get("pr_auc"), "ratio")])
    return ["score", "variant", "leads ranked", "positives", "ROC AUC", "PR AUC"], rows


def breakdown_fields(variants: dict, threshold: str) -> list[str]:
    return list(dict.fromkeys(name for v in variants.values()
                              for name in v["thresholds"].get(threshold, {}).get("by", {})))


def breakdown_table(variants: dict, threshold: str, field: str) -> tuple[list[str], list[list[str]]]:
    """(head, rows) of one `--by` table: the groups the result ranks first (the SHOWN largest,
    or every cohort), then "other" for the rest; per variant the BY_COLUMNS (BY_COMPARED
    for several). Cells are plain text: group values are user text for each report to escape."""
    tables = [v["thresholds"].get(threshold, {}) for v in variants.values()]
    groups = [t.get("by", {}).get(field, {}) for t in tables]
    others = [t.get("by_other", {}).get(field) for t in tables]
    order = list(dict.fromkeys(value for g in groups for value in g))
    rest = any(o is not None for o in others)
    shown = order[:SHOWN] if rest else order
    lines = [(value if value != "" else MISSING, [g.get(value) or {} for g in groups]) for value in shown]
    if rest:
        lines.append((f"other ({len(order) - len(shown):,} values)", [o or {} for o in others]))
    names = [f"{name}: " if len(variants) > 1 else "" for name in variants]
    columns = BY_COLUMNS if len(variants) == 1 else BY_COMPARED
    head = [field, "leads"] + [name + SHORT_BY.get(key, label(key)) for name in names for key in columns]
    rows = []
    for text, metrics in lines:
        leads = next((m["funnel"]["leads"] for m in metrics if "funnel" in m), None)
        rows.append([text, value(leads, "count")] + [value(m.get(key), kind_of(key)) for m in metrics
                                                     for key in columns])
    return head, rows

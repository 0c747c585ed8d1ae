"""The charts of the HTML report, as inline SVG made with matplotlib.

Deterministic: a fixed `svg.hashsalt`, no date in the metadata, glyphs
drawn as paths (no font is fetched or needed to view them). Each SVG is
stripped of its XML prolog, namespace URLs and comments, and its ids get
a per-chart prefix, so several charts live in one HTML page and the page
names no URL at all.

Names from rule files (thresholds, scores, variants, constants) reach
matplotlib only as plain text: `$` is escaped so mathtext never reads it,
and legends get explicit labels (a leading `_` would otherwise hide one).
"""

from __future__ import annotations

import io
import re

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..safe_text import shown

_STYLE = {"svg.hashsalt": "leadscore-report", "svg.fonttype": "path", "font.size": 9,
          "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
          "grid.color": "#e3e3e3", "grid.linewidth": 0.6}
_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
VARIANT_COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#be123c")
_CAPACITY = "#dc2626"


def _text(label: str) -> str:
    """User text as matplotlib plain text (mathtext off), control characters shown as escapes
    (`\\x17`), as in every other output, rather than drawn as a missing glyph."""
    return shown(str(label)).replace("$", r"\$")


def _svg(fig: Figure, key: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata=_METADATA, bbox_inches="tight")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r'(xlink:href="#|url\(#)([^")]+)', rf"\g<1>{key}-\2", svg)
    return svg.replace("<svg", '<svg role="img"', 1).strip()


def _figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, columns, squeeze=False)[0]
    return fig, list(axes)


def _legend(ax, handles: list, labels: list[str], **options) -> None:
    if handles:
        ax.legend(handles, [_text(label) for label in labels], frameon=False, fontsize=8, **options)


def sweep_chart(key: str, constant: str, threshold: str, values: list[float],
                precision: list[float | None], recall: list[float | None],
                weekly: list[float | None], capacity: float | None, current: float | None) -> str:
    """Precision and recall (left axis, %) and the mean weekly volume (right axis)
    for every value of the swept constant; the capacity and the ruleset's value marked."""
    with matplotlib.rc_context(_STYLE):
        fig, (ax,) = _figure(9.5, 3.6)
        handles, labels = [], []
        for series, label, colour in ((precision, "precision", "#2563eb"), (recall, "recall", "#16a34a")):
            points = [(v, 100 * y) for v, y in zip(values, series) if y is not None]
            if points:
                handles += ax.plot(*zip(*points), marker="o", markersize=3, color=colour)
                labels.append(label)
        ax.set_ylabel("%")
        ax.set_ylim(0, 100)
        ax.set_xlabel(_text(constant))
        right = ax.twinx()
        right.grid(False)
        right.spines["right"].set_visible(True)
        points = [(v, y) for v, y in zip(values, weekly) if y is not None]
        if points:
            handles += right.plot(*zip(*points), marker="s", markersize=3, color="#6b7280", linestyle="--")
            labels.append("crossings per week (mean)")
        if capacity is not None:
            handles.append(right.axhline(capacity, color=_CAPACITY, linewidth=1, linestyle=":"))
            labels.append(f"capacity {capacity:g}/week")
        right.set_ylabel("crossings per week")
        right.set_ylim(bottom=0)
        if current is not None:
            handles.append(ax.axvline(current, color="#111827", linewidth=0.8, alpha=0.5))
            labels.append(f"ruleset value {current:g}")
        ax.set_title(_text(f"threshold {threshold}"), loc="left", fontsize=10)
        _legend(ax, handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
        return _svg(fig, key)


def weekly_chart(key: str, threshold: str, weeks: list[str], series: dict[str, list[float]],
                 capacity: float | None) -> str:
    """Crossings per ISO week for each variant (or sweep value), against the capacity."""
    colours = VARIANT_COLOURS if len(series) <= len(VARIANT_COLOURS) else \
        [matplotlib.colormaps["viridis"](i / max(1, len(series) - 1)) for i in range(len(series))]
    with matplotlib.rc_context(_STYLE):
        fig, (ax,) = _figure(9.5, 3.2)
        handles, labels = [], []
        positions = list(range(len(weeks)))
        for (name, counts), colour in zip(series.items(), colours):
            handles += ax.step(positions[:len(counts)], counts, where="mid", color=colour, linewidth=1.4)
            labels.append(name)
        if capacity is not None:
            handles.append(ax.axhline(capacity, color=_CAPACITY, linewidth=1, linestyle=":"))
            labels.append(f"capacity {capacity:g}/week")
        step = max(1, len(weeks) // 12)
        ax.set_xticks(positions[::step], [_text(w) for w in weeks[::step]], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("crossings per week")
        ax.set_ylim(bottom=0)
        ax.set_title(_text(f"threshold {threshold}"), loc="left", fontsize=10)
        _legend(ax, handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(fig, key)


def weekly_summary_chart(key: str, threshold: str, summary: dict[str, dict[str, float]],
                         capacity: float | None) -> str:
    """Mean, p90 and max crossings per week for each variant (when the result holds
    no week-by-week counts), against the capacity."""
    with matplotlib.rc_context(_STYLE):
        fig, (ax,) = _figure(5.2, 2.8)
        stats = ("mean", "p90", "max")
        width = 0.8 / max(1, len(summary))
        handles, labels = [], []
        for i, ((name, values), colour) in enumerate(zip(summary.items(), VARIANT_COLOURS)):
            xs = [k + i * width for k in range(len(stats))]
            handles.append(ax.bar(xs, [values.get(s) or 0 for s in stats], width, color=colour))
            labels.append(name)
        ax.set_xticks([k + width * (len(summary) - 1) / 2 for k in range(len(stats))], list(stats))
        if capacity is not None:
            handles.append(ax.axhline(capacity, color=_CAPACITY, linewidth=1, linestyle=":"))
            labels.append(f"capacity {capacity:g}/week")
        ax.set_ylabel("crossings per week")
        ax.set_title(_text(f"threshold {threshold}"), loc="left", fontsize=10)
        _legend(ax, handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(fig, key)


def score_chart(key: str, score: str, histograms: dict[str, tuple[list[float], list[float], list[float]]],
                cuts: dict[str, dict[str, float]] | None = None) -> str:
    """For each variant, the share of successful and of other leads in each score
    bin (each group adds up to 100%, so groups of any size compare); each threshold's bar on
    the score (cuts[variant][threshold]) drawn as a vertical line."""
    with matplotlib.rc_context(_STYLE):
        fig, axes = _figure(3.6 * len(histograms) + 0.4, 2.8, len(histograms))
        for ax, (variant, (edges, successful, other)) in zip(axes, histograms.items()):
            handles, labels = [], []
            for counts, label, colour in ((successful, "successful", "#16a34a"), (other, "other", "#9ca3af")):
                total = sum(counts)
                shares = [100 * c / total if total else 0 for c in counts]
                handles.append(ax.stairs(shares, edges, fill=label == "other", color=colour,
                                         alpha=0.45 if label == "other" else 1, linewidth=1.6))
                labels.append(f"{label} ({total:g})")
            for threshold, bar in (cuts or {}).get(variant, {}).items():
                handles.append(ax.axvline(bar, color=_CAPACITY, linewidth=1, linestyle="--"))
                labels.append(f"{threshold} {bar:g}")
            ax.set_xlabel(_text(score))
            ax.set_ylabel("% of the group")
            ax.set_title(_text(variant), loc="left", fontsize=10)
            _legend(ax, handles, labels, loc="upper right")
        return _svg(fig, key)


def ranking_chart(key: str, score: str, curves: dict[str, tuple[list, list]]) -> str:
    """ROC (left) and precision-recall (right) curves of a score's peaks, one line per variant:
    curves[variant] = ([(fpr, tpr)], [(recall, precision)])."""
    with matplotlib.rc_context(_STYLE):
        fig, (roc, pr) = _figure(9.5, 3.4, 2)
        handles, labels = [], []
        for (name, (roc_points, pr_points)), colour in zip(curves.items(), VARIANT_COLOURS):
            if roc_points:
                handles += roc.plot(*zip(*([(0.0, 0.0)] + roc_points)), color=colour, linewidth=1.4)
                labels.append(name)
            if pr_points:
                pr.plot(*zip(*pr_points), color=colour, linewidth=1.4, marker="o", markersize=2)
        roc.plot([0, 1], [0, 1], color="#9ca3af", linewidth=0.8, linestyle=":")
        roc.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positive rate", ylabel="true positive rate (recall)")
        pr.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
        roc.set_title(_text(f"{score}: ROC"), loc="left", fontsize=10)
        pr.set_title(_text(f"{score}: precision-recall"), loc="left", fontsize=10)
        _legend(pr, handles, labels, loc="upper right")
        return _svg(fig, key)

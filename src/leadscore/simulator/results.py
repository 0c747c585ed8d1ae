"""A simulation as the JSON document of docs/simulate.md (and the keys docs/report.md adds).

Every renderer (text, Markdown, HTML) reads this one dict, so the formats cannot disagree.
"""

from __future__ import annotations

import numpy as np

from ..compiler import runtime as rt
from ..compiler.analysis import fields_used
from ..dsl import ast
from ..semantics import DAY
from ..tables import ProblemLog
from . import compare
from .breakdowns import COHORT, breakdown
from .lead_checks import field_readers, rule_names, undeclared_note
from .metrics import Population, Settings, threshold_metrics
from .ranking import ranking
from .run import Options, Simulation
from .variants import constants_json

BINS = 20
_NOT_SKIPPED = ("bad_value", "unknown_column")     # a cell made missing, a column ignored: the row stays


def result_json(sim: Simulation, options: Options, log: ProblemLog) -> dict:
    settings = Settings(sim.window.start, sim.window.end, options.horizon, sim.last_timestamp,
                        options.capacity, options.target)
    population = Population(sim.success, sim.first_in_window, sim.lost, sim.amount if sim.has_amounts else None)
    successful = ~np.isnan(sim.success)
    present = ~np.isnan(sim.first_in_window)
    out: dict = {
        "window": {"start": iso(sim.window.start), "end": iso(sim.window.end)},
        "leads": int(len(sim.success)),
        "successes": int(successful.sum()),
        "leads_in_window": int(present.sum()),
        "successes_in_window": _inside(sim.success, settings),
        "skipped_rows": skipped_rows(log),
        "problems": problems(log),
        "success_stage": options.success.strip().lower(),
        "lost_stage": options.lost.strip().lower() if sim.lost is not None else None,
        "horizon_days": _number(options.horizon / DAY),
        "capacity": None if options.capacity is None else _number(options.capacity),
        "target": options.target,
        "variants": {},
    }
    fields = sim.variants[-1].checked.schema.fields
    cohorts = {name for name in sim.groups if name == COHORT and name not in fields}
    for k, (variant, plan, outcome) in enumerate(zip(sim.variants, sim.plans, sim.outcomes)):
        cuts = threshold_cuts(variant.checked)
        out["variants"][variant.name] = {
            "ruleset": variant.checked.name, "version": variant.checked.version, "source": variant.source,
            "constants": constants_json(variant.checked),
            "thresholds": {name: _threshold(outcome.crossings[:, i], population, settings, sim.groups,
                                             cohorts)
                           for i, name in enumerate(plan.thresholds)},
            "segments": _segments(plan, outcome, present, settings),
            "score_distributions": {name: _with_cuts(histogram(outcome.peak_scores[:, i], successful,
                                                               _clamp(variant.checked, name)), cuts.get(name))
                                    for i, name in enumerate(plan.scores)},
            "score_distributions_at_crossing": {
                threshold: {name: _with_cuts(histogram(outcome.crossing_scores[:, j, i], successful,
                                                       _clamp(variant.checked, name)),
                                             {threshold: cuts[name][threshold]} if threshold in cuts.get(name, {})
                                             else None)
                            for i, name in enumerate(plan.scores) if name in compare.threshold_scores(variant.checked,
                                                                                                      threshold)}
                for j, threshold in enumerate(plan.thresholds)},
            "rules": _rules(variant.checked, sim.contributions[k]),
            "ranking": {name: ranking(outcome.peak_scores[:, i], population, settings)
                        for i, name in enumerate(plan.scores)},
            "evaluations": outcome.evaluations,
        }
    if len(sim.variants) == 2:
        out["flips"] = _flips(sim)
    if sim.sweep is not None:
        plan = sim.plans[-1]
        out["sweep"] = {
            "constant": sim.sweep.constant, "variant": sim.variants[-1].name, "method": sim.sweep.method,
            "points": [{"value": _number(value),
                        "thresholds": {name: threshold_metrics(crossings[:, i], population, settings)
                                       for i, name in enumerate(plan.thresholds)}}
                       for value, crossings in zip(sim.sweep.values, sim.sweep.crossings)]}
    out["notes"] = notes(sim)
    if sim.lost is None:
        out["notes"].append(f"no outcome has the lost stage `{options.lost.strip().lower()}`: decided precision "
                            "and leads still open are null (--lost STAGE names it)")
    out["replay"] = {"buckets": sim.buckets, "evaluations": {v.name: o.evaluations
                                                             for v, o in zip(sim.variants, sim.outcomes)}}
    return out


def _threshold(crossing: np.ndarray, population: Population, settings: Settings, groups: dict,
               cohorts: set[str]) -> dict:
    """The threshold's metrics, and with --by the same metrics per group (`by`) and for the
    groups after the largest (`by_other`, null when every group is shown)."""
    out = threshold_metrics(crossing, population, settings)
    if groups:
        found = {name: breakdown(crossing, values, population, settings, name in cohorts)
                 for name, values in groups.items()}
        out["by"] = {name: by for name, (by, _) in found.items()}
        out["by_other"] = {name: other for name, (_, other) in found.items()}
    return out


def _rules(checked, contributed) -> dict[str, int]:
    """Every rule -> the leads it gave points at their earliest crossing in the window, else at
    their last instant in it; other reasons (a clamp) follow the rules."""
    out = {name: contributed.get(name, 0) for name in rule_names(checked)}
    out.update({name: n for name, n in sorted(contributed.items()) if name not in out})
    return out


def _inside(values: np.ndarray, settings: Settings) -> int:
    with np.errstate(invalid="ignore"):
        return int(((values >= settings.start) & (values < settings.end)).sum())


def iso(seconds: float) -> str:
    return rt.from_epoch(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float):
    return int(value) if float(value).is_integer() and abs(value) < 2 ** 53 else value


def skipped_rows(log: ProblemLog) -> dict[str, int]:
    out: dict[str, int] = {}
    for (table, kind), count in log.counts.items():
        if kind not in _NOT_SKIPPED:
            out[table] = out.get(table, 0) + count
    return out


def problems(log: ProblemLog) -> list[dict]:
    out = []
    for (table, kind), count in log.counts.items():
        first = next((p for p in log.examples if (p.table, p.kind) == (table, kind)), None)
        out.append({"table": table, "kind": kind, "count": count, "first": problem_text(first) if first else None})
    return out


def problem_text(problem) -> str:
    """file:row reason; file: reason where the reader gives no row."""
    return str(problem) if problem.row else f"{problem.file}: {problem.reason}"


def _segments(plan, outcome, present: np.ndarray, settings: Settings) -> dict:
    out = {}
    for s, (name, labels) in enumerate(zip(plan.segments, plan.labels)):
        final = outcome.final_segments[present, s]
        firsts = outcome.first_labels[s]
        with np.errstate(invalid="ignore"):
            reached = (firsts >= settings.start) & (firsts < settings.end)
        out[name] = {label: {"final": int((final == k).sum()), "reached": int(reached[:, k].sum())}
                     for k, label in enumerate(labels)}
    return out


def _with_cuts(found: dict, cuts: dict | None) -> dict:
    if cuts:
        found["thresholds"] = {name: _number(value) for name, value in cuts.items()}
    return found


def threshold_cuts(checked) -> dict[str, dict[str, float]]:
    """Score -> threshold -> the bar it sets on the score, for thresholds that compare the score
    with `>=` or `>` to a number or a constant (anywhere in their condition)."""
    out: dict[str, dict[str, float]] = {}
    for decl in checked.ruleset.declarations:
        if not isinstance(decl, ast.Threshold):
            continue
        for node in ast.walk(decl.condition):
            if isinstance(node, ast.Compare) and node.op in (">=", ">") and isinstance(node.left, ast.Name):
                symbol = checked.resolutions.get(node.left)
                right = node.right
                if isinstance(right, ast.Name) and not isinstance(checked.constants.get(right.name), (int, float)):
                    continue     # another score, or a constant that is no number
                bar = _bound(checked, right)
                if symbol is not None and symbol.kind == "score" and bar is not None:
                    out.setdefault(node.left.name, {}).setdefault(decl.name.name, bar)
    return out


def _clamp(checked, score: str) -> tuple[float | None, float | None]:
    block = next((d for d in checked.ruleset.declarations if isinstance(d, ast.ScoreBlock) and d.name.name == score),
                 None)
    clamp = None if block is None else next((i for i in block.items if isinstance(i, ast.ClampOption)), None)
    if clamp is None:
        return None, None
    return _bound(checked, clamp.low), _bound(checked, clamp.high)


def _bound(checked, node) -> float | None:
    if node is None:
        return None
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.Unary):
        inner = _bound(checked, node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Name):
        return float(checked.constants[node.name])
    return None


def histogram(values: np.ndarray, successful: np.ndarray, clamp: tuple[float | None, float | None]) -> dict:
    """20 equal bins over the clamp range, or over the values seen (scores that are missing are
    left out); bin i holds edges[i] <= v < edges[i+1], the last also its right edge."""
    kept = ~np.isnan(values)
    values, successful = values[kept], successful[kept]
    low, high = clamp
    if low is None or high is None:
        seen_low, seen_high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        low = seen_low if low is None else low
        high = seen_high if high is None else high
    if not high > low:
        high = low + 1.0
    edges = np.linspace(low, high, BINS + 1)
    inside = (values >= low) & (values <= high)
    bins = np.clip(np.searchsorted(edges, values[inside], side="right") - 1, 0, BINS - 1)
    won = successful[inside]
    return {"edges": [_number(round(float(e), 6)) for e in edges],
            "successful": np.bincount(bins[won], minlength=BINS).tolist(),
            "other": np.bincount(bins[~won], minlength=BINS).tolist()}


def _flips(sim: Simulation) -> dict:
    from .compare import KINDS, flips

    before, after = sim.plans
    out = {}
    for i, threshold in enumerate(after.thresholds):
        if threshold not in before.thresholds:
            continue
        masks = flips(sim.outcomes[0].crossings[:, before.thresholds.index(threshold)],
                      sim.outcomes[1].crossings[:, i], sim.window.start, sim.window.end)
        found = {kind: int(masks[kind].sum()) for kind in KINDS}
        found["examples"] = [e for kind in KINDS for e in sim.examples.get(threshold, {}).get(kind, [])]
        out[threshold] = found
    return out


def notes(sim: Simulation) -> list[str]:
    out = []
    for variant in sim.variants:
        for threshold, found in fields_used(variant.checked).items():
            today = sorted(found - sim.changed_fields)
            if today:
                out.append(f"{variant.name}: threshold `{threshold}` reads {_names(today)}, which "
                           f"{'has' if len(today) == 1 else 'have'} no history in the changes table: "
                           "today's value is used at every instant (docs/language.md#evaluation-instants)")
    if sim.sweep is not None:
        if sim.sweep.method == "paths":
            out.append(f"sweep of `{sim.sweep.constant}`: one replay; each value evaluated over the stored "
                       "score paths")
        else:
            out.append(f"sweep of `{sim.sweep.constant}`: replayed once per value (the constant changes "
                       "scores, or a threshold uses it in a form the stored paths cannot answer)")
    main = sim.variants[-1].checked
    for name, readers in field_readers(main).items():
        if name not in sim.provided_fields and name not in sim.changed_fields:
            out.append(f"field `{name}` has no value in any history table (no column in the leads table, or "
                       f"every cell empty, and no changes): {_names(readers)} read it, so a change to "
                       f"{'it' if len(readers) == 1 else 'them'} was never exercised")
    for variant, contributed in zip(sim.variants, sim.contributions):
        idle = [name for name in rule_names(variant.checked) if not contributed.get(name)]
        if idle:
            out.append(f"{variant.name}: {_names(idle)} gave no lead points at its crossing or its last instant "
                       "in the window")
    for name, found in sorted(sim.undeclared.items()):
        out.append(undeclared_note(name, found))
    for (table, kind), count in sorted(sim.other_problems.items()):
        out.append(f"read with the baseline's schema: {count} {table} row(s) of kind {kind}")
    return out


def _names(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]

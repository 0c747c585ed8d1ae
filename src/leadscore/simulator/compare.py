"""The leads that flip between two variants (docs/simulate.md), with the rules behind it.

Per threshold a lead is *newly crossed* (the candidate crosses in the window, the baseline
does not), *no longer crossed* (the reverse), crossed *earlier* or *later* (both cross in
the window, more than a day apart). An example compares the two variants at the instant
that tells them apart (the earlier of the two crossings): the rules whose points differ
there, or when none does (only a threshold moved), the rules that make up the scores the
threshold reads.
"""

from __future__ import annotations

import json

import numpy as np

from ..compiler import runtime as rt
from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset
from .instants import DAY
from .variants import constants_json

KINDS = ("newly_crossed", "no_longer_crossed", "earlier", "later")
CHANGE_WORDS = {"newly_crossed": "newly crossed", "no_longer_crossed": "no longer crossed",
          "earlier": "crossed earlier", "later": "crossed later"}
_SHOWN_RULES = 5
CONDITION = "the threshold's condition"     # the cause when no constant and no rule's points differ


def flips(baseline: np.ndarray, candidate: np.ndarray, start: float, end: float) -> dict[str, np.ndarray]:
    """Kind -> mask over the leads, for one threshold's crossing instants."""
    with np.errstate(invalid="ignore"):
        before = (baseline >= start) & (baseline < end)
        after = (candidate >= start) & (candidate < end)
        both = before & after
        return {"newly_crossed": after & ~before, "no_longer_crossed": before & ~after,
                "earlier": both & (candidate < baseline - DAY), "later": both & (candidate > baseline + DAY)}


def threshold_scores(checked: CheckedRuleset, threshold: str) -> list[str]:
    """The scores a threshold reads, directly or through thresholds before it."""
    decls = {d.name.name: d for d in checked.ruleset.declarations if isinstance(d, ast.Threshold)}
    found: dict[str, None] = {}
    stack = [threshold] if threshold in decls else []
    seen = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(decls[name].condition):
            if isinstance(node, ast.Name) and (symbol := checked.resolutions.get(node)) is not None:
                if symbol.kind == t.SCORE:
                    found.setdefault(node.name)
                elif symbol.kind == t.THRESHOLD:
                    stack.append(node.name)
    return list(found)


def changed_constants(baseline: CheckedRuleset, candidate: CheckedRuleset) -> list[str]:
    """The constants whose values differ, as `name before → after` (`—` for one a variant lacks)."""
    before, after = constants_json(baseline), constants_json(candidate)
    return [f"{name} {_constant(before.get(name))} → {_constant(after.get(name))}"
            for name in dict.fromkeys([*before, *after]) if before.get(name) != after.get(name)]


def _constant(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (str, list)) else str(value)


def example(lead_id: str, kind: str, at_baseline: float, at_candidate: float, instant: float,
            baseline: tuple, candidate: tuple, scores: list[str], names: tuple[tuple, tuple],
            constants: list[str] = ()) -> dict:
    """One flipped lead. `baseline`/`candidate`: each variant's (scores, thresholds, segments,
    reasons) at `instant`; `names`: each variant's score names; `constants`: the constants that
    differ. Its cause: those constants and the rules whose points differ at `instant`, or when
    there are none, the threshold's condition."""
    before, after = _points(baseline[3]), _points(candidate[3])
    rules = [f"{key} {_signed(before.get(key, 0.0))} → {_signed(after.get(key, 0.0))}"
             for key in dict.fromkeys([*before, *after]) if before.get(key, 0.0) != after.get(key, 0.0)]
    cause = [*constants, *rules] or [CONDITION]
    if not rules:
        mine = sorted(((key, points) for key, points in after.items() if key.split(".")[0] in scores),
                      key=lambda item: -abs(item[1]))
        rules = [f"{key} {_signed(points)}" for key, points in mine[:_SHOWN_RULES]]
    values = {}
    for score in scores:
        pair = [_score(baseline, names[0], score), _score(candidate, names[1], score)]
        values[score] = pair
    return {"lead_id": lead_id, "change": CHANGE_WORDS[kind], "baseline": iso_time(at_baseline),
            "candidate": iso_time(at_candidate), "at": iso_time(instant), "rules": rules, "scores": values,
            "cause": cause}


def _points(reasons) -> dict[str, float]:
    out: dict[str, float] = {}
    for score, rule, points, _, _ in reasons:
        key = f"{score}.{rule}"
        out[key] = out.get(key, 0.0) + points
    return out


def _score(result: tuple, names: tuple, score: str) -> float | None:
    if score not in names:
        return None
    return rt.round_for_display(result[0][names.index(score)])


def _signed(points: float) -> str:
    shown = rt.round_for_display(points)
    return f"{shown:+g}"


def iso_time(seconds: float) -> str | None:
    if seconds is None or np.isnan(seconds):
        return None
    return rt.from_epoch(float(seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

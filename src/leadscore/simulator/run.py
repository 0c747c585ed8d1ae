"""A simulation end to end: history -> buckets -> every variant's replay -> per-lead columns.

The tables are read once per schema (a Git revision may have its own) into buckets by lead;
each bucket is then replayed through every variant, in worker processes with `jobs` > 1
(forked: they inherit the compiled variants, nothing is pickled in). A bucket hands back
columns only: per lead its success, its instants, and per variant its crossings and final
state; examples of flipped leads are explained inside the bucket, where the lead's events are.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
from collections import Counter
import os
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from ..batch.pipeline import bucket_count
from ..batch.spill import bucket_of
from ..scratch import spill_folder
from ..signals import worker_pool
from ..tables import ProblemLog, TableError, unknown_lead
from . import compare, history
from .breakdowns import lead_groups
from .engine import Engine, Plan, Replayed, Window
from .instants import DAY, lead_times, next_midnight
from .python_backend import PythonEngine
from .lead_checks import contributions, fields_with_values, undeclared_values
from .ranking import crossing_scores, peak_scores
from .sweep import sweep_crossings, swept_thresholds
from .variants import UsageError, Variant, literal, override


@dataclass(frozen=True)
class Options:
    success: str = "won"
    horizon: float = 90 * DAY
    start: float | None = None
    end: float | None = None
    capacity: float | None = None
    target: int | None = None
    jobs: int = 1
    examples: int = 5
    by: tuple[str, ...] = ()         # --by: lead fields, or `cohort`
    every_flip: bool = False         # --flips-out: explain every flipped lead, not only the examples
    lost: str = "lost"
    lost_given: bool = False         # --lost named: a stage no outcome has is a usage error


@dataclass(frozen=True)
class SweepRequest:
    constant: str
    values: list[float]


@dataclass
class SweepOutcome:
    constant: str
    values: list[float]
    method: str                                  # "paths" or "replay"
    crossings: list[np.ndarray]                  # per value: (leads, thresholds)


@dataclass(frozen=True)
class VariantOutcome:
    crossings: np.ndarray
    first_labels: list[np.ndarray]
    final_scores: np.ndarray
    final_segments: np.ndarray
    evaluations: int
    peak_scores: np.ndarray | None = None        # (leads, scores): ranking.peak_scores
    crossing_scores: np.ndarray | None = None    # (leads, thresholds, scores): ranking.crossing_scores


@dataclass(frozen=True)
class Simulation:
    window: Window
    last_timestamp: float
    variants: list[Variant]
    plans: list[Plan]
    success: np.ndarray
    first_in_window: np.ndarray
    outcomes: list[VariantOutcome]
    sweep: SweepOutcome | None
    examples: dict = field(default_factory=dict)     # threshold -> kind -> [example]
    buckets: int = 1
    other_problems: dict = field(default_factory=dict)     # (table, kind) -> count, read with another schema
    changed_fields: frozenset[str] = frozenset()
    lead_ids: list[str] = field(default_factory=list)
    groups: dict[str, np.ndarray] = field(default_factory=dict)     # --by name -> each lead's group
    amount: np.ndarray | None = None             # per lead: the amount of its success, nan when none
    lost: np.ndarray | None = None               # per lead: its loss, nan when none; None: no lost stage
    has_amounts: bool = False                    # some success outcome has an amount
    contributions: list[Counter] = field(default_factory=list)   # per variant: rule -> leads it gave points
    provided_fields: set[str] = field(default_factory=set)        # fields some lead has a value for
    undeclared: dict = field(default_factory=dict)               # field -> Counter of undeclared values
    positions: np.ndarray | None = None          # per lead: its row in the leads file
    flipped: dict = field(default_factory=dict)  # with every_flip: threshold -> every flipped lead explained


def schema_key(schema) -> tuple:
    """What reading a history depends on: two schemas with equal keys read it alike."""
    return (schema.id_column, schema.created, tuple((n, f.type) for n, f in schema.fields.items()),
            tuple((e, tuple((p, s.type) for p, s in spec.properties.items())) for e, spec in schema.events.items()))


@dataclass
class _Job:
    """What every bucket's replay needs: set before the pool forks, inherited by the workers."""

    spills: dict
    main_key: tuple
    plans: list[tuple[Plan, tuple]]
    value_plans: list[Plan]
    swept: tuple[int, ...] | None
    sweep: SweepRequest | None
    window: Window
    success: dict
    outcome_ids: list[list[tuple[int, str]]]
    examples: int
    keep: int
    compare: bool
    engine: Engine
    by: tuple[str, ...] = ()
    types: dict = field(default_factory=dict)       # the main schema's lead field types
    amounts: dict = field(default_factory=dict)     # lead id -> the amount of its success
    every_flip: bool = False
    lost: dict | None = None                        # lead id -> its loss; None: no lost stage


@dataclass
class _Bucket:
    positions: np.ndarray
    success: np.ndarray
    first_in_window: np.ndarray
    replays: list[Replayed]
    sweep: list[np.ndarray] | None
    examples: list[tuple[str, str, int, dict]]       # (threshold, kind, position, example)
    problems: dict
    ids: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    amount: np.ndarray | None = None
    lost: np.ndarray | None = None
    peaks: list[np.ndarray] = field(default_factory=list)     # per variant: (leads, scores)
    contributions: list[Counter] = field(default_factory=list)  # per variant: rule -> leads
    provided: set[str] = field(default_factory=set)            # fields some lead has a value for
    undeclared: dict = field(default_factory=dict)             # field -> Counter of undeclared values
    at_crossing: list[np.ndarray] = field(default_factory=list)  # per variant: (leads, thresholds, scores)


_JOB: _Job | None = None


def simulate(variants: list[Variant], files: history.HistoryFiles, options: Options, log: ProblemLog,
             sweep: SweepRequest | None = None, progress: Callable[[int, int], None] | None = None,
             engine: Engine | None = None) -> Simulation:
    """Replay the history through every variant (the last is the ruleset as written now, whose
    schema reads the tables; a sweep applies to it). Problems go to `log`."""
    global _JOB
    main = variants[-1]
    keys = [schema_key(v.checked.schema) for v in variants]
    main_key = keys[-1]
    schema = main.checked.schema
    outcomes = history.read_success(files.outcomes, options.success, log, schema.id_column, options.lost,
                                    options.lost_given)
    count = bucket_count(files.leads, files.events, options.jobs)
    others = ProblemLog(keep=0)
    with (spill_folder() if count > 1 else nullcontext()) as folder:
        spills: dict = {}
        for key, variant in sorted(zip(keys, variants), key=lambda kv: kv[0] != main_key):
            if key not in spills:
                sub = os.path.join(folder, str(len(spills))) if folder else None
                if sub:
                    os.mkdir(sub)
                spills[key] = history.spill_history(files, variant.checked.schema, log if key == main_key else others,
                                                    count, sub)
        window, last = _window(spills[main_key], schema.created, outcomes, options)
        plans, value_plans, swept = _plans(variants, keys, sweep)
        _JOB = _Job(spills, main_key, plans, value_plans, swept, sweep, window, outcomes.success,
                    _outcome_ids(outcomes, count), options.examples, max(1, log.keep), len(variants) == 2,
                    engine or PythonEngine(), options.by, _field_types(schema, options.by), outcomes.amounts,
                    options.every_flip, outcomes.lost)
        try:
            found = _run(count, options.jobs, progress)
        finally:
            _JOB = None
        history.report([b.problems for b in found], spills[main_key], log, files.outcomes)
        changed = spills[main_key].changed
    undeclared: dict = {}
    for b in found:
        for name, values in b.undeclared.items():
            undeclared.setdefault(name, Counter()).update(values)
    simulation = _merge(found, variants, [p for p, _ in plans], window, last, sweep, swept, count, options.examples,
                        options.every_flip)
    return replace(
        simulation, other_problems=dict(others.counts), changed_fields=changed,
        lead_ids=[lead for b in found for lead in b.ids],
        contributions=[sum((b.contributions[v] for b in found), Counter()) for v in range(len(variants))],
        provided_fields=set().union(*(b.provided for b in found)), undeclared=undeclared,
        amount=np.concatenate([b.amount for b in found]), has_amounts=bool(outcomes.amounts),
        lost=None if outcomes.lost is None else np.concatenate([b.lost for b in found]),
        positions=np.concatenate([b.positions for b in found]),
        groups={name: np.array([g for b in found for g in b.groups[k]], dtype=object)
                for k, name in enumerate(options.by)})


def _field_types(schema, by: tuple[str, ...]) -> dict[str, str]:
    return {name: schema.fields[name].type for name in by if name in schema.fields}


def _window(spill_: history.Spill, created: str | None, outcomes: history.Outcomes,
            options: Options) -> tuple[Window, float]:
    span = history.bounds(spill_, created, outcomes)
    if span.latest is None:
        raise TableError("the history holds no timestamp (no event, outcome, change or creation time)")
    start = options.start if options.start is not None else math.floor(span.earliest / DAY) * DAY
    # The default end follows activity, not outcomes: outcomes after it still count for
    # precision, and the window must not end in weeks where nothing could cross.
    activity = span.activity if span.activity is not None else span.latest
    end = options.end if options.end is not None else next_midnight(activity)
    if options.start is not None and options.start > span.latest:
        raise UsageError(f"the window holds none of the history: --start ({_text(start)}) is after its last "
                         f"timestamp ({_text(span.latest)})")
    if end <= start:
        raise UsageError(f"the window is empty: it ends ({_text(end)}) before it starts ({_text(start)}); "
                         "--start and --end must leave some of the history between them")
    return Window(start, end), span.latest


def _text(seconds: float) -> str:
    return compare.iso_time(seconds)


def _plans(variants: list[Variant], keys: list[tuple], sweep: SweepRequest | None):
    swept = swept_thresholds(variants[-1].checked, sweep.constant) if sweep else None
    plans = []
    for i, (variant, key) in enumerate(zip(variants, keys)):
        if sweep is not None and swept and i == len(variants) - 1:
            plans.append((Plan.of(variant.name, variant.checked, swept, frozenset({sweep.constant})), key))
        else:
            plans.append((Plan.of(variant.name, variant.checked), key))
    value_plans = []
    if sweep is not None and swept is None:
        value_plans = [Plan.of(f"{sweep.constant}={literal(v)}",
                               override(variants[-1].checked, [(sweep.constant, literal(v))], "--sweep"))
                       for v in sweep.values]
    return plans, value_plans, swept


def _outcome_ids(outcomes: history.Outcomes, count: int) -> list[list[tuple[int, str]]]:
    """Each bucket's outcome lead ids, with the file row of their first outcome (to find and
    show the unknown ones)."""
    ids = list(outcomes.leads)
    per_bucket: list[list[tuple[int, str]]] = [[] for _ in range(count)]
    buckets = bucket_of(pa.array(ids, pa.string()), count) if count > 1 else np.zeros(len(ids), np.int64)
    for lead, bucket in zip(ids, buckets.tolist()):
        per_bucket[bucket].append((outcomes.leads[lead][2], lead))
    return per_bucket


def _run(count: int, jobs: int, progress) -> list[_Bucket]:
    found: list = [None] * count
    done = 0
    if progress:
        progress(0, count)
    if jobs > 1 and count > 1 and "fork" in multiprocessing.get_all_start_methods():
        with worker_pool(min(jobs, count)) as pool:
            for bucket, result in pool.imap_unordered(_bucket, range(count)):
                found[bucket] = result
                done += 1
                if progress:
                    progress(done, count)
        return found
    for bucket in range(count):
        found[bucket] = _bucket(bucket)[1]
        if progress:
            progress(bucket + 1, count)
    return found


def _bucket(number: int) -> tuple[int, _Bucket]:
    job = _JOB
    window = job.window
    prepared = {}
    with untracked_by_collector():
        for key, spill_ in job.spills.items():
            prepared[key] = history.prepare(spill_, number, key[1], window.end, job.keep)   # key[1]: `created`
    main = prepared[job.main_key]
    times = lead_times(main, window.end, window.start)
    success = np.array([job.success.get(lead, np.nan) for lead in main.ids])
    groups = lead_groups(job.by, main.fields, job.types, times["first"])    # before the replay changes fields
    provided = fields_with_values(main.fields)
    undeclared = undeclared_values(main.fields, job.plans[-1][0].checked.schema)
    replays = []
    for plan, key in job.plans:
        found = job.engine.replay(prepared[key], plan, window)
        replays.append(found if key == job.main_key else _aligned(found, prepared[key], main))
    first_in_window = times["first_in_window"]
    peaks, contributed, at_crossing = [], [], []
    for plan, key in job.plans:
        index = prepared[key].index()
        rows = list(range(len(main))) if key == job.main_key else [index.get(lead, -1) for lead in main.ids]
        peaks.append(peak_scores(job.engine, prepared[key], plan, window, success, first_in_window, rows))
        replay = replays[len(peaks) - 1]
        at_crossing.append(crossing_scores(job.engine, prepared[key], plan, window, replay.crossings, rows))
        contributed.append(contributions(job.engine, prepared[key], plan,
                                         _probe_instants(replay.crossings, times["last"], window), rows))
    sweep = _sweep(job, replays[-1], main) if job.sweep else None
    examples = _examples(job, prepared, replays) if job.compare and (job.examples or job.every_flip) else []
    problems = dict(main.problems)
    index = main.index()
    unknown = [(order, lead) for order, lead in job.outcome_ids[number] if lead not in index]
    if unknown:
        problems[("outcomes", "unknown_lead")] = (len(unknown), [(order, unknown_lead(lead))
                                                                 for order, lead in unknown[:job.keep]])
    replays = [replace(r, recording=None) for r in replays]    # only the sweep reads it, here
    return number, _Bucket(np.asarray(main.positions, np.int64), success, times["first_in_window"], replays,
                           sweep, examples, problems, main.ids, groups,
                           np.array([job.amounts.get(lead, np.nan) for lead in main.ids], float),
                           None if job.lost is None else np.array([job.lost.get(lead, np.nan) for lead in main.ids],
                                                                  float), peaks, contributed, provided, undeclared, at_crossing)


@contextmanager
def untracked_by_collector():
    """Builds what the block makes without the cyclic garbage collector, then moves every object
    alive to its permanent generation (gc.freeze). A bucket is millions of tuples, dicts and
    lists with no cycles, freed by reference counting: collections while it is built, and full
    ones while it is replayed, would scan them all for nothing (~2 s of 16 in a 3M-event
    simulate). The collector is restored as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()


def _probe_instants(crossings: np.ndarray, last: np.ndarray, window: Window) -> np.ndarray:
    """Per lead: its earliest crossing in the window, else its last instant in the window (nan:
    none), where rule contributions are counted."""
    with np.errstate(invalid="ignore"):
        inside = np.where((crossings >= window.start) & (crossings < window.end), crossings, np.inf)
    earliest = inside.min(axis=1) if inside.shape[1] else np.full(len(last), np.inf)
    with np.errstate(invalid="ignore"):
        last = np.where(last >= window.start, last, np.nan)
    return np.where(np.isfinite(earliest), earliest, last)


def _aligned(found: Replayed, bucket: history.Bucket, main: history.Bucket) -> Replayed:
    """A replay of another schema's reading, in the main reading's lead order (leads it lacks: no
    instant)."""
    index = bucket.index()
    rows = np.array([index.get(lead, -1) for lead in main.ids], np.int64)
    missing = rows < 0

    def take(values: np.ndarray, empty) -> np.ndarray:
        out = values[np.where(missing, 0, rows)] if len(values) else np.zeros((len(rows),) + values.shape[1:],
                                                                            values.dtype)
        out[missing] = empty
        return out

    return Replayed(take(found.crossings, np.nan), [take(f, np.nan) for f in found.first_labels],
                    take(found.final_scores, np.nan), take(found.final_thresholds, False),
                    take(found.final_segments, -1), found.evaluations)


def _sweep(job: _Job, replayed: Replayed, main: history.Bucket) -> list[np.ndarray]:
    """Per sweep value: the crossings of every threshold of the swept variant, (leads, thresholds)."""
    values = job.sweep.values
    if job.swept is None:
        out = []
        for plan in job.value_plans:
            out.append(job.engine.replay(main, plan, job.window).crossings)
        return out
    out = [replayed.crossings.copy() for _ in values]
    if job.swept:
        plan = job.plans[-1][0]
        for threshold, found in sweep_crossings(plan.checked, job.sweep.constant, replayed.recording, values,
                                                len(main)).items():
            for k in range(len(values)):
                out[k][:, threshold] = found[k]
    return out


def _examples(job: _Job, prepared: dict, replays: list[Replayed]) -> list:
    """The first flipped leads of the bucket (by position in the leads file), or all of them
    with every_flip, explained."""
    (before, before_key), (after, after_key) = job.plans
    limit = None if job.every_flip else job.examples
    constants = compare.changed_constants(before.checked, after.checked)
    main = prepared[job.main_key]
    positions = np.asarray(main.positions)
    indexes = {key: bucket.index() for key, bucket in prepared.items()}
    out = []
    for i, threshold in enumerate(after.thresholds):
        if threshold not in before.thresholds:
            continue
        b_cross = replays[0].crossings[:, before.thresholds.index(threshold)]
        c_cross = replays[1].crossings[:, i]
        scores = compare.threshold_scores(after.checked, threshold)
        for kind, mask in compare.flips(b_cross, c_cross, job.window.start, job.window.end).items():
            leads = np.flatnonzero(mask)
            for k in leads[np.argsort(positions[leads], kind="stable")][:limit].tolist():
                lead = main.ids[k]
                instant = float(np.nanmin([b_cross[k], c_cross[k]]))
                results = [job.engine.evaluate_at(prepared[key], indexes[key][lead], plan, instant)
                           if lead in indexes[key] else ((), (), (), ())
                           for plan, key in ((before, before_key), (after, after_key))]
                found = compare.example(lead, kind, b_cross[k], c_cross[k], instant, results[0], results[1],
                                        scores, (before.scores, after.scores), constants)
                found["success_at"] = compare.iso_time(job.success.get(lead, np.nan))
                found["amount"] = job.amounts.get(lead)
                out.append((threshold, kind, int(positions[k]), found))
    return out


def _merge(found: list[_Bucket], variants, plans, window, last, sweep, swept, count, limit: int,
           every_flip: bool = False) -> Simulation:
    def joined(get) -> np.ndarray:
        return np.concatenate([get(b) for b in found])

    outcomes = []
    for v in range(len(plans)):
        outcomes.append(VariantOutcome(
            joined(lambda b: b.replays[v].crossings),
            [joined(lambda b: b.replays[v].first_labels[s]) for s in range(len(plans[v].labels))],
            joined(lambda b: b.replays[v].final_scores), joined(lambda b: b.replays[v].final_segments),
            sum(b.replays[v].evaluations for b in found), joined(lambda b: b.peaks[v]),
            joined(lambda b: b.at_crossing[v])))
    sweep_outcome = None
    if sweep is not None:
        sweep_outcome = SweepOutcome(sweep.constant, sweep.values, "replay" if swept is None else "paths",
                                     [joined(lambda b: b.sweep[k]) for k in range(len(sweep.values))])
    examples: dict = {}
    flipped: dict = {}
    for threshold, kind, position, example in sorted((e for b in found for e in b.examples),
                                                     key=lambda e: e[2]):
        kept = examples.setdefault(threshold, {}).setdefault(kind, [])
        if len(kept) < limit:
            kept.append(example)
        if every_flip:
            flipped.setdefault(threshold, []).append(example)
    return Simulation(window, last, variants, plans, joined(lambda b: b.success),
                      joined(lambda b: b.first_in_window), outcomes, sweep_outcome, examples, count,
                      flipped=flipped)

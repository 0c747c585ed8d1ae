"""The Python replay backend: each lead through the compiled scorer, at the instants that can
change a result (docs/language.md).

A lead is evaluated at every *jump*: its first instant, each distinct event time, and the
first instant after each field change. Between two jumps only the instant moves, and
`compiler/analysis.py` says which way that can move each threshold and segment condition.
Over each gap's midnights:

* skip, when no threshold still to cross can rise and no segment can reach a label it has
  not reached yet;
* bisect, when every part that can matter moves one way only: a monotone part equal at both
  ends of a range is constant inside it, so halving finds every change with a few
  evaluations;
* scan every midnight otherwise.

Once nothing the lead has not reached can ever be reached (given its fixed atoms, and no
field change to come), its last instant is all that is left to evaluate. Every skip is
checked against full evaluation by tests/test_simulator_skip.py.
"""

from __future__ import annotations

import math

import numpy as np

from ..compiler.analysis import ANY, DOWN, FALSE, UP
from .engine import Evaluated, Plan, Recording, Replayed, Window
from .history import Bucket
from .instants import DAY, instant_after_change, lead_span, next_midnight

SKIP, BISECT, SCAN, SCAN_ALL = range(4)
_RISING = (UP, ANY)


class PythonEngine:
    name = "python"

    def replay(self, bucket: Bucket, plan: Plan, window: Window) -> Replayed:
        return _Replay(bucket, plan, window).run()

    def evaluate_at(self, bucket: Bucket, lead: int, plan: Plan, instant: float) -> tuple:
        fields = fields_at(bucket, lead, instant)
        grouped: dict[str, list] = {name: [] for name in plan.checked.schema.events}
        for k in range(bucket.starts[lead], bucket.starts[lead + 1]):
            if bucket.at[k] > instant:
                break
            grouped[bucket.kinds[k]].append(bucket.pairs[k])
        return plan.scorer.evaluate_prepared(fields, grouped, instant, True)

    def evaluate_many(self, bucket: Bucket, plan: Plan, rows: np.ndarray, instants: np.ndarray,
                      reasons: bool = False) -> Evaluated:
        """The pairs lead by lead in time order, each lead's events added as its instants pass
        them: one walk over a lead's events for all its instants, where a walk per pair made a
        lead with many events and instants cost their product (evaluate_at's results)."""
        rows, instants = np.asarray(rows, np.int64).reshape(-1), np.asarray(instants, float).reshape(-1)
        evaluate, names = plan.scorer.evaluate_prepared, plan.checked.schema.events
        at, kinds, pairs, starts = bucket.at, bucket.kinds, bucket.pairs, bucket.starts
        order = np.lexsort((instants, rows))
        results: list = [None] * len(rows)
        lead, e, hi, grouped = -1, 0, 0, {}
        for i, k, instant in zip(order.tolist(), rows[order].tolist(), instants[order].tolist()):
            if k != lead:
                lead, e, hi = k, starts[k], starts[k + 1]
                grouped = {name: [] for name in names}
            while e < hi and at[e] <= instant:
                grouped[kinds[e]].append(pairs[e])
                e += 1
            results[i] = evaluate(fields_at(bucket, k, instant), grouped, instant, reasons)
        return evaluated(plan, results, reasons)


def evaluated(plan: Plan, results: list[tuple], reasons: bool) -> Evaluated:
    """evaluate_at's results as columns."""
    n = len(results)
    scores = np.array([[math.nan if v is None else v for v in r[0]] for r in results], float)
    thresholds = np.array([r[1] for r in results], bool)
    index = [{label: i for i, label in enumerate(labels)} for labels in plan.labels]
    segments = np.array([[-1 if label is None else index[s][label] for s, label in enumerate(r[2])]
                         for r in results], np.int64)
    shapes = ((n, len(plan.scores)), (n, len(plan.thresholds)), (n, len(plan.labels)))
    scores, thresholds, segments = (a.reshape(shape) for a, shape in zip((scores, thresholds, segments), shapes))
    if not reasons:
        return Evaluated(scores, thresholds, segments)
    labels = list(dict.fromkeys(f"{score}.{rule}" for r in results for score, rule, *_ in r[3]))
    column = {name: j for j, name in enumerate(labels)}
    points = np.zeros((n, len(labels)))
    for i, r in enumerate(results):
        for score, rule, value, *_ in r[3]:
            if value:      # one column per name: a name with points anywhere in the row has them
                points[i, column[f"{score}.{rule}"]] = value
    return Evaluated(scores, thresholds, segments, points, tuple(labels))


def fields_at(bucket: Bucket, lead: int, instant: float) -> dict:
    fields = dict(bucket.fields[lead])
    changes = bucket.changes[bucket.change_starts[lead]:bucket.change_starts[lead + 1]]
    for name in {name for _, name, _ in changes}:
        fields[name] = None     # a field with a history is missing before its first change
    for at, name, value in changes:
        if at > instant:
            break
        fields[name] = value
    return fields


class _Replay:
    def __init__(self, bucket: Bucket, plan: Plan, window: Window) -> None:
        self.bucket, self.plan, self.window = bucket, plan, window
        self.evaluate, self.atoms = plan.scorer.evaluate_prepared, plan.scorer.atoms
        self.events = tuple(plan.checked.schema.events)
        self.bits = {name: 1 << i for i, name in enumerate(self.events)}
        self.n_thresholds = len(plan.thresholds)
        self.label_index = [{label: i for i, label in enumerate(labels)} for labels in plan.labels]
        self.all_thresholds = (1 << self.n_thresholds) - 1
        self.all_labels = tuple((1 << len(labels)) - 1 for labels in plan.labels)
        self.decisions: dict = {}
        self.futures: dict = {}
        self.evaluations = 0
        n = len(bucket)
        self.crossings = np.full((n, self.n_thresholds), np.nan)
        self.first_labels = [np.full((n, len(labels)), np.nan) for labels in plan.labels]
        self.final_scores = np.full((n, len(plan.scores)), np.nan)
        self.final_thresholds = np.zeros((n, self.n_thresholds), bool)
        self.final_segments = np.full((n, len(plan.labels)), -1, np.int64)
        self.record = plan.record
        self.record_mask = sum(1 << i for i in plan.record)
        self.rows: list[tuple] | None = [] if plan.record else None   # (lead, instant, scores, thresholds)

    def run(self) -> Replayed:
        for k in range(len(self.bucket)):
            self.lead(k)
        recording = None
        if self.rows is not None:
            width = (len(self.plan.scores), self.n_thresholds)
            lead = np.fromiter((row[0] for row in self.rows), np.int64, len(self.rows))
            at = np.fromiter((row[1] for row in self.rows), float, len(self.rows))
            order = np.lexsort((at, lead))
            # None (a missing derived score) becomes nan
            scores = np.array([row[2] for row in self.rows], float).reshape(len(self.rows), width[0])
            thresholds = np.array([row[3] for row in self.rows], bool).reshape(len(self.rows), width[1])
            recording = Recording(lead[order], at[order], scores[order], thresholds[order])
        return Replayed(self.crossings, self.first_labels, self.final_scores, self.final_thresholds,
                        self.final_segments, self.evaluations, recording)

    # --- one lead ---------------------------------------------------------------------------------

    def lead(self, k: int) -> None:
        bucket, end = self.bucket, self.window.end
        at, kinds, pairs = bucket.at, bucket.kinds, bucket.pairs
        lo, hi = bucket.starts[k], bucket.starts[k + 1]
        span = lead_span(at, lo, hi, bucket.created[k], end)
        if span is None:
            return
        changes = bucket.changes[bucket.change_starts[k]:bucket.change_starts[k + 1]]
        # the changes an instant can see: those at or after the end only make their field missing
        visible = sum(1 for when, _, _ in changes if when < end)
        fields = dict(bucket.fields[k])
        jumps = sorted(set(at[lo:hi]) | {span.first})
        if changes:
            for name in {name for _, name, _ in changes}:
                fields[name] = None
            seen = {instant_after_change(span, at, lo, hi, when) for when, _, _ in changes}
            jumps = sorted(set(jumps) | (seen - {None}))
        self.span, self.fields, self.k = span, fields, k
        grouped = {name: [] for name in self.events}
        self.grouped = grouped
        self.pending = self.all_thresholds
        self.pending_labels = list(self.all_labels)
        self.news = False
        evaluate, bits, apply = self.evaluate, self.bits, self.apply
        live, e, c, atoms, last_at, last_result = 0, lo, 0, None, None, None
        recording = self.rows is not None
        # The scores of the latest evaluation: its fixed score blocks (fields only) are reused
        # until a field changes; `latest` is the time of the latest event seen.
        self.cached = self.latest = None
        for j_index, j in enumerate(jumps):
            while e < hi and at[e] <= j:
                kind = kinds[e]
                grouped[kind].append(pairs[e])
                live |= bits[kind]
                e += 1
            if e > lo:
                self.latest = at[e - 1]
            changed = False
            while c < len(changes) and changes[c][0] <= j:
                fields[changes[c][1]] = changes[c][2]
                c += 1
                changed = True
            if changed:
                self.cached = None
            result = evaluate(fields, grouped, j, False, self.cached, self.latest)
            self.cached = result[0]
            self.evaluations += 1
            if recording:
                self.keep(j, result)
            apply(result, j)
            if atoms is None or changed:
                atoms = self.atoms(fields, result[0], result[1], result[2])
                self.news = True
            last_at, last_result = j, result
            if self.news and c == visible:
                if self.done(atoms):
                    break
                self.news = False
            following = jumps[j_index + 1] if j_index + 1 < len(jumps) else end
            first, last = next_midnight(j), math.ceil(following / DAY) * DAY - DAY
            if first <= last:
                found = self.gap(first, last, result, live, atoms)
                if found is not None:
                    last_at, last_result = found
        if last_at != span.last:
            while e < hi:
                grouped[kinds[e]].append(pairs[e])
                e += 1
            while c < len(changes) and changes[c][0] <= span.last:
                fields[changes[c][1]] = changes[c][2]
                c += 1
                self.cached = None
            last_result = evaluate(fields, grouped, span.last, False, self.cached, at[hi - 1] if hi > lo else None)
            self.evaluations += 1
            if recording:
                self.keep(span.last, last_result)
        self.final(k, last_result)

    def apply(self, result: tuple, instant: float) -> None:
        """Note the thresholds crossed and the labels reached at this instant (`news` says
        whether any was, since `done` was last asked)."""
        self.labels_now = labels = result[2]
        news = False
        if self.pending:
            thresholds = result[1]
            for i in range(self.n_thresholds):
                if self.pending >> i & 1 and thresholds[i]:
                    self.crossings[self.k, i] = instant
                    self.pending &= ~(1 << i)
                    news = True
        pending_labels = self.pending_labels
        for s, label in enumerate(labels):
            if pending_labels[s] and label is not None:
                index = self.label_index[s][label]
                if pending_labels[s] >> index & 1:
                    self.first_labels[s][self.k, index] = instant
                    pending_labels[s] &= ~(1 << index)
                    news = True
        if news:
            self.news = True

    def keep(self, instant: float, result: tuple) -> None:
        self.rows.append((self.k, instant, result[0], result[1]))

    def final(self, k: int, result: tuple) -> None:
        scores, thresholds, segments, _ = result
        self.final_scores[k] = [math.nan if v is None else v for v in scores]
        self.final_thresholds[k] = thresholds
        self.final_segments[k] = [-1 if label is None else self.label_index[s][label]
                                  for s, label in enumerate(segments)]

    def done(self, atoms: int) -> bool:
        """Nothing this lead has not reached can be reached at a later instant (and, for a sweep,
        no recorded threshold can hold again, whatever the swept value: the analysis does not
        rely on it)."""
        future = self.futures.get(atoms)
        if future is None:
            found = self.plan.analysis.future(atoms)
            future = self.futures[atoms] = (
                sum(1 << i for i, possible in enumerate(found.thresholds) if possible),
                tuple(sum(1 << i for i, possible in enumerate(labels) if possible) for labels in found.labels))
        if (self.pending | self.record_mask) & future[0]:
            return False
        return not any(p & f for p, f in zip(self.pending_labels, future[1]))

    # --- the midnights between two jumps -------------------------------------------------------

    def decide(self, live: int, atoms: int) -> tuple:
        key = (live, atoms, self.pending, tuple(self.pending_labels), self.labels_now)
        found = self.decisions.get(key)
        if found is None:
            found = self.decisions[key] = self._decide(self.plan.analysis.gap(live, atoms))
        return found

    def _decide(self, gap) -> tuple:
        if any(gap.thresholds[i] in _RISING for i in self.record):
            return SCAN_ALL, (), ()
        rising = tuple(i for i in range(self.n_thresholds)
                       if self.pending >> i & 1 and gap.thresholds[i] in _RISING)
        segments = tuple(s for s, dirs in enumerate(gap.segments) if self._reachable(dirs, s))
        if not rising and not segments:
            return SKIP, (), ()
        if any(gap.thresholds[i] == ANY for i in rising) or any(ANY in gap.segments[s] for s in segments):
            return SCAN, rising, segments
        return BISECT, rising, segments

    def _reachable(self, dirs: tuple, s: int) -> bool:
        """Can the segment reach, over the gap, a label it has not reached yet? `dirs` has one
        direction per line and `pending` one bit per label: the same numbering, as a segment
        cannot list a label twice (LS203) and `otherwise` is its last line."""
        pending, label = self.pending_labels[s], self.labels_now[s]
        current = len(dirs) if label is None else self.label_index[s][label]
        for a in range(len(dirs)):
            if not pending >> a & 1:
                continue
            if a < current and dirs[a] in _RISING:
                return True      # an earlier label's condition may come to hold
            if a > current and dirs[current] in (DOWN, ANY) and dirs[a] != FALSE:
                return True      # the current label's condition may stop holding
        return False

    def gap(self, first: float, last: float, start: tuple, live: int, atoms: int):
        """Evaluate what the midnights first..last need; the last (instant, result) evaluated."""
        action, rising, segments = self.decide(live, atoms)
        if action == SKIP:
            return None
        evaluate, fields, grouped, recording = self.evaluate, self.fields, self.grouped, self.rows is not None
        if action in (SCAN, SCAN_ALL):
            found = None
            midnight = first
            while midnight <= last:
                result = evaluate(fields, grouped, midnight, False, self.cached, self.latest)
                self.evaluations += 1
                if recording:
                    self.keep(midnight, result)
                self.apply(result, midnight)
                found = (midnight, result)
                if action == SCAN and self.decide(live, atoms)[0] == SKIP:
                    break
                midnight += DAY
            return found

        def signature(result: tuple) -> tuple:
            return tuple(result[1][i] for i in rising) + tuple(result[2][s] for s in segments)

        count = int(round((last - first) / DAY)) + 1
        evaluated: dict[int, tuple] = {}

        def at(index: int) -> tuple:
            result = evaluated[index] = evaluate(fields, grouped, first + index * DAY, False, self.cached,
                                                 self.latest)
            self.evaluations += 1
            return result

        def search(low: int, low_sig: tuple, high: int, high_sig: tuple) -> None:
            while high - low > 1 and low_sig != high_sig:
                middle = (low + high) // 2
                middle_sig = signature(at(middle))
                search(low, low_sig, middle, middle_sig)
                low, low_sig = middle, middle_sig

        search(-1, signature(start), count - 1, signature(at(count - 1)))
        for index in sorted(evaluated):
            if recording:
                self.keep(first + index * DAY, evaluated[index])
            self.apply(evaluated[index], first + index * DAY)
        return first + (count - 1) * DAY, evaluated[count - 1]


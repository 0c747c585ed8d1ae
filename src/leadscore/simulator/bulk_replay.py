"""A replay in a few bulk evaluations (docs/engines.md, "How the DuckDB replay chooses its
instants"): every lead of a bucket at once, through an engine's `evaluate_many`.

The instants are those of the Python engine's replay (python_backend.py), chosen for all leads
together rather than lead by lead:

1. every *jump* (a lead's first instant, each distinct event time, the first instant after
   each field change, and its last instant) that can matter, in a few rounds (its first and
   last jumps and the earlier part of the rest first: most leads are done early);
2. for each gap between two jumps of a lead, the replay analysis (compiler/analysis.py) at
   the gap's event types and fixed atoms says what its midnights need: nothing when no
   threshold not yet crossed can rise and no segment can reach a label not yet reached;
   every midnight when a part can move both ways (or a threshold a sweep records can rise);
   else only the last midnight, and where the result there differs from the gap's start,
   rounds of bisection over all such gaps at once (a monotone part equal at both ends of a
   range is constant inside it). A threshold or label the analysis says can never hold again,
   given the lead's fixed atoms (its `future`), counts as reached: the Python engine stops a
   lead there.

Crossings and first labels are then the first evaluated instant at which they hold, the
finals the lead's last instant: each is what an evaluation at every instant would give,
since the instants left out cannot change them.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import lower as lo
from ..compiler.analysis import ANY, DOWN, FALSE, UP
from .engine import Evaluated, Plan, Recording, Replayed, Window
from .history import Bucket, event_arrays
from .instants import DAY, instant_after_change, lead_span, lead_spans
from .python_backend import fields_at

_SKIP, _BISECT, _SCAN = range(3)
# the jump rounds (evaluate_jumps): the first takes each lead's jumps up to the first of these
# shares of them, the next ones up to each next share, the last all. On acme 47% of the leads
# are done before their last jump, half of those within their first quarter of jumps, but
# (0.25, 0.5) evaluated 5% fewer instants (3.48M for 3.66M) in no less time: a round's fixed
# cost (one statement, the values read off the running sums) is worth about that many rows
JUMP_ROUNDS = (0.5,)
_RISING = (UP, ANY)


def bulk_replay(engine, bucket: Bucket, plan: Plan, window: Window) -> Replayed:
    return _BulkReplay(engine, bucket, plan, window).run()


class _Rows:
    """Evaluated (lead, instant) rows, gathered over the rounds when the plan records; those of
    the `wanted` leads are recorded."""

    def __init__(self, leads: int, recording: bool) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, Evaluated]] = []
        self.wanted = np.zeros(leads, bool)
        self.recording = recording

    def add(self, leads: np.ndarray, instants: np.ndarray, found: Evaluated) -> None:
        if self.recording:   # a plain replay keeps no rows: they would only hold memory
            self.parts.append((leads, instants, found))

    def joined(self, scores: int, thresholds: int) -> tuple[np.ndarray, ...]:
        """(lead, at, scores, thresholds) of the wanted leads' rows, each lead's rows together in
        time order."""
        kept = [self.wanted[p[0]] for p in self.parts]
        if not any(k.any() for k in kept):
            return np.zeros(0, np.int64), np.zeros(0), np.zeros((0, scores)), np.zeros((0, thresholds), bool)
        lead = np.concatenate([p[0][k] for p, k in zip(self.parts, kept)])
        at = np.concatenate([p[1][k] for p, k in zip(self.parts, kept)])
        # by instant, then stably by lead: a lead's rows are distinct instants, so the first
        # sort need not be stable, and the second sorts small integers (a radix sort when the
        # bucket has under 65,536 leads), together about twice as fast as np.lexsort
        order = np.argsort(at)
        small = np.min_scalar_type(int(lead.max()) if len(lead) else 0)
        order = order[np.argsort(lead[order].astype(small), kind="stable")]
        return (lead[order], at[order], np.concatenate([p[2].scores[k] for p, k in zip(self.parts, kept)])[order],
                np.concatenate([p[2].thresholds[k] for p, k in zip(self.parts, kept)])[order])


class _BulkReplay:
    def __init__(self, engine, bucket: Bucket, plan: Plan, window: Window) -> None:
        self.engine, self.bucket, self.plan, self.window = engine, bucket, plan, window
        # bisection ends in one round over every midnight left once they are this few
        self.scan_budget = getattr(engine, "scan_budget", 0)
        self.rows = _Rows(len(bucket), bool(plan.record))
        self.evaluations = 0
        self.decided = _decisions_of(plan)     # a gap's key (its atoms' value, not id) -> its decision
        n = len(bucket)
        # the first instant each threshold held and each label was reached, over the rows so far
        self.crossings = np.full((n, len(plan.thresholds)), np.nan)
        self.first_labels = [np.full((n, len(labels)), np.nan) for labels in plan.labels]
        self.done_from = np.full(n, np.inf)     # per lead: the jump from which it is done (evaluate_jumps)
        self.futures: list[np.ndarray] | None = None     # per atom id: what can hold later (`possible`)
        self.changing = np.diff(np.asarray(bucket.change_starts, np.int64)) > 0   # leads with field changes

    def evaluate(self, leads: np.ndarray, instants: np.ndarray) -> Evaluated:
        found = self.engine.evaluate_many(self.bucket, self.plan, leads, instants)
        self.rows.add(leads, instants, found)
        self.evaluations += len(leads)
        for i in range(len(self.plan.thresholds)):
            _first(self.crossings[:, i], leads, instants, found.thresholds[:, i])
        for s, labels in enumerate(self.plan.labels):
            for j in range(len(labels)):
                _first(self.first_labels[s][:, j], leads, instants, found.segments[:, s] == j)
        return found

    def run(self) -> Replayed:
        plan, n = self.plan, len(self.bucket)
        final_scores = np.full((n, len(plan.scores)), np.nan)
        final_thresholds = np.zeros((n, len(plan.thresholds)), bool)
        final_segments = np.full((n, len(plan.labels)), -1, np.int64)
        lead, at = self.jumps()
        if len(lead):
            kept, start = self.evaluate_jumps(lead, at)
            lead, at, self.changed, self.upto = lead[kept], at[kept], self.changed[kept], self.upto[kept]
            self.gaps(lead, at, start)
            ends = np.flatnonzero(np.r_[lead[1:] != lead[:-1], True])    # each lead's last instant
            final_scores[lead[ends]] = start.scores[ends]
            final_thresholds[lead[ends]] = start.thresholds[ends]
            final_segments[lead[ends]] = start.segments[ends]
        recording = None
        if plan.record:
            recording = Recording(*self.rows.joined(len(plan.scores), len(plan.thresholds)))
        return Replayed(self.crossings, self.first_labels, final_scores, final_thresholds, final_segments,
                        self.evaluations, recording)

    # --- the jumps ------------------------------------------------------------------------

    def evaluate_jumps(self, lead: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, Evaluated]:
        """The jumps that can matter and their results, in rounds: first every lead's first and
        last jumps, those up to the first share of its jumps (JUMP_ROUNDS) and every jump of a
        lead whose fields change; then, for the leads not yet *done*, those up to the next share,
        and last the rest of those up to where each is done. A lead is done once it has reached
        everything that can hold again (the analysis' future, given its fixed atoms: as the
        Python engine stops a lead); over the rows evaluated so far that instant is a late bound
        of the true one (a crossing found can only move earlier), so the jumps up to it are all
        evaluated. A threshold a sweep records counts as not reached: its score path matters
        while it can hold again, whatever the swept value."""
        leading = np.r_[True, lead[1:] != lead[:-1]]
        head = np.flatnonzero(leading)
        sizes = np.diff(np.r_[head, len(lead)])
        place = np.arange(len(lead)) - np.repeat(head, sizes)
        rounds = np.ceil(np.multiply.outer((*JUMP_ROUNDS, 1.0), sizes)).astype(np.int64)
        evaluated = leading | np.r_[leading[1:], True] | self.changing[lead] | (place < np.repeat(rounds[0], sizes))
        found = self.evaluate(lead[evaluated], at[evaluated])
        atoms = self.atom_ids(lead[evaluated], at[evaluated], found, leading[evaluated], self.changed[evaluated])
        # a lead's possible items are the same at all its jumps: its atoms are fixed, or (fields
        # changing) every item is possible
        leads = lead[head]
        possible = self.possible(leads, atoms[np.flatnonzero(leading[evaluated])])
        # a lead none of whose recorded thresholds can hold, whatever the swept value (given its
        # fixed atoms), crosses at no value: its rows are left out of the recording
        self.rows.wanted[leads[possible[0][:, list(self.plan.record)].any(axis=1)]] = True
        parts = [(evaluated.copy(), found)]
        for limit in rounds[1:]:
            done = np.repeat(self.done_at(leads, at[head], possible), sizes)
            wanted = ~evaluated & (at <= done) & (place < np.repeat(limit, sizes))
            if wanted.any():
                parts.append((wanted, self.evaluate(lead[wanted], at[wanted])))
                evaluated |= wanted
        # exact now: every jump up to it is evaluated; the gaps from there on need no midnight
        self.done_from[leads] = self.done_at(leads, at[head], possible)
        return evaluated, _gathered(parts, evaluated)

    def done_at(self, leads: np.ndarray, first: np.ndarray, possible: list[np.ndarray]) -> np.ndarray:
        """Per lead: the instant from which it is done over the rows evaluated so far, the latest
        first instant of what can hold (its `first` instant when nothing can; inf while one is
        not reached, or a recorded threshold can hold)."""
        latest = first.copy()
        for found, can in zip((self.crossings, *self.first_labels), possible):
            reached = np.where(can, np.nan_to_num(found[leads], nan=np.inf), -np.inf)
            if reached.shape[1]:
                np.maximum(latest, reached.max(axis=1), out=latest)
        recorded = possible[0][:, list(self.plan.record)].any(axis=1)
        latest[recorded] = np.inf
        return latest

    def jumps(self) -> tuple[np.ndarray, np.ndarray]:
        """Every lead's jumps, sorted by (lead, instant). A lead's first instant, its events and
        its last instant are in that order already (the first is at or before its first event,
        the last at or after its last): they are laid out in place, and the change jumps, each
        lead's in order, merged in."""
        bucket = self.bucket
        events, spans = event_arrays(bucket), lead_spans(bucket, self.window.end)
        starts, at, alive = events.starts, events.at, spans.alive
        counts = np.diff(starts)
        shown = np.flatnonzero(alive)
        sizes = counts[shown] + 2
        offset = np.cumsum(sizes) - sizes
        lead = np.repeat(shown, sizes)
        instants = np.empty(len(lead))
        instants[offset], instants[offset + sizes - 1] = spans.first[shown], spans.last[shown]
        # a lead without instants has no events (they are all before the end): every event is
        # laid out, in the bucket's order
        rows = np.arange(len(at)) + np.repeat(offset + 1 - starts[shown], counts[shown])
        instants[rows] = at
        is_event = np.zeros(len(lead), bool)
        is_event[rows] = True
        is_change = np.zeros(len(lead), bool)
        changed_lead, changed_at = self.change_jumps(alive)
        if len(changed_lead):
            places = _insertion_places(lead, instants, self.changing[lead], changed_lead, changed_at)
            lead, instants = np.insert(lead, places, changed_lead), np.insert(instants, places, changed_at)
            is_event, is_change = np.insert(is_event, places, False), np.insert(is_change, places, True)
        distinct = np.ones(len(lead), bool)
        distinct[1:] = (lead[1:] != lead[:-1]) | (instants[1:] != instants[:-1])
        groups = np.flatnonzero(distinct)
        self.changed = np.logical_or.reduceat(is_change, groups) if len(lead) else is_change
        # the events up to a jump end at the count at its group's last row
        ends = np.r_[groups[1:], len(lead)] - 1
        self.upto = np.cumsum(is_event)[ends] if len(lead) else np.zeros(0, np.int64)
        return lead[distinct], instants[distinct]

    def change_jumps(self, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lead, instant) of the first instant that sees each field change."""
        bucket, end = self.bucket, self.window.end
        leads, instants = [], []
        change_starts = bucket.change_starts
        for k in np.flatnonzero(np.diff(np.asarray(change_starts)) > 0).tolist():
            if not alive[k]:
                continue
            lo, hi = bucket.starts[k], bucket.starts[k + 1]
            span = lead_span(bucket.at, lo, hi, bucket.created[k], end)
            for when, _, _ in bucket.changes[change_starts[k]:change_starts[k + 1]]:
                found = instant_after_change(span, bucket.at, lo, hi, when)
                if found is not None:
                    leads.append(k)
                    instants.append(found)
        return np.array(leads, np.int64), np.array(instants, float)

    # --- the gaps between jumps -----------------------------------------------------------

    def gaps(self, lead: np.ndarray, at: np.ndarray, start: Evaluated) -> None:
        following = np.r_[at[1:], self.window.end]
        following[np.r_[lead[1:] != lead[:-1], True]] = self.window.end
        first = (np.floor(at / DAY) + 1) * DAY
        last = np.ceil(following / DAY) * DAY - DAY
        count = np.maximum(0, np.round((last - first) / DAY).astype(np.int64) + 1)
        count[at >= self.done_from[lead]] = 0
        gaps = np.flatnonzero(count > 0)
        if not len(gaps):
            return
        atoms = self.atom_ids(lead, at, start, np.r_[True, lead[1:] != lead[:-1]], self.changed)[gaps]
        live = self.live(lead[gaps], self.upto[gaps])
        decided, inverse = self.decisions(self.keys(lead[gaps], first[gaps], live, atoms,
                                                    self.label_numbers(start.segments[gaps])))
        action = np.array([d[0] for d in decided], np.int64)[inverse]
        scan, chosen = gaps[action == _SCAN], gaps[action == _BISECT]
        # every midnight of the scanned gaps and the last one of each bisected gap in one
        # evaluation: each statement reads all the bucket's events, whatever its instants
        leads = np.r_[np.repeat(lead[scan], count[scan]), lead[chosen]]
        if not len(leads):
            return
        found = self.evaluate(leads, np.r_[_midnights(first[scan], count[scan]),
                                           first[chosen] + (count[chosen] - 1) * DAY])
        if len(chosen):
            masks = [np.array([d[1] for d in decided], bool).reshape(len(decided), len(self.plan.thresholds)),
                     np.array([d[2] for d in decided], bool).reshape(len(decided), len(self.plan.labels))]
            which = inverse[action == _BISECT]
            last_rows = slice(len(leads) - len(chosen), None)
            self.bisect(lead[chosen], first[chosen], count[chosen], start, chosen, masks[0][which], masks[1][which],
                        found.thresholds[last_rows], found.segments[last_rows])

    def keys(self, lead, instant, live, atoms, current) -> list[np.ndarray]:
        """Per gap, what its decision depends on, as columns: its event types and fixed atoms,
        whether each threshold and each label is still to reach before `instant` (over the rows
        evaluated so far: a row not evaluated yet can only make fewer pending, and fewer
        scanned), and each segment's label number."""
        before = instant[:, None]
        possible = self.possible(lead, atoms)
        pending = [~(self.crossings[lead] < before) & possible[0]] + \
            [~(found[lead] < before) & can for found, can in zip(self.first_labels, possible[1:])]
        return [live, atoms, *(column for p in pending for column in p.T), *current.T]

    def possible(self, lead: np.ndarray, atoms: np.ndarray) -> list[np.ndarray]:
        """Per gap, which thresholds (then which labels of each segment) can hold at some later
        instant, given the lead's fixed atoms (the analysis' `future`: the Python engine stops a
        lead once none of those it has not reached can): all of them for a lead whose fields
        change, as its atoms may change with them."""
        if self.futures is None:
            found = [self.plan.analysis.future(value) for value in self.atom_values]
            self.futures = [np.array([f.thresholds for f in found], bool).reshape(len(found), -1)] + \
                [np.array([f.labels[s] for f in found], bool).reshape(len(found), -1)
                 for s in range(len(self.plan.labels))]
        changing = self.changing[lead][:, None]
        found = [table.take(atoms, axis=0) for table in self.futures]
        for rows in found:
            rows |= changing
        return found

    def label_numbers(self, segments: np.ndarray) -> np.ndarray:
        """Each segment's label number, its number of labels for none."""
        return np.where(segments < 0, np.array([len(labels) for labels in self.plan.labels], np.int64), segments)

    def decisions(self, keys: list[np.ndarray]) -> tuple[list[tuple], np.ndarray]:
        """The decision of each distinct row of the columns `keys`, and each row's number among
        them."""
        first, inverse = _distinct(keys, len(keys[0]))
        found = []
        for key in np.column_stack([column[first].astype(np.int64) for column in keys]).tolist():
            key[1] = self.atom_values[key[1]]    # atom ids are the bucket's own; values are the plan's
            key = tuple(key)
            decision = self.decided.get(key)
            if decision is None:
                decision = self.decided[key] = self.decide(key)
            found.append(decision)
        return found, inverse

    def live(self, lead: np.ndarray, upto: np.ndarray) -> np.ndarray:
        """Per jump of `lead` whose events end at `upto` (in the bucket): bit i set when the lead
        has an event of type i at or before it, reduced to the bits the analysis reads (gaps
        alike in them share one decision)."""
        events = event_arrays(self.bucket)
        analysis, bits = self.plan.analysis, self.plan.analysis.event_bits
        names = tuple(bits)
        kinds = self.bucket.kept(("kind_codes", names), lambda: _codes(events.kinds, names))
        since = events.starts[lead]

        def seen(matching: np.ndarray) -> np.ndarray:
            counts = np.r_[0, np.cumsum(matching)]
            return counts[upto] > counts[since]

        out = np.zeros(len(lead), np.int64)
        if len(bits) >= 62:     # no room for the analysis' extra "any event" bit: every bit kept
            for code, name in enumerate(names):
                out |= np.where(seen(kinds == code), bits[name], 0)
            return out
        # the reduction keeps the bits of the moving types and whether there is any event at
        # all: only the moving types are looked for one by one, a still one stands for "any"
        moving = [code for code, name in enumerate(names) if analysis.relevant_live(bits[name]) & bits[name]]
        still = [bits[name] for code, name in enumerate(names) if code not in moving]
        if still:
            out |= np.where(seen(kinds >= 0), still[0], 0)
        for code in moving:
            out |= np.where(seen(kinds == code), bits[names[code]], 0)
        return analysis.relevant_live(out)

    def atom_ids(self, lead: np.ndarray, at: np.ndarray, start: Evaluated, leading: np.ndarray,
                 changed: np.ndarray) -> np.ndarray:
        """Per jump: a number for the values of the fixed atoms, found at the lead's first jump and
        at each jump after a field change (`changed`; fields change nowhere else)."""
        plan = self.plan
        self.futures = None     # for the atom values found here
        if not plan.analysis.atoms:
            self.atom_values = [0]
            return np.zeros(len(lead), np.int64)
        where = np.flatnonzero(leading | changed)
        # the atoms read fields and fixed results only: rows alike in those have equal atoms
        read = [node for atom in plan.analysis.atoms for node in lo.walk(atom)]
        columns = [start.scores[where, plan.scores.index(n.name)] for n in read if isinstance(n, lo.ScoreRef)]
        columns += [start.thresholds[where, plan.thresholds.index(n.name)] for n in read
                    if isinstance(n, lo.ThresholdRef)]
        columns += [start.segments[where, plan.segments.index(n.name)] for n in read if isinstance(n, lo.SegmentRef)]
        fields = tuple(sorted({n.name for n in read if isinstance(n, lo.Field)}))
        if fields:
            columns.append(self.field_ids(lead[where], at[where], fields))
        representative, inverse = _distinct(columns, len(where))
        ids: dict[int, int] = {}
        values = np.empty(len(representative), np.int64)
        for i, j in enumerate(where[representative].tolist()):
            scores = tuple(None if math.isnan(v) else v for v in start.scores[j].tolist())
            segments = tuple(None if label < 0 else plan.labels[s][label]
                             for s, label in enumerate(start.segments[j].tolist()))
            value = plan.scorer.atoms(fields_at(self.bucket, int(lead[j]), float(at[j])), scores,
                                      tuple(start.thresholds[j].tolist()), segments)
            values[i] = ids.setdefault(value, len(ids))
        found = values[inverse.reshape(-1)]
        self.atom_values = list(ids)
        return found[_last_marked(leading | changed)]

    def field_ids(self, lead: np.ndarray, at: np.ndarray, fields: tuple[str, ...]) -> np.ndarray:
        """Per (lead, instant): a number for the values of `fields` there, equal for equal values.
        A lead without changes has its fields at every instant: those are numbered once per
        bucket; a lead with changes, at each instant asked for."""
        seen, numbers = self.bucket.kept(("field_ids", fields), lambda: _field_numbers(self.bucket.fields, fields))
        found = numbers[lead]
        changing = np.flatnonzero(self.changing[lead])
        if len(changing):
            seen = dict(seen)
            found[changing] = [seen.setdefault(_values_key(fields_at(self.bucket, k, instant), fields), len(seen))
                               for k, instant in zip(lead[changing].tolist(), at[changing].tolist())]
        return found

    def decide(self, key: tuple[int, ...]) -> tuple[int, tuple[bool, ...], tuple[bool, ...]]:
        """The action over a gap, and which thresholds and segments its bisection compares."""
        plan = self.plan
        live, atoms, rest = key[0], key[1], key[2:]
        n_thresholds = len(plan.thresholds)
        pending, labels_pending = rest[:n_thresholds], []
        offset = n_thresholds
        for labels in plan.labels:
            labels_pending.append(rest[offset:offset + len(labels)])
            offset += len(labels)
        current = rest[offset:]
        gap = plan.analysis.gap(live, atoms)
        none = ((False,) * n_thresholds, (False,) * len(plan.labels))
        if any(gap.thresholds[i] in _RISING for i in plan.record):
            return (_SCAN, *none)
        rising = tuple(bool(pending[i]) and gap.thresholds[i] in _RISING for i in range(n_thresholds))
        segments = tuple(_moving(dirs) and _reachable(dirs, waiting, now)
                         for dirs, waiting, now in zip(gap.segments, labels_pending, current))
        if not any(rising) and not any(segments):
            return (_SKIP, *none)
        if any(r and gap.thresholds[i] == ANY for i, r in enumerate(rising)) or \
                any(s and ANY in gap.segments[k] for k, s in enumerate(segments)):
            return (_SCAN, *none)
        return _BISECT, rising, segments

    def bisect(self, lead, first, count, start: Evaluated, jumps, threshold_mask, segment_mask,
               high_th: np.ndarray, high_sg: np.ndarray) -> None:
        """Rounds of halving over every range whose ends differ, given the results at the gaps'
        last midnights."""
        gap = np.arange(len(lead))
        low = np.full(len(lead), -1, np.int64)
        high = count - 1
        low_th, low_sg = start.thresholds[jumps], start.segments[jumps]
        while len(gap):
            differ = ((low_th != high_th) & threshold_mask[gap]).any(axis=1) | \
                     ((low_sg != high_sg) & segment_mask[gap]).any(axis=1)
            keep = differ & (high - low > 1)
            gap, low, high = gap[keep], low[keep], high[keep]
            low_th, low_sg, high_th, high_sg = low_th[keep], low_sg[keep], high_th[keep], high_sg[keep]
            if not len(gap):
                break
            inside = high - low - 1
            if inside.sum() <= self.scan_budget:
                # few midnights left: one round scoring all of them costs less than more rounds
                offsets = np.arange(inside.sum()) - np.repeat(np.cumsum(inside) - inside, inside)
                self.evaluate(np.repeat(lead[gap], inside), np.repeat(first[gap] + (low + 1) * DAY, inside)
                              + offsets * DAY)
                break
            middle = (low + high) // 2
            found = self.evaluate(lead[gap], first[gap] + middle * DAY)
            gap = np.r_[gap, gap]
            low, high = np.r_[low, middle], np.r_[middle, high]
            low_th, high_th = np.r_[low_th, found.thresholds], np.r_[found.thresholds, high_th]
            low_sg, high_sg = np.r_[low_sg, found.segments], np.r_[found.segments, high_sg]


# each plan's gap decisions, kept across its buckets: a bucket meets mostly the kinds of gap the
# one before it met
_DECISIONS: dict[int, tuple[Plan, dict[tuple, tuple]]] = {}
_PLANS_KEPT = 16


def _decisions_of(plan: Plan) -> dict[tuple, tuple]:
    found = _DECISIONS.get(id(plan))
    if found is None or found[0] is not plan:
        if len(_DECISIONS) >= _PLANS_KEPT:
            _DECISIONS.clear()
        found = _DECISIONS[id(plan)] = (plan, {})
    return found[1]


def _codes(values: pa.Array, names: tuple[str, ...]) -> np.ndarray:
    """Each value's index in `names` (-1: none)."""
    return pc.index_in(values, value_set=pa.array(names, pa.string())).fill_null(
        -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _values_key(fields: dict, names: tuple[str, ...]) -> tuple:
    # repr tells apart values Python finds equal but the rules may not (1, 1.0, True)
    return tuple(repr(fields.get(name)) for name in names)


def _field_numbers(fields: list[dict], names: tuple[str, ...]) -> tuple[dict, np.ndarray]:
    """(values key -> number, each lead's number) of the leads' `names` fields."""
    seen: dict = {}
    return seen, np.array([seen.setdefault(_values_key(found, names), len(seen)) for found in fields], np.int64)


def _distinct(columns: list[np.ndarray], rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(a row of each distinct row, each row's number among them) of the rows of `columns`
    (1-D, `rows` long; NaN equals NaN). The columns are packed into one integer, a few bits
    each, and that sorted: a sort of one column is many times faster than a sort of rows. A
    column of non-negative integers is packed as it is, another by its value's rank."""
    packed, used = np.zeros(rows, np.int64), 0
    for column in columns:
        codes = column.astype(np.int64) if column.dtype.kind in "biu" and (not rows or column.min() >= 0) \
            else np.unique(column, return_inverse=True)[1].reshape(-1)
        width = _width(codes)
        if used + width > 62:
            # renumbered by rank, both fit: the ranks of under 2^31 rows take 31 bits at most
            packed = np.unique(packed, return_inverse=True)[1].reshape(-1)
            codes = np.unique(codes, return_inverse=True)[1].reshape(-1)
            used, width = _width(packed), _width(codes)
        packed = (packed << width) | codes
        used += width
    _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _width(codes: np.ndarray) -> int:
    return max(1, int(codes.max()).bit_length()) if len(codes) else 1


def _moving(dirs: tuple) -> bool:
    return any(d in (UP, DOWN, ANY) for d in dirs)


def _reachable(dirs: tuple, waiting: list[int], current: int) -> bool:
    """Can a label not reached yet be reached, from label number `current` (len(dirs): none)?
    An earlier one only if its condition can come to hold; a later one only if the current
    label's condition can stop holding and its own is not false over the gap (as the Python
    engine decides). A label's position is its line's: the checker refuses a repeated label (LS203)."""
    for position, (wait, direction) in enumerate(zip(waiting, dirs)):
        if not wait:
            continue
        if position < current and direction in _RISING:
            return True
        if position > current and dirs[current] in (DOWN, ANY) and direction != FALSE:
            return True
    return False


def _last_marked(marked: np.ndarray) -> np.ndarray:
    """Per row, the number among the marked rows of the last one at or before it (the first row
    is marked): a running count, rather than a search of each row's latest marked index."""
    return np.cumsum(marked) - 1


def _insertion_places(lead: np.ndarray, at: np.ndarray, changing: np.ndarray, change_lead: np.ndarray,
                      change_at: np.ndarray) -> np.ndarray:
    """Where each change jump goes (np.insert's indices) among jumps sorted by (lead, instant):
    after its lead's jumps at or before it. Both are sorted; only the rows of leads with changes
    (`changing`) are searched, by (lead, the instant's rank among theirs), exact integers. A
    change jump is never before its lead's first instant, so one of its lead's rows precedes it."""
    mine = np.flatnonzero(changing)
    values, rank = np.unique(np.r_[at[mine], change_at], return_inverse=True)
    rank = rank.reshape(-1)
    keys = lead[mine] * len(values) + rank[:len(mine)]
    after = np.searchsorted(keys, change_lead * len(values) + rank[len(mine):], side="right")
    return mine[after - 1] + 1


def _gathered(parts: list[tuple[np.ndarray, Evaluated]], rows: np.ndarray) -> Evaluated:
    """The results of the rows marked in `rows`, in order, from the rounds' (marked rows, their
    results); each row is in one round."""
    if len(parts) == 1:
        return parts[0][1]
    places = np.cumsum(rows) - 1
    gathered = []
    for kind in ("scores", "thresholds", "segments"):
        first = getattr(parts[0][1], kind)
        out = np.empty((int(places[-1]) + 1, first.shape[1]), first.dtype)
        for marked, found in parts:
            out[places[marked]] = getattr(found, kind)
        gathered.append(out)
    return Evaluated(*gathered)


def _midnights(first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The first counts[i] midnights from first[i], for each i in turn."""
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(first, counts) + offsets * DAY


def _first(out: np.ndarray, lead: np.ndarray, at: np.ndarray, holds: np.ndarray) -> None:
    """out[k] = the earliest of out[k] and the instants of lead k's rows at which `holds`."""
    np.fmin.at(out, lead[holds], at[holds])

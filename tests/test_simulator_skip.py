"""Skipping instants never changes a result: hypothesis writes rulesets whose scores move
with time alone (fading points, windows, inactivity, days_since, field changes) and histories,
and the replay must equal the reference interpreter evaluated at every instant of §9. The
generated replay entry points (`evaluate` with cached fixed scores, `atoms`) must agree with
the interpreter too."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.compiler import runtime as rt
from leadscore.compiler.analysis import ReplayAnalysis
from leadscore.simulator.engine import Plan, Window
from test_simulator_support import CHEAP_ENGINES, bucket_of, every_instant, oracle, ruleset, ts

START = ts("2026-03-01")
END = ts("2026-03-09")
HOUR = 3600.0

EVENT_RULES = st.sampled_from([
    "+10 per page_view", "+10 per page_view, decay half_life 2d", "-10 per unsubscribe, decay linear 3d",
    "-5 per email_open within 2d", "+8 per email_open within 1d, max 12", "+20 per demo_request, once",
    "-15 per unsubscribe, decay steps { 1d: 50%, 3d: 0% }", '+4 per page_view where url starts_with "/p"',
    "+6 per page_view, at most 1 per day, decay half_life 1d", "+3 per email_open, decay linear 4d, max 5",
    "-12 per email_open within 1d, at most 1 per week", "+20 per demo_request within 2d, once",
    "-9 per unsubscribe, decay steps { 12h: 50%, 2d: 0% }, max 12",
])
CONDITIONS = st.sampled_from([
    "count(page_view within 2d) >= 2", "days_since(demo_request) < 3", "days_since(created_at) > 4",
    "employees >= 50", "has_budget == true", "count(email_open) >= 1", "days_since(unsubscribe) > 1",
    'industry == "Software"', "has_budget is missing",
])
COMPARISONS = st.sampled_from([
    "a >= 10", "a >= 25", "a < 5", "a > 0", "c >= 20", "b >= 10", "d <= 0", "r > 1", "a - b >= 3",
    "days_since(page_view) >= 2", "count(email_open within 1d) >= 1", "employees >= 50", "a * 2 >= b",
    "days_since(created_at) >= 3", "count(page_view within 1d) < 1", "days_since(email_open) > 1",
])


@st.composite
def bodies(draw):
    lines = ["score a {"]
    lines.append(draw(st.sampled_from(["", "  decay half_life 3d", "  decay linear 6d"])))
    lines.append(draw(st.sampled_from(["", "  clamp 0..40", "  clamp -10.."])))
    lines.append(draw(st.sampled_from(["", "  inactivity after 2d: -3 every 1d"])))
    lines.append(draw(st.sampled_from(["", "  base: +15 if true"])))   # so fading negatives lift a score
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["event", "event", "condition", "case", "group"]))
        if kind == "event":
            lines.append(f"  e{i}: {draw(EVENT_RULES)}")
        elif kind == "condition":
            lines.append(f"  c{i}: {draw(st.sampled_from(['+7', '-6', '+12']))} if {draw(CONDITIONS)}")
        elif kind == "case":
            lines += [f"  k{i}: case {{", f"    +9 if {draw(CONDITIONS)}", f"    -4 if {draw(CONDITIONS)}",
                      "    +1 otherwise", "  }"]
        else:
            lines += [f"  group g{i} max 12 {{", f"    ga{i}: {draw(EVENT_RULES)}",
                      f"    gb{i}: +5 if {draw(CONDITIONS)}", "  }"]
    lines += ["}", "score b {", "  big: +10 if employees >= 50", '  soft: +5 if industry == "Software"', "}",
              "score c = a + b", "score d = a - b", "score r = 10 / a"]
    lines.append(f"threshold t1: {draw(COMPARISONS)}")
    lines.append(f"threshold t2: ({draw(COMPARISONS)}) {draw(st.sampled_from(['and', 'or']))} "
                 f"{draw(st.sampled_from(['not t1', 't1', '(' + draw(COMPARISONS) + ')']))}")
    labels = draw(st.lists(COMPARISONS, min_size=1, max_size=3))
    lines.append("segment s {")
    lines += [f"  l{i} if {condition}" for i, condition in enumerate(labels)]
    if draw(st.booleans()):
        lines.append("  other otherwise")
    lines.append("}")
    return "\n".join(line for line in lines if line)


LEADS = st.fixed_dictionaries({
    "industry": st.sampled_from(["Software", "Retail", None]),
    "employees": st.sampled_from([None, 10, 80]),
    "created_at": st.sampled_from([None, "2026-02-27T15:00:00Z", "2026-03-02T00:00:00Z", "2026-03-04T06:00:00Z"]),
    "has_budget": st.sampled_from([None, True, False]),
})


@st.composite
def histories(draw, leads: int):
    events = []
    for k in range(leads):
        for _ in range(draw(st.integers(0, 7))):
            kind = draw(st.sampled_from(["page_view", "email_open", "demo_request", "unsubscribe"]))
            hour = draw(st.integers(-24, 24 * 9))         # whole hours: ties and midnights happen
            url = draw(st.sampled_from(["/pricing", "/blog", None]))
            events.append((f"L{k}", kind, START + hour * HOUR, {"url": url} if kind == "page_view" else {}))
    changes = []
    for k in range(leads):
        for _ in range(draw(st.integers(0, 2))):
            field, value = draw(st.sampled_from([("has_budget", True), ("has_budget", False), ("employees", 80.0),
                                                 ("employees", 5.0)]))
            # up to a day past END: a change at or after the end still makes its field missing
            changes.append((f"L{k}", field, value, START + draw(st.integers(-12, 24 * 9)) * HOUR))
    return events, changes


def _same(value: float, expected) -> bool:
    return math.isnan(value) if expected is None else value == expected


def assert_agrees(found, plan, bucket, reference) -> None:
    for k, expected in enumerate(reference):
        for i, name in enumerate(plan.thresholds):
            assert _same(found.crossings[k, i], expected["crossings"].get(name)), (k, name)
        for s, segment in enumerate(plan.segments):
            for j, label in enumerate(plan.labels[s]):
                assert _same(found.first_labels[s][k, j], expected["labels"].get((segment, label))), (k, label)
        final = expected["final"]
        if final is None:
            assert all(math.isnan(v) for v in found.final_scores[k])
            continue
        # to 1e-9: SQL's arithmetic may differ from Python's in the last bits (docs/engines.md)
        assert [None if math.isnan(v) else pytest.approx(v, rel=1e-9, abs=1e-9) for v in found.final_scores[k]] \
            == list(final.scores.values())
        assert list(found.final_thresholds[k]) == list(final.thresholds.values())


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(body=bodies(), data=st.data())
def test_skipping_instants_agrees_with_evaluating_every_instant(tmp_path, body, data):
    loaded = leadscore.load(str(ruleset(tmp_path, body)))
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(3)]
    events, changes = data.draw(histories(3))
    bucket = bucket_of(loaded.checked, leads, events, changes, end=END)
    reference = oracle(loaded, bucket, END)
    plan = Plan.of("t", loaded.checked)
    recorded = Plan.of("r", loaded.checked, (0, 1), frozenset())
    for engine in CHEAP_ENGINES.values():
        assert_agrees(engine().replay(bucket, plan, Window(START, END)), plan, bucket, reference)
        # recording for a sweep (no early stop, the constant-free atoms only) finds the same
        found = engine().replay(bucket, recorded, Window(START, END))
        assert_agrees(found, recorded, bucket, reference)
        assert list(found.recording.lead) == sorted(found.recording.lead)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies(), data=st.data())
def test_generated_replay_entry_points_agree_with_the_interpreter(tmp_path, body, data):
    loaded = leadscore.load(str(ruleset(tmp_path, body)))
    interpreter = loaded.interpret()
    plan = Plan.of("t", loaded.checked)
    scorer = plan.scorer
    analysis = ReplayAnalysis(loaded.checked)
    lead = data.draw(LEADS)
    events, _ = data.draw(histories(1))
    bucket = bucket_of(loaded.checked, [("L0", lead)], events, end=END)
    fields = bucket.fields[0]
    for instant in every_instant(bucket, 0, END)[::3]:
        grouped = {name: [] for name in loaded.checked.schema.events}
        for e in range(bucket.starts[0], bucket.starts[1]):
            if bucket.at[e] <= instant:
                grouped[bucket.kinds[e]].append(bucket.pairs[e])
        expected = interpreter.evaluate(fields, grouped, instant)
        first = scorer.evaluate_prepared(fields, grouped, instant)
        latest = max((v[-1][0] for v in grouped.values() if v), default=None)
        again = scorer.evaluate_prepared(fields, grouped, instant, False, first[0], latest)
        for got in (first, again):
            assert rt.Result(dict(zip(scorer.scores, got[0])), dict(zip(scorer.thresholds, got[1])),
                             dict(zip(scorer.segments, got[2]))) == rt.Result(
                expected.scores, expected.thresholds, expected.segments)
        bits = scorer.atoms(fields, first[0], first[1], first[2])
        for i, atom in enumerate(analysis.atoms):
            assert bool(bits >> i & 1) == (interpreter.value_of(atom, fields, grouped, instant, expected) is True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies(), data=st.data())
def test_a_gap_analysed_on_its_relevant_event_types_agrees_with_one_on_all_of_them(tmp_path, body, data):
    # gap() shares one analysis among gaps alike in the moving event types (relevant_live):
    # the directions must be those of an analysis on the lead's full set of event types
    from leadscore.compiler.analysis import _GapPass

    analysis = ReplayAnalysis(leadscore.load(str(ruleset(tmp_path, body))).checked)
    types = len(analysis.event_bits)
    live = data.draw(st.integers(-1, (1 << types) - 1))
    atoms = data.draw(st.integers(0, (1 << len(analysis.atoms)) - 1))
    assert analysis.gap(live, atoms) == _GapPass(analysis, live, atoms).run()

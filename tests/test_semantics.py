"""Hand-computed expectations for every construct of LANGUAGE.md §4-§6,
checked on both backends (score_both asserts they agree)."""

from __future__ import annotations

import math

import pytest

from scoring_helpers import AS_OF, ago, build, event, score_both


def interest(tmp_path, rules: str, events: list[dict], lead: dict | None = None,
             extra: str = "") -> float:
    ruleset = build(tmp_path, f"score interest {{\n{rules}\n}}\n{extra}")
    return score_both(ruleset, lead or {}, events).scores["interest"]


# --- windows, instants, decay ----------------------------------------------------------

def test_window_is_half_open(tmp_path):
    rule = "  visit: +1 per page_view within 30d"
    assert interest(tmp_path, rule, [event("page_view", ago(days=30))]) == 0
    assert interest(tmp_path, rule, [event("page_view", ago(days=30, seconds=-1))]) == 1
    assert interest(tmp_path, rule, [event("page_view", ago(days=0))]) == 1


def test_events_after_as_of_do_not_count(tmp_path):
    rule = "  visit: +1 per page_view"
    assert interest(tmp_path, rule, [event("page_view", ago(days=-1)),
                                     event("page_view", ago(days=1))]) == 1


def test_half_life_halves_at_the_half_life(tmp_path):
    rule = "  decay half_life 30d\n  visit: +10 per page_view"
    assert interest(tmp_path, rule, [event("page_view", ago(days=30))]) == pytest.approx(5.0)
    assert interest(tmp_path, rule, [event("page_view", ago(days=60))]) == pytest.approx(2.5)


def test_linear_decay_reaches_zero(tmp_path):
    rule = "  visit: +10 per page_view, decay linear 10d"
    assert interest(tmp_path, rule, [event("page_view", ago(days=5))]) == pytest.approx(5.0)
    assert interest(tmp_path, rule, [event("page_view", ago(days=15))]) == 0


@pytest.mark.parametrize("days, expected", [(10, 10.0), (30, 5.0), (45, 5.0), (60, 0.0), (400, 0.0)])
def test_decay_steps_including_a_zero_percent_step(tmp_path, days, expected):
    rule = "  visit: +10 per page_view, decay steps { 30d: 50%, 60d: 0% }"
    assert interest(tmp_path, rule, [event("page_view", ago(days=days))]) == expected


def test_rule_decay_overrides_score_default(tmp_path):
    rules = "  decay half_life 1d\n  demo: +50 per demo_request, decay none"
    assert interest(tmp_path, rules, [event("demo_request", ago(days=100))]) == 50


# --- max, groups, once, at most ------------------------------------------------------------

def test_max_bounds_the_magnitude_of_a_negative_rule(tmp_path):
    rule = "  unsub: -10 per unsubscribe, max 15"
    events = [event("unsubscribe", ago(days=d)) for d in (1, 2)]
    assert interest(tmp_path, rule, events) == -15


def test_max_applies_after_decay(tmp_path):
    rule = "  visit: +10 per page_view, max 12, decay half_life 30d"
    events = [event("page_view", ago(days=30)), event("page_view", ago(days=30))]
    assert interest(tmp_path, rule, events) == pytest.approx(10.0)


def test_group_limit_applies_to_the_sum_and_is_a_reason(tmp_path):
    ruleset = build(tmp_path, """score interest {
  group email max 15 {
    opened: +10 per email_open
    viewed: +10 per page_view
  }
}""")
    result = score_both(ruleset, {}, [event("email_open", ago(1)), event("page_view", ago(1))])
    assert result.scores["interest"] == 15
    kinds = {(r.rule, r.kind): r.points for r in result.reasons}
    assert kinds[("email", "group")] == -5
    assert sum(r.points for r in result.reasons) == 15


def test_once_counts_the_first_event_ever_even_outside_the_window(tmp_path):
    rule = "  first_visit: +5 per page_view within 30d, once"
    # The first visit ever is 40 days old: `once` picks it, the window drops it.
    events = [event("page_view", ago(days=40)), event("page_view", ago(days=1))]
    assert interest(tmp_path, rule, events) == 0
    assert interest(tmp_path, rule, [event("page_view", ago(days=1))]) == 5


def test_at_most_per_utc_day(tmp_path):
    rule = "  visit: +1 per page_view, at most 2 per day"
    day = "2026-05-20T"
    events = [event("page_view", day + f"{h:02d}:00:00Z") for h in (1, 5, 9, 23)]
    events.append(event("page_view", "2026-05-21T00:00:00Z"))
    assert interest(tmp_path, rule, events) == 3


def test_at_most_per_iso_week_starts_on_monday(tmp_path):
    rule = "  visit: +1 per page_view, at most 1 per week"
    # 2026-05-24 is a Sunday, 2026-05-25 the next Monday: two ISO weeks.
    events = [event("page_view", "2026-05-23T10:00:00Z"), event("page_view", "2026-05-24T10:00:00Z"),
              event("page_view", "2026-05-25T00:00:00Z")]
    assert interest(tmp_path, rule, events) == 2


def test_at_most_counts_over_the_whole_history_before_the_window(tmp_path):
    rule = "  visit: +1 per page_view within 1h, at most 1 per day"
    # Two events today: the earlier (outside the window) is the one picked.
    events = [event("page_view", ago(hours=3)), event("page_view", ago(hours=0.5))]
    assert interest(tmp_path, rule, events) == 0


# --- inactivity and clamp -------------------------------------------------------------------

@pytest.mark.parametrize("idle_days, expected", [(59, 20), (60, 15), (66, 15), (67, 10), (200, 0)])
def test_inactivity_penalty_steps_and_floors_at_zero(tmp_path, idle_days, expected):
    rules = "  inactivity after 60d: -5 every 7d\n  demo: +20 per demo_request"
    assert interest(tmp_path, rules, [event("demo_request", ago(days=idle_days))]) == expected


def test_inactivity_leaves_non_positive_scores_alone(tmp_path):
    rules = "  inactivity after 1d: -5 every 1d\n  unsub: -10 per unsubscribe"
    assert interest(tmp_path, rules, [event("unsubscribe", ago(days=30))]) == -10


def test_clamp_is_a_reason(tmp_path):
    ruleset = build(tmp_path, "score fit {\n  clamp 0..10\n  big: +25 if employees > 1\n}")
    result = score_both(ruleset, {"employees": 5}, [])
    assert result.scores["fit"] == 10
    assert [(r.rule, r.kind, r.points) for r in result.reasons] == [
        ("big", "rule", 25), ("clamp", "clamp", -15)]


# --- missing values and expressions ----------------------------------------------------------

@pytest.mark.parametrize("condition, lead, fires", [
    ('industry != "Software"', {}, True),
    ('industry == "Software"', {}, False),
    ("employees < 10", {}, False),
    ("employees < 10", {"employees": ""}, False),
    ('industry not in ["Software"]', {"industry": None}, True),
    ("not (employees > 5)", {}, True),
    ("employees is missing", {"tech": []}, True),
    ("tech is missing", {"tech": []}, True),
    ("tech is not missing", {"tech": ["a"]}, True),
    ('tech contains "crm"', {"tech": "crm; erp"}, True),
    ('title contains "VP"', {"title": "SVP Sales"}, True),
    ('title matches /\\bvp\\b/i', {"title": "The VP"}, True),
    ('title matches /\\bvp\\b/', {"title": "The VP"}, False),
    ('domain(email) == "corp.io"', {"email": "A@Corp.IO"}, True),
    ('domain(email) is missing', {"email": "no-at-sign"}, True),
    ("len(tech) == 0", {}, True),
    ("employees / 0 is missing", {"employees": 3}, True),
    ("max(employees, 10) == 10", {"employees": 3}, True),
    ("min(employees, 10) is missing", {}, True),
    ("has_budget == true", {"has_budget": "Yes"}, True),
    ("created_at >= 2026-05-01", {"created_at": "2026-05-01T00:00:00"}, True),
    ("days_since(created_at) < 0", {"created_at": "2026-07-01"}, True),
])
def test_conditions(tmp_path, condition, lead, fires):
    ruleset = build(tmp_path, f"score fit {{\n  r: +1 if {condition}\n}}")
    assert score_both(ruleset, lead, []).scores["fit"] == (1 if fires else 0)


def test_count_and_days_since_events(tmp_path):
    ruleset = build(tmp_path, """score fit {
  busy: +1 if count(page_view where url starts_with "/p" within 7d) >= 2
  fresh: +2 if days_since(demo_request) <= 1.5
  never: +4 if days_since(unsubscribe) is missing
}""")
    events = [event("page_view", ago(days=1), url="/p1"), event("page_view", ago(days=6), url="/p2"),
              event("page_view", ago(days=8), url="/p3"), event("demo_request", ago(days=1.5))]
    assert score_both(ruleset, {}, events).scores["fit"] == 7


def test_case_rule_takes_the_first_branch_that_holds(tmp_path):
    ruleset = build(tmp_path, """score fit {
  size: case {
    +7 if employees >= 1000
    +10 if employees >= 51
    +2 otherwise
  }
  no_default: case {
    +1 if employees > 100000
  }
}""")
    assert score_both(ruleset, {"employees": 5000}, []).scores["fit"] == 7
    assert score_both(ruleset, {"employees": 60}, []).scores["fit"] == 10
    assert score_both(ruleset, {}, []).scores["fit"] == 2


# --- derived scores, thresholds, segments, constants -------------------------------------------

RULES = """const bar = 10
const bonus = 5
score fit {
  big: +bonus if employees >= 100
  tiny: -bonus if employees < 10
}
score ratio = fit / (employees - 100)
score total = fit * 2
threshold good: total >= bar
threshold odd: ratio > 0
segment grade {
  A if total >= 10 and good
  B if total >= 0
}
"""


def test_derived_thresholds_segments_and_constants(tmp_path):
    ruleset = build(tmp_path, RULES)
    big = score_both(ruleset, {"employees": 150}, [])
    assert big.scores == {"fit": 5, "ratio": 0.1, "total": 10}
    assert big.thresholds == {"good": True, "odd": True}
    assert big.segments == {"grade": "A"}
    # employees == 100: division by zero gives a missing derived score,
    # which compares false.
    edge = score_both(ruleset, {"employees": 100}, [])
    assert edge.scores["ratio"] is None and edge.thresholds["odd"] is False
    small = score_both(ruleset, {"employees": 3}, [])
    assert small.segments == {"grade": None}


def test_reasons_add_up_to_each_score(tmp_path):
    ruleset = build(tmp_path, """score interest {
  decay half_life 10d
  clamp ..15
  inactivity after 20d: -3 every 2d
  visit: +4 per page_view, max 25
  unsub: -10 per unsubscribe, decay none
  demo: +30 if count(demo_request) >= 1
}""")
    events = [event("page_view", ago(days=d)) for d in range(22, 40)]
    events += [event("demo_request", ago(days=25)), event("unsubscribe", ago(days=30))]
    result = score_both(ruleset, {}, events)
    total = sum(r.points for r in result.reasons_for("interest"))
    assert math.isclose(total, result.scores["interest"], abs_tol=1e-9)
    assert {r.kind for r in result.reasons} >= {"rule", "inactivity", "clamp"}


def test_event_counts_in_reasons(tmp_path):
    ruleset = build(tmp_path, "score interest {\n  visit: +1 per page_view\n}")
    result = score_both(ruleset, {}, [event("page_view", ago(1))] * 3)
    assert [(r.rule, r.events) for r in result.reasons] == [("visit", 3)]


def test_as_of_may_be_an_iso_string(tmp_path):
    ruleset = build(tmp_path, "score interest {\n  visit: +1 per page_view\n}")
    scorer = ruleset.compile()
    assert scorer.score({}, [event("page_view", ago(1))], AS_OF.isoformat()).scores["interest"] == 1

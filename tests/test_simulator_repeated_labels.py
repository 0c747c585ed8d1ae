"""A segment cannot list a label twice (LS203), so the replays' label positions (one per line,
the analysis' directions) and label numbers (one per distinct label, the first instants) are the
same numbers. Segments that mean what a repeated label would (a label reached by a later line,
or by either of two conditions) replay as the reference interpreter evaluated at every instant
says, on every replay engine."""

from __future__ import annotations

import pytest

import leadscore
from leadscore.simulator.engine import Plan, Window
from test_simulator_skip import END, START, assert_agrees
from test_simulator_support import REPLAY_ENGINES, bucket_of, oracle, ruleset, ts

# `A` while the demo is recent, by the third line (the first can never hold for this lead), then
# `C` (otherwise): only the third line's condition ceasing to hold, inside a gap, brings it.
LATER_LINE = """score a {
  demo: +10 per demo_request
}
segment s {
  A if employees >= 50
  B if has_budget == true
  %s if days_since(demo_request) < 3
  C otherwise
}"""
DEMO = ts("2026-03-02T12:00:00")


def test_a_repeated_label_is_refused_before_any_replay(tmp_path):
    with pytest.raises(leadscore.RulesetError, match="LS203.*the label `A` is already in this segment"):
        leadscore.load(str(ruleset(tmp_path, LATER_LINE % "A")))


@pytest.mark.parametrize("segment, labels", [
    (LATER_LINE % "A2", {("s", "A2"): DEMO, ("s", "C"): ts("2026-03-06")}),
    # what `A if employees >= 50` ... `A if days_since(demo_request) < 3` would mean
    (LATER_LINE.replace("A if employees >= 50", "A if employees >= 50 or days_since(demo_request) < 3")
     .replace("  %s if days_since(demo_request) < 3\n", ""), {("s", "A"): DEMO, ("s", "C"): ts("2026-03-06")}),
])
def test_a_label_left_in_a_gap_for_a_later_one_replays_as_every_instant(tmp_path, segment, labels):
    loaded = leadscore.load(str(ruleset(tmp_path, segment)))
    bucket = bucket_of(loaded.checked, [("L0", {"employees": 10, "has_budget": False})],
                       [("L0", "demo_request", DEMO, {})], end=END)
    reference = oracle(loaded, bucket, END)
    assert reference[0]["labels"] == labels
    plan = Plan.of("t", loaded.checked)
    for engine in REPLAY_ENGINES.values():
        assert_agrees(engine().replay(bucket, plan, Window(START, END)), plan, bucket, reference)


def test_a_plans_labels_are_its_segments_lines_in_order(tmp_path):
    # one label per line, so a label's number is its line's position (bulk_replay._reachable)
    loaded = leadscore.load(str(ruleset(tmp_path, LATER_LINE % "A2")))
    plan = Plan.of("t", loaded.checked)
    assert plan.labels == (("A", "B", "A2", "C"),)
    assert plan.labels == tuple(tuple(label.label for label in s.labels) for s in loaded.lower().segments)

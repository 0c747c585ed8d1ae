"""The bulk replay (simulator/bulk_replay.py) and `simulate --engine` (docs/engines.md): every
engine gives the Python engine's crossings to the microsecond, its first labels and final
states, and `simulate` the same report, whichever engine replays.

The engines are those of test_simulator_support.REPLAY_ENGINES; `bulk` evaluates the bulk
replay's instants with the Python scorer, so a difference there is the choice of instants,
and one on `duckdb` only is the SQL evaluation's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadscore
from leadscore.cli import main
from leadscore.simulator import bulk_replay
from leadscore.simulator.engine import Plan, Window
from leadscore.simulator.engine_choice import ENGINES
from leadscore.simulator.python_backend import PythonEngine
from test_simulator_replay import crossing, first_label, replay
from test_simulator_skip import LEADS, bodies
from test_simulator_support import CHEAP_ENGINES, REPLAY_ENGINES, bucket_of, history, ruleset, ts

BULK = sorted(name for name in REPLAY_ENGINES if name != "python")
# Spark's simulate runs on the shared session, marked slow: test_spark_replay.py
IN_PROCESS = sorted(name for name in ENGINES if name != "spark")
START, END = ts("2026-03-01"), ts("2026-04-15")
HOUR = 3600.0


def assert_same_replay(found, expected, plan, bucket=None) -> None:
    assert np.array_equal(found.crossings, expected.crossings, equal_nan=True)
    for mine, theirs in zip(found.first_labels, expected.first_labels):
        assert np.array_equal(mine, theirs, equal_nan=True)
    # scores to 1e-9: SQL's arithmetic may differ from Python's in the last bits (docs/engines.md)
    assert np.allclose(found.final_scores, expected.final_scores, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert np.array_equal(found.final_thresholds, expected.final_thresholds)
    assert np.array_equal(found.final_segments, expected.final_segments)
    if plan.record:
        # rows of each lead together, in time order, holding the lead's results there (that the
        # rows are enough for a sweep, test_simulator_sweep checks on every engine)
        recording = found.recording
        assert np.all(np.diff(recording.lead) >= 0)
        assert np.all((np.diff(recording.at) > 0) | (np.diff(recording.lead) > 0))
        again = PythonEngine().evaluate_many(bucket, plan, recording.lead, recording.at)
        assert np.allclose(recording.scores, again.scores, rtol=1e-9, atol=1e-9, equal_nan=True)
        assert np.array_equal(recording.thresholds, again.thresholds)


@st.composite
def long_histories(draw, leads: int):
    """Weeks between events (so gaps hold many midnights to bisect), ties at one time."""
    events, changes = [], []
    for k in range(leads):
        hours = draw(st.lists(st.integers(-48, 24 * 44), max_size=6))
        for hour in hours + hours[:draw(st.integers(0, 1))]:
            kind = draw(st.sampled_from(["page_view", "email_open", "demo_request", "unsubscribe"]))
            url = draw(st.sampled_from(["/pricing", "/blog", None]))
            events.append((f"L{k}", kind, START + hour * HOUR, {"url": url} if kind == "page_view" else {}))
        for _ in range(draw(st.integers(0, 2))):
            field, value = draw(st.sampled_from([("has_budget", True), ("has_budget", False), ("employees", 80.0),
                                                 ("employees", 5.0)]))
            changes.append((f"L{k}", field, value, START + draw(st.integers(-12, 24 * 40)) * HOUR))
    return events, changes


def replays_as_the_python_engine(tmp_path, body, data, engines) -> None:
    loaded = leadscore.load(str(ruleset(tmp_path, body)))
    leads = [(f"L{k}", data.draw(LEADS)) for k in range(4)]
    events, changes = data.draw(long_histories(4))
    bucket = bucket_of(loaded.checked, leads, events, changes, end=END)
    for plan in (Plan.of("t", loaded.checked), Plan.of("r", loaded.checked, (0, 1), frozenset())):
        expected = PythonEngine().replay(bucket, plan, Window(START, END))
        for engine in engines:
            assert_same_replay(engine().replay(bucket, plan, Window(START, END)), expected, plan, bucket)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(body=bodies(), data=st.data())
def test_the_bulk_choice_of_instants_replays_as_the_python_engine(tmp_path, body, data):
    replays_as_the_python_engine(tmp_path, body, data, [CHEAP_ENGINES["bulk"]])


# each example builds its DuckDB statements anew (about a second each): fewer examples
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(body=bodies(), data=st.data())
def test_the_duckdb_engine_replays_as_the_python_engine(tmp_path, body, data):
    replays_as_the_python_engine(tmp_path, body, data, [REPLAY_ENGINES["duckdb"]])


@pytest.fixture(params=BULK)
def engine(request):
    return REPLAY_ENGINES[request.param]()


def both(engine, tmp_path, body, leads, events, changes=None, end=ts("2026-06-01")):
    """The engine's replay and the Python engine's, which it must equal."""
    found, plan, bucket, _ = replay(engine, tmp_path / "engine", body, leads, events, changes, end)
    expected, *_ = replay(PythonEngine(), tmp_path / "python", body, leads, events, changes, end)
    assert_same_replay(found, expected, plan)
    return found, plan


@pytest.mark.parametrize("decay", ["half_life 10d", "linear 60d"])
def test_a_fading_negative_crosses_at_a_midnight_found_by_bisection(engine, tmp_path, decay):
    body = (f"score s {{\n  base: +10 if true\n  unsub: -30 per unsubscribe, decay {decay}\n}}\n"
            "threshold back: s >= 0")
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1"}],
                       [("L1", "unsubscribe", "2026-03-01T12:00:00Z", None)])
    at = crossing(found, plan, 0, "back")
    # -30 fades to 10 or less after log2(3) * 10d = 15.85d (03-17 08:24) with the half-life,
    # after 40d (04-10 12:00) with the linear decay: the midnights after
    expected = ts("2026-03-18T00:00:00Z") if decay.startswith("half") else ts("2026-04-11T00:00:00Z")
    assert at == expected
    if not getattr(engine, "scan_budget", 0):
        # one event instant, the gap's last midnight, a handful of halvings, not one per midnight
        assert found.evaluations <= 2 + 8
    else:
        # DuckDB scores the few midnights left in one round rather than in rounds of halving:
        # the event, then each of the 92 midnights up to the end at most once
        assert found.evaluations <= 1 + 92


def test_a_segment_below_a_label_its_points_only_fade_from_skips_the_gap(engine, tmp_path):
    # the lead sits at `cold` (otherwise): `hot` could only come back if its score rose, and
    # fading points only fall, so no midnight of the 90-day gap is evaluated (the Python
    # engine decides so too), whereas a lead at `hot` may fall to `cold` and is bisected
    body = ("score s {\n  view: +10 per page_view, decay half_life 5d\n}\n"
            "segment temperature {\n  hot if s >= 15\n  cold otherwise\n}")
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1"}],
                       [("L1", "page_view", "2026-03-01T12:00:00Z", None)])
    assert first_label(found, plan, 0, "temperature", "cold") == ts("2026-03-01T12:00:00Z")
    assert np.isnan(found.first_labels[0][0, plan.labels[0].index("hot")])
    assert found.evaluations == 2      # the event's instant and the last instant
    found, plan = both(engine, tmp_path / "hot", body, [{"lead_id": "L1"}],
                       [("L1", "page_view", "2026-03-01T12:00:00Z", None)] * 2)
    # 20 fades under 15 after 5d * log2(4/3) = 2.08d (03-03 13:48): the midnight after
    assert first_label(found, plan, 0, "temperature", "cold") == ts("2026-03-04T00:00:00Z")
    assert found.evaluations > 2


def test_a_lead_whose_labels_left_cannot_come_is_not_bisected(engine, tmp_path):
    # fit is fixed at 60: once at `call`, the fading views bring the lead back to `nurture`
    # (reached already), and `follow_up` or `remove` can never come (`nurture` holds whatever
    # happens): the analysis' future says so, and the gap after the last event is skipped
    # rather than bisected for the change from `call` to `nurture` (the Python engine stops
    # the lead there)
    body = ("score fit {\n  big: +60 if employees >= 100\n}\n"
            "score interest {\n  view: +30 per page_view, decay half_life 5d\n}\n"
            "segment priority {\n  call if fit >= 50 and interest >= 50\n  nurture if fit >= 50\n"
            "  follow_up if interest >= 50\n  remove otherwise\n}")
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1", "employees": "200"}],
                       [("L1", "page_view", "2026-03-01T12:00:00Z", None),
                        ("L1", "page_view", "2026-03-03T12:00:00Z", None),
                        ("L1", "page_view", "2026-03-03T12:00:00Z", None)])
    assert first_label(found, plan, 0, "priority", "nurture") == ts("2026-03-01T12:00:00Z")
    assert first_label(found, plan, 0, "priority", "call") == ts("2026-03-03T12:00:00Z")
    assert np.isnan(found.first_labels[0][0, plan.labels[0].index("follow_up")])
    assert found.evaluations == 3      # the two event instants and the last instant


def test_a_lead_that_has_reached_all_it_can_skips_its_later_event_instants(engine, tmp_path):
    # crossed at its first event, with nothing else to reach: the bulk replay evaluates the
    # earlier half of the lead's seven jumps (events 1-4) and its last instant, then leaves the
    # later events out, as the Python engine stops the lead after its first event; the final
    # state is the last instant's
    body = "score s {\n  view: +10 per page_view\n}\nthreshold t: s >= 10"
    days = ["01", "05", "09", "13", "17", "21"]
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1"}],
                       [("L1", "page_view", f"2026-03-{day}T12:00:00Z", None) for day in days])
    assert crossing(found, plan, 0, "t") == ts("2026-03-01T12:00:00Z")
    assert found.final_scores[0, plan.scores.index("s")] == 60
    assert found.evaluations == 4 + 1


@pytest.mark.parametrize("needed, crossed, evaluations", [
    (30, "03", 4 + 1),            # in the first round: views 1-4 (a quarter of 13 jumps), the last instant
    (60, "06", 4 + 1 + 3),        # in the second: views 5-7, the half; the later ones left out
    (90, "09", 13)])              # only the last instant held it: every jump up to it, in a third round
def test_jump_rounds_evaluate_a_leads_jumps_up_to_where_it_is_done(engine, tmp_path, monkeypatch, needed, crossed,
                                                                   evaluations):
    monkeypatch.setattr(bulk_replay, "JUMP_ROUNDS", (0.25, 0.5))
    body = f"score s {{\n  view: +10 per page_view\n}}\nthreshold t: s >= {needed}"
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1"}],
                       [("L1", "page_view", f"2026-03-{day:02d}T12:00:00Z", None) for day in range(1, 13)])
    assert crossing(found, plan, 0, "t") == ts(f"2026-03-{crossed}T12:00:00Z")
    assert found.evaluations == evaluations


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(body=bodies(), data=st.data(),
       rounds=st.lists(st.floats(0.01, 0.99), max_size=3).map(lambda shares: tuple(sorted(shares))))
def test_any_jump_rounds_replay_as_the_python_engine(tmp_path, body, data, rounds):
    kept = bulk_replay.JUMP_ROUNDS
    bulk_replay.JUMP_ROUNDS = rounds
    try:
        replays_as_the_python_engine(tmp_path, body, data, [CHEAP_ENGINES["bulk"]])
    finally:
        bulk_replay.JUMP_ROUNDS = kept


def test_a_negative_event_leaving_its_window_lifts_the_score_at_the_midnight_after(engine, tmp_path):
    body = ("score s {\n  base: +10 if true\n  unsub: -20 per unsubscribe within 5d\n}\n"
            "threshold clean: s >= 10")
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1"}, {"lead_id": "L2"}],
                       [("L1", "unsubscribe", "2026-03-01T12:00:00Z", None),
                        ("L2", "unsubscribe", "2026-03-01T12:00:00Z", None)])
    # 5 days after 03-01 12:00 is 03-06 12:00: the next instant is the midnight of 03-07; the
    # two leads tie
    assert crossing(found, plan, 0, "clean") == crossing(found, plan, 1, "clean") == ts("2026-03-07T00:00:00Z")


def test_inactivity_and_days_since_cross_at_midnights(engine, tmp_path):
    body = ("score s {\n  inactivity after 2d: -5 every 1d\n  view: +20 per page_view, decay none\n"
            "  stale: -3 if days_since(page_view) > 6\n}\nthreshold cold: s <= 5\nthreshold gone: s <= 0\n"
            "segment state {\n  active if s >= 15\n  idle if s > 0\n  lost otherwise\n}")
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1"}], [("L1", "page_view", "2026-03-01T10:00:00Z", "/")])
    # the only event is at 10:00: every later change is seen at a midnight (and equals the
    # Python engine's, as `both` checks)
    for at in (crossing(found, plan, 0, "cold"), first_label(found, plan, 0, "state", "idle"),
               first_label(found, plan, 0, "state", "lost")):
        assert at > ts("2026-03-01T10:00:00Z") and at % 86400 == 0
    assert crossing(found, plan, 0, "gone") % 86400 == 0


def test_a_field_change_from_the_changes_table_crosses_at_the_instant_after_it(engine, tmp_path):
    body = ("score b {\n  budget: +10 if has_budget == true\n  fade: -20 per unsubscribe, decay half_life 3d\n}\n"
            "threshold qualified: b >= 5")
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1", "has_budget": "true"}],
                       [("L1", "unsubscribe", "2026-03-01T08:00:00Z", None)],
                       changes=[("L1", "has_budget", "true", "2026-03-05T10:00:00Z")])
    # the budget counts from 03-06 00:00; -20 fades under 5 after two half-lives (03-07 08:00)
    assert crossing(found, plan, 0, "qualified") == ts("2026-03-08T00:00:00Z")


def test_a_score_landing_exactly_on_a_threshold_crosses_where_python_says(engine, tmp_path):
    # at the event, 10 * 2^0 is 10 in Python; a running sum of decayed points may give
    # 9.999999999999998, and the threshold must still hold there
    body = "score s {\n  view: +10 per page_view, decay half_life 7d\n}\nthreshold seen: s >= 10"
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1"}], [("L1", "page_view", "2026-03-04T05:00:00Z", "/")])
    assert crossing(found, plan, 0, "seen") == ts("2026-03-04T05:00:00Z")


def test_a_where_reading_a_changed_field_replays_on_the_python_scorer(engine, tmp_path):
    body = ("score s {\n  view: +10 per page_view where employees >= 50\n  unsub: -10 per unsubscribe, decay linear 4d\n}"
            "\nthreshold big: s >= 10")
    found, plan = both(engine, tmp_path, body, [{"lead_id": "L1", "employees": "80"}],
                       [("L1", "page_view", "2026-03-02T09:00:00Z", "/"), ("L1", "unsubscribe", "2026-03-02T08:00:00Z", None)],
                       changes=[("L1", "employees", "80", "2026-03-01T00:30:00Z")])
    # the unsubscribe's -10 fades to 0 four days later (03-06 08:00), seen at the next midnight
    assert crossing(found, plan, 0, "big") == ts("2026-03-07T00:00:00Z")


# --- simulate, end to end -----------------------------------------------------------------------

SIMULATED = """const bar = 20
score interest {
  view: +10 per page_view, decay half_life 7d
  demo: +30 per demo_request, decay none
  unsub: -25 per unsubscribe, decay linear 20d
  idle: -5 if days_since(page_view) > 10
}
score fit {
  big: +10 if employees >= 50
}
threshold mql: interest >= bar
threshold sql: interest + fit >= bar + 15
segment temperature {
  hot if interest >= 30
  warm if interest >= 10
  cold otherwise
}
"""


@pytest.fixture
def simulated(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    leads, events, outcomes, changes = [], [], [], []
    kinds = ["page_view", "page_view", "demo_request", "unsubscribe", "email_open"]
    for k in range(40):
        lead = f"L{k}"
        leads.append({"lead_id": lead, "employees": int(rng.choice([10, 80])),
                      "created_at": f"2026-01-{1 + k % 20:02d}T06:00:00Z"})
        for _ in range(int(rng.integers(0, 8))):
            day, hour = int(rng.integers(1, 60)), int(rng.integers(0, 24))
            kind = str(rng.choice(kinds))
            events.append((lead, kind, f"{_day(day)}T{hour:02d}:00:00Z", "/p" if kind == "page_view" else None))
        if rng.random() < 0.4:
            outcomes.append((lead, "won", f"{_day(int(rng.integers(10, 70)))}T12:00:00Z"))
        if rng.random() < 0.3:
            changes.append((lead, "employees", str(int(rng.choice([10, 80]))), f"{_day(int(rng.integers(1, 50)))}T00:30:00Z"))
    return ruleset(tmp_path / "rules", SIMULATED), history(tmp_path / "history", leads, events, outcomes, changes)


def _day(n: int) -> str:
    return (np.datetime64("2026-01-01") + np.timedelta64(n - 1, "D")).astype(str)


def _report(rules: Path, folder: Path, engine: str, *args) -> dict:
    result = CliRunner().invoke(main, ["simulate", str(rules), "--history", str(folder), "--format", "json",
                                       "--engine", engine, *map(str, args)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    report.pop("replay", None)        # how many instants each engine evaluated: its own business
    for variant in report["variants"].values():
        variant.pop("evaluations", None)
    return report


@pytest.mark.parametrize("args", [(), ("--set", "bar=25", "--by", "cohort"), ("--sweep", "bar=10:40:10"),
                                  ("--set", "bar=15", "--jobs", "2")], ids=["one", "compare", "sweep", "jobs"])
def test_simulate_reports_the_same_on_every_engine(simulated, tmp_path, args):
    rules, folder = simulated
    expected = _report(rules, folder, "python", *args)
    for name in IN_PROCESS:
        assert _report(rules, folder, name, *args) == expected, name


def test_lead_and_flip_tables_are_the_same_on_every_engine(simulated, tmp_path):
    rules, folder = simulated
    written = {}
    for name in IN_PROCESS:
        leads_out, flips_out = tmp_path / f"{name}-leads.csv", tmp_path / f"{name}-flips.csv"
        _report(rules, folder, name, "--set", "bar=30", "--leads-out", leads_out, "--flips-out", flips_out)
        written[name] = (leads_out.read_text(), flips_out.read_text())
    assert len(set(written.values())) == 1


def test_an_unknown_engine_is_a_usage_error(simulated):
    rules, folder = simulated
    result = CliRunner().invoke(main, ["simulate", str(rules), "--history", str(folder), "--engine", "spreadsheet"])
    assert result.exit_code == 2


@given(st.integers(-10**8, 10**8), st.integers(1, 50), st.sampled_from([-1.0, 1.0]))
def test_only_scores_a_few_units_off_a_round_value_go_back_to_python(micros, units, side):
    """SQL's last-bit misses of a 6-decimal value are re-evaluated in Python; a decayed score
    merely close to one (1e-9 off: one acme score in ten with a looser margin) is not."""
    from leadscore.simulator.duckdb_backend import near_round

    value = micros / 1e6
    missed = value
    for _ in range(units):
        missed = np.nextafter(missed, side * np.inf)
    decayed = value + side * 1e-9 * max(1.0, abs(value))
    found = near_round(np.array([[value], [missed], [decayed]]))
    assert found.tolist() == [False, True, False]


def test_one_duckdb_engine_replays_bucket_after_bucket_with_its_prepared_statements(tmp_path):
    # the statements are prepared once per connection and run over each round's tables,
    # registered under the same names: a later bucket (other leads, other events, fewer rows)
    # and another ruleset on the same engine give the Python engine's results
    bodies_ = ["score s {\n  view: +10 per page_view, decay half_life 5d\n"
               "  unsub: -30 per unsubscribe, decay linear 20d\n}\n"
               "threshold t: s >= 15\nsegment temperature {\n  hot if s >= 15\n  cold otherwise\n}",
               "score s {\n  demo: +40 per demo_request\n  open: +5 per email_open within 7d\n}\nthreshold t: s >= 45"]
    engine = REPLAY_ENGINES["duckdb"]()
    for number, body in enumerate(bodies_):
        checked = leadscore.load(str(ruleset(tmp_path / str(number), body))).checked
        plan = Plan.of("t", checked)
        for size in (5, 2):
            leads = [(f"L{k}", {"employees": 10 * k}) for k in range(size)]
            kinds = ["page_view", "demo_request", "email_open", "page_view", "unsubscribe"][:size + 1]
            events = [(f"L{k}", kind, START + (k + 1) * day * 86400.0 + 3600.0,
                       {"url": "/a"} if kind == "page_view" else {})
                      for k in range(size) for day, kind in enumerate(kinds)]
            bucket = bucket_of(checked, leads, events)
            window = Window(START - 86400.0, END)
            assert_same_replay(engine.replay(bucket, plan, window), PythonEngine().replay(bucket, plan, window), plan)


def test_simulate_replays_on_duckdb_unless_told_otherwise(simulated, monkeypatch):
    from leadscore.simulator import engine_choice

    rules, folder = simulated
    used = []
    for name, make in list(engine_choice.ENGINES.items()):
        monkeypatch.setitem(engine_choice.ENGINES, name,
                            lambda settings, name=name, make=make: used.append(name) or make(settings))
    for args, expected in (((), "duckdb"), (("--engine", "python"), "python")):
        used.clear()
        result = CliRunner().invoke(main, ["simulate", str(rules), "--history", str(folder), *args])
        assert result.exit_code == 0, result.output
        assert set(used) == {expected}


def test_reasons_after_a_replay_add_only_their_running_sums(tmp_path, monkeypatch):
    # simulate evaluates each bucket with reasons (contributions) after its replay: the match
    # counts the reasons read are added to the replay's running sums, not all computed again,
    # and the points are those a fresh engine gives
    from leadscore.simulator import duckdb_instants

    body = ("score s {\n  view: +10 per page_view, decay half_life 5d\n"
            "  unsub: -30 per unsubscribe, decay linear 20d\n  demo: +40 per demo_request\n}\n"
            "threshold t: s >= 15")
    checked = leadscore.load(str(ruleset(tmp_path, body))).checked
    plan = Plan.of("t", checked)
    leads = [(f"L{k}", {"employees": 10 * k}) for k in range(4)]
    events = [(f"L{k}", kind, START + (k + day) * 86400.0, {"url": "/a"} if kind == "page_view" else {})
              for k in range(4) for day, kind in enumerate(["page_view", "unsubscribe", "demo_request", "page_view"])]
    bucket = bucket_of(checked, leads, events)
    rows, instants = np.arange(4), np.full(4, START + 9 * 86400.0)
    computed: list[set[str]] = []
    original = duckdb_instants.running_arrays

    def counting(terms, columns, groups):
        computed.append({column.name for column in columns})
        return original(terms, columns, groups)

    monkeypatch.setattr(duckdb_instants, "running_arrays", counting)
    engine = REPLAY_ENGINES["duckdb"]()
    engine.replay(bucket, plan, Window(START - 86400.0, END))
    found = engine.evaluate_many(bucket, plan, rows, instants, reasons=True)
    replayed, added = computed
    assert added and not added & replayed
    fresh = REPLAY_ENGINES["duckdb"]().evaluate_many(bucket, plan, rows, instants, reasons=True)
    assert found.reasons == fresh.reasons
    assert np.array_equal(found.points, fresh.points) and np.array_equal(found.scores, fresh.scores)
    assert np.array_equal(found.scores, engine.evaluate_many(bucket, plan, rows, instants).scores)

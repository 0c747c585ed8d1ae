"""`leadscore simulate` comparing two variants: --set, --baseline, --against a Git revision, and
--sweep (SIMULATION.md §4, §6), on the hand-computed history of simulate_cli_support.py.

Tests assert exit codes, numbers and keys, never the wording of messages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import leadscore.simulator.run as run_module
from simulate_cli_support import BODY, EVENTS, LEADS, OUTCOMES, hand_history, invoke, mql, simulate_json, weeks
from test_simulator_support import SCHEMA, history, ruleset


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    return hand_history(tmp_path)

# --- 2. two variants --------------------------------------------------------------------------------------
#
# With bar = 10: L1 crosses at 01-05 09:00 (25 h before 01-06 10:00: earlier), L2 01-07 12:00, L3 01-08 09:00
# (new), L4 01-13 08:00, L5 01-14 00:00 (new), L6 01-09 10:00 (exactly 24 h before 01-10 10:00: not "more
# than a day", so no flip). Candidate metrics: crossed 6; precision L1, L3, L4 -> 3/6; recall 3/3; lead
# times L1 11 d 1 h, L3 4 d, L4 2.5 d -> median 4, p90 4 + 0.8 * (11.041667 - 4) = 9.633333; weeks W02
# (L1, L2, L3, L6) 4, W03 (L4, L5) 2, W04 0 -> mean 2, p90 2 + 0.8 * 2 = 3.6, max 4, over capacity 1: 2.

def check_bar_10_candidate(m: dict) -> None:
    assert m["crossed"] == 6
    assert m["precision"] == 0.5 and m["recall"] == 1.0 and m["lift"] == pytest.approx(1.0)
    assert m["lead_time_median_days"] == pytest.approx(4.0)
    assert m["lead_time_p90_days"] == pytest.approx(4 + 0.8 * (11 + 1 / 24 - 4))
    assert weeks(m) == [("2026-W02", 4), ("2026-W03", 2), ("2026-W04", 0)]
    assert (m["weekly_mean"], m["weekly_p90"], m["weekly_max"]) == (2, pytest.approx(3.6), 4)
    assert m["weeks_over_capacity"] == 2


def check_bar_10_flips(report: dict) -> None:
    flips = report["flips"]["mql"]
    assert {k: flips[k] for k in ("newly_crossed", "no_longer_crossed", "earlier", "later")} == {
        "newly_crossed": 2, "no_longer_crossed": 0, "earlier": 1, "later": 0}
    examples = [(e["lead_id"], e["change"], e["baseline"], e["candidate"]) for e in flips["examples"]]
    assert examples == [("L3", "newly crossed", None, "2026-01-08T09:00:00Z"),
                        ("L5", "newly crossed", None, "2026-01-14T00:00:00Z"),
                        ("L1", "crossed earlier", "2026-01-06T10:00:00Z", "2026-01-05T09:00:00Z")]
    # only the bar moved: the rules that make up interest at the earlier crossing
    assert all(e["rules"] == ["interest.view +10"] for e in flips["examples"])
    assert flips["examples"][2]["scores"] == {"interest": [10, 10]}
    hot = report["flips"]["hot"]
    assert (hot["newly_crossed"], hot["no_longer_crossed"], hot["earlier"], hot["later"], hot["examples"]) == (
        0, 0, 0, 0, [])


def test_set_alone_compares_the_file_as_written_with_the_override(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--set", "bar=10", "--capacity", "1")
    assert list(report["variants"]) == ["baseline", "candidate"]
    assert report["variants"]["baseline"]["constants"] == {"bar": 20}
    assert report["variants"]["candidate"]["constants"] == {"bar": 10}
    assert mql(report) == mql(simulate_json(rules, folder, "--capacity", "1"))
    check_bar_10_candidate(mql(report, "candidate"))
    check_bar_10_flips(report)


@pytest.mark.parametrize("spelling", ["`mql bar`=10", "mql bar=10", " `mql bar` = 10"])
def test_set_overrides_a_back_quoted_constant_in_either_spelling(tmp_path, spelling):
    rules = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const `mql bar` = 20")
                    .replace("interest >= bar", "interest >= `mql bar`"))
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--set", spelling, "--capacity", "1")
    assert report["variants"]["candidate"]["constants"] == {"mql bar": 10}
    assert report["variants"]["candidate"]["source"].endswith(" --set `mql bar`=10")
    check_bar_10_candidate(mql(report, "candidate"))
    swept = simulate_json(rules, folder, "--sweep", spelling.replace("10", "10:20:10"))
    assert [p["value"] for p in swept["sweep"]["points"]] == [10, 20]


def test_set_reads_a_back_quoted_name_holding_an_equals_sign(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const `bar=x` = 20")
                    .replace("interest >= bar", "interest >= `bar=x`"))
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--set", "`bar=x`=10")
    assert report["variants"]["candidate"]["constants"] == {"bar=x": 10}


def test_examples_can_be_limited_or_left_out(project):
    rules, folder = project
    one = simulate_json(rules, folder, "--set", "bar=10", "--examples", "1")
    assert [e["lead_id"] for e in one["flips"]["mql"]["examples"]] == ["L3", "L1"]
    assert one["flips"]["mql"]["newly_crossed"] == 2
    none = simulate_json(rules, folder, "--set", "bar=10", "--examples", "0")
    assert none["flips"]["mql"]["examples"] == [] and none["flips"]["mql"]["earlier"] == 1


def test_examples_follow_the_order_of_the_leads_file(tmp_path, monkeypatch):
    rules = ruleset(tmp_path / "rules", BODY)
    folder = history(tmp_path / "history", LEADS[::-1], EVENTS, OUTCOMES)
    expected = [("L5", "newly crossed"), ("L3", "newly crossed"), ("L1", "crossed earlier")]
    report = simulate_json(rules, folder, "--set", "bar=10")
    assert [(e["lead_id"], e["change"]) for e in report["flips"]["mql"]["examples"]] == expected
    monkeypatch.setattr(run_module, "bucket_count", lambda leads, events, jobs: 4)
    many = simulate_json(rules, folder, "--set", "bar=10", "--jobs", "2")
    assert many["replay"]["buckets"] == 4
    assert [(e["lead_id"], e["change"]) for e in many["flips"]["mql"]["examples"]] == expected


def test_a_baseline_file_is_compared_and_the_examples_name_the_rule_that_differs(project, tmp_path):
    rules, folder = project
    # the baseline gives a demo request 10 points: L2 stays at 10 and never crosses
    other = ruleset(tmp_path / "rules", BODY.replace("+30 per demo_request", "+10 per demo_request"), name="old")
    report = simulate_json(rules, folder, "--baseline", other)
    assert report["variants"]["baseline"]["ruleset"] == "old"
    assert mql(report)["crossed"] == 3 and mql(report, "candidate")["crossed"] == 4
    flips = report["flips"]["mql"]
    assert (flips["newly_crossed"], flips["no_longer_crossed"], flips["earlier"], flips["later"]) == (1, 0, 0, 0)
    [example] = flips["examples"]
    assert (example["lead_id"], example["change"], example["baseline"], example["candidate"]) == (
        "L2", "newly crossed", None, "2026-01-07T12:00:00Z")
    assert example["rules"] == ["interest.demo +10 → +30"]
    assert example["scores"] == {"interest": [10, 30]}


def test_set_with_a_baseline_applies_to_the_candidate(project, tmp_path):
    rules, folder = project
    other = ruleset(tmp_path / "rules", BODY, name="old")
    report = simulate_json(rules, folder, "--baseline", other, "--set", "bar=30")
    assert report["variants"]["baseline"]["constants"] == {"bar": 20}
    assert report["variants"]["candidate"]["constants"] == {"bar": 30}
    # bar 30: only L2 (demo, 30) crosses, at the same instant; L1, L4, L6 no longer cross
    assert mql(report, "candidate")["crossed"] == 1
    flips = report["flips"]["mql"]
    assert (flips["newly_crossed"], flips["no_longer_crossed"], flips["earlier"], flips["later"]) == (0, 3, 0, 0)
    assert [e["lead_id"] for e in flips["examples"]] == ["L1", "L4", "L6"]


def test_a_lead_that_crossed_before_the_start_and_crosses_inside_with_the_candidate_is_newly_crossed(project):
    rules, folder = project
    # window from 01-06: L1's baseline crossing (01-06 10:00) is inside; with bar 10 it crosses at
    # 01-05 09:00, before the start -> no longer crossed (flips compare crossings in the window).
    report = simulate_json(rules, folder, "--start", "2026-01-06", "--set", "bar=10")
    flips = report["flips"]["mql"]
    assert (flips["newly_crossed"], flips["no_longer_crossed"], flips["earlier"]) == (2, 1, 0)
    assert [e["lead_id"] for e in flips["examples"] if e["change"] == "no longer crossed"] == ["L1"]


def git(folder: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_NOSYSTEM="1", HOME=str(folder))
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, Path]:
    """A Git repository whose HEAD holds the ruleset with bar = 20 and a schema without `unsubscribe`;
    the working tree has bar = 10 (version 2) and a schema declaring it."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    rules = ruleset(repo, BODY, schema=SCHEMA.replace("  unsubscribe: {}\n", ""))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    rules.write_text(rules.read_text().replace("version 1", "version 2").replace("bar = 20", "bar = 10"))
    (repo / "schema.yaml").write_text(SCHEMA)
    folder = history(tmp_path / "history", LEADS, EVENTS + [("L5", "unsubscribe", "2026-01-14T01:00:00Z", None)],
                     OUTCOMES)
    return rules, folder


def test_against_a_git_revision_reads_it_with_its_own_schema(repository):
    rules, folder = repository
    report = simulate_json(rules, folder, "--against", "HEAD", "--capacity", "1")
    baseline, candidate = report["variants"]["baseline"], report["variants"]["candidate"]
    assert (str(baseline["version"]), baseline["constants"]) == ("1", {"bar": 20})
    assert (str(candidate["version"]), candidate["constants"]) == ("2", {"bar": 10})
    assert baseline["source"].endswith("@ HEAD")
    # the revision's schema has no `unsubscribe`: it cannot use L5's unsubscribe, the current one can
    assert report["skipped_rows"] == {}
    assert any("unknown_event_type" in note and "1 events" in note for note in report["notes"])
    # the unsubscribe changes no score: the same numbers as --set bar=10
    assert mql(report)["crossed"] == 4
    check_bar_10_candidate(mql(report, "candidate"))
    check_bar_10_flips(report)


def test_against_a_revision_whose_schema_is_not_a_schema_never_shows_its_values(repository):
    # the revision's rule file names a credentials file of the repository as its schema: errors may
    # name its keys, never print their values
    rules, folder = repository
    repo = rules.parent
    (repo / "ci-secrets.yaml").write_text("deploy_token: hunter2-SECRET\nlead:\n  id: lead_id\n")
    current = rules.read_text()
    rules.write_text(current.replace('schema "schema.yaml"', 'schema "ci-secrets.yaml"'))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "secrets as schema")
    rules.write_text(current)
    result = invoke(rules, "--history", folder, "--against", "HEAD")
    assert result.exit_code != 0
    assert "deploy_token" in result.output and "hunter2" not in result.output


def test_against_a_revision_that_does_not_exist_is_a_usage_error(repository):
    rules, folder = repository
    result = invoke(rules, "--history", folder, "--against", "nosuchrev")
    assert result.exit_code == 2
    assert "nosuchrev" in result.stderr
    assert invoke(rules, "--history", folder, "--against=-p").exit_code == 2     # never read as git's option


def test_against_a_revision_without_the_file_is_a_usage_error(repository):
    rules, folder = repository
    fresh = rules.parent / "fresh.score"
    shutil.copy(rules, fresh)
    assert invoke(fresh, "--history", folder, "--against", "HEAD").exit_code == 2


def test_against_outside_a_repository_is_a_usage_error(project):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--against", "HEAD").exit_code == 2


def test_against_a_revision_that_does_not_check_exits_1(repository):
    rules, folder = repository
    repo = rules.parent
    rules.write_text(rules.read_text().replace("interest >= bar", "interest >= nope"))
    git(repo, "commit", "-q", "-am", "broken")
    rules.write_text(rules.read_text().replace("interest >= nope", "interest >= bar"))
    result = invoke(rules, "--history", folder, "--against", "HEAD")
    assert result.exit_code == 1
    assert re.search(r"t\.score@HEAD:\d+:\d+", result.stderr)


# --- 3. sweeps ------------------------------------------------------------------------------------------

def test_a_sweep_reports_each_value_to_stop_inclusive_as_set_would(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--sweep", "bar=10:30:10", "--capacity", "1", "--target", "5")
    sweep = report["sweep"]
    assert (sweep["constant"], sweep["variant"], sweep["method"]) == ("bar", "baseline", "paths")
    assert [p["value"] for p in sweep["points"]] == [10, 20, 30]
    # bar 10: 6 crossings (see above); bar 20: the file's 4; bar 30: L2 only, never won -> precision 0
    assert [p["thresholds"]["mql"]["crossed"] for p in sweep["points"]] == [6, 4, 1]
    check_bar_10_candidate(sweep["points"][0]["thresholds"]["mql"])
    last = sweep["points"][2]["thresholds"]["mql"]
    assert (last["precision"], last["recall"], last["lift"]) == (0.0, 0.0, 0.0)
    # the variant's own metrics are reported as usual
    assert report["variants"]["baseline"]["thresholds"] == simulate_json(
        rules, folder, "--capacity", "1", "--target", "5")["variants"]["baseline"]["thresholds"]
    for point in sweep["points"]:
        alone = simulate_json(rules, folder, "--set", f"bar={point['value']}", "--capacity", "1", "--target", "5")
        assert point["thresholds"] == alone["variants"]["candidate"]["thresholds"], point["value"]


def test_a_sweep_can_go_down(project):
    rules, folder = project
    report = simulate_json(rules, folder, "--sweep", "bar=30:10:-10")
    assert [p["value"] for p in report["sweep"]["points"]] == [30, 20, 10]
    assert [p["thresholds"]["mql"]["crossed"] for p in report["sweep"]["points"]] == [1, 4, 6]


def test_a_sweep_of_a_constant_inside_a_score_replays_each_value(tmp_path):
    # pv = points per page view. 5: only L2's demo (30) reaches 20; 10: the file's 4 crossings;
    # 15: L1 (30 at 01-06), L2, L4 (30), L6 (30) -> 4; 20: every lead, each at its first event -> 6.
    rules = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const bar = 20\nconst pv = 10")
                    .replace("+10 per page_view", "+pv per page_view"))
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--sweep", "pv=5:20:5", "--capacity", "2")
    sweep = report["sweep"]
    assert (sweep["constant"], sweep["method"]) == ("pv", "replay")
    assert [p["value"] for p in sweep["points"]] == [5, 10, 15, 20]
    assert [p["thresholds"]["mql"]["crossed"] for p in sweep["points"]] == [1, 4, 4, 6]
    # pv 20: everyone crosses at the first event, as with bar 10 above: lead times 2.5, 4 and 11 d 1 h
    assert sweep["points"][3]["thresholds"]["mql"]["lead_time_median_days"] == pytest.approx(4.0)
    for point in sweep["points"]:
        alone = simulate_json(rules, folder, "--set", f"pv={point['value']}", "--capacity", "2")
        assert point["thresholds"] == alone["variants"]["candidate"]["thresholds"], point["value"]


def test_a_sweep_with_two_variants_applies_to_the_candidate(project, tmp_path):
    rules, folder = project
    other = ruleset(tmp_path / "rules", BODY.replace("const bar = 20", "const bar = 30"), name="old")
    report = simulate_json(rules, folder, "--baseline", other, "--sweep", "bar=20:20:5")
    assert report["sweep"]["variant"] == "candidate"
    [point] = report["sweep"]["points"]
    assert point["value"] == 20
    assert point["thresholds"] == report["variants"]["candidate"]["thresholds"]
    assert mql(report)["crossed"] == 1


SHIFTED = BODY.replace("interest >= bar", "interest >= bar + 10")


def test_a_sweep_of_a_bar_inside_arithmetic_gives_the_numbers_of_set(tmp_path):
    # mql: interest >= bar + 10. bar 0 -> 10: every lead crosses (6); bar 10 -> 20: the file's 4;
    # bar 20 -> 30: L2 only (1)
    rules = ruleset(tmp_path / "rules", SHIFTED)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = simulate_json(rules, folder, "--sweep", "bar=0:20:10")
    assert [p["thresholds"]["mql"]["crossed"] for p in report["sweep"]["points"]] == [6, 4, 1]
    for point in report["sweep"]["points"]:
        alone = simulate_json(rules, folder, "--set", f"bar={point['value']}")
        assert point["thresholds"] == alone["variants"]["candidate"]["thresholds"], point["value"]


def test_a_sweep_of_a_constant_used_only_in_thresholds_does_not_replay_per_value(tmp_path):
    rules = ruleset(tmp_path / "rules", SHIFTED)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    assert simulate_json(rules, folder, "--sweep", "bar=0:20:10")["sweep"]["method"] == "paths"
    beside_a_field = ruleset(tmp_path / "field", SHIFTED.replace("interest >= bar + 10",
                                                                 "interest >= bar + 10 and employees > 0"))
    assert simulate_json(beside_a_field, folder, "--sweep", "bar=0:20:10")["sweep"]["method"] == "replay"


@pytest.mark.parametrize("spec", ["bar=10:30:0", "bar=10:30:-5", "bar=10:30", "bar=a:b:c", "nope=1:2:1",
                                  "bar=0:5000:1"])
def test_a_bad_sweep_is_a_usage_error(project, spec):
    rules, folder = project
    assert invoke(rules, "--history", folder, "--sweep", spec).exit_code == 2



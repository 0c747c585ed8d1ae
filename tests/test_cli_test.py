"""`leadscore test`: test files beside a ruleset, their results, coverage and exit codes."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.testing.cases import UNIT_SECONDS, parse_time
from leadscore.testing.runner import FLOAT_NOISE, score_matches

from helpers import ACME_DIR
from cli_test_support import ONE_PASSING, RULES, SCHEMA, case, errors, project, run, run_json


# --- passing and failing ---------------------------------------------------------------------

def test_a_passing_case_prints_a_line_and_exits_0(tmp_path):
    path = project(tmp_path, ONE_PASSING)
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}::big buyer PASSED" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].strip("= ") == "1 passed"


def test_a_failing_score_shows_expected_actual_and_the_breakdown(tmp_path):
    path = project(tmp_path, ONE_PASSING.replace("fit: 19", "fit: 21"))
    result = run(str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{path}::big buyer FAILED" in lines
    assert f"{path}:6:21: score `fit`: expected 21 (± 0.005), got 19" in lines
    # The per-rule breakdown adds up to the score.
    start = lines.index("    fit = 19")
    assert [line.split() for line in lines[start + 1:start + 4]] == \
        [["+10", "big"], ["+5", "size", "(branch", "1:", "+5", "if", "employees", ">=", "50)"],
         ["+4", "buyer"]]
    assert "    thresholds: hot true" in lines
    assert "    segments: tier gold" in lines
    assert "1 failed" in lines[-1] and "0 passed" in lines[-1]


def test_threshold_and_segment_mismatches(tmp_path):
    path = project(tmp_path, ONE_PASSING.replace("hot: true", "hot: false")
                   .replace("tier: gold", "tier: silver"))
    code, document = run_json(str(path))
    assert code == 1
    mismatches = document["cases"][0]["mismatches"]
    assert [(m["what"], m["expected"], m["actual"], m["line"]) for m in mismatches] == [
        ("threshold `hot`", "false", "true", 7), ("segment `tier`", "silver", "gold", 8)]


def test_a_missing_derived_score_is_expected_as_null(tmp_path):
    path = project(tmp_path, case("no events", "    expect:\n      scores: {interest: 0, total: null}\n"))
    code, document = run_json(str(path))
    assert code == 1   # total = fit + interest is a number, not missing
    assert document["cases"][0]["mismatches"][0]["expected"] == "missing"
    assert document["cases"][0]["mismatches"][0]["actual"] == "1"


# --- tolerance -------------------------------------------------------------------------------

TOLERANCE_CASE = case("one visit", "    events: [{type: page_view, at: -1d}]\n"
                                   "    expect:\n      scores: {interest: 7.4}\n")   # actual 7


@pytest.mark.parametrize("where, code", [
    ("", 1),                                                   # default 0.005
    ("tolerance: 0.5\n", 0),                                   # the file's
    ("tolerance: 0.3\n", 1),
])
def test_file_level_tolerance(tmp_path, where, code):
    path = project(tmp_path, where + TOLERANCE_CASE)
    assert run(str(path)).exit_code == code


def test_case_and_score_level_tolerance_override_the_file(tmp_path):
    per_case = TOLERANCE_CASE.replace("    expect:", "    tolerance: 0.4\n    expect:")
    assert run(str(project(tmp_path, "tolerance: 0\n" + per_case))).exit_code == 0
    per_score = TOLERANCE_CASE.replace("{interest: 7.4}", "{interest: {value: 7.4, tolerance: 0.41}}")
    assert run(str(project(tmp_path, "tolerance: 0\n" + per_score))).exit_code == 0
    tight = TOLERANCE_CASE.replace("{interest: 7.4}", "{interest: {value: 7.4, tolerance: 0.39}}")
    assert run(str(project(tmp_path, "tolerance: 5\n" + tight))).exit_code == 1


@given(actual=st.floats(-1e6, 1e6), expected=st.floats(-1e6, 1e6), tolerance=st.floats(0, 1e3))
def test_a_score_passes_within_its_tolerance_and_fails_outside(actual, expected, tolerance):
    distance = abs(actual - expected)
    if distance <= tolerance:
        assert score_matches(expected, actual, tolerance)
    elif distance > tolerance + 2 * FLOAT_NOISE:
        assert not score_matches(expected, actual, tolerance)
    assert not score_matches(None, actual, tolerance) and not score_matches(expected, None, tolerance)
    assert score_matches(None, None, tolerance)


# --- rules that must / must not fire ---------------------------------------------------------

def test_must_fire_and_must_not_fire(tmp_path):
    path = project(tmp_path, case("small user", "    lead: {employees: 20, role: user}\n"
                                  "    expect:\n      fires: [buyer, size]\n"
                                  "      does_not_fire: [big, size, opens]\n"))
    # `size` listed under both is an error at the second mention.
    code, document = run_json(str(path))
    assert code == 1 and errors(document) == [("LS602", 7, 28)]
    assert document["not_run"][0]["name"] == "small user"

    path = project(tmp_path, case("small user", "    lead: {employees: 20, role: user}\n"
                                  "    expect:\n      fires: [buyer, opens]\n"
                                  "      does_not_fire: [big, size]\n"))
    code, document = run_json(str(path))
    assert code == 1
    assert [(m["what"], m["expected"], m["actual"]) for m in document["cases"][0]["mismatches"]] == [
        ("rule `buyer`", "fires", "did not fire"), ("rule `opens`", "fires", "did not fire"),
        ("rule `size`", "does not fire", "fired (+5)")]


def test_a_group_limit_is_not_a_rule_and_shows_in_the_breakdown(tmp_path):
    path = project(tmp_path, case("many clicks", "    events:\n"
                                  "      - {type: email_click, at: -1d, times: 3, every: 1h}\n"
                                  "    expect:\n      scores: {interest: 4}\n"
                                  "      fires: [clicks]\n"))
    result = run(str(path))
    assert result.exit_code == 1
    assert [line.split() for line in result.stdout.splitlines()
            if "clicks" in line or "limit of group" in line][-2:] == \
        [["+6", "clicks", "(3", "events)"], ["-3", "(limit", "of", "group", "email)"]]


# --- times -------------------------------------------------------------------------------------

@pytest.mark.parametrize("at", ["-2d", "-48h", "-2880m", "-2.0d", "2026-04-29T00:00:00Z",
                                "2026-04-29T00:00:00", "2026-04-29", "'2026-04-29 02:00:00+02:00'"])
def test_relative_and_absolute_times_mean_the_same_instant(tmp_path, at):
    # linear decay over 8 days: an event 2 days old gives 8 × (1 - 2/8) = 6
    path = project(tmp_path, case("visit", f"    events: [{{type: page_view, at: {at}}}]\n"
                                  "    expect:\n      scores: {interest: {value: 6, tolerance: 0}}\n"))
    result = run(str(path))
    assert result.exit_code == 0, result.output


def test_weeks_and_future_events(tmp_path):
    path = project(tmp_path, case("visits", "    events:\n"
                                  "      - {type: page_view, at: -1w}\n"       # 8 × 1/8 = 1
                                  "      - {type: page_view, at: +0d}\n"       # at as_of: 8
                                  "      - {type: demo_request, at: +1m}\n"    # after as_of: ignored
                                  "    expect:\n      scores: {interest: 9}\n"
                                  "      does_not_fire: [demo]\n"))
    assert run(str(path)).exit_code == 0


def test_a_datetime_field_takes_a_relative_time(tmp_path):
    body = ("    lead: {signup: -30d}\n    expect:\n      fires: [fresh]\n")
    assert run(str(project(tmp_path, case("new", body)))).exit_code == 0
    assert run(str(project(tmp_path, case("old", body.replace("-30d", "-31d"))))).exit_code == 1


def test_case_as_of_overrides_the_file(tmp_path):
    path = project(tmp_path, case("later", "    as_of: 2026-05-05T00:00:00Z\n"
                                  "    events: [{type: page_view, at: 2026-05-01T00:00:00Z}]\n"
                                  "    expect:\n      scores: {interest: 4}\n"))
    assert run(str(path)).exit_code == 0


@given(sign=st.sampled_from("+-"), amount=st.integers(0, 10_000), unit=st.sampled_from("mhdw"),
       as_of=st.integers(0, 4_000_000_000))
def test_a_relative_time_is_as_of_plus_the_signed_duration(sign, amount, unit, as_of):
    expected = as_of + (1 if sign == "+" else -1) * amount * UNIT_SECONDS[unit]
    assert parse_time(f"{sign}{amount}{unit}", float(as_of)) == pytest.approx(expected, abs=1e-6)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_a_naive_absolute_time_means_utc(moment):
    aware = moment.replace(tzinfo=timezone.utc)
    assert parse_time(moment.isoformat(), 0.0) == aware.timestamp()
    assert parse_time(aware.isoformat().replace("+00:00", "Z"), 0.0) == aware.timestamp()


def test_times_repeat_an_event(tmp_path):
    path = project(tmp_path, case("opens", "    events:\n"
                                  "      - {type: email_open, at: -3d, times: 2, every: 1d}\n"
                                  "    expect:\n      scores: {interest: 2}\n"))
    assert run(str(path)).exit_code == 0


# --- which ruleset ---------------------------------------------------------------------------

def test_the_ruleset_defaults_to_the_one_score_file_beside_the_test(tmp_path):
    project(tmp_path, ONE_PASSING)
    (tmp_path / "other.score").write_text(RULES, encoding="utf-8")
    code, document = run_json(str(tmp_path))
    assert code == 1 and errors(document) == [("LS600", 1, 1)]      # two candidates
    (tmp_path / "rules.test.yaml").write_text("ruleset: other.score\n" + ONE_PASSING, encoding="utf-8")
    code, document = run_json(str(tmp_path))
    assert code == 0 and document["cases"][0]["ruleset"] == str(tmp_path / "other.score")


def test_a_missing_or_outside_ruleset(tmp_path):
    path = project(tmp_path / "inner", "ruleset: rulez.score\n" + ONE_PASSING)
    code, document = run_json(str(path))
    assert errors(document) == [("LS600", 1, 10)]
    assert document["diagnostics"][0]["hint"] == "did you mean `rules.score`?"
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    (tmp_path / "rules.score").write_text(RULES, encoding="utf-8")
    path.write_text("ruleset: ../rules.score\n" + ONE_PASSING, encoding="utf-8")
    code, document = run_json(str(path))
    assert code == 1 and errors(document) == [("LS603", 1, 10)]
    assert run("--allow-outside", str(path)).exit_code == 0
    path.write_text('ruleset: "rules\\0.score"\n' + ONE_PASSING, encoding="utf-8")   # a NUL in the path
    code, document = run_json(str(path))
    assert code == 1 and errors(document) == [("LS600", 1, 10)]


def test_a_ruleset_with_errors_is_reported_and_its_tests_not_run(tmp_path):
    path = project(tmp_path, ONE_PASSING)
    (tmp_path / "rules.score").write_text(RULES.replace("employees >= 100", "employes >= 100"),
                                          encoding="utf-8")
    code, document = run_json(str(path))
    assert code == 1
    assert [(d["file"], d["code"], d["line"]) for d in document["diagnostics"]] == \
        [(str(tmp_path / "rules.score"), "LS300", 5)]
    assert document["cases"] == []


# --- paths and exit codes ------------------------------------------------------------------------

def test_folders_are_searched_recursively_and_hidden_and_node_modules_folders_skipped(tmp_path, monkeypatch):
    project(tmp_path / "a" / "b", ONE_PASSING)
    project(tmp_path / ".hidden", ONE_PASSING.replace("fit: 19", "fit: 0"))
    project(tmp_path / "a" / "node_modules" / "pkg", ONE_PASSING.replace("fit: 19", "fit: 0"))
    (tmp_path / "a" / "notes.yaml").write_text("not a test", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, document = run_json()          # no PATH: the current folder
    assert code == 0
    assert [c["file"] for c in document["cases"]] == [str(Path("a/b/rules.test.yaml"))]


def test_usage_errors_exit_2(tmp_path):
    assert run(str(tmp_path)).exit_code == 2                       # no test files
    assert run(str(tmp_path / "nope")).exit_code == 2              # no such path
    path = project(tmp_path, ONE_PASSING)
    assert run("--coverage-min", "101", str(path)).exit_code == 2
    assert run("--format", "xml", str(path)).exit_code == 2


# --- coverage ------------------------------------------------------------------------------------

def test_coverage_lists_what_never_fired_including_case_branches(tmp_path):
    path = project(tmp_path, ONE_PASSING)
    result = run(str(path))
    lines = result.stdout.splitlines()
    # 9 rules + 3 branches; big, size, buyer and size's branch 1 fired.
    assert f"{tmp_path / 'rules.score'}: 4 of 12 rules and case branches fired (33.3%)" in lines
    never = [line.strip() for line in lines if line.startswith("    " + str(tmp_path))]
    rules = str(tmp_path / "rules.score")
    assert never == [f"{rules}:8:5: fit.size branch 2: +5 if employees >= 10",
                     f"{rules}:9:5: fit.size branch 3: +1 otherwise",
                     f"{rules}:12:3: fit.fresh", f"{rules}:13:3: fit.vip_tag",
                     f"{rules}:18:5: interest.opens", f"{rules}:19:5: interest.clicks",
                     f"{rules}:21:3: interest.demo", f"{rules}:22:3: interest.visit",
                     f"{rules}:30:3: segment tier label silver"]
    # Labels are counted on their own, under the rules: gold was reached, silver not.
    assert lines[lines.index("  no case reaches:") - 1] == "  segment labels: 1 of 2 reached"


def test_same_points_branches_are_told_apart(tmp_path):
    path = project(tmp_path, case("mid", "    lead: {employees: 20}\n    expect: {fires: [size]}\n"))
    document = run_json(str(path))[1]
    assert document["cases"][0]["branches"] == {"size": 2}
    not_fired = [(i["rule"], i["branch"]) for i in document["coverage"][0]["not_fired"]]
    assert ("size", 2) not in not_fired and ("size", 1) in not_fired


FULL_COVERAGE = """\
as_of: 2026-05-01T00:00:00Z
cases:
  - name: everything
    lead: {employees: 200, role: buyer, signup: -1d, tags: [vip]}
    events:
      - {type: email_open, at: -1h}
      - {type: email_click, at: -1h}
      - {type: demo_request, at: -1d}
      - {type: page_view, at: -1d}
    expect: {segments: {tier: gold}}
  - name: mid
    lead: {employees: 60}
    expect: {segments: {tier: silver}}
  - name: small
    lead: {employees: 20}
    expect: {fires: [size]}
  - name: none
    expect: {fires: [size]}
"""


def test_coverage_min(tmp_path):
    path = project(tmp_path, ONE_PASSING)
    assert run("--coverage-min", "33.3", str(path)).exit_code == 0
    result = run("--coverage-min", "33.34", str(path))
    assert result.exit_code == 1
    assert "coverage below the minimum" in result.stdout.splitlines()[-1]
    code, document = run_json("--coverage-min", "34", str(path))
    assert code == 1 and document["coverage"][0]["meets_minimum"] is False
    assert (document["coverage"][0]["fired"], document["coverage"][0]["total"]) == (4, 12)

    path = project(tmp_path, FULL_COVERAGE)
    code, document = run_json("--coverage-min", "100", str(path))
    assert code == 0, document
    assert document["coverage"][0]["percent"] == 100.0
    assert document["coverage"][0]["not_fired"] == []
    assert document["coverage"][0]["segment_labels_not_seen"] == {}


def test_failed_cases_still_count_towards_coverage(tmp_path):
    path = project(tmp_path, ONE_PASSING.replace("fit: 19", "fit: 0"))
    document = run_json(str(path))[1]
    assert document["coverage"][0]["fired"] == 4


# --- end to end ------------------------------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(employees=st.integers(0, 1000), buyer=st.booleans(), visit_days=st.integers(0, 10))
def test_a_case_expecting_what_the_rules_say_passes(tmp_path_factory, employees, buyer, visit_days):
    # The small ruleset worked out by hand, against the command's verdict.
    fit = (10 if employees >= 100 else 0) + (5 if employees >= 10 else 1) + (4 if buyer else 0)
    interest = 8 * max(0.0, 1 - visit_days / 8)
    folder = tmp_path_factory.mktemp("e2e")
    role = "buyer" if buyer else "user"
    body = (f"    lead: {{employees: {employees}, role: {role}}}\n"
            f"    events: [{{type: page_view, at: -{visit_days}d}}]\n"
            f"    expect:\n      scores: {{fit: {fit}, interest: {interest!r}, total: {fit + interest!r}}}\n"
            f"      thresholds: {{hot: {'true' if fit >= 15 else 'false'}}}\n"
            f"      segments: {{tier: {'gold' if fit >= 15 else 'silver'}}}\n")
    assert run(str(project(folder, case("generated", body)))).exit_code == 0
    wrong = body.replace(f"fit: {fit},", f"fit: {fit + 0.01},")
    assert run(str(project(folder, case("generated", wrong)))).exit_code == 1


# --- the acme ruleset's own tests --------------------------------------------------------------------

def test_acme_tests_pass_with_full_coverage():
    result = run("--coverage-min", "100", str(ACME_DIR))
    assert result.exit_code == 0, result.output
    code, document = run_json("--coverage-min", "100", str(ACME_DIR))
    assert code == 0
    coverage = document["coverage"][0]
    assert coverage["percent"] == 100.0 and coverage["total"] == 31
    # Every threshold is expected both ways, and every segment is checked.
    tests = yaml.safe_load((ACME_DIR / "scoring.test.yaml").read_text(encoding="utf-8"))
    expected = {(key, name, value) for c in tests["cases"] for key in ("thresholds", "segments")
                for name, value in c["expect"].get(key, {}).items()}
    assert {(k, n, v) for k, n, v in expected if k == "thresholds"} == \
        {("thresholds", t, v) for t in ("mql", "sql") for v in (True, False)}
    assert {n for k, n, _ in expected if k == "segments"} == {"grade", "priority"}

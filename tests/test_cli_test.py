"""`leadscore test`: test files beside a ruleset, their results, coverage and exit codes."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.testing.cases import UNIT_SECONDS, parse_time
from leadscore.testing.runner import FLOAT_NOISE, score_matches

from helpers import ACME_DIR

SCHEMA = """\
lead:
  fields:
    employees: number
    role: {type: string, values: [buyer, user]}
    signup: datetime
    tags: list
    vip: boolean
events:
  email_open: {}
  email_click: {}
  demo_request: {}
  page_view: {properties: {url: string}}
"""

# Branches 1 and 2 of `size` give the same points: only coverage can tell them apart.
RULES = """\
ruleset "t" version 1
schema "schema.yaml"

score fit {
  big: +10 if employees >= 100
  size: case {
    +5 if employees >= 50
    +5 if employees >= 10
    +1 otherwise
  }
  buyer: +4 if role == "buyer"
  fresh: +3 if days_since(signup) <= 30
  vip_tag: +2 if tags contains "vip" or vip == true
}

score interest {
  group email max 3 {
    opens: +1 per email_open
    clicks: +2 per email_click
  }
  demo: +10 per demo_request
  visit: +8 per page_view, decay linear 8d
}

score total = fit + interest

threshold hot: fit >= 15
segment tier {
  gold if fit >= 15
  silver otherwise
}
"""

ONE_PASSING = """\
as_of: 2026-05-01T00:00:00Z
cases:
  - name: big buyer
    lead: {employees: 200, role: buyer}
    expect:
      scores: {fit: 19}
      thresholds: {hot: true}
      segments: {tier: gold}
      fires: [big, size, buyer]
      does_not_fire: [fresh]
"""

HEAD_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<column>\d+): "
                       r"error\[(?P<code>LS\d{3})\]: (?P<message>.+)$")


def project(tmp_path: Path, tests: str, name: str = "rules.test.yaml") -> Path:
    """A folder holding the small ruleset, its schema and one test file."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    (tmp_path / "rules.score").write_text(RULES, encoding="utf-8")
    path = tmp_path / name
    path.write_text(tests, encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(main, ["test", *args])


def run_json(*args: str) -> tuple[int, dict]:
    result = run("--format", "json", *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout)


def errors(document: dict) -> list[tuple[str, int, int]]:
    return [(d["code"], d["line"], d["column"]) for d in document["diagnostics"]]


def case(name: str, body: str) -> str:
    """A test file with one case; `body` is the case's lines after `- name:` (4-space indented)."""
    return f"as_of: 2026-05-01T00:00:00Z\ncases:\n  - name: {name}\n{body}"


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


# --- invalid test files ------------------------------------------------------------------------

def test_schema_errors_are_reported_at_line_and_column(tmp_path):
    path = project(tmp_path, (
        "as_of: 2026-05-01T00:00:00Z\n"
        "tolerance: -1\n"                                   # 2:12 below the minimum
        "cases:\n"
        "  - name: one\n"
        "    lead: {role: no}\n"                            # 5:17 LS604 (quote it)
        "    expcet: {}\n"                                  # 6:5 unknown key
        "    expect:\n"
        "      scores: {fit: high}\n"                       # 8:21 not a number
        "      thresholds: {hot: yes please}\n"))           # 9:25 not true/false
    result = run(str(path))
    assert result.exit_code == 1
    heads = [HEAD_LINE.match(line) for line in result.stdout.splitlines()]
    found = [(m["file"], int(m["line"]), int(m["column"]), m["code"]) for m in heads if m]
    assert found == [(str(path), 2, 12, "LS602"), (str(path), 5, 18, "LS604"),
                     (str(path), 6, 5, "LS602"), (str(path), 8, 21, "LS602"),
                     (str(path), 9, 25, "LS602")]
    assert f"{path}::one ERROR" in result.stdout.splitlines()
    assert "hint: did you mean `expect`?" in result.stdout


@pytest.mark.parametrize("text, expected", [
    ("", [("LS602", 1, 1)]),                                      # empty
    ("cases: [\n", [("LS601", 2, 1)]),                            # not YAML
    ("- a\n", [("LS602", 1, 1)]),                                 # not a mapping
    ("cases: []\n", [("LS602", 1, 8)]),                           # no case
    ("cases:\n  - name: a\n    as_of: -3d\n    expect: {scores: {fit: 1}}\n",
     [("LS602", 3, 12)]),                                          # as_of must be absolute
    ("cases:\n  - name: a\n    expect: {scores: {fit: 1}}\n", [("LS602", 2, 5)]),   # no as_of
    ("as_of: 2026-05-01\ncases:\n  - name: a\n    expect: {}\n", [("LS602", 4, 13)]),  # empty expect
    ("as_of: 2026-05-01\ncases:\n  - {name: a, expect: {fires: [big]}}\n"
     "  - {name: a, expect: {fires: [big]}}\n", [("LS602", 4, 12)]),                  # same name
    ("as_of: 2026-05-01\ncases:\n  - name: a\n    events: [{type: page_view, at: soon}]\n"
     "    expect: {fires: [visit]}\n", [("LS602", 4, 36)]),                            # bad time
    ("as_of: 2026-05-01\ncases:\n  - name: a\n    events: [{type: page_view, at: -1d, times: 2}]\n"
     "    expect: {fires: [visit]}\n", [("LS602", 4, 48)]),                            # times, no every
    ("as_of: 2026-05-01\ncases:\n  - name: a\n    lead: {employees: many, vip: maybe, tags: {a: b}}\n"
     "    expect: {fires: [big]}\n",
     [("LS602", 4, 23), ("LS602", 4, 34), ("LS602", 4, 47)]),                     # values vs types
    ("as_of: 2026-05-01\ncases:\n  - name: a\n    lead: {employees: 5, <<: {}}\n"
     "    expect: {fires: [big]}\n", [("LS601", 4, 26)]),                              # merge key
])
def test_invalid_test_files(tmp_path, text, expected):
    code, document = run_json(str(project(tmp_path, text)))
    assert code == 1
    assert errors(document) == expected
    assert document["ok"] is False


def test_a_value_not_among_the_declared_values_is_ls404_with_a_suggestion(tmp_path):
    path = project(tmp_path, case("typo", "    lead: {role: buyr}\n    expect: {fires: [buyer]}\n"))
    code, document = run_json(str(path))
    assert code == 1 and errors(document) == [("LS404", 4, 18)]
    assert document["diagnostics"][0]["hint"] == "did you mean `buyer`?"


@pytest.mark.parametrize("body, code, line, column, hint", [
    ("    expect: {scores: {fitt: 1}}\n", "LS300", 4, 23, "did you mean `fit`?"),
    ("    expect: {thresholds: {hott: true}}\n", "LS300", 4, 27, "did you mean `hot`?"),
    ("    expect: {segments: {teir: gold}}\n", "LS300", 4, 25, "did you mean `tier`?"),
    ("    expect: {segments: {tier: gol}}\n", "LS300", 4, 31, "did you mean `gold`?"),
    ("    expect: {fires: [biig]}\n", "LS300", 4, 22, "did you mean `big`?"),
    ("    expect: {does_not_fire: [vist]}\n", "LS300", 4, 30, "did you mean `visit`?"),
    ("    expect: {fires: [email]}\n", "LS300", 4, 22, "name one of its rules: opens, clicks"),
    ("    lead: {employes: 3}\n    expect: {fires: [big]}\n", "LS300", 4, 12,
     "did you mean `employees`?"),
    ("    events: [{type: page_veiw, at: -1d}]\n    expect: {fires: [visit]}\n", "LS301", 4, 21,
     "did you mean `page_view`?"),
    ("    events: [{type: page_view, at: -1d, properties: {uri: /x}}]\n    expect: {fires: [visit]}\n",
     "LS302", 4, 54, "did you mean `url`?"),
])
def test_unknown_names_are_errors_with_a_suggestion(tmp_path, body, code, line, column, hint):
    document = run_json(str(project(tmp_path, case("a", body))))[1]
    assert errors(document) == [(code, line, column)]
    assert document["diagnostics"][0]["hint"] == hint


def test_one_invalid_case_does_not_stop_the_others(tmp_path):
    text = ONE_PASSING + "  - name: broken\n    expect: {fires: [nope]}\n"
    result = run(str(project(tmp_path, text)))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.endswith("::big buyer PASSED") for line in lines)
    assert any(line.endswith("::broken ERROR") for line in lines)


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

def test_folders_are_searched_recursively_and_hidden_folders_skipped(tmp_path, monkeypatch):
    project(tmp_path / "a" / "b", ONE_PASSING)
    project(tmp_path / ".hidden", ONE_PASSING.replace("fit: 19", "fit: 0"))
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


# --- hostile input ------------------------------------------------------------------------------------

_KEYS = ["ruleset", "as_of", "tolerance", "cases", "name", "lead", "events", "expect", "type", "at",
         "properties", "times", "every", "scores", "thresholds", "segments", "fires",
         "does_not_fire", "value", "employees", "role", "signup", "tags", "vip", "fit", "interest",
         "total", "hot", "tier", "page_view", "url", "size", "email"]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
    st.sampled_from(["-3d", "+0d", "-90m", "2026-05-01", "2026-05-01T00:00:00+14:00", "1d",
                     "9" * 400 + "w", "-" + "9" * 320 + "d", "buyer", "gold", "big", "", "no",
                     "0001-01-01", "page_view", "email_open"]),
    st.text(max_size=8))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)),
    max_leaves=25)


@settings(max_examples=60, deadline=None)
@given(cases=st.lists(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=6), max_size=3),
       top=st.dictionaries(st.sampled_from(["as_of", "tolerance", "ruleset"]), _SCALARS))
def test_any_test_file_gives_a_verdict_never_a_traceback(tmp_path_factory, cases, top):
    folder = tmp_path_factory.mktemp("fuzz")
    for item in cases:
        item.setdefault("name", "x")
    text = yaml.safe_dump({**top, "cases": cases}, allow_unicode=True)
    result = run("--format", "json", str(project(folder, text)))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1)
    json.loads(result.stdout)


_TIMES = st.sampled_from(["-3d", "+0d", "-90m", "+1w", "2026-05-01", "2026-05-01T00:00:00+14:00",
                          "0001-01-01", "9999-12-31T23:59:59-12:00", "9" * 400 + "w",
                          "-" + "9" * 300 + "w", "soon"])
_WELL_SHAPED_CASE = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=5), "expect": st.sampled_from(
        [{"fires": ["big"]}, {"scores": {"total": None}}, {"segments": {"tier": None}}])},
    optional={
        "as_of": _TIMES,
        "lead": st.dictionaries(st.sampled_from(["employees", "role", "signup", "tags", "vip"]),
                                st.one_of(_SCALARS, st.lists(st.text(max_size=4), max_size=3))),
        "events": st.lists(st.fixed_dictionaries(
            {"type": st.sampled_from(["page_view", "email_open", "demo_request"]), "at": _TIMES},
            optional={"times": st.integers(1, 30),
                      "every": st.sampled_from(["1d", "0.5h", "9" * 300 + "w", "0d"]),
                      "properties": st.dictionaries(st.sampled_from(["url", "x"]), _SCALARS)}),
            max_size=3)})


@settings(max_examples=60, deadline=None)
@given(cases=st.lists(_WELL_SHAPED_CASE, min_size=1, max_size=3), as_of=_TIMES)
def test_any_well_shaped_test_file_gives_a_verdict(tmp_path_factory, cases, as_of):
    folder = tmp_path_factory.mktemp("fuzz")
    text = yaml.safe_dump({"as_of": as_of, "cases": cases}, allow_unicode=True)
    result = run("--format", "json", str(project(folder, text)))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1)
    json.loads(result.stdout)

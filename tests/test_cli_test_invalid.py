"""`leadscore test` on invalid and hostile test files: diagnostics at line and column, unknown names
with suggestions, and a verdict (never a traceback) for any file."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_test_support import HEAD_LINE, ONE_PASSING, case, errors, project, run, run_json


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

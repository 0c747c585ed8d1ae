"""Messages for the mistakes rule authors really make (issue 15, item 2).

Each golden case is the smallest file with one everyday mistake: the test
asserts the code, the line and column, that a hint is given, and that the
mistake is reported once (no cascade of follow-up errors). Word checks are
limited to the one thing the message must name.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore

from leadscore.cli import main
from leadscore.dsl.checker import check
from leadscore.dsl.parser import parse, terminal_patterns
from leadscore.dsl.schema import parse_schema
from leadscore.dsl.score_bounds import score_ranges
from leadscore.dsl.usage import usage_warnings
from leadscore.loader import load_ruleset

from helpers import ACME_DIR, ACME_SCHEMA, HEADER, load, where, write_ruleset
from scoring_helpers import AS_OF

H = HEADER


def block(*rules: str) -> str:
    """A score block holding `rules`; its first rule is on line 4."""
    return H + "score s {\n" + "".join(f"  {r}\n" for r in rules) + "}\n"


@dataclass(frozen=True)
class Mistake:
    name: str
    text: str
    code: str
    line: int
    column: int
    says: str  # a word the message or hint must contain
    schema: str = ACME_SCHEMA


MISTAKES = [
    # Names that begin with a keyword are one word.
    Mistake("name-starting-with-or", block("r: +1 if employees >= 50 orders > 3"),
            "LS100", 4, 28, "`orders`"),
    Mistake("name-starting-with-is", block('r: +1 if role == "buyer" is_decision_maker == true'),
            "LS100", 4, 28, "`is_decision_maker`"),
    Mistake("two-conditions-without-and",
            block('r: +1 if industry == "Retail" industry == "Software"'),
            "LS100", 4, 33, "`and`"),
    # Unclosed blocks, reported once at the line that opened them.
    Mistake("unclosed-score", H + "score interest {\n  a: +1 per page_view\n\n"
            "score fit {\n  b: +1 if employees > 1\n}\nscore total = interest + fit\n",
            "LS100", 3, 16, "`score interest {` on line 3"),
    Mistake("unclosed-score-at-end", H + "score fit {\n  b: +1 if employees > 1\n",
            "LS100", 3, 11, "`score fit {` on line 3"),
    Mistake("unclosed-case", block("size: case {", "  +2 if employees > 10",
                                   "after: +1 if employees > 1"),
            "LS100", 4, 14, "`size: case {` on line 4"),
    Mistake("unclosed-case-before-the-blocks-brace",
            block("size: case {", "  +2 if employees > 10") + "score t {\n  a: +1 if employees > 1\n}\n",
            "LS100", 4, 14, "`size: case {` on line 4"),
    Mistake("unclosed-group-before-the-blocks-brace",
            H + "score s {\n  group email max 15 {\n    opened: +1 per email_open\n}\n"
            "score t {\n  a: +1 if employees > 1\n}\n",
            "LS100", 4, 22, "`group email max 15 {` on line 4"),
    Mistake("unclosed-group", block("group email max 15 {", "  opened: +1 per email_open",
                                    "decay half_life 30d"),
            "LS100", 4, 22, "`group email max 15 {` on line 4"),
    Mistake("unclosed-decay-steps",
            block("a: +1 per page_view, decay steps { 30d: 75%, 90d: 50%",
                  "b: +1 per email_open"),
            "LS100", 4, 36, "is not closed"),
    Mistake("unclosed-segment", H + "segment grade {\n  A if employees > 1\n"
            "const x = 1\n", "LS100", 3, 15, "`segment grade {` on line 3"),
    # Characters from word processors and chat tools.
    Mistake("curly-double-quote", block("r: +1 if country == \u201cUS\u201d"),
            "LS101", 4, 23, 'straight `"`'),
    Mistake("curly-single-quote", block("r: +1 if country == \u2018US\u2019"),
            "LS101", 4, 23, "curly"),
    Mistake("en-dash-before-points", block("r: \u20135 if employees > 1"),
            "LS101", 4, 6, "en dash"),
    Mistake("em-dash-before-points", block("r: \u20145 if employees > 1"),
            "LS101", 4, 6, "em dash"),
    Mistake("non-breaking-space", block("r:\u00a0+5 if employees > 1"),
            "LS101", 4, 5, "space"),
    Mistake("narrow-no-break-space", block("r: +5 if\u202femployees > 1"),
            "LS101", 4, 11, "space"),
    Mistake("full-width-colon", block("r\uff1a +5 if employees > 1"),
            "LS101", 4, 4, "`:`"),
    Mistake("full-width-comparison", block("r: +5 if employees \uff1e 1"),
            "LS101", 4, 22, "`>`"),
    # One-line hints.
    Mistake("decimal-comma", block("r: +2,5 if employees > 1"), "LS100", 4, 8, "`2.5`"),
    Mistake("thousands-comma", block("r: +2 if employees >= 5,000"), "LS100", 4, 26, "`5_000`"),
    Mistake("slash-slash-comment", H + "// reviewed in May\nconst a = 1\n", "LS100", 3, 1, "`#`"),
    Mistake("slash-slash-comment-after-a-rule", block("r: +2 if employees > 1 // big ones"),
            "LS100", 4, 27, "`#`"),
    Mistake("rule-name-with-spaces", block("enterprise finance: +30 if employees > 1"),
            "LS100", 4, 14, "`enterprise_finance`"),
    Mistake("is-not-for-not-equal", block('r: -5 if country is not "US"'), "LS100", 4, 27, "`!=`"),
    Mistake("yes-for-true", block("r: +20 if has_budget == yes"), "LS300", 4, 27, "`true`"),
    Mistake("constant-for-const", H + "constant mql_fit = 40\n", "LS100", 3, 1, "`const`"),
    Mistake("percent-points", block("r: +20% if employees > 1"), "LS100", 4, 7, "`20`"),
    Mistake("keyword-as-rule-name", block("group: +1 if employees > 1"), "LS100", 4, 8,
            "`` `group`: ... ``"),
    Mistake("option-word-as-rule-name", block("decay: +1 if employees > 1"), "LS100", 4, 8,
            "back-quote"),
    # Cascades suppressed.
    Mistake("unknown-schema-type", block("a: +1 if employees > 1", "b: +1 if employees < 5000"),
            "LS602", 3, 23, "`integer`",
            schema="lead:\n  fields:\n    employees: {type: integer}\nevents: {}\n"),
    Mistake("failed-constant", H + "const limit = 5,000\nthreshold big: employees > limit\n",
            "LS100", 3, 16, "`5_000`"),
    Mistake("failed-score-name", H + "score my fit {\n  a: +1 if employees > 1\n}\n"
            "score total = my_fit + 1\n", "LS100", 3, 10, "`my_fit`"),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_mistake_is_reported_once_where_it_is_with_a_hint(tmp_path, mistake):
    loaded = load(tmp_path / "rules", mistake.text, mistake.schema)
    assert where(loaded.diagnostics) == [(mistake.code, mistake.line, mistake.column)]
    found = loaded.diagnostics[0]
    assert found.hint, found
    assert mistake.says in found.message + " " + found.hint
    assert not loaded.ok


def test_keywords_inside_names_are_not_keywords(tmp_path):
    # The corrected lines of the first cases: a name may begin with any keyword.
    schema = ACME_SCHEMA.replace("    timeline_days: {type: number}\n",
                                 "    timeline_days: {type: number}\n    orders: number\n"
                                 "    notes: string\n    industry_group: string\n"
                                 "    inbound: boolean\n    ifs: number\n")
    text = block("r1: +1 if employees >= 50 or orders > 3",
                 "r2: +1 if employees >= 50 and orders > 3 or notes == \"x\"",
                 "r3: +1 if is_decision_maker == true and inbound == true",
                 "r4: +1 if industry_group contains \"x\" and ifs > 1")
    assert where(load(tmp_path / "rules", text, schema).diagnostics) == []


def test_unclosed_block_keeps_the_rest_of_the_file(tmp_path):
    # The block after the unclosed one is read and checked: an error in it is reported.
    text = H + "score interest {\n  a: +1 per page_view\n\nscore fit {\n  b: +1 if employes > 1\n}\n"
    assert where(load(tmp_path / "rules", text).diagnostics) == [("LS100", 3, 16), ("LS300", 7, 12)]


def test_echoed_line_shows_the_pasted_character(tmp_path):
    path = write_ruleset(tmp_path, block("r:\u00a0+5 if country == \u201cUS\u201d"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert "  r:\u00a0+5 if country == \u201cUS\u201d" in result.output
    assert "?" not in result.output.replace("\\", "")
    assert "\\xa0" not in result.output


# --- YAML syntax errors in plain words ------------------------------------------------------

YAML_MISTAKES = [
    ("indentation", "lead:\n  fields:\n    a: string\n   b: number\n", 4, 4, "line up"),
    ("unclosed-list", "lead:\n  fields:\n    a: {type: string, values: [x, y}\n", 3, 36, "`]`"),
    ("unclosed-quote", 'lead:\n  fields:\n    a: "abc\nevents: {}\n', 3, 8, "quote"),
    ("tab", "lead:\n\tfields: {}\n", 2, 1, "tab"),
    ("list-and-keys", "lead:\n  fields:\n    - a: number\n    b: string\n", 4, 5, "line up"),
    ("colon-in-value", "lead:\n  fields:\n    a: string\n      b: number\n", 4, 8, "`:`"),
]


@pytest.mark.parametrize("text, line, column, says", [m[1:] for m in YAML_MISTAKES],
                         ids=[m[0] for m in YAML_MISTAKES])
def test_yaml_syntax_error_in_a_schema_in_plain_words(tmp_path, text, line, column, says):
    loaded = load(tmp_path / "rules", H, text)
    assert where(loaded.diagnostics) == [("LS601", line, column)]
    found = loaded.diagnostics[0]
    assert found.hint and says in found.message + " " + found.hint
    assert "<block" not in found.message and "expected" not in found.message


def test_yaml_syntax_error_in_a_test_file_in_plain_words(tmp_path):
    folder = tmp_path / "rules"
    write_ruleset(folder, block("r: +1 if employees > 1"))
    (folder / "rules.test.yaml").write_text("ruleset: rules.score\ncases:\n  - name: a\n"
                                            "   lead: {}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["test", str(folder)])
    assert result.exit_code != 0
    assert "rules.test.yaml:4:4" in result.output
    assert "does not line up" in result.output
    assert "<block" not in result.output


# --- check --strict: unused declarations, unreachable labels ------------------------------

def _checked(text: str, schema: str = ACME_SCHEMA):
    parsed_schema, problems = parse_schema(schema, "schema.yaml")
    assert problems == []
    ruleset, diagnostics = parse(text, "rules.score")
    assert diagnostics == []
    checked, diagnostics = check(ruleset, parsed_schema)
    assert checked is not None, diagnostics
    return checked


def test_acme_label_a_is_unreachable_because_fit_is_at_most_72():
    loaded = load_ruleset(str(ACME_DIR / "scoring.score"), usage=True)
    assert score_ranges(loaded.checked)["fit"] == (0.0, 72.0)
    unreachable = [d for d in loaded.diagnostics if d.code == "LS515"]
    assert where(unreachable) == [("LS515", 66, 3)]
    assert "72" in unreachable[0].message
    assert loaded.ok  # warnings only


def test_cli_strict_reports_usage_warnings_without_failing(tmp_path):
    result = CliRunner().invoke(main, ["check", "--strict", str(ACME_DIR / "scoring.score")])
    assert result.exit_code == 0, result.output
    assert "warning[LS515]" in result.output and "warning[LS514]" in result.output
    plain = CliRunner().invoke(main, ["check", str(ACME_DIR / "scoring.score")])
    assert "LS51" not in plain.output


def test_unused_constant_field_and_event_type_are_named():
    schema = "lead:\n  fields:\n    employees: number\n    spare: string\n" \
             "events:\n  page_view: {}\n  webinar: {}\n"
    checked = _checked(H + "const used = 5\nconst unused = 6\n"
                       "score s {\n  r: +used if employees > 1\n  v: +1 per page_view\n}\n", schema)
    found = usage_warnings(checked)
    assert sorted((d.code, d.message.split("`")[1]) for d in found) == [
        ("LS513", "unused"), ("LS514", "spare"), ("LS514", "webinar")]


def test_everything_used_somewhere_gives_no_usage_warning():
    schema = "lead:\n  created: made\n  fields:\n    made: datetime\n    employees: number\n" \
             "    title: string\nevents:\n  page_view: {properties: {url: string}}\n  demo: {}\n"
    checked = _checked(H + "const cap = 5\nconst pattern = \"^vp\"\n"
                       "score s {\n  v: +1 per page_view where url == \"x\", max cap\n"
                       "  t: +1 if title matches pattern and count(demo) > 0\n}\n"
                       "threshold big: employees > 10\n", schema)
    assert usage_warnings(checked) == []


def test_exclusive_rules_are_not_added_up():
    checked = _checked(block('a: +30 if industry == "Retail" and employees >= 5000',
                             'b: +20 if industry == "Software"',
                             "c: +5 if employees < 100",
                             "v: +2 per page_view, max 10"))
    # a (30) excludes b and c; b (20) and c (5) can hold together: 30 + 10 beats 25 + 10.
    assert score_ranges(checked)["s"] == (0.0, 40.0)


def test_a_rule_without_max_leaves_the_score_unbounded_and_labels_reachable():
    text = block("v: +2 per page_view") + "segment g {\n  A if s >= 1000\n}\n"
    checked = _checked(text)
    assert score_ranges(checked)["s"][1] == float("inf")
    assert usage_warnings(checked) == [] or all(d.code != "LS515" for d in usage_warnings(checked))


def test_lowest_possible_value_makes_a_label_unreachable():
    text = block("clamp 0..50", "v: +5 per page_view") + \
        "score total = s * 2\nsegment g {\n  low if total < 0\n  high if total > 100\n  mid otherwise\n}\n"
    checked = _checked(text)
    assert score_ranges(checked)["total"] == (0.0, 100.0)
    assert [d.message.split("`")[1] for d in usage_warnings(checked) if d.code == "LS515"] == \
        ["low", "high"]


_ACME = leadscore.load(str(ACME_DIR / "scoring.score"))
_ACME_RANGES = score_ranges(load_ruleset(str(ACME_DIR / "scoring.score")).checked)
ACME_INDUSTRIES = ["Financial Services", "Professional Services", "Consulting", "Manufacturing",
                   "Software", "Retail", None]


@settings(max_examples=150, deadline=None)
@given(industry=st.sampled_from(ACME_INDUSTRIES),
       employees=st.one_of(st.none(), st.integers(0, 20_000)),
       title=st.sampled_from([None, "VP Sales", "Head of Ops", "intern"]),
       role=st.sampled_from([None, "buyer", "end_user"]),
       country=st.sampled_from([None, "US", "FR"]),
       tech=st.sampled_from([None, ["salesforce"], ["hubspot"]]),
       email=st.sampled_from([None, "a@gmail.com", "a@bank.com"]),
       bant=st.tuples(st.booleans(), st.booleans(), st.booleans(),
                      st.one_of(st.none(), st.integers(0, 400))))
def test_every_acme_lead_scores_inside_the_computed_ranges(industry, employees, title, role,
                                                             country, tech, email, bant):
    lead = {"lead_id": "x", "industry": industry, "employees": employees, "job_title": title,
            "role": role, "country": country, "tech": tech, "email": email,
            "has_budget": bant[0], "is_decision_maker": bant[1], "need_confirmed": bant[2],
            "timeline_days": bant[3]}
    result = _ACME.interpret().score(lead, [], AS_OF)
    for name, (low, high) in _ACME_RANGES.items():
        assert low <= result.scores[name] <= high, (name, result.scores[name])


KEYWORDS = sorted(text for text in terminal_patterns().values() if text.isidentifier())


@settings(max_examples=200, deadline=None)
@given(keyword=st.sampled_from(KEYWORDS + ["contains", "starts_with", "ends_with", "day", "week"]),
       suffix=st.from_regex(r"[A-Za-z0-9_]{1,6}", fullmatch=True))
def test_a_name_beginning_with_a_keyword_is_one_name(keyword, suffix):
    name = keyword + suffix
    # After a complete condition: the error names the whole word.
    _, joined = parse(block(f"r: +1 if employees > 1 {name} > 2"), "f.score")
    assert [d.code for d in joined] == ["LS100"] and f"`{name}`" in joined[0].message
    # Where a name is expected, it is read whole.
    ruleset, clean = parse(block(f"r: +1 if employees > 1 and {name} > 2"), "f.score")
    assert clean == []
    rule = ruleset.statements[-1].items[0]
    assert rule.condition.operands[1].left.name == name


def test_caret_stands_under_the_character_after_wide_ones(tmp_path):
    # `日本` takes four terminal columns, not two: the caret under `＞` moves two further.
    line = 'r: +1 if country == "\u65e5\u672c" \uff1e 1'
    path = write_ruleset(tmp_path, block(line))
    output = CliRunner().invoke(main, ["check", str(path)]).output.splitlines()
    source = output.index("    " + line)
    assert output[source + 1] == "  " + " " * (2 + line.index("\uff1e") + 2) + "^"

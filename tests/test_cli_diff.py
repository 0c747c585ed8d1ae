"""`leadscore diff`: every kind of change, what is not a change (layout, comments, order,
spelling), the three output formats, exit codes, `--against REV` and bad input."""

from __future__ import annotations

import functools
import json
import random
import shutil
from dataclasses import fields, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt   # through rich; renders Markdown as GitHub does (GFM tables)

from leadscore.cli import main
from leadscore.dsl import ast
from leadscore.dsl.checker import check
from leadscore.dsl.formatter import format_ruleset, shape
from leadscore.dsl.parser import parse
from leadscore.dsl.schema import parse_schema
from leadscore.rulediff import Change, compare
from leadscore.rulediff.render import line, render_json, render_markdown, render_text

from helpers import ACME_DIR, ACME_SCHEMA, git, write_ruleset
from test_backend_agreement import rulesets

# The contract's example, inline so that edits to rulesets/acme cannot move what the
# hand-written cases expect.
BASE = """\
ruleset "acme-b2b" version 3
effective 2026-04-01
schema "schema.yaml"
const free_email_domains = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]
const mql_fit = 40
const mql_interest = 50
score fit {
  clamp 0..100
  enterprise_finance: +30 if industry == "Financial Services" and employees >= 5000
  director_title:     +10 if job_title matches /\\b(chief|vp|director|head)\\b/i
  uses_salesforce:    +10 if tech contains "salesforce"
  company_size: case {
    +7  if employees >= 1000
    +8  if employees >= 251
    +2  otherwise
  }
}
score interest {
  decay half_life 30d
  clamp 0..100
  inactivity after 60d: -5 every 7d
  pricing_page: +15 per page_view where url starts_with "/pricing", max 15
  email_click:  +2  per email_click, max 10
  email_open:   +1  per email_open within 30d, max 5
  demo_request: +50 per demo_request, decay none, max 50
  group social max 10 {
    social_click: +1 per social_click
    webinar:      +20 per webinar_attended
  }
}
score bant {
  budget: +20 if has_budget == true
}
score total = fit + interest
threshold mql: fit >= mql_fit and interest >= mql_interest
threshold sql: bant >= 75
segment priority {
  call_within_24h    if fit >= 50 and interest >= 50
  nurture            if fit >= 50
  low_cost_follow_up if interest >= 50
  remove             otherwise
}
"""

SCHEMA = parse_schema(ACME_SCHEMA, "schema.yaml")[0]
KEYS = ["kind", "section", "entity", "name", "field", "old", "new"]


def edited(*pairs: tuple[str, str], text: str = BASE) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


@functools.lru_cache(maxsize=None)   # syntax trees are immutable; the cases parse BASE often
def parsed(text: str, file: str = "x.score") -> ast.Ruleset:
    ruleset, diagnostics = parse(text, file)
    assert not [d for d in diagnostics if d.is_error], diagnostics
    return ruleset


def changes(old: str, new: str) -> list[tuple]:
    return [tuple(getattr(c, k) for k in KEYS) for c in compare(parsed(old), parsed(new))]


def run(*args: str):
    return CliRunner().invoke(main, ["diff", *args])


def files(folder: Path, new: str | bytes, old: str | bytes = BASE) -> tuple[str, str]:
    """OLD and NEW rule files (and the schema) in `folder`."""
    return (str(write_ruleset(folder, old, name="old.score")), str(write_ruleset(folder, new, name="new.score")))


# --- each kind of change ----------------------------------------------------------------------

def case(pairs, *expected):
    """(old text, new text, expected changes): the new text is BASE edited by `pairs`."""
    return BASE, edited(*pairs), list(expected)


SF = '  uses_salesforce:    +10 if tech contains "salesforce"\n'
BUDGET = "  budget: +20 if has_budget == true\n"
CLICK = "  email_click:  +2  per email_click, max 10\n"
SOCIAL = ("  group social max 10 {\n    social_click: +1 per social_click\n"
          "    webinar:      +20 per webinar_attended\n  }\n")
FIT, INTEREST, BANT = "score fit", "score interest", "score bant"
FINANCE, PRICING = 'industry == "Financial Services" and employees >= ', 'url starts_with "/pricing"'
BRANCHES = "+7 if employees >= 1000; +8 if employees >= 251; "

CASES = {
    "points": case([("+30 if industry", "+25 if industry")],
                   ("changed", FIT, "rule", "enterprise_finance", "points", "+30", "+25")),
    "condition": case([("employees >= 5000", "employees >= 1000")],
                      ("changed", FIT, "rule", "enterprise_finance", "condition", FINANCE + "5000", FINANCE + "1000")),
    "rule added": case([("  uses_salesforce:", "  `big one`: +5 if employees >= 10000\n  uses_salesforce:")],
                       ("added", FIT, "rule", "big one", None, None, "+5 if employees >= 10000")),
    "rule removed": case([(SF, "")], ("removed", FIT, "rule", "uses_salesforce", None, SF[22:-1], None)),
    "rule moved to another score": case([(SF, ""), (BUDGET, BUDGET + SF)],
                                        ("moved", BANT, "rule", "uses_salesforce", "score", "fit", "bant")),
    "moved and changed": case([(SF, ""), (BUDGET, BUDGET + SF.replace("+10", "+12"))],
                              ("moved", BANT, "rule", "uses_salesforce", "score", "fit", "bant"),
                              ("changed", BANT, "rule", "uses_salesforce", "points", "+10", "+12")),
    "rule moved into a group": case([(CLICK, ""), ("    webinar:", "  " + CLICK + "    webinar:")],
                                    ("moved", INTEREST, "rule", "email_click", "group", None, "social")),
    "rule moved out of a group": case([("    webinar:      +20 per webinar_attended\n", ""),
                                       (CLICK, CLICK + "  webinar: +20 per webinar_attended\n")],
                                      ("moved", INTEREST, "rule", "webinar", "group", "social", None)),
    "group limit": case([("group social max 10", "group social max 12")],
                        ("changed", INTEREST, "group", "social", "max", "10", "12")),
    "group added": case([(CLICK, "  group email max 12 {\n  " + CLICK + "  }\n")],
                        ("added", INTEREST, "group", "email", None, None, "max 12"),
                        ("moved", INTEREST, "rule", "email_click", "group", None, "email")),
    "group removed with its rules": case(
        [(SOCIAL, "")], ("removed", INTEREST, "group", "social", None, "max 10", None),
        ("removed", INTEREST, "rule", "social_click", None, "+1 per social_click (in group social)", None),
        ("removed", INTEREST, "rule", "webinar", None, "+20 per webinar_attended (in group social)", None)),
    "where": case([('"/pricing"', '"/pricing" or url == "/plans"')],
                  ("changed", INTEREST, "rule", "pricing_page", "where", PRICING, PRICING + ' or url == "/plans"')),
    "where added": case([("per email_click,", 'per email_click where campaign != "test",')],
                        ("changed", INTEREST, "rule", "email_click", "where", None, 'campaign != "test"')),
    "event": case([("per email_click,", "per email_open,")],
                  ("changed", INTEREST, "rule", "email_click", "event", "email_click", "email_open")),
    "within": case([("within 30d", "within 14d")],
                   ("changed", INTEREST, "rule", "email_open", "within", "30d", "14d")),
    "modifiers": case([("click, max 10", "click, max 8"), ("decay none", "decay linear 90d"),
                       ("per webinar_attended", "per webinar_attended, once"),
                       ("per social_click", "per social_click, at most 3 per day")],
                      ("changed", INTEREST, "rule", "email_click", "max", "10", "8"),
                      ("changed", INTEREST, "rule", "demo_request", "decay", "none", "linear 90d"),
                      ("changed", INTEREST, "rule", "social_click", "at most", None, "3 per day"),
                      ("changed", INTEREST, "rule", "webinar", "once", "no", "yes")),
    "rule kind": case([(BUDGET, "  budget: +20 per demo_request\n")],
                      ("changed", BANT, "rule", "budget", "definition", "+20 if has_budget == true", "+20 per demo_request")),
    "case branches added": case([("    +2  otherwise", "    +4  if employees >= 11\n    +2  otherwise")],
                                ("changed", FIT, "rule", "company_size", "branches", BRANCHES + "+2 otherwise",
                                 BRANCHES + "+4 if employees >= 11; +2 otherwise")),
    "case branches swapped": case(
        [("    +7  if employees >= 1000\n    +8  if employees >= 251\n",
          "    +8  if employees >= 251\n    +7  if employees >= 1000\n")],
        ("changed", FIT, "rule", "company_size", "branch 1 points", "+7", "+8"),
        ("changed", FIT, "rule", "company_size", "branch 1 condition", "employees >= 1000", "employees >= 251"),
        ("changed", FIT, "rule", "company_size", "branch 2 points", "+8", "+7"),
        ("changed", FIT, "rule", "company_size", "branch 2 condition", "employees >= 251", "employees >= 1000")),
    "score decay": case([("decay half_life 30d", "decay steps { 30d: 50%, 90d: 0% }")],
                        ("changed", INTEREST, "option", "decay", None, "half_life 30d", "steps { 30d: 50%, 90d: 0% }")),
    "inactivity removed, clamp added": case(
        [("  inactivity after 60d: -5 every 7d\n", ""), ("score bant {\n", "score bant {\n  clamp ..100\n")],
        ("removed", INTEREST, "option", "inactivity", None, "after 60d: -5 every 7d", None),
        ("added", BANT, "option", "clamp", None, None, "..100")),
    "clamp and inactivity": case([("  clamp 0..100\n  enterprise", "  clamp 0..\n  enterprise"),
                                  ("-5 every 7d", "-5 every 14d")],
                                 ("changed", FIT, "option", "clamp", None, "0..100", "0.."),
                                 ("changed", INTEREST, "option", "inactivity", None, "after 60d: -5 every 7d",
                                  "after 60d: -5 every 14d")),
    "constant value": case([("const mql_fit = 40", "const mql_fit = 45")],
                           ("changed", "constants", "constant", "mql_fit", None, "40", "45")),
    "constant added and removed": case(
        [("const mql_interest = 50\n", "const bonus = 5\n"), ("interest >= mql_interest", "interest >= 50")],
        ("added", "constants", "constant", "bonus", None, None, "5"),
        ("removed", "constants", "constant", "mql_interest", None, "50", None),
        ("changed", "threshold mql", "threshold", "mql", "condition", "fit >= mql_fit and interest >= mql_interest",
         "fit >= mql_fit and interest >= 50")),
    "list items": case([('"yahoo.com", ', ""), ('"outlook.com"]', '"outlook.com", "proton.me"]')],
                       ("removed", "constants", "list item", "free_email_domains", None, '"yahoo.com"', None),
                       ("added", "constants", "list item", "free_email_domains", None, None, '"proton.me"')),
    "derived score": case([("= fit + interest", "= fit + interest + bant")],
                          ("changed", "score total", "score", "total", "expression", "fit + interest",
                           "fit + interest + bant")),
    "threshold": case([("bant >= 75", "bant >= 80")],
                      ("changed", "threshold sql", "threshold", "sql", "condition", "bant >= 75", "bant >= 80")),
    "thresholds added and removed": case([("threshold sql: bant >= 75", "threshold hot: total >= 150")],
                                         ("added", "threshold hot", "threshold", "hot", None, None, "total >= 150"),
                                         ("removed", "threshold sql", "threshold", "sql", None, "bant >= 75", None)),
    "score and segment added": case(
        [("score total", "score engagement {\n  reg: +5 per webinar_registered\n}\nsegment tier {\n  top otherwise\n}\n"
                         "score total")],
        ("added", "score engagement", "score", "engagement", None, None, None),
        ("added", "score engagement", "rule", "reg", None, None, "+5 per webinar_registered"),
        ("added", "segment tier", "segment", "tier", None, None, None),
        ("added", "segment tier", "label", "top", None, None, "otherwise")),
    "score removed": case([("score bant {\n" + BUDGET + "}\n", ""), ("bant >= 75", "total >= 75")],
                          ("changed", "threshold sql", "threshold", "sql", "condition", "bant >= 75", "total >= 75"),
                          ("removed", BANT, "score", "bant", None, None, None),
                          ("removed", BANT, "rule", "budget", None, "+20 if has_budget == true", None)),
    "segment labels": case([("nurture            if fit >= 50", "nurture            if fit >= 60"),
                            ("remove             otherwise", "remove             if fit < 10"),
                            ("  low_cost_follow_up if interest >= 50\n", "  hot if fit >= 90\n")],
                           ("changed", "segment priority", "label", "nurture", "condition", "fit >= 50", "fit >= 60"),
                           ("added", "segment priority", "label", "hot", None, None, "if fit >= 90"),
                           ("changed", "segment priority", "label", "remove", "condition", "otherwise", "fit < 10"),
                           ("removed", "segment priority", "label", "low_cost_follow_up", None, "if interest >= 50",
                            None)),
    "segment order": case([("  nurture            if fit >= 50\n  low_cost_follow_up if interest >= 50\n",
                            "  low_cost_follow_up if interest >= 50\n  nurture            if fit >= 50\n")],
                          ("changed", "segment priority", "segment", "priority", "order",
                           "call_within_24h, nurture, low_cost_follow_up, remove",
                           "call_within_24h, low_cost_follow_up, nurture, remove")),
    "header": case([('"acme-b2b" version 3', '"acme" version "3.1"'), ("effective 2026-04-01\n", ""),
                    ('schema "schema.yaml"', 'schema "./schema.yaml"')],
                   ("changed", "header", "header", "ruleset", None, '"acme-b2b"', '"acme"'),
                   ("changed", "header", "header", "version", None, "3", '"3.1"'),
                   ("removed", "header", "header", "effective", None, "2026-04-01", None),
                   ("changed", "header", "header", "schema", None, '"schema.yaml"', '"./schema.yaml"')),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_of_change_and_its_mirror_image(name):
    old, new, expected = CASES[name]
    for text in (old, new):   # every case is a ruleset that checks
        assert check(parsed(text), SCHEMA)[0] is not None, [d.message for d in check(parsed(text), SCHEMA)[1]]
    assert changes(old, new) == expected
    mirror = {"added": "removed", "removed": "added"}   # a move is listed under its new score
    back = sorted(((mirror.get(c[0], c[0]), *c[2:5], c[6], c[5]) for c in changes(new, old)), key=repr)
    assert back == sorted((c[:1] + c[2:] for c in expected), key=repr)


def test_text_lines_read_as_plain_words():
    expected = {
        "points": ["score fit: rule enterprise_finance: points +30 → +25"],
        "rule added": ["score fit: added rule `big one`: +5 if employees >= 10000"],
        "rule removed": ['score fit: removed rule uses_salesforce: +10 if tech contains "salesforce"'],
        "rule moved to another score": ["score bant: rule uses_salesforce: moved from score fit to score bant"],
        "rule moved into a group": ["score interest: rule email_click: moved into group social"],
        "rule moved out of a group": ["score interest: rule webinar: moved out of group social"],
        "where added": ['score interest: rule email_click: where (none) → campaign != "test"'],
        "constant value": ["constants: mql_fit 40 → 45"],
        "list items": ['constants: free_email_domains: removed item "yahoo.com"',
                       'constants: free_email_domains: added item "proton.me"'],
        "thresholds added and removed": ["threshold hot: added: total >= 150", "threshold sql: removed: bant >= 75"],
        "threshold": ["threshold sql: condition bant >= 75 → bant >= 80"],
        "score and segment added": ["score engagement: added",
                                    "score engagement: added rule reg: +5 per webinar_registered",
                                    "segment tier: added", "segment tier: added label top: otherwise"],
        "score decay": ["score interest: option decay half_life 30d → steps { 30d: 50%, 90d: 0% }"],
    }
    for name, lines in expected.items():
        assert [line(c) for c in compare(parsed(CASES[name][0]), parsed(CASES[name][1]))] == lines


# --- what is not a change --------------------------------------------------------------------------

@pytest.mark.parametrize("old, new", [
    ("employees >= 5000", "employees >= 5_000"), ("within 30d", "within 720h"), ("every 7d", "every 1w"),
    ("enterprise_finance:", "`enterprise_finance`:"), ("fit >= mql_fit", "`fit` >= mql_fit"),
    ('"gmail.com", "yahoo.com"', '"yahoo.com", "gmail.com"'), ("click, max 10", "click , max 10.0"),
    ("effective 2026-04-01", "effective 2026-04-01T00:00:00Z"), ('"salesforce"', '"sales\\u0066orce"'),
    ("effective 2026-04-01", "effective 2026-04-01T02:00:00+02:00"), ("decay none, max 50", "max 50, decay none"),
    ("fit >= mql_fit and interest >= mql_interest", "(fit >= mql_fit) and (interest >= mql_interest)"),
    ("call_within_24h    if fit >= 50 and interest >= 50", "call_within_24h if (fit >= 50 and interest >= 50)"),
])
def test_spellings_of_one_value_are_not_changes(old, new):
    assert changes(BASE, edited((old, new))) == []


def test_and_or_nesting_is_not_a_change():
    old = 'ruleset "r" version 1\nthreshold t: (a and b) and (c or (d or e))\n'
    assert changes(old, old.replace("(a and b) and (c or (d or e))", "a and (b and (c or d or e))")) == []
    assert changes(old, old.replace("(a and b) and", "(a or b) and"))


def _shuffled(ruleset: ast.Ruleset, pick) -> ast.Ruleset:
    """The ruleset with the order the language leaves free rearranged by `pick`
    (which permutes a list), and without comments."""
    def items(seq):
        return tuple(pick([replace(i, rules=items(i.rules)) if isinstance(i, ast.Group) else
                           replace(i, modifiers=tuple(pick(list(i.modifiers)))) if isinstance(i, ast.EventRule)
                           else i for i in seq]))

    head = [s for s in ruleset.statements if isinstance(s, (ast.RulesetHeader, ast.EffectiveHeader,
                                                               ast.SchemaHeader))]
    body = [replace(s, items=items(s.items)) if isinstance(s, ast.ScoreBlock) else s
            for s in ruleset.statements if s not in head]
    return replace(ruleset, statements=tuple(head + pick(body)), comments=())


def _decorated(text: str, choose) -> str:
    """Comments, indentation, blank lines and continuation lines, as `choose(n)` (0..n-1) says."""
    out = []
    for i, line_ in enumerate(text.split("\n")):
        if choose(4) == 0:
            out.append(f"   # note {i}")
        if choose(5) == 0:
            out.append("")
        if " and " in line_ and choose(2):
            line_ = line_.replace(" and ", "\n        and ", 1)
        if line_.strip() and choose(3) == 0:
            line_ += f"  # trailing {i} | `x`"
        out.append(" " * choose(4) + line_.lstrip() if line_.strip() else line_)
    return "\n".join(out)


def test_shipped_acme_reformatted_reordered_and_commented_is_no_change(tmp_path):
    original = (ACME_DIR / "scoring.score").read_text(encoding="utf-8")
    counter = iter(range(10**6))
    variant = _decorated(format_ruleset(_shuffled(parsed(original), lambda seq: seq[::-1])),
                         lambda n: next(counter) % n)
    assert variant != original
    old, new = files(tmp_path, variant, old=original)
    shutil.copy(ACME_DIR / "schema.yaml", tmp_path / "schema.yaml")
    for output_format, expected in (("text", "no semantic changes\n"),
                                    ("json", '{\n  "new_ruleset": false,\n  "changes": [],\n  "schema": []\n}\n')):
        result = run(old, new, "--format", output_format)
        assert (result.exit_code, result.stdout) == (0, expected), result.output
    result = run(old, new, "--format", "markdown")
    assert result.exit_code == 0 and "**no semantic changes**" in result.stdout and "|" not in result.stdout


# --- properties ---------------------------------------------------------------------------------

GENERATED_HEADER = 'ruleset "r" version 1\nschema "s.yaml"\n'


def _canonical(ruleset: ast.Ruleset) -> list[str]:
    """The syntax tree ignoring spans (the formatter's `shape`), comments and the order the
    language leaves free: declarations, rules and options in a score, rules in a group, modifiers."""
    def by_shape(nodes: list) -> list:
        return sorted(nodes, key=lambda node: repr(shape(node)))

    return by_shape([shape(s) for s in _shuffled(ruleset, by_shape).statements])


def _edit_rule(block: ast.ScoreBlock, name: str, edit) -> ast.ScoreBlock:
    """The block with the rule `name` replaced by `edit(rule)`, or left out when that is None."""
    def items(seq):
        out = [replace(i, rules=items(i.rules)) if isinstance(i, ast.Group) else
               edit(i) if isinstance(i, (ast.ConditionRule, ast.CaseRule, ast.EventRule)) and i.name.name == name
               else i for i in seq]
        return tuple(i for i in out if i is not None)
    return replace(block, items=items(block.items))


def _mutate(ruleset: ast.Ruleset, draw) -> ast.Ruleset:
    """One random edit: most change the meaning, some only the order, and some may by chance
    write what was there (the canonical comparison tells which)."""
    statements = list(ruleset.statements)
    at = next(i for i, s in enumerate(statements) if isinstance(s, ast.ScoreBlock))
    block = statements[at]
    name = draw(st.sampled_from([r.name.name for r in ast.rules_of(block)] or ["no_rule_left"]))
    value = draw(st.sampled_from([1, 4, 5, 12.5, 20]))

    def points(p: ast.Points) -> ast.Points:
        return ast.Points(1, ast.Number(float(value), f"{value:g}", p.span), p.span)

    def first_branch(r):
        return replace(r, branches=(replace(r.branches[0], points=points(r.branches[0].points)), *r.branches[1:]))

    def ungroup(b):
        found, rest = [r for r in ast.rules_of(b) if r.name.name == name], _edit_rule(b, name, lambda r: None)
        return replace(rest, items=(*rest.items, *found))

    event, case_ = ast.EventRule, ast.CaseRule
    rules = {
        "points": lambda r: first_branch(r) if isinstance(r, case_) else replace(r, points=points(r.points)),
        "drop": lambda r: None,
        "rename": lambda r: replace(r, name=replace(r.name, name=name + "_x", text=name + "_x")),
        "modifier": lambda r: replace(r, modifiers=r.modifiers[1:]) if isinstance(r, event) else r,
        "where": lambda r: replace(r, where=None) if isinstance(r, event) else r,
        "branches": lambda r: replace(r, branches=r.branches[::-1]) if isinstance(r, case_) else r,
    }
    blocks = {"ungroup": ungroup, "order": lambda b: replace(b, items=b.items[::-1]),
              "option": lambda b: replace(b, items=tuple(i for i in b.items if not isinstance(i, ast.ClampOption)))}
    what = draw(st.sampled_from([*rules, *blocks, "threshold", "constant", "labels"]))
    statements[at] = _edit_rule(block, name, rules[what]) if what in rules else blocks.get(what, lambda b: b)(block)
    for i, s in enumerate(statements):
        if what == "threshold" and isinstance(s, ast.Threshold) and s.name.name == "hot":
            statements[i] = replace(s, condition=parsed(f'ruleset "x" version 1\nthreshold t: a >= {value:g}\n')
                                    .declarations[0].condition)
        elif what == "constant" and isinstance(s, ast.ConstDecl):
            statements[i] = replace(s, value=ast.Number(float(value), f"{value:g}", s.value.span))
        elif what == "labels" and isinstance(s, ast.Segment):
            statements[i] = replace(s, labels=(s.labels[1], s.labels[0], *s.labels[2:]))
    return replace(ruleset, statements=tuple(statements))


@settings(max_examples=100, deadline=None)
@given(body=rulesets(), data=st.data())
def test_layout_order_and_comments_never_change_anything(body, data):
    original = parsed(GENERATED_HEADER + body)
    rng = random.Random(data.draw(st.integers(0, 2**32)))

    def pick(seq):
        return data.draw(st.permutations(seq)) if len(seq) > 1 else seq

    variant = parsed(_decorated(format_ruleset(_shuffled(original, pick)), rng.randrange))
    assert compare(original, variant) == ()
    assert compare(variant, original) == ()


@settings(max_examples=150, deadline=None)
@given(body=rulesets(), data=st.data())
def test_a_diff_is_empty_exactly_when_the_trees_mean_the_same(body, data):
    before = parsed(GENERATED_HEADER + body)
    after = before
    for _ in range(data.draw(st.integers(1, 3))):
        after = _mutate(after, data.draw)
    found = compare(before, after)
    assert bool(found) == (_canonical(before) != _canonical(after))
    assert bool(compare(after, before)) == bool(found)
    # Every change renders in every format.
    assert render_text(found).count("\n") == max(1, len(found))
    assert len(json.loads(render_json(found))["changes"]) == len(found)
    assert len(_table_rows(render_markdown(found, "a", "b"))) == len(found)


# --- output formats ------------------------------------------------------------------------------

def _table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the Markdown table as GitHub reads it (GFM tables): the text of each
    cell, `<code>` tags left out."""
    rows: list[list[str]] = []
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append("".join(c.content for c in token.children or [] if c.type != "html_inline"))
    return rows[1:]   # without the header row


def test_json_and_markdown(tmp_path):
    old, new = files(tmp_path, edited(("+30 if industry", "+25 if industry"), ("threshold sql: bant >= 75\n", "")))
    result = run(old, new, "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["changes"] == [
        {"kind": "changed", "section": "score fit", "entity": "rule", "name": "enterprise_finance",
         "field": "points", "old": "+30", "new": "+25"},
        {"kind": "removed", "section": "threshold sql", "entity": "threshold", "name": "sql",
         "field": None, "old": "bant >= 75", "new": None}]
    assert [f.name for f in fields(Change)] == KEYS
    result = run(old, new, "--format", "markdown")
    assert result.exit_code == 1 and "**2 changes: 1 removed, 1 changed**" in result.stdout
    assert _table_rows(result.stdout) == [["changed", "score fit", "rule enterprise_finance: points", "+30", "+25"],
                                          ["removed", "threshold sql", "threshold", "bant >= 75", ""]]


@pytest.mark.parametrize("text", ['a|b', 'a`b', '``x|`', 'x\\|y', '<b>@here</b> *bold* [l](u)', '`', ' |'])
def test_markdown_cells_keep_user_text_exactly(text):
    change = Change("changed", "score fit", "rule", text, "points", text, "plain")
    rows = _table_rows(render_markdown([change], "a|b.score", "b.score"))
    assert rows == [["changed", "score fit", f"rule {text}: points", text, "plain"]]


def test_markdown_user_text_is_never_markup(tmp_path):
    old, new = files(tmp_path, edited(('"salesforce"', '"<script>|`x` @team"'), ("matches /", "matches /\\|")))
    result = run(old, new, "--format", "markdown")
    assert result.exit_code == 1
    html = MarkdownIt("commonmark").enable("table").render(result.stdout)
    assert "<script>" not in html and "&lt;script&gt;|`x` @team" in html
    cells = [row[3:] for row in _table_rows(result.stdout)]
    assert ['tech contains "salesforce"', 'tech contains "<script>|`x` @team"'] in cells
    assert [r"job_title matches /\b(chief|vp|director|head)\b/i",
            r"job_title matches /\|\b(chief|vp|director|head)\b/i"] in cells


def test_text_output_shows_control_characters_as_escapes(tmp_path):
    result = run(*files(tmp_path, edited(('"salesforce"', '"sales\x1b[2Jforce\u202e"'))))
    assert result.exit_code == 1
    assert result.stdout == ('score fit: rule uses_salesforce: condition tech contains "salesforce" → '
                             'tech contains "sales\\x1b[2Jforce\\u202e"\n')


def test_output_file_format_from_its_extension(tmp_path):
    old, new = files(tmp_path, edited(("const mql_fit = 40", "const mql_fit = 45")))
    for name, check_text in (("d.json", lambda t: json.loads(t)["changes"][0]["name"] == "mql_fit"),
                             ("d.md", lambda t: t.startswith("### leadscore diff")),
                             ("d.txt", lambda t: t == "constants: mql_fit 40 → 45\n")):
        result = run(old, new, "-o", str(tmp_path / name))
        assert (result.exit_code, result.stdout) == (1, "")
        assert check_text((tmp_path / name).read_text(encoding="utf-8"))
    run(old, new, "-o", str(tmp_path / "d.md"), "--format", "json")
    assert json.loads((tmp_path / "d.md").read_text(encoding="utf-8"))["changes"][0]["new"] == "45"


# --- --against REV --------------------------------------------------------------------------------

@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    folder = tmp_path / "repo"
    write_ruleset(folder / "rules", BASE, name="scoring.score")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        git(folder, *args)
    return folder


def test_against_a_revision_with_its_own_schema(repo):
    path = repo / "rules" / "scoring.score"
    result = run(str(path), "--against", "HEAD")
    assert (result.exit_code, result.stdout) == (0, "no semantic changes\n")
    # The new rule uses an event the committed schema lacks: the old side still checks.
    (repo / "rules" / "schema.yaml").write_text(ACME_SCHEMA + "  trial_started: {}\n", encoding="utf-8")
    path.write_text(edited(("+30 if", "+25 if"), ("  budget:", "  trial: +15 per trial_started\n  budget:")))
    result = run(str(path), "--against", "HEAD")
    assert (result.exit_code, result.stdout) == (1, "score fit: rule enterprise_finance: points +30 → +25\n"
                                                    "score bant: added rule trial: +15 per trial_started\n"
                                                    "schema: added event trial_started\n")
    result = run(str(path), "--against", "HEAD", "--format", "markdown")
    assert f"`{path}@HEAD` → `{path}`" in result.stdout


def test_against_a_revision_with_errors_shows_them(repo):
    path = repo / "rules" / "scoring.score"
    path.write_text(edited(("employees >= 5000", "employes >= 5000")), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "typo")
    path.write_text(BASE, encoding="utf-8")
    result = run(str(path), "--against", "HEAD")
    assert result.exit_code == 2 and result.stdout == ""
    at = next(i for i, text in enumerate(BASE.splitlines(), 1) if "employees >= 5000" in text)
    assert f"{path}@HEAD:{at}:" in result.stderr and "error[LS300]" in result.stderr
    assert "Traceback" not in result.output


def test_against_usage_errors(repo, tmp_path):
    path = str(repo / "rules" / "scoring.score")
    outside = str(write_ruleset(tmp_path / "elsewhere", BASE))
    for args in ([path, "--against", "no-such-rev"], [path, "--against", "--all"], [path, path, "--against", "HEAD"],
                 [outside, "--against", "HEAD"]):
        result = run(*args)
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output


# --- exit codes and bad input ----------------------------------------------------------------------

def test_exit_codes(tmp_path):
    old, new = files(tmp_path, edited(("const mql_fit = 40", "const mql_fit = 45")))
    assert run(old, old).exit_code == 0
    assert run(old, new).exit_code == 1
    assert run(old).exit_code == 2                       # one file, no --against
    assert run(old, str(tmp_path / "nope.score")).exit_code == 2
    assert run(old, new, "--format", "yaml").exit_code == 2
    assert run().exit_code == 2


def test_syntax_errors_print_diagnostics_and_exit_2(tmp_path):
    old, bad = files(tmp_path, BASE.replace("  budget: +20 if has_budget == true", "  budget: +20 if\n  x: 3 3"))
    result = run(old, bad)
    assert (result.exit_code, result.stdout, type(result.exception)) == (2, "", SystemExit)
    check_output = CliRunner().invoke(main, ["check", bad]).stdout
    assert [x for x in check_output.splitlines() if "error[" in x] == \
        [x for x in result.stderr.splitlines() if "error[" in x] != []
    assert f"{bad}: " in result.stderr and "Traceback" not in result.output


def test_both_sides_failing_show_both(tmp_path):
    old, new = files(tmp_path, b"\xff\xfe not text", old=BASE.replace("mql_fit = 40", "mql_fit = "))
    result = run(old, new)
    assert result.exit_code == 2 and f"{old}:5:" in result.stderr and f"{new}:1:1: error[LS110]" in result.stderr


def test_schema_outside_needs_the_flag(tmp_path):
    (tmp_path / "schema.yaml").write_text(ACME_SCHEMA, encoding="utf-8")
    inner = tmp_path / "inner"
    text = BASE.replace('schema "schema.yaml"', 'schema "../schema.yaml"')
    old, new = files(inner, text.replace("mql_fit = 40", "mql_fit = 45"), old=text)
    (inner / "schema.yaml").unlink()
    result = run(old, new)
    assert result.exit_code == 2 and "LS603" in result.stderr
    assert run(old, new, "--allow-schema-outside").exit_code == 1

"""Every example of LANGUAGE.md parses with no syntax error and checks clean
against a schema that declares what it uses; the acme ruleset checks clean.

The snippets are copied here (the tests do not read the spec). Each one is
wrapped in a valid header, lines 1-2, and whatever declarations it refers to.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from leadscore.cli import main
from leadscore.dsl.checker import check
from leadscore.dsl.parser import parse
from leadscore.dsl.schema import parse_schema
from leadscore.loader import load_ruleset

from helpers import ACME_DIR, HEADER, load, where

# The §7 example schema, plus what the other examples use: a field with a
# space in its name, fields named like keywords (`day`, `week`), and `x`.
SCHEMA = """\
lead:
  id: lead_id
  created: created_at
  fields:
    industry: {type: string, values: [Financial Services, Manufacturing, Consulting]}
    employees: number
    email: {type: string}
    tech: {type: list}
    created_at: {type: datetime}
    job_title: string
    country: string
    Lead Source: {type: string, values: [Webinar, Organic, Paid]}
    day: number
    week: string
    group: string
    x: number
    y: number
events:
  page_view: {properties: {url: string}}
  email_open: {properties: {campaign: string}}
  email_click: {}
  unsubscribe: {}
  content_download: {}
  demo_request: {}
"""

# The §4 score blocks use these constants and each other's scores.
FIT = """\
const free_email_domains = ["gmail.com", "yahoo.com"]

score fit {
  enterprise_finance: +30 if industry == "Financial Services" and employees >= 5000
  free_email:         -25 if domain(email) in free_email_domains
  company_size: case {
    +7  if employees >= 1000
    +10 if employees >= 51
    +2  otherwise
  }
}
"""

INTEREST = """\
score interest {
  decay half_life 30d
  site_visit:   +1  per page_view, max 20
  pricing_page: +15 per page_view where url starts_with "/pricing", max 15
  email_open:   +2  per email_open within 30d, max 10
  unsubscribed: -40 per unsubscribe, decay none
  binge_reader: +25 if count(content_download within 30d) >= 10
}
"""

EXAMPLES = {
    # §2.1: a rule continued on the next line, which starts with `and`.
    "continuation": """\
score fit {
  enterprise_finance: +30 if industry == "Financial Services"
                         and employees >= 5000
}
""",
    "continuation-after-and": """\
score fit {
  enterprise_finance: +30 if industry == "Financial Services" and
                             employees >= 5000 or
                             employees >= 10_000
}
""",
    "continuation-inside-brackets": """\
score fit {
  consultancy: +5 if industry in [
      "Consulting",
      "Manufacturing",
  ]
  big: +1 if max(employees,
                 x) > 10
}
""",
    # §4: the two score blocks.
    "score-fit": FIT,
    "score-interest": INTEREST,
    # §4 Groups.
    "group": """\
score interest {
  group email max 15 {
    email_open:  +1 per email_open
    email_click: +3 per email_click
  }
}
""",
    "group-of-every-kind": """\
const cap = 15
score interest {
  group everything max cap {
    opened:  +1 per email_open where campaign == "spring", max 5
    big:     +3 if employees > 100
    size: case {
      +2 if employees > 10
      +1 otherwise
    }
  }
}
""",
    # §4.1 options and §4.2 decay forms.
    "decay-forms": """\
score interest {
  decay linear 90d
  clamp 0..100
  inactivity after 60d: -5 every 7d
  a: +1 per page_view, decay none
  b: +1 per page_view, decay half_life 30d
  c: +1 per page_view, decay linear 12w
  d: +1 per page_view, decay steps { 30d: 75%, 90d: 50%, 365d: 0% }
  e: +1 per page_view, decay steps {
       12h: 100%,
       30d: 50%,
     }
}
""",
    "decay-with-constants": """\
const half = 30d
const pts = 5
const cap = 20
const low = -5
score interest {
  decay half_life half
  clamp low..cap
  inactivity after half: -pts every 1w
  a: +pts per page_view within half, max cap, at most 3 per day
  b: -pts per unsubscribe, once
  c: +1 per email_open, at most 2 per week, decay linear half
}
""",
    "clamp-open-ends": """\
score a {
  clamp 0..
}
score b {
  clamp ..100
}
score c {
  clamp -5..
}
score d {
  clamp -10..-5
}
""",
    # §6.
    "threshold-and-segment": FIT + INTEREST + """\
const mql_fit = 40
const mql_interest = 50

threshold mql: fit >= mql_fit and interest >= mql_interest

segment priority {
  call_within_24h    if fit >= 50 and interest >= 50
  nurture            if fit >= 50
  low_cost_follow_up if interest >= 50
  remove             otherwise
}

threshold nurture_only: priority == "nurture" and mql
score total = fit + interest
""",
    # §3 file structure: effective, string version (the header is added below).
    "declarations-in-any-order": """\
threshold hot: total >= 10
score total = fit * 2
score fit {
  a: +1 if employees > 1
}
const unused = "x"
""",
    # §5 expressions.
    "days-since": """\
score s {
  young:  +5 if days_since(created_at) < 30
  demo:   +5 if days_since(demo_request) <= 7
  recent: +5 if days_since(page_view where url contains "pricing") < 1.5
}
""",
    "back-quoted-names": """\
score s {
  webinar: +5 if `Lead Source` == "Webinar"
  `odd name`: +1 if `employees` > 1
  grouped: +1 if `group` == "x"
}
""",
    "max-call-and-max-modifier": """\
score s {
  bigger: +1 if max(employees, x) > 10 and min(x, y, 3) < 2
  visits: +1 per page_view, max 20
}
""",
    "fields-named-like-keywords": """\
score s {
  weekday: +1 if day == 3
  weekly:  +1 if week == "W1"
  capped:  +1 per page_view, at most 2 per day
}
""",
    "missing-and-membership": """\
score s {
  known:    +1 if email is not missing
  present:  +1 if email is present
  unknown:  -1 if country is missing
  foreign:  +1 if country not in ["US", "CA"]
  included: +1 if country in ["US", "CA",]
  stack:    +1 if tech contains "salesforce" and not (employees < 10)
}
""",
    "qualified-names": """\
score s {
  pricing: +1 per page_view where event.url starts_with "/pricing" and lead.x > 1
  deep:    +1 if count(page_view where event.url ends_with "/demo" and lead.employees > 5) >= 1
}
""",
    "dates": """\
const launch = 2026-04-01
const at_nine = 2026-04-01T09:00:00Z
const in_paris = 2026-04-01T09:00:00+02:00
const in_ny = 2026-04-01T09:00:00-05:00
const compact = 2026-04-01T09:00:00.250+0530
score s {
  late: +1 if created_at >= launch and created_at < 2026-12-31T23:59:59Z
}
""",
    "numbers": """\
const big = 5_000
const ratio = 2.5
const neg = -5
const list = [1, 2.5, -3, 4_000,]
score s {
  a: +1 if employees >= big and employees / 3 * ratio - 1 > -neg
  b: +1 if employees in list
}
""",
    "regex": """\
const pattern = "^v(p|ice)"
score s {
  title: +10 if job_title matches /\\b(chief|vp|director)\\b/i
  hash:  +1  if job_title matches /#1|no\\.#2/   # this comment follows the regex
  slash: +1  if job_title matches /a\\/b/
  named: +1  if job_title matches pattern
}
""",
    "strings-and-escapes": """\
const s1 = "Financial Services"
const s2 = "quote \\" backslash \\\\ newline \\n tab \\t e-acute \\u00e9"
score s {
  a: +1 if lower(job_title) == "vp" or upper(country) == "US"
  b: +1 if len(email) > 3 and len(tech) >= 2
  c: +1 if domain(email) ends_with ".com"
}
""",
    "comments-everywhere": """\
# a comment line
const a = 1   # trailing
score s {     # after a brace
  # inside a block
  r: +a if employees > 1   # after a rule
}
""",
}


@pytest.fixture(scope="module")
def schema():
    parsed, diagnostics = parse_schema(SCHEMA, "schema.yaml")
    assert diagnostics == []
    return parsed


@pytest.mark.parametrize("body", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_example_parses_without_syntax_errors(body):
    ruleset, diagnostics = parse(HEADER + body, "example.score")
    assert where(diagnostics) == []
    assert len(ruleset.statements) >= 3


@pytest.mark.parametrize("body", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_example_checks_clean(body, schema):
    ruleset, _ = parse(HEADER + body, "example.score")
    checked, diagnostics = check(ruleset, schema)
    assert where(diagnostics) == []
    assert checked is not None


@pytest.mark.parametrize("body", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_example_loads_clean_from_disk(tmp_path, body):
    loaded = load(tmp_path, HEADER + body, SCHEMA)
    assert where(loaded.diagnostics) == []
    assert loaded.ok


def test_section_3_header(tmp_path):
    text = ('ruleset "acme-b2b" version 3        # required, first statement\n'
            "effective 2026-04-01                # optional\n"
            'schema "schema.yaml"                # required: path relative to this file\n')
    loaded = load(tmp_path, text, SCHEMA)
    assert where(loaded.diagnostics) == []
    assert loaded.checked.name == "acme-b2b"
    assert loaded.checked.version == "3"


def test_string_version(tmp_path):
    loaded = load(tmp_path, 'ruleset "x" version "2026.1-b"\nschema "schema.yaml"\n', SCHEMA)
    assert where(loaded.diagnostics) == []
    assert loaded.checked.version == "2026.1-b"


def test_hash_inside_a_regex_is_not_a_comment():
    text = HEADER + EXAMPLES["regex"]
    ruleset, diagnostics = parse(text, "example.score")
    assert diagnostics == []
    # The only comment is the one after the second regex, on line 6.
    line = text.splitlines()[5]
    assert line.lstrip().startswith("hash:")
    assert [(c.span.line, c.span.column) for c in ruleset.comments] == \
        [(6, line.index("# this") + 1)]


def test_keyword_names_where_no_keyword_is_expected():
    # In an expression no keyword is expected, so `group` is a plain name.
    _, diagnostics = parse(HEADER + 'score s {\n  r: +1 if group == "x"\n}\n', "f.score")
    assert diagnostics == []
    # At the start of a block item `group` opens a group: back-quote it to name a rule.
    _, bare = parse(HEADER + "score s {\n  group: +1 if employees > 1\n}\n", "f.score")
    assert where(bare) == [("LS100", 4, 8)]
    _, quoted = parse(HEADER + "score s {\n  `group`: +1 if employees > 1\n}\n", "f.score")
    assert quoted == []


def test_max_modifier_needs_a_number_not_a_call(schema):
    # `max(` is a call; after a per-event rule's comma, `max` is the modifier.
    _, diagnostics = parse(HEADER + "score s {\n  v: +1 per page_view, max (20)\n}\n", "f.score")
    assert [d.code for d in diagnostics] == ["LS100"]


# --- the acme example ------------------------------------------------------------------

def test_acme_ruleset_checks_with_zero_diagnostics():
    loaded = load_ruleset(str(ACME_DIR / "scoring.score"))
    assert where(loaded.diagnostics) == []
    assert loaded.ok
    assert loaded.checked.name == "acme-b2b"


def test_acme_ruleset_parses_and_checks_through_the_pure_passes():
    text = (ACME_DIR / "scoring.score").read_text(encoding="utf-8")
    schema, schema_diagnostics = parse_schema(
        (ACME_DIR / "schema.yaml").read_text(encoding="utf-8"), "schema.yaml")
    assert schema_diagnostics == []
    ruleset, diagnostics = parse(text, "scoring.score")
    assert diagnostics == []
    checked, diagnostics = check(ruleset, schema)
    assert diagnostics == [] and checked is not None
    assert set(checked.derived_order) == {"total"}


def test_cli_check_on_acme_exits_0(tmp_path):
    folder = tmp_path / "acme"
    shutil.copytree(ACME_DIR, folder)
    result = CliRunner().invoke(main, ["check", str(folder / "scoring.score")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["check", "--strict", str(folder)])
    assert result.exit_code == 0, result.output

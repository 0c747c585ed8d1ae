"""Shared helpers for the language front-end tests.

Write a rule file (and a schema beside it) into a temporary folder, run the
loader, and look at the diagnostics as (code, line, column) tuples. Tests
assert codes, severities and positions, never the wording of messages.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from leadscore.dsl.diagnostics import Diagnostic
from leadscore.loader import LoadedRuleset, load_ruleset

REPO = Path(__file__).resolve().parents[1]
ACME_DIR = REPO / "rulesets" / "acme"

# The first two lines of every small test file: a valid header. The body of a
# case therefore starts on line 3.
HEADER = 'ruleset "t" version 1\nschema "schema.yaml"\n'

# An inline copy of rulesets/acme/schema.yaml, so that edits to the example
# cannot move the positions the golden tests expect.
ACME_SCHEMA = """\
# Lead fields and event types for the Acme example ruleset.
lead:
  id: lead_id
  created: created_at
  fields:
    industry:
      type: string
      values: [Financial Services, Professional Services, Consulting, Manufacturing, Software, Retail, Education, Other]
    employees: {type: number}
    job_title: {type: string}
    role:
      type: string
      values: [buyer, end_user, influencer]
    email: {type: string}
    country: {type: string}
    tech: {type: list}
    created_at: {type: datetime}
    # BANT answers recorded by the qualification call
    has_budget: {type: boolean}
    is_decision_maker: {type: boolean}
    need_confirmed: {type: boolean}
    timeline_days: {type: number}
events:
  page_view: {properties: {url: string}}
  email_open: {properties: {campaign: string}}
  email_click: {properties: {campaign: string}}
  social_click: {properties: {network: string}}
  content_download: {properties: {asset: string}}
  newsletter_signup: {}
  webinar_registered: {properties: {webinar: string}}
  webinar_attended: {properties: {webinar: string}}
  contact_form: {}
  demo_request: {}
  unsubscribe: {}
  email_bounce: {}
"""

Where = tuple[str, int, int]


def write_ruleset(folder: Path, text: str | bytes, schema: str | bytes | None = ACME_SCHEMA,
                  name: str = "rules.score", schema_name: str = "schema.yaml") -> Path:
    """Write `text` as a rule file (and `schema` beside it, unless None)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    if schema is not None:
        target = path.parent / schema_name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(schema, bytes):
            target.write_bytes(schema)
        else:
            target.write_text(schema, encoding="utf-8", newline="")
    return path


def load(folder: Path, text: str | bytes, schema: str | bytes | None = ACME_SCHEMA,
         **options) -> LoadedRuleset:
    """load_ruleset on a freshly written rule file."""
    return load_ruleset(str(write_ruleset(folder, text, schema)), **options)


def where(diagnostics: list[Diagnostic]) -> list[Where]:
    return [(d.code, d.span.line, d.span.column) for d in diagnostics]


def diagnose(folder: Path, text: str | bytes, schema: str | bytes | None = ACME_SCHEMA,
             **options) -> list[Where]:
    """The loader's diagnostics for `text` as (code, line, column) tuples."""
    return where(load(folder, text, schema, **options).diagnostics)


def codes(diagnostics: list[Diagnostic]) -> set[str]:
    return {d.code for d in diagnostics}


def git(folder: Path, *args: str) -> None:
    """Run git in `folder` with no user or system configuration (a committer is given)."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   capture_output=True, env=env, check=True)

"""Build small rulesets in a temp folder and score them with both backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import leadscore
from leadscore.compiler import runtime as rt

AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)

SCHEMA = """
lead:
  id: lead_id
  created: created_at
  fields:
    industry: {type: string, values: [Software, Retail, Other]}
    employees: number
    title: string
    email: string
    tech: list
    created_at: datetime
    has_budget: boolean
events:
  page_view: {properties: {url: string}}
  email_open: {properties: {campaign: string}}
  demo_request: {}
  unsubscribe: {}
"""


def build(tmp_path: Path, body: str, name: str = "t") -> leadscore.Ruleset:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "schema.yaml").write_text(SCHEMA)
    (folder / "rules.score").write_text(f'ruleset "{name}" version 1\nschema "schema.yaml"\n{body}\n')
    return leadscore.load(str(folder / "rules.score"))


def ago(days: float = 0, hours: float = 0, seconds: float = 0) -> str:
    return (AS_OF - timedelta(days=days, hours=hours, seconds=seconds)).isoformat()


def event(kind: str, when: str, **properties) -> dict:
    return {"type": kind, "at": when, "properties": properties}


def score_both(ruleset: leadscore.Ruleset, lead: dict, events: list[dict],
               as_of: datetime = AS_OF) -> rt.Result:
    """Score with the compiled scorer and the interpreter; they must agree exactly."""
    compiled = ruleset.compile().score(lead, events, as_of, explain=True)
    interpreted = ruleset.interpret().score(lead, events, as_of, explain=True)
    assert compiled == interpreted
    return compiled

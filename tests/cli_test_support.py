"""The small ruleset, schema and helpers the `leadscore test` command-line tests share
(test_cli_test.py, test_cli_test_invalid.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from leadscore.cli import main

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


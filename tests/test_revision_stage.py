"""`--against REV`: the stage that checks a rule file as it was at a revision is given the texts
(Git runs at the edge, in leadscore.git and the commands), so it is tested without a repository."""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

import pytest

import leadscore.simulator.variants as variants
from leadscore.simulator.variants import RulesetProblems, check_at_revision, parse_at_revision

_RULES = 'ruleset "r" version 1\nschema "{schema}"\nscore fit {{\n  big: +5 if employees > 10\n}}\n'
_SCHEMA = "lead:\n  id: lead_id\n  fields:\n    employees: number\nevents: {}\n"


def test_a_rule_file_and_its_schema_as_given_are_checked():
    parsed = parse_at_revision("rules/a.score", "v1", PurePosixPath("rules/a.score"),
                               _RULES.format(schema="schema.yaml"), allow_outside=False)
    assert parsed.schema == PurePosixPath("rules/schema.yaml")
    assert parsed.schema_display == "rules/schema.yaml@v1"
    checked = check_at_revision(parsed, _SCHEMA)
    assert checked.name == "r" and "employees" in checked.schema.fields


def test_a_schema_not_in_the_revision_is_LS600_at_the_header():
    parsed = parse_at_revision("a.score", "v1", PurePosixPath("a.score"), _RULES.format(schema="gone.yaml"), False)
    with pytest.raises(RulesetProblems) as raised:
        check_at_revision(parsed, None)
    [problem] = [d for d in raised.value.diagnostics if d.code == "LS600"]
    assert (problem.span.file, problem.span.line) == ("a.score@v1", 2)
    assert "no schema file at gone.yaml@v1" in problem.message


@pytest.mark.parametrize("schema, allow_outside", [("../outside.yaml", False), ("../../above-the-root.yaml", True)])
def test_a_schema_outside_is_not_asked_for(schema, allow_outside):
    parsed = parse_at_revision("sub/a.score", "v1", PurePosixPath("sub/a.score"), _RULES.format(schema=schema),
                               allow_outside)
    assert parsed.schema is None   # the edge reads nothing
    with pytest.raises(RulesetProblems) as raised:
        check_at_revision(parsed, None)
    assert "LS603" in {d.code for d in raised.value.diagnostics}


def test_a_schema_outside_the_folder_is_read_when_allowed():
    parsed = parse_at_revision("sub/a.score", "v1", PurePosixPath("sub/a.score"),
                               _RULES.format(schema="../schema.yaml"), allow_outside=True)
    assert parsed.schema == PurePosixPath("schema.yaml")


def test_the_stage_never_runs_git():
    tree = ast.parse(Path(variants.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {"subprocess", "git"} & {name.rsplit(".", 1)[-1] for name in imported}

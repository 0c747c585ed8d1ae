"""docs/language.md, the guide for rule authors: every code block in it works.

`score` blocks parse and check clean against the guide's own schema (its one
`yaml` block); `text` blocks in "Common mistakes" are the wrong versions and
must each give errors with a hint; the decay table holds the numbers the
scorer computes; every link to a section lands on a heading; and no message
the tools print sends users to a file they do not have.
"""

from __future__ import annotations

import ast as python_ast
import re
from pathlib import Path

import pytest

from leadscore.dsl.schema import parse_schema

from helpers import HEADER, REPO, load, where
from scoring_helpers import AS_OF, ago, event

GUIDE = REPO / "docs" / "language.md"
TEXT = GUIDE.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCKS = [(m.group(1), m.group(2), TEXT[:m.start()].count("\n") + 1) for m in FENCE.finditer(TEXT)]
SCORE_BLOCKS = [(body, line) for kind, body, line in BLOCKS if kind == "score"]
MISTAKES_AT = TEXT.index("## Common mistakes")
MISTAKE_BLOCKS = [(body, line) for kind, body, line in BLOCKS
                  if kind == "text" and line > TEXT[:MISTAKES_AT].count("\n")]
SCHEMA = next(body for kind, body, _ in BLOCKS if kind == "yaml")


def test_every_block_says_what_it_holds():
    assert all(kind in ("score", "yaml", "text") for kind, _, _ in BLOCKS), \
        [(kind, line) for kind, _, line in BLOCKS]
    assert len(SCORE_BLOCKS) >= 25 and len(MISTAKE_BLOCKS) >= 6


def test_the_guide_schema_is_clean():
    schema, diagnostics = parse_schema(SCHEMA, "schema.yaml")
    assert diagnostics == [] and schema is not None


@pytest.mark.parametrize("body", [b for b, _ in SCORE_BLOCKS],
                         ids=[f"line-{line}" for _, line in SCORE_BLOCKS])
def test_score_block_checks_clean(tmp_path, body):
    assert body.startswith("ruleset ")  # complete files: what readers copy works as is
    loaded = load(tmp_path / "rules", body, SCHEMA)
    assert where(loaded.diagnostics) == []
    assert loaded.ok


@pytest.mark.parametrize("body", [b for b, _ in MISTAKE_BLOCKS],
                         ids=[f"line-{line}" for _, line in MISTAKE_BLOCKS])
def test_each_common_mistake_is_an_error_with_a_hint(tmp_path, body):
    loaded = load(tmp_path / "rules", HEADER + body, SCHEMA)
    errors = [d for d in loaded.diagnostics if d.is_error]
    assert errors, body
    assert all(d.hint for d in errors), [(d.code, d.message) for d in errors]
    # One error per wrong line at most: no cascades.
    assert len(errors) <= body.count("\n")


def _decay_table() -> dict[str, list[float]]:
    section = TEXT[TEXT.index("## Decay"):TEXT.index("## How a score adds up")]
    rows = re.findall(r"^\| `([^`]+)` \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", section, re.MULTILINE)
    return {decay: [float(v) for v in values] for decay, *values in rows}


def test_decay_table_is_what_the_scorer_computes(tmp_path):
    import leadscore

    table = _decay_table()
    assert len(table) == 4  # none, half_life, linear, steps
    rules = "".join(f"  r{i}: +30 per page_view, decay {decay}\n" for i, decay in enumerate(table))
    folder = tmp_path / "decay"
    folder.mkdir()
    (folder / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    (folder / "rules.score").write_text(HEADER + "score s {\n" + rules + "}\n", encoding="utf-8")
    scorer = leadscore.load(str(folder / "rules.score")).interpret()
    for column, days in enumerate((7, 30, 90)):
        result = scorer.score({"lead_id": "x"}, [event("page_view", ago(days), url="/")], AS_OF, explain=True)
        points = {r.rule: r.points for r in result.reasons}
        for i, (decay, expected) in enumerate(table.items()):
            assert round(points.get(f"r{i}", 0.0), 2) == expected[column], (decay, days)


# --- anchors ------------------------------------------------------------------------------

def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    body = FENCE.sub("", markdown)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", body, re.MULTILINE)}


def test_section_links_inside_the_guide_land_on_headings():
    known = anchors(TEXT)
    linked = set(re.findall(r"\]\(#([\w-]+)\)", TEXT))
    assert linked and linked <= known, linked - known


def test_stable_anchors_exist():
    # Messages, reports and other pages link to these.
    assert {"evaluation-instants", "the-schema-file", "decay", "common-mistakes",
            "case-rules", "the-fit-x-interest-matrix", "bant", "unused-and-unreachable",
            "missing-values", "thresholds", "segments"} <= anchors(TEXT)


def _guide_links(text: str) -> set[str]:
    return set(re.findall(r"language\.md#([\w-]+)", text))


def test_links_into_the_guide_from_docs_and_code_land_on_headings():
    known = anchors(TEXT)
    sources = [*(REPO / "docs").glob("*.md"), REPO / "README.md",
               *(REPO / "src" / "leadscore").rglob("*.py"),
               *(REPO / "src" / "leadscore").rglob("*.json")]
    linked = {(path.name, anchor) for path in sources
              for anchor in _guide_links(path.read_text(encoding="utf-8"))}
    assert linked
    assert {(name, a) for name, a in linked if a not in known} == set()


def test_readme_links_the_guide():
    assert "(docs/language.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def _user_visible_strings(path: Path) -> list[str]:
    """String literals of a module, docstrings left out (they are for developers)."""
    tree = python_ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in python_ast.walk(tree)
                  if isinstance(node, (python_ast.Module, python_ast.FunctionDef,
                                       python_ast.AsyncFunctionDef, python_ast.ClassDef))
                  and node.body and isinstance(node.body[0], python_ast.Expr)
                  and isinstance(node.body[0].value, python_ast.Constant)}
    return [node.value for node in python_ast.walk(tree)
            if isinstance(node, python_ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_message_points_to_a_file_users_do_not_have():
    offending = []
    for path in (REPO / "src" / "leadscore").rglob("*.py"):
        for text in _user_visible_strings(path):
            if re.search(r"LANGUAGE\.md|SIMULATION\.md|§", text):
                offending.append((path.name, text[:80]))
    for path in (REPO / "src" / "leadscore").rglob("*.json"):
        if re.search(r"LANGUAGE\.md|SIMULATION\.md", path.read_text(encoding="utf-8")):
            offending.append((path.name, "description"))
    assert offending == []

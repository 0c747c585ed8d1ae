"""The documented size limits (docs/language.md#limits): a clear error at the
construct past each one, and memory that grows in step with the file below
and above them. No timings here; benchmarks/ measures speed."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.dsl import checker
from leadscore.dsl.parser import MAX_LITERAL_CHARS, MAX_STATEMENT_TOKENS, parse
from leadscore.dsl.schema import parse_schema

from helpers import HEADER, diagnose


def block(*rules: str) -> str:
    return HEADER + "score s {\n" + "".join(f"  {r}\n" for r in rules) + "}\n"


def peak_bytes(function, *args) -> int:
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- literals (LS112) ---------------------------------------------------------------------

def test_a_string_at_the_limit_is_fine_and_one_past_it_is_ls112(tmp_path):
    inside = "x" * (MAX_LITERAL_CHARS - 2)     # the quotes count
    assert diagnose(tmp_path / "a", HEADER + f'const a = "{inside}"\n') == []
    assert diagnose(tmp_path / "b", HEADER + f'const a = "{inside}x"\n') == [("LS112", 3, 11)]


def test_a_regex_past_the_limit_is_ls112(tmp_path):
    pattern = "a" * MAX_LITERAL_CHARS
    assert diagnose(tmp_path, block(f"r: +1 if job_title matches /{pattern}/")) == [("LS112", 4, 30)]


@pytest.mark.parametrize("literal", ['"' + "x" * 2_000_000 + '"',
                                     '"' + "\\n" * 1_000_000 + '"',
                                     "9" * 2_000_000])
def test_a_huge_literal_costs_memory_in_step_with_its_size(literal):
    # Before: a repeated alternation in the lexer's regex kept ~600 bytes per
    # character (5.6 GB for a 10 MB string).
    text = HEADER + f"const a = {literal}\n"
    assert peak_bytes(parse, text, "r.score") < 20 * len(text)
    _, diagnostics = parse(text, "r.score")
    assert [d.code for d in diagnostics] in (["LS112"], ["LS105"])


# --- statements (LS113) -------------------------------------------------------------------

def _or_chain(operands: int) -> str:
    return " or ".join(["employees > 1"] * operands)


def test_a_long_or_chain_under_the_limit_checks_clean(tmp_path):
    assert diagnose(tmp_path, block(f"r: +1 if {_or_chain(2_000)}")) == []


def test_a_statement_past_the_limit_is_ls113_and_the_rest_is_still_checked(tmp_path):
    operands = MAX_STATEMENT_TOKENS // 4 + 1
    text = block(f"r: +1 if {_or_chain(operands)}", "q: +1 if employes > 1") + "const b = ?\n"
    assert sorted(diagnose(tmp_path, text)) == [("LS101", 7, 11), ("LS113", 4, 3), ("LS300", 5, 12)]


def test_a_huge_or_chain_stops_early_with_little_memory():
    # Before: 800,000 operands took 70-88 s and 3.2 GB (150 s and 1 GB for 600,000).
    text = block(f"r: +1 if {_or_chain(100_000)}")
    # Refusing costs what reading up to the limit costs, whatever lies beyond it.
    assert peak_bytes(parse, text, "r.score") < 40 * 2**20
    _, diagnostics = parse(text, "r.score")
    assert [(d.code, d.span.line) for d in diagnostics] == [("LS113", 4)]


def test_a_long_list_literal_across_lines_is_one_statement(tmp_path):
    items = ",\n  ".join(f'"d{i}.example"' for i in range(MAX_STATEMENT_TOKENS // 2 + 1))
    found = diagnose(tmp_path, HEADER + f"const free = [\n  {items}\n]\nconst b = ?\n")
    assert found[0] == ("LS113", 3, 1) and found[-1][0] == "LS101"


# --- counts the checker enforces (LS114) ---------------------------------------------------

@pytest.fixture
def small_limits(monkeypatch):
    for name in ("MAX_CASE_BRANCHES", "MAX_SEGMENT_LABELS", "MAX_THRESHOLDS", "MAX_SEGMENTS"):
        monkeypatch.setattr(checker, name, 3)


def _case(branches: int) -> str:
    return block("r: case {", *[f"  +1 if employees > {100 - i}" for i in range(branches)], "}")


def _segment(labels: int) -> str:
    return HEADER + "segment g {\n" + "".join(f"  l{i} if employees > {100 - i}\n"
                                               for i in range(labels)) + "}\n"


def test_counts_at_the_limit_are_fine(tmp_path, small_limits):
    assert diagnose(tmp_path / "a", _case(3)) == []
    assert diagnose(tmp_path / "b", _segment(3)) == []
    assert diagnose(tmp_path / "c", HEADER + "".join(
        f"threshold t{i}: employees > {i}\nsegment g{i} {{\n  a if employees > {i}\n}}\n"
        for i in range(3))) == []


def test_counts_past_the_limit_are_ls513_at_the_first_one_over(tmp_path, small_limits):
    assert diagnose(tmp_path / "a", _case(4)) == [("LS114", 8, 5)]
    grouped = HEADER + "score s {\n  group g max 5 {\n    r: case {\n" + \
        "".join(f"      +1 if employees > {9 - i}\n" for i in range(5)) + "    }\n  }\n}\n"
    assert diagnose(tmp_path / "g", grouped) == [("LS114", 9, 7)]
    assert diagnose(tmp_path / "b", _segment(5)) == [("LS114", 7, 3)]
    thresholds = HEADER + "".join(f"threshold t{i}: employees > {i}\n" for i in range(4))
    assert diagnose(tmp_path / "c", thresholds) == [("LS114", 6, 11)]
    segments = HEADER + "".join(f"segment g{i} {{\n  a if employees > {i}\n}}\n" for i in range(4))
    assert diagnose(tmp_path / "d", segments) == [("LS114", 12, 9)]


def test_the_real_limits_hold_for_3000_branches_labels_and_thresholds(tmp_path):
    # Before: 3,000 branches passed check and broke the compiler (20,000 ran out of memory).
    assert diagnose(tmp_path / "a", _case(3_000)) == [("LS114", 4 + 1 + checker.MAX_CASE_BRANCHES, 5)]
    assert diagnose(tmp_path / "b", _segment(3_000)) == [("LS114", 4 + checker.MAX_SEGMENT_LABELS, 3)]
    thresholds = HEADER + "".join(f"threshold t{i}: employees > {i}\n" for i in range(3_000))
    assert diagnose(tmp_path / "c", thresholds) == [("LS114", 3 + checker.MAX_THRESHOLDS, 11)]


# --- schema values (item 11) --------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.sampled_from(["a", "b", "c", "Retail", "x y"]), min_size=1, max_size=30))
def test_schema_values_keep_their_order_and_warn_on_each_repeat(values):
    listed = ", ".join(f'"{v}"' for v in values)
    schema, diagnostics = parse_schema(f"lead:\n  fields:\n    f: {{type: string, values: [{listed}]}}\n",
                                       "schema.yaml")
    assert schema.fields["f"].values == tuple(dict.fromkeys(values))
    assert len(diagnostics) == len(values) - len(set(values))
    assert all(d.code == "LS602" and not d.is_error for d in diagnostics)

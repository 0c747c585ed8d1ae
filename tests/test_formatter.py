"""`leadscore fmt`: parse(fmt(x)) == parse(x) ignoring spans, fmt(fmt(x)) == fmt(x),
every comment kept, and the command's --check / --diff / in-place modes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.dsl.formatter import format_ruleset, shape
from leadscore.dsl.parser import parse
from test_backend_agreement import rulesets

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "rulesets").rglob("*.score"))


def assert_round_trip(text: str) -> str:
    original, diagnostics = parse(text, "x.score")
    assert not [d for d in diagnostics if d.is_error], diagnostics
    formatted = format_ruleset(original)
    again, diagnostics = parse(formatted, "x.score")
    assert not [d for d in diagnostics if d.is_error], (formatted, diagnostics)
    assert shape(again) == shape(original)
    assert format_ruleset(again) == formatted
    return formatted


def test_shipped_rulesets_are_formatted():
    assert SHIPPED
    for path in SHIPPED:
        text = path.read_text()
        assert assert_round_trip(text) == text, f"{path} is not in canonical layout"


@st.composite
def decorated(draw):
    """A generated ruleset with comments, extra spaces and continuation lines."""
    lines = ('ruleset "r" version 1\nschema "s.yaml"\n' + draw(rulesets())).split("\n")
    out = []
    for i, line in enumerate(lines):
        if draw(st.integers(0, 4)) == 0:
            out.append(f"  # note {i} before")
        if draw(st.integers(0, 5)) == 0:
            out.append("")
        if " and " in line and draw(st.booleans()):
            line = line.replace(" and ", "\n      and ", 1)
        if draw(st.booleans()):
            line = line.replace(", ", " ,  ").replace(": ", " :   ")
        if line.strip() and draw(st.integers(0, 3)) == 0:
            line += f"   # trailing {i}"
        out.append(line)
    return "\n".join(out) + "\n"


@settings(max_examples=150, deadline=None)
@given(decorated())
def test_format_round_trips_and_is_idempotent(text):
    formatted = assert_round_trip(text)
    before = [c.text for c in parse(text, "x")[0].comments]
    after = [c.text for c in parse(formatted, "x")[0].comments]
    assert after == before


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([
    "a - (b - c)", "(a - b) - c", "a * (b + c)", "-(-x)", "-(5)", "- 5 * a", "a / -2",
    "not (a and b)", "(a or b) and c", "a or (b or c)", "(a or b) or c", "not not a",
    "(x is missing) == false", "count(page_view where url starts_with \"/p\" within 3d)",
    "max(a, min(b, 2))", "`Lead Source` == \"web\"", "event.url == lead.x", "x in [1, 2,]",
    "(((a)))", "x == 2026-01-01T00:00:00+02:00", "n >= 5_000", "-x < -1.5",
]), min_size=1, max_size=3))
def test_parentheses_are_minimal_but_enough(parts):
    text = 'ruleset "r" version 1\n' + "".join(
        f"threshold t{i}: {p}\n" for i, p in enumerate(parts))
    assert_round_trip(text)


def test_comments_stay_where_they_were():
    text = """# header comment
ruleset "r" version 1   # trailing on header
schema "s.yaml"

# about fit
score fit {
  # before a rule
  a: +1 if x > 1   # why a
  b: +20 if y == 2
  # last words in the block
}
# the end
"""
    formatted = assert_round_trip(text)
    assert formatted == """# header comment
ruleset "r" version 1  # trailing on header
schema "s.yaml"

# about fit
score fit {
  # before a rule
  a: +1  if x > 1  # why a
  b: +20 if y == 2
  # last words in the block
}
# the end
"""


def test_fmt_command_modes(tmp_path):
    messy = tmp_path / "messy.score"
    messy.write_text('ruleset "r" version 1\nscore s {\n  a:+1 if x>1\n}\n')
    runner = CliRunner()
    check = runner.invoke(main, ["fmt", "--check", str(tmp_path)])
    assert check.exit_code == 1 and "would reformat" in check.output
    diff = runner.invoke(main, ["fmt", "--diff", str(messy)])
    assert diff.exit_code == 0 and "+  a: +1 if x > 1" in diff.output
    assert messy.read_text().startswith('ruleset "r" version 1\nscore s {\n  a:+1')  # unchanged
    write = runner.invoke(main, ["fmt", str(messy)])
    assert write.exit_code == 0 and "reformatted" in write.output
    assert messy.read_text() == 'ruleset "r" version 1\nscore s {\n  a: +1 if x > 1\n}\n'
    assert runner.invoke(main, ["fmt", "--check", str(messy)]).exit_code == 0


def test_fmt_leaves_a_file_with_syntax_errors_alone(tmp_path):
    broken = tmp_path / "broken.score"
    original = 'ruleset "r" version 1\nscore s {\n  a: 10 if x\n}\n'
    broken.write_text(original)
    result = CliRunner().invoke(main, ["fmt", str(broken)])
    assert result.exit_code == 1 and "LS100" in result.output
    assert broken.read_text() == original


def test_comments_inside_a_multi_line_rule_move_above_it():
    """Issue 10, item 20: these were refused with "internal error ... please report this"."""
    text = """ruleset "r" version 1
score s {
  a: +1 if x > 1 and  # why
     y < 2   # second
  b: +1 if x in [1,   # one
       # own line in a list
       2]
  c: +1 per page_view, decay steps {  # steps
     7d: 50%,   # a week
     # own line in steps
     30d: 10%
  }
  d: +1 if x > 1 and  # only one
     y < 2
}
"""
    assert assert_round_trip(text) == """ruleset "r" version 1
score s {
  # why
  a: +1 if x > 1 and y < 2  # second
  # one
  # own line in a list
  b: +1 if x in [1, 2]
  # steps
  # a week
  # own line in steps
  c: +1 per page_view, decay steps { 7d: 50%, 30d: 10% }
  d: +1 if x > 1 and y < 2  # only one
}
"""


def test_trailing_spaces_of_a_comment_are_dropped():
    text = 'ruleset "r" version 1   # spaces after   \nthreshold t: a > 1 #\t\x0c\n'
    assert assert_round_trip(text) == 'ruleset "r" version 1  # spaces after\nthreshold t: a > 1  #\n'


def test_fmt_check_passes_on_a_formatted_file_with_comments_in_a_rule(tmp_path):
    rules = tmp_path / "rules.score"
    rules.write_text('ruleset "r" version 1\nscore s {\n  a: +1 if x > 1 and  # why\n     y < 2  # second\n}\n')
    runner = CliRunner()
    assert runner.invoke(main, ["fmt", str(rules)]).exit_code == 0
    assert runner.invoke(main, ["fmt", "--check", str(rules)]).exit_code == 0

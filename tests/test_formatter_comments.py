"""`leadscore fmt` on comments in every place a comment may stand (issue 10, items 20 and 23):
after a trailing `and` or `,`, inside lists, calls and decay steps, before a continuation line,
between statements, with any text, in files with CRLF line endings or a byte order mark. The
formatter never refuses such a file, its output reads back to the same rules with the same
comments in the same order, and formatting it again changes nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.dsl.parser import parse
from test_backend_agreement import rulesets
from test_formatter import assert_round_trip

# Comment text: anything on one line, odd spaces and controls included.
COMMENT_TEXT = st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), max_size=12)


def break_points(line: str) -> list[tuple[int, bool]]:
    """Where a canonical line may be broken: (index, whether the next line may be preceded by
    own-line comments). After `and`, `or`, `,` and an opening bracket the line continues
    whatever follows; before `and` / `or` only the next line's first word continues it."""
    points = []
    quote = None   # the closing character while inside a string, regex or quoted name
    i = 0
    while i < len(line):
        char = line[i]
        if quote is not None:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"`":
            quote = char
        elif char == "/" and line[:i].endswith("matches "):
            quote = "/"
        elif char in "([{" and i + 1 < len(line) and line[i + 1] not in ")]}":
            points.append((i + 1, True))
        elif char == ",":
            points.append((i + 1, True))
        else:
            for word in (" and ", " or "):
                if line.startswith(word, i):
                    points.append((i, False))
                    points.append((i + len(word) - 1, True))
        i += 1
    return points


@st.composite
def commented(draw) -> str:
    """A generated ruleset in canonical layout, broken at random continuation points, with
    trailing and own-line comments wherever the language allows one."""
    body = 'ruleset "r" version 1\nschema "s.yaml"\n' + draw(rulesets())
    canonical = assert_round_trip(body)

    def comment() -> str:
        return "#" + draw(COMMENT_TEXT)

    out = []
    for line in canonical.splitlines():
        if draw(st.integers(0, 3)) == 0:
            out.append(comment())
        pieces, start = [], 0
        for index, own_lines_may_follow in break_points(line):
            if draw(st.integers(0, 3)):
                continue
            piece = line[start:index].rstrip()
            if draw(st.booleans()):
                piece += "  " + comment()
            pieces.append(piece)
            if own_lines_may_follow:
                pieces.extend("      " + comment() for _ in range(draw(st.integers(0, 2))))
            start = index
        last = line[start:].lstrip() if pieces else line
        if line.strip() and draw(st.booleans()):
            last += " " + comment()
        out.extend(pieces + ["      " + last if pieces else last])
    if draw(st.booleans()):
        out.append(comment())
    return "\n".join(out) + "\n"


@settings(max_examples=200, deadline=None)
@given(commented())
def test_comments_anywhere_are_kept_in_order(text):
    original, diagnostics = parse(text, "x.score")
    assert not [d for d in diagnostics if d.is_error], (text, diagnostics)
    formatted = assert_round_trip(text)
    before = [c.text.rstrip() for c in original.comments]
    assert [c.text for c in parse(formatted, "x.score")[0].comments] == before


@settings(max_examples=60, deadline=None)
@given(commented(), st.booleans(), st.booleans())
def test_fmt_keeps_line_endings_and_byte_order_mark(text, crlf, bom):
    """Through the command: exit 0, the file keeps its line endings and mark, `--check` then passes."""
    data = ("\ufeff" if bom else "") + (text.replace("\n", "\r\n") if crlf else text)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.score"
        path.write_bytes(data.encode("utf-8"))
        runner = CliRunner()
        result = runner.invoke(main, ["fmt", str(path)])
        assert result.exit_code == 0, result.output
        written = path.read_bytes().decode("utf-8")
        assert written.startswith("\ufeff") == bom
        bare = written.replace("\r\n", "")
        assert ("\n" not in bare and "\r\n" in written) if crlf else "\r" not in bare
        assert runner.invoke(main, ["fmt", "--check", str(path)]).exit_code == 0

"""User text in human-readable output: shown, never obeyed.

Names, values and paths come from rule files, test files, schemas and tables that anyone can
put in a pull request, and what leadscore prints lands in CI logs and terminals. There a
newline followed by `::error …` is a GitHub Actions workflow command, ESC starts a terminal
control sequence, and a bidi override reorders what a reviewer reads. Every text report runs
its user text (or each line it builds from it) through `shown`; Markdown adds `markdown` or
`markdown_code`; rich prints it as `rich.text.Text`, never as markup.

Backslashes are left as they are, so `shown` is idempotent and a name stays readable; the
price is that a name holding a backslash and an `n` looks like one holding a newline.
"""

from __future__ import annotations

import re

# C0 and C1 controls (newline, CR, tab, ESC, BEL, DEL ...), the line and paragraph separators,
# the bidi controls and lone surrogates (which cannot even be encoded for output).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A workflow command is a line that starts with `::` once leading whitespace is trimmed (a rich
# table may wrap a cell after any whitespace); the runner's older form `##[` counts anywhere.
_COMMAND = re.compile(r"(?:^|(?<=\s))::")
_OLD_COMMAND = "##["


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """`text` safe to print on a line of its own or inside one: control, separator and bidi
    characters as escapes (`\\n`, `\\x1b`, `\\u202e`), and no workflow command."""
    escaped = _UNSAFE.sub(_escape, str(text))
    escaped = _COMMAND.sub("\\\\x3a:", escaped)
    return escaped.replace(_OLD_COMMAND, "#\\x23[")


# Mid-line, only these make markup (a line never starts with user text in the reports).
_MARKDOWN = re.compile(r"[\\`*_\[\]|~]")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown(text: object) -> str:
    """`shown` text that Markdown prints as it is: no emphasis, link, HTML or table cell border
    made of it."""
    safe = _MARKDOWN.sub(lambda m: "\\" + m.group(), shown(text))
    return re.sub("[&<>]", lambda m: _HTML[m.group()], safe)


def markdown_code(text: object, in_table: bool = False) -> str:
    """`shown` text as a Markdown code span, where it is neither markup nor an @mention.

    The fence is one backtick longer than the longest run inside, so a backtick cannot close
    it; in a GFM table a pipe is written `\\|`, which the table reads as part of the cell.
    GFM cannot write a backslash right before a pipe inside a code span, so in a table such
    text is written as `<code>` with every ASCII punctuation character backslash-escaped."""
    safe = shown(text)
    if in_table and "\\|" in safe:
        return "<code>" + re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", safe) + "</code>"
    fence = "`" * (max((len(run) for run in re.findall("`+", safe)), default=0) + 1)
    pad = " " if safe[:1] in ("`", " ", "") or safe[-1:] in ("`", " ") else ""
    span = f"{fence}{pad}{safe}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def markdown_with_code(text: object) -> str:
    """A line of leadscore's own words holding names in back-quotes (`` `mql` ``): the quoted
    parts as code spans, the rest as `markdown`."""
    parts = re.split(r"(`[^`]*`)", shown(text))
    return "".join(markdown_code(part[1:-1]) if len(part) > 1 and part[0] == part[-1] == "`"
                   else markdown(part) for part in parts)


# What json.dumps(ensure_ascii=False) leaves raw that a terminal or a reader could trip on; it
# escapes the C0 controls itself.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_text(document: str) -> str:
    """A JSON document dumped with ensure_ascii=False, with C1 controls, separators, bidi controls
    and lone surrogates (which no encoding can write) as `\\uXXXX` escapes: the same JSON value,
    since these only occur inside strings. The runner's command form `##[` is broken as `#\\u0023[`
    (`#` too occurs only inside strings)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document).replace(_OLD_COMMAND, "#\\u0023[")

"""Plain-words messages for syntax errors.

The readers are marketing-ops people: say what the line needs in the words
of the language ("expected a rule like `name: +10 if ...`"), never Lark's
token names. Messages are chosen from what the parser would have accepted.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from .diagnostics import Diagnostic, Span, make

# Regex terminals, in words. Keyword and punctuation terminals are shown as
# their text in back-quotes.
_WORDS = {
    "NAME": "a name",
    "QUOTED_NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string in double quotes',
    "DATE": "a date such as 2026-04-01",
    "DURATION": "a duration such as 30d, 12h or 2w",
    "PERCENT": "a percentage such as 50%",
    "REGEX": "a regex such as /pattern/i",
    "COMPARE": "a comparison (== != < <= > >=)",
    "WORD_OPERATOR": "`contains`, `starts_with` or `ends_with`",
    "PERIOD": "`day` or `week`",
    "_NL": "the end of the line",
    "$END": "the end of the file",
}

# Situations recognised from the set of acceptable terminals: (terminals that
# must all be acceptable, message). The first match wins; the most specific
# situations come first. Where an expression could go on (`*` acceptable),
# `+`/`-` are operators, not points, so the points situations do not apply.
_SITUATIONS: list[tuple[frozenset[str], str]] = [
    (frozenset({"STAR", "SLASH", "_NL"}),
     "expected an operator (`+`, `-`, `*`, `/`) or the end of the line"),
    (frozenset({"STAR", "SLASH", "RPAR"}),
     "expected an operator (`+`, `-`, `*`, `/`) or `)`"),
    (frozenset({"CONST", "SCORE", "THRESHOLD", "SEGMENT"}),
     "expected a declaration: `const`, `score`, `threshold` or `segment`"),
    (frozenset({"GROUP", "DECAY", "CLAMP", "INACTIVITY", "RBRACE"}),
     "expected a rule like `name: +10 if ...`, an option (`decay`, `clamp`, `inactivity`), "
     "a `group`, or `}`"),
    (frozenset({"IF", "PER"}),
     "expected `if` or `per` after the points, as in `name: +10 if ...` or "
     "`name: +5 per page_view`"),
    (frozenset({"PLUS", "MINUS", "CASE"}),
     "expected points with their sign, such as `+10` or `-5`, or `case {`"),
    (frozenset({"PLUS", "MINUS", "RBRACE"}),
     "expected a branch like `+10 if ...` or `+2 otherwise`, or `}`"),
    (frozenset({"PLUS", "MINUS"}),
     "expected points with their sign, such as `+10` or `-5`"),
    (frozenset({"NONE", "HALF_LIFE", "LINEAR", "STEPS"}),
     "expected a decay: `none`, `half_life 30d`, `linear 90d` or `steps { 30d: 50%, ... }`"),
    (frozenset({"MAX", "DECAY", "ONCE", "AT"}),
     "expected a modifier: `max N`, `decay ...`, `once` or `at most N per day`"),
    (frozenset({"IF", "OTHERWISE"}),
     "expected `if CONDITION` or `otherwise`"),
    (frozenset({"NAME", "RBRACE"}),
     "expected a label like `A if fit >= 80` or `D otherwise`, or `}`"),
]

_EXPRESSION_START = frozenset({"NUMBER", "STRING", "NAME", "LPAR"})


def _describe_terminal(name: str, patterns: dict[str, str]) -> str:
    if name in _WORDS:
        return _WORDS[name]
    if name in patterns:
        return f"`{patterns[name]}`"
    return name.lower()


def _describe_found(token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type == "_NL":
        return "the end of the line"
    text = str(token)
    if len(text) > 30:
        text = text[:27] + "..."
    return f"`{text}`"


def describe_unexpected_token(error: UnexpectedToken, text: str, file: str,
                              patterns: dict[str, str]) -> Diagnostic:
    """`patterns`: the grammar's keyword and punctuation terminals, name -> literal text."""
    token = error.token
    expected = _acceptable(error)
    expected.discard("WS")
    found = _describe_found(token)
    span = _token_span(token, text, file)

    bad_unit = _number_with_letters(token, text)
    if bad_unit is not None:
        return make("LS106", f"`{bad_unit}` is not a number or a duration", span,
                    "durations are a number and a unit: h (hours), d (days) or w (weeks)")
    if token.type == "SLASH" and "REGEX" in expected:
        return make("LS103", "this regex has no closing slash", span,
                    "close it with `/` on the same line; write \\/ for a slash inside it")
    if token.type == "EQUAL" and "COMPARE" in expected:
        return make("LS100", f"expected a comparison, found {found}", span,
                    "use `==` to compare; `=` only names a constant or a derived score")
    if token.type == "COMPARE" and "COMPARE" not in expected and _after_comparison(error):
        return make("LS108", "comparisons do not chain", span,
                    "join two comparisons with `and`, e.g. `a < b and b < c`")

    mistake = _common_mistake(error, expected, text, span, patterns)
    if mistake is not None:
        return mistake

    for needed, message in _SITUATIONS:
        if needed <= expected:
            return make("LS100", f"{message}; found {found}", span, _hint_for(token, expected))
    if _EXPRESSION_START <= expected:
        return make("LS100", f"expected a value (a name, number, string or `(`), found {found}",
                    span, _hint_for(token, expected))

    words = sorted({_describe_terminal(name, patterns) for name in expected})
    if len(words) > 6:
        words = words[:6] + ["..."]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return make("LS100", f"expected {listed}; found {found}", span, _hint_for(token, expected))


def _common_mistake(error: UnexpectedToken, expected: set[str], text: str,
                    span: Span, patterns: dict[str, str]) -> Diagnostic | None:
    """Everyday slips, each with the one-line fix."""
    token = error.token
    word = str(token)
    before = _previous_token(error)
    after = text[token.end_pos:] if token.end_pos is not None else ""
    if token.type in ("NAME", "QUOTED_NAME") and "AND" in expected and "OR" in expected:
        return make("LS100", f"`{word}` cannot follow a complete condition", span,
                    f"join conditions with `and` or `or`: `... and {word} ...`")
    if token.type == "COLON" and before is not None and before.type != "NAME" \
            and str(before).isidentifier():
        return make("LS100", f"`{before}` is a keyword here, not a rule name", span,
                    f"to name a rule `{before}`, back-quote it: `` `{before}`: ... ``")
    if token.type in ("NAME", "QUOTED_NAME") and before is not None and before.type == "NAME" \
            and expected & {"COLON", "LBRACE", "EQUAL"}:
        return make("LS100", f"a name is one word; found `{before} {word}`", span,
                    f"write `{before}_{word}`, or back-quote the name: `` `{before} {word}` ``")
    digits_before = re.search(r"\d[\d_]*$", text[:token.start_pos or 0])
    if token.type == "COMMA" and digits_before is not None and after[:1].isdigit():
        whole = digits_before.group(0)
        if re.match(r"\d{3}(?!\d)", after):
            return make("LS100", f"`{whole},{after[:3]}`: a comma cannot group digits", span,
                        f"write `{whole}{after[:3]}` or `{whole}_{after[:3]}`")
        decimals = re.match(r"\d+", after).group(0)
        return make("LS100", f"`{whole},{decimals}`: decimals are written with a point",
                    span, f"write `{whole}.{decimals}`")
    if token.type == "PERCENT" and "PERCENT" not in expected:
        return make("LS100", "a percentage is only allowed in decay steps", span,
                    f"points and limits are plain numbers: write `{word[:-1]}`")
    if "MISSING" in expected and before is not None and before.type in ("IS", "NOT"):
        return make("LS100", f"`is` tests only `is missing` and `is present`; found {_describe_found(token)}",
                    span, "to compare, write `!=` (not equal) or `==` (equal): "
                    "`country != \"US\"`")
    if token.type == "SLASH" and (after.startswith("/") or text[:token.start_pos].endswith("/")):
        return make("LS100", "`//` does not start a comment", span,
                    "comments start with `#`")
    if token.type == "NAME":
        keywords = [literal for name, literal in patterns.items()
                    if name in expected and literal.isidentifier()]
        close = difflib.get_close_matches(word, keywords, n=1, cutoff=0.6)
        if close:
            return make("LS100", f"`{word}` is not a keyword; expected "
                        + ", ".join(f"`{k}`" for k in sorted(keywords)), span,
                        f"did you mean `{close[0]}`?")
    return None


def _previous_token(error: UnexpectedToken):
    """The token just before the one that failed, if the parser still holds it."""
    try:
        stack = error.interactive_parser.parser_state.value_stack
    except AttributeError:
        return None
    last = stack[-1] if stack else None
    return last if isinstance(last, Token) else None


def _acceptable(error: UnexpectedToken) -> set[str]:
    # `error.expected` may include the terminals the postlexer always
    # accepts; asking the parser what it would really take is exact.
    try:
        return set(error.interactive_parser.accepts())
    except Exception:  # the parser state cannot be replayed: fall back
        return set(error.expected)


def _hint_for(token, expected: set[str]) -> str | None:
    text = str(token)
    if token.type == "NAME" and text in ("if", "per") or text in ("when", "then"):
        return None
    if text in ("within", "where") and ("MAX" in expected or "COMMA" in expected):
        return (f"`{text}` goes right after the event type, before the modifiers: "
                "`+1 per page_view where ... within 30d, max 5`")
    if token.type == "$END" and "RBRACE" in expected:
        return "a `{` block is not closed: add `}` on its own line"
    if token.type == "_NL" and "RBRACE" not in expected:
        return "the line ends too early; a line continues only after `and`, `or`, `,` or inside brackets"
    if token.type == "NAME" and text in ("AND", "OR", "NOT", "And", "Or", "Not"):
        return f"keywords are lower case: `{text.lower()}`"
    if token.type == "NUMBER" and "DURATION" in expected:
        return f"a duration needs a unit: `{text}d` (days), `{text}h` (hours) or `{text}w` (weeks)"
    if token.type == "NUMBER" and "STAR" not in expected and ("PLUS" in expected
                                                               or "MINUS" in expected):
        return f"points always carry a sign: `+{text}` or `-{text}`"
    return None


def _after_comparison(error: UnexpectedToken) -> bool:
    # `a < b < c`: the parser state after a complete comparison accepts
    # `and`/`or` but not another comparison operator.
    return "AND" in error.expected or "OR" in error.expected


def _number_with_letters(token, text: str) -> str | None:
    """`30m`: a NUMBER directly followed by letters lexes as NUMBER, NAME."""
    if token.type != "NAME" or token.start_pos is None or token.start_pos == 0:
        return None
    before = re.search(r"\d[\d_.]*$", text[:token.start_pos])
    if before is None:
        return None
    return before.group(0) + str(token)


def _token_span(token, text: str, file: str) -> Span:
    if token.type == "$END" or token.line is None:
        lines = text.splitlines() or [""]
        last = len(lines)
        column = len(lines[-1]) + 1
        return Span(file, last, column, last, column + 1)
    if token.type == "_NL":
        return Span.point(file, token.line, token.column)
    return Span(file, token.line, token.column, token.end_line, token.end_column)


def describe_unexpected_characters(error: UnexpectedCharacters, text: str,
                                   file: str) -> Diagnostic:
    position = error.pos_in_stream
    char = text[position] if position < len(text) else ""
    line_end = text.find("\n", position)
    rest = text[position: line_end if line_end != -1 else len(text)]
    span = Span.point(file, error.line, error.column)
    allowed = set(error.allowed or ())

    if char == '"':
        return make("LS102", "this string has no closing quote", span,
                    'close it with `"` on the same line; write \\" for a quote inside it')
    if char == "/" and "REGEX" in allowed:
        return make("LS103", "this regex has no closing slash", span,
                    "close it with `/` on the same line; write \\/ for a slash inside it")
    if char.isdigit():
        word = re.match(r"[\w.:+-]+", rest)
        shown = word.group(0) if word else char
        span = Span(file, error.line, error.column, error.line, error.column + len(shown))
        if re.match(r"\d{4}-\d", shown):
            return make("LS109", f"`{shown}` is not a date this language reads", span,
                        "dates are YYYY-MM-DD; date-times are YYYY-MM-DDTHH:MM:SSZ")
        if "%" in rest[:len(shown) + 1] and "PERCENT" not in allowed:
            return make("LS100", "a percentage is only allowed in decay steps", span)
        return make("LS106", f"`{shown}` is not a number or a duration", span,
                    "durations are a number and a unit: h (hours), d (days) or w (weeks)")
    if char == "`":
        return make("LS101", "this back-quoted name has no closing back-quote", span,
                    "close it with ` on the same line")
    if char == "'":
        return make("LS101", "strings use double quotes", span, 'write "text", not \'text\'')
    typographic = _typographic(char)
    if typographic is not None:
        return make("LS101", typographic[0], span, typographic[1])
    if rest.startswith("//"):
        return make("LS101", "`//` does not start a comment", span, "comments start with `#`")
    shown = repr(char)[1:-1] if not char.isprintable() else char
    return make("LS101", f"`{shown}` is not part of the language here", span,
                "a comment starts with #")


# Characters that word processors and chat tools put in place of the plain
# ones: (message, hint) in plain words.
_TYPOGRAPHIC = {
    "\u201c": ("curly quote `\u201c`", 'use a straight `"`'),
    "\u201d": ("curly quote `\u201d`", 'use a straight `"`'),
    "\u201e": ("low curly quote `\u201e`", 'use a straight `"`'),
    "\u00ab": ("angle quote `\u00ab`", 'use a straight `"`'),
    "\u00bb": ("angle quote `\u00bb`", 'use a straight `"`'),
    "\u2018": ("curly single quote `\u2018`", 'strings use straight double quotes: `"`'),
    "\u2019": ("curly single quote `\u2019`", 'strings use straight double quotes: `"`'),
    "\u2013": ("en dash `\u2013`", "use a plain minus `-`"),
    "\u2014": ("em dash `\u2014`", "use a plain minus `-`"),
    "\u2212": ("minus sign `\u2212`", "use a plain minus `-` (the key next to 0)"),
    "\u2026": ("ellipsis `\u2026`", "type three dots, or `..` in a clamp"),
}


def _typographic(char: str) -> tuple[str, str] | None:
    """(message, hint) for a character pasted from a word processor or chat tool."""
    if char in _TYPOGRAPHIC:
        name, fix = _TYPOGRAPHIC[char]
        return f"{name} is not part of the language", fix
    if char and unicodedata.category(char) == "Zs" or char in "\u200b\u2060\ufeff":
        name = unicodedata.name(char, "invisible space").lower()
        return f"{name} (U+{ord(char):04X}), which looks like a space but is not one", \
            "retype it as a plain space"
    plain = unicodedata.normalize("NFKC", char) if char else ""
    if plain != char and len(plain) == 1 and plain.isascii():
        return f"full-width `{char}` is not part of the language", f"use `{plain}`"
    return None


def unclosed_brace(opener, text: str, file: str) -> Diagnostic:
    """A `{` never closed, reported once at the line that opened it."""
    line = text.splitlines()[opener.line - 1] if opener.line <= len(text.splitlines()) else ""
    opening = line[:opener.column].strip()
    return make("LS100", f"`{opening}` on line {opener.line} is not closed",
                Span(file, opener.line, opener.column, opener.end_line, opener.end_column),
                "add `}` on its own line after the last line of the block")

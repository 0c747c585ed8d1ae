"""Text -> AST. The only module that touches Lark; its trees never leave here.

Syntax errors are values. To report every syntax error of a file in one run,
a failed parse records its diagnostic, blanks the statement it failed in and
parses again (rules are one per line, so the rest of the file still parses);
the blanked text keeps its length so every later position stays right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Iterator

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from ..cache import grammar_tables
from . import ast
from .diagnostics import Diagnostic, Span, make
from .syntax_errors import (describe_unexpected_characters, describe_unexpected_token,
                            unclosed_brace)
from .transform import MAX_DEPTH, ParseState, ToAst, current_parse, depth_violation

MAX_SYNTAX_ERRORS = 25
# Size limits (docs/language.md#limits), far above any real ruleset. Memory and
# time stay linear in the file's size below them; past them the parse stops.
MAX_LITERAL_CHARS = 10_000        # one string or regex literal, quotes included
MAX_STATEMENT_TOKENS = 50_000     # one statement with its continuation lines

# Terminals after which a newline continues the line.
_CONTINUES_LINE = {"AND", "OR", "COMMA", "LBRACE"}

# Words that start a declaration: written at column 1 inside a block, they
# mean the block's `}` was forgotten (a rule named like this is indented).
_DECLARATION_WORDS = {"score", "const", "threshold", "segment"}
# Score options, which a group cannot hold: one at the start of a line in a
# group means the group's `}` was forgotten.
_OPTION_WORDS = {"decay", "clamp", "inactivity", "group"}


class LinePostLexer(PostLex):
    """Decides which newlines end a statement (docs/language.md).

    Drops newlines inside ( ) [ ] and decay-step braces, after `and`, `or`,
    `,` and `{`, and blank-line repeats; inserts the newline a block item
    needs before a `}` written on the same line, and one at end of file.

    It also closes a `{` that was never closed, where the next line shows it
    (a declaration at column 1, a rule inside `case {`, a new line after a
    decay step without `,`), and records the opener: one error at the line
    that opened it, instead of a cascade from a block that swallowed the
    rest of the file."""

    # `}` too: the contextual lexer would otherwise refuse a `}` written on
    # the same line as a block item before this postlexer can add the newline.
    # NAME too, so that a name beginning with a keyword (`orders`,
    # `is_decision_maker`) is read as one word wherever it stands: keywords
    # then match only as whole words.
    always_accept = ("_NL", "RBRACE", "NAME")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        brackets: list[bool] = []  # True where newlines continue the line
        braces: list[_Brace] = []
        prev: Token | None = None
        line_start: Token | None = None  # the first token of the current line
        for tok in stream:
            kind = tok.type
            if braces and prev is not None and kind != "RBRACE" \
                    and _starts_line(braces[-1].kind, tok, prev) \
                    and _closes(braces[-1].kind, tok, prev):
                while braces and _closes(braces[-1].kind, tok, prev):
                    closed = braces.pop()
                    current_parse.get().unclosed.append(closed.suspect or closed.opener)
                    brackets.pop()
                    yield Token.new_borrow_pos("RBRACE", "", prev)
                    prev = Token.new_borrow_pos("_NL", "", prev)
                    yield prev
                # It was read in the block that is now closed, where its
                # keyword was not expected: make it the keyword it is.
                if kind == "NAME" and str(tok) in _DECLARATION_WORDS | _OPTION_WORDS:
                    tok = Token.new_borrow_pos(str(tok).upper(), str(tok), tok)
                    kind = tok.type
            if kind == "_NL":
                if prev is None or prev.type in _CONTINUES_LINE or prev.type == "_NL" \
                        or (brackets and brackets[-1]):
                    continue
            elif kind in ("LPAR", "LSQB"):
                brackets.append(True)
            elif kind == "LBRACE":
                steps = prev is not None and prev.type == "STEPS"
                brackets.append(steps)
                braces.append(_Brace(_brace_kind(prev, line_start), tok,
                                     line_start.column if line_start is not None else 1))
            elif kind in ("RPAR", "RSQB", "RBRACE"):
                is_block = kind == "RBRACE" and bool(brackets) and not brackets[-1]
                if brackets:
                    brackets.pop()
                if kind == "RBRACE" and braces:
                    closed = braces.pop()
                    # A `}` left of the line that opened its block most
                    # likely belongs to the block around it: if that one
                    # turns out unclosed, this is the `{` to blame.
                    if braces and tok.column < closed.indent:
                        braces[-1].suspect = braces[-1].suspect or closed.opener
                if is_block and prev is not None and prev.type not in ("_NL", "LBRACE"):
                    yield Token.new_borrow_pos("_NL", "", tok)
            if line_start is None or tok.line != line_start.line:
                line_start = tok
            yield tok
            prev = tok
        if prev is not None and prev.type != "_NL":
            yield Token.new_borrow_pos("_NL", "", prev)


@dataclass
class _Brace:
    kind: str  # "block", "group", "case" or "steps"
    opener: Token  # the `{`
    indent: int  # the column of the first token on the opener's line
    suspect: Token | None = None  # an inner `{` whose `}` seems to be this block's


def _brace_kind(before: Token | None, line_start: Token | None) -> str:
    if before is not None and before.type in ("STEPS", "CASE"):
        return before.type.lower()
    if line_start is not None and line_start.type == "GROUP":
        return "group"
    return "block"


def _starts_line(brace_kind: str, tok: Token, prev: Token) -> bool:
    if prev.type == "_NL":
        return True
    # Inside decay steps newlines are dropped: a new line shows in the positions.
    return brace_kind == "steps" and tok.line is not None and prev.end_line is not None \
        and tok.line > prev.end_line


def _closes(brace_kind: str, tok: Token, prev: Token) -> bool:
    """Whether `tok`, first on its line, shows that the innermost `{` was never closed."""
    word = str(tok) if tok.type == "NAME" else None
    declaration = word in _DECLARATION_WORDS and tok.column == 1
    if brace_kind == "steps":  # a step line follows `{` or `,`; anything else ends them
        return tok.type in ("NAME", "QUOTED_NAME") and prev.type not in ("COMMA", "LBRACE")
    if brace_kind == "case":
        return tok.type in ("NAME", "QUOTED_NAME")
    if brace_kind == "group":
        return declaration or word in _OPTION_WORDS
    return declaration


def _record_comment(tok: Token) -> Token:
    current_parse.get().comments.append(tok)
    return tok


def grammar_text() -> str:
    return resources.files("leadscore.grammar").joinpath("scoring.lark").read_text("utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = grammar_text()
    # The AST is built inside the LALR reductions (no parse tree, no
    # recursion however deep the input). Positions come from the tokens, which
    # Lark always carries; keep_all_tokens lets a node's span start at its
    # keyword and end at its closing bracket.
    return Lark(grammar, parser="lalr", lexer="contextual", strict=True,
                propagate_positions=False, keep_all_tokens=True, maybe_placeholders=True,
                postlex=_LimitedPostLexer(), lexer_callbacks={"COMMENT": _record_comment},
                transformer=ToAst(),
                cache=grammar_tables() or False)


class _LimitedPostLexer(LinePostLexer):
    """The statements LinePostLexer passes on, held to the size limits: a
    literal past MAX_LITERAL_CHARS is an error (LS112), a statement past
    MAX_STATEMENT_TOKENS stops the parse (LS113)."""

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        tokens = 0   # since the last newline that ended a statement
        for tok in super().process(stream):
            if tok.type in ("STRING", "REGEX") and len(tok) > MAX_LITERAL_CHARS:
                _literal_too_long(tok)
            tokens = 0 if tok.type == "_NL" else tokens + 1
            if tokens > MAX_STATEMENT_TOKENS:
                raise _TooLarge(tok)
            yield tok


def _literal_too_long(tok: Token) -> None:
    state = current_parse.get()
    what = "string" if tok.type == "STRING" else "regex"
    state.diagnostics.append(make(
        "LS112", f"this {what} is {len(tok):,} characters long; the limit is {MAX_LITERAL_CHARS:,}",
        Span(state.file, tok.line, tok.column, tok.line, tok.column + 1),
        "keep long lists of values in the schema, or split the text"))


class _TooLarge(Exception):
    """A statement past MAX_STATEMENT_TOKENS: parsing it further would only
    cost time and memory, so the parse stops at this token."""

    def __init__(self, token: Token) -> None:
        super().__init__()
        self.token = token


def terminal_patterns() -> dict[str, str]:
    """Terminal name -> literal text for keyword and punctuation terminals."""
    return {t.name: t.pattern.value for t in _lark().terminals if t.pattern.type == "str"}


_WHOLE_WORDS = re.compile(r"\(([a-z_|]+)\)\(\?!\[A-Za-z0-9_\]\)")   # (day|week)(?![A-Za-z0-9_])


@lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    """Every word the grammar reads as a keyword somewhere: its keyword terminals and the words
    of its whole-word terminals (`day`, `contains`). The editor and the calibrator's rule
    writer take them from here, so a new keyword needs no list of its own."""
    words: set[str] = set()
    for terminal in _lark().terminals:
        value = terminal.pattern.value
        if terminal.pattern.type == "str" and value.isidentifier():
            words.add(value)
        elif terminal.pattern.type == "re" and (found := _WHOLE_WORDS.fullmatch(value)):
            words.update(found.group(1).split("|"))
    return frozenset(words)


@lru_cache(maxsize=1)
def decay_keywords() -> tuple[str, ...]:
    """The word each kind of decay starts with, in the grammar's order (`none`, `half_life` ...)."""
    patterns = terminal_patterns()
    firsts = (patterns.get(rule.expansion[0].name) for rule in _lark().rules
              if rule.origin.name == "decay" and rule.expansion)
    return tuple(dict.fromkeys(word for word in firsts if word is not None))


def parse(text: str, file: str) -> tuple[ast.Ruleset, list[Diagnostic]]:
    """Parse a rule file. Always returns a Ruleset (partial after syntax
    errors: every statement that could be read) and the syntax
    diagnostics, in file order."""
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a BOM: keep columns, drop the mark
    diagnostics: list[Diagnostic] = []
    unparsed: list[str] = []
    working = text
    while True:
        statements, state, failure = _attempt(working, file)
        if failure is None:
            return _build(statements, state, text, file, diagnostics, unparsed)
        diagnostic, blank_from, blank_to = failure
        diagnostics.append(diagnostic)
        unparsed.extend(_declared_name(working[blank_from:blank_to]))
        if statements is not None:  # the file ended early; closed what was open
            return _build(statements, state, text, file, diagnostics, unparsed)
        if len(diagnostics) > MAX_SYNTAX_ERRORS:
            diagnostics.append(make("LS111", f"more than {MAX_SYNTAX_ERRORS} syntax errors; "
                                    "fix these first", diagnostic.span))
            # Keep what came before the last error, so its statements are
            # still checked and the file is not taken for an empty one.
            statements, state, failure = _attempt(working[:blank_from], file)
            if statements is not None:
                return _build(statements, state, text, file, diagnostics, unparsed)
            return ast.Ruleset(file, (), ()), _in_file_order(diagnostics)
        if blank_to <= blank_from:
            return ast.Ruleset(file, (), ()), _in_file_order(diagnostics)
        working = working[:blank_from] + _blank(working[blank_from:blank_to]) + working[blank_to:]


def _attempt(text: str, file: str):
    """(statements or None, parse state, None or (diagnostic, blank_from, blank_to))."""
    state = ParseState(file)
    token = current_parse.set(state)
    try:
        return _lark().parse(text), state, None
    except UnexpectedInput as error:
        failure = _syntax_error(error, text, file)
        at_end = isinstance(error, UnexpectedToken) and error.token.type == "$END"
        return (_close_at_end(error) if at_end else None), state, failure
    except _TooLarge as error:
        # Blanked like a syntax error, so the rest of the file is still read.
        start, end = _statement_around(text, error.token.start_pos)
        first = start + len(text[start:end]) - len(text[start:end].lstrip())
        line = text.count("\n", 0, first) + 1
        diagnostic = make("LS113", f"this statement has more than {MAX_STATEMENT_TOKENS:,} words and "
                          "symbols", Span.point(file, line, first - (text.rfind("\n", 0, first) + 1) + 1),
                          "split it into several rules, constants or derived scores")
        return None, state, (diagnostic, start, end)
    finally:
        current_parse.reset(token)


# More closers than this means brackets far past the depth limit: give up.
_MAX_CLOSERS = 2 * MAX_DEPTH


def _close_at_end(error: UnexpectedToken) -> list | None:
    """The statements of a file that ended inside a block or bracket: feed
    the closers the parser accepts until it accepts the end. None when no
    closer completes it."""
    parser = error.interactive_parser
    for _ in range(_MAX_CLOSERS):
        accepted = parser.accepts()
        if "$END" in accepted:
            return parser.feed_eof(error.token)
        closer = next((t for t in ("RPAR", "RSQB", "_NL", "RBRACE") if t in accepted), None)
        if closer is None:
            return None
        parser.feed_token(Token.new_borrow_pos(closer, "", error.token))
    return None


_DECLARATION = re.compile(r"\s*(?:const|score|threshold|segment)\s+(`[^`\n]+`|[^={:#\n]+)")


def _declared_name(statement: str) -> list[str]:
    """The name a blanked statement declares, if it is a declaration; for a
    name written with spaces, each word and the words joined by `_`."""
    found = _DECLARATION.match(statement)
    if found is None:
        return []
    words = found.group(1).strip("` \t").split()
    return words + ["_".join(words)] if len(words) > 1 else words


def _in_file_order(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.span.line, d.span.column))


def _build(statements: list, state: ParseState, text: str, file: str,
           diagnostics: list[Diagnostic],
           unparsed: list[str]) -> tuple[ast.Ruleset, list[Diagnostic]]:
    too_deep = depth_violation(state)
    if too_deep is not None:
        line, column = too_deep
        diagnostics.append(make("LS107", f"this expression is nested more than {MAX_DEPTH} "
                                "levels deep", Span.point(file, line, column),
                                "split it into derived scores or simpler rules"))
        # Later passes recurse over expressions: leave out what holds it.
        statements = _without_position(statements, line, column)
    diagnostics.extend(state.diagnostics)
    diagnostics.extend(unclosed_brace(opener, text, file) for opener in state.unclosed)
    comments = tuple(_comment(t, text, file) for t in state.comments)
    return ast.Ruleset(file, tuple(statements), comments, tuple(unparsed)), \
        _in_file_order(diagnostics)


def _contains(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def _without_position(items, line: int, column: int) -> list:
    """The statements (or block items, or group rules) without the one
    holding a position; a block or group holding it keeps its other items."""
    kept = []
    for item in items:
        if not _contains(item.span, line, column):
            kept.append(item)
        elif isinstance(item, ast.ScoreBlock):
            kept.append(replace(item, items=tuple(_without_position(item.items, line, column))))
        elif isinstance(item, ast.Group):
            kept.append(replace(item, rules=tuple(_without_position(item.rules, line, column))))
    return kept


def _comment(tok: Token, text: str, file: str) -> ast.Comment:
    line_start = text.rfind("\n", 0, tok.start_pos) + 1
    own_line = text[line_start:tok.start_pos].strip() == ""
    return ast.Comment(str(tok).rstrip("\r"), own_line,
                       Span(file, tok.line, tok.column, tok.end_line, tok.end_column))


def _syntax_error(error: UnexpectedInput, text: str, file: str) -> tuple[Diagnostic, int, int]:
    """The diagnostic for a failed parse, and the region of text to blank."""
    if isinstance(error, UnexpectedCharacters):
        diagnostic = describe_unexpected_characters(error, text, file)
        position = error.pos_in_stream
    elif isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            opener = _open_brace(error)
            diagnostic = (describe_unexpected_token(error, text, file, terminal_patterns()) if opener is None
                          else unclosed_brace(opener, text, file))
            return diagnostic, len(text), len(text)
        opener = _unclosed_bracket(error)
        if opener is not None and error.token.line > opener.line:
            # Newlines inside brackets do not end the line, so the error
            # surfaced on a later line; the mistake is the bracket. Blank its
            # statement only: the lines after it are statements of their own.
            diagnostic = make("LS100", f"this `{opener}` is never closed",
                              Span(file, opener.line, opener.column, opener.end_line,
                                   opener.end_column),
                              f"close it with `{_CLOSERS[opener.type]}` before the line ends")
            start, _ = _statement_around(text, opener.start_pos)
            return diagnostic, start, text.rfind("\n", 0, error.token.start_pos)
        diagnostic = describe_unexpected_token(error, text, file, terminal_patterns())
        position = error.token.start_pos
    else:  # pragma: no cover - LALR raises only the two above
        raise error
    start, end = _statement_around(text, position)
    return diagnostic, start, _through_block(text, start, end)


_CLOSERS = {"LPAR": ")", "LSQB": "]"}


def _open_brace(error: UnexpectedToken) -> Token | None:
    """The innermost `{` still open where the file ended."""
    for value in reversed(error.interactive_parser.parser_state.value_stack):
        if isinstance(value, Token) and value.type == "LBRACE":
            return value
    return None


def _unclosed_bracket(error: UnexpectedToken) -> Token | None:
    """The innermost `(` or `[` still open where the parse failed: with
    every token kept, an open bracket is a token on the parser's value stack."""
    for value in reversed(error.interactive_parser.parser_state.value_stack):
        if isinstance(value, Token) and value.type in _CLOSERS:
            return value
    return None


_CONTINUATION_START = re.compile(r"[ \t\f]*(and|or)\b")
_CONTINUATION_END = re.compile(r"(\band|\bor|,|\(|\[)[ \t\f]*(#.*)?$")


def _statement_around(text: str, position: int) -> tuple[int, int]:
    """The physical lines of the statement holding `position`: back over
    lines that the next one continues, forward over continuation lines."""
    start = text.rfind("\n", 0, position) + 1
    while start > 0:
        prev_start = text.rfind("\n", 0, start - 1) + 1
        prev_line = text[prev_start:start - 1]
        this_line = text[start:text.find("\n", start) if "\n" in text[start:] else len(text)]
        if _CONTINUATION_END.search(prev_line) or _CONTINUATION_START.match(this_line):
            start = prev_start
        else:
            break
    end = text.find("\n", position)
    end = len(text) if end == -1 else end
    while end < len(text):
        next_end = text.find("\n", end + 1)
        next_end = len(text) if next_end == -1 else next_end
        if _CONTINUATION_START.match(text[end + 1:next_end]):
            end = next_end
        else:
            break
    return start, max(end, position + 1 if position < len(text) else end)


_BLOCK_OPENING = re.compile(r"(?:score|segment)\b[^#\n]*\{[ \t\f]*(#.*)?$")
_BLOCK_END = re.compile(r"^\}[ \t\f]*(#.*)?$", re.MULTILINE)
_NEXT_DECLARATION = re.compile(r"^(?:const|score|threshold|segment)\b", re.MULTILINE)


def _through_block(text: str, start: int, end: int) -> int:
    """Where the blanking of a failed statement ends: after the block's `}`
    at column 1 when the statement opened a block, so that the block's rules
    are not each reported as a misplaced line."""
    if not _BLOCK_OPENING.match(text, start, end):
        return end
    closing = _BLOCK_END.search(text, end)
    following = _NEXT_DECLARATION.search(text, end)
    if closing is None or (following is not None and following.start() < closing.start()):
        return end
    return closing.end()


def _blank(fragment: str) -> str:
    # Keep newlines (positions) and drop everything else, braces included
    # (_through_block blanks a failed block opener's rules with it).
    return _NOT_NEWLINE.sub(lambda run: " " * len(run.group()), fragment)


_NOT_NEWLINE = re.compile(r"[^\n]+")

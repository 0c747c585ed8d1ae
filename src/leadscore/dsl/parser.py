"""Text -> AST. The only module that touches Lark; its trees never leave here.

Syntax errors are values. To report every syntax error of a file in one run,
a failed parse records its diagnostic, blanks the statement it failed in and
parses again (rules are one per line, so the rest of the file still parses);
the blanked text keeps its length so every later position stays right.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Iterator

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from . import ast
from .diagnostics import Diagnostic, Span, make
from .syntax_errors import describe_unexpected_characters, describe_unexpected_token
from .transform import MAX_DEPTH, ParseState, ToAst, current_parse, depth_violation

MAX_SYNTAX_ERRORS = 25

# Terminals after which a newline continues the line.
_CONTINUES_LINE = {"AND", "OR", "COMMA", "LBRACE"}



class LinePostLexer(PostLex):
    """Decides which newlines end a statement (LANGUAGE.md §2.1).

    Drops newlines inside ( ) [ ] and decay-step braces, after `and`, `or`,
    `,` and `{`, and blank-line repeats; inserts the newline a block item
    needs before a `}` written on the same line, and one at end of file."""

    # `}` too: the contextual lexer would otherwise refuse a `}` written on
    # the same line as a block item before this postlexer can add the newline.
    always_accept = ("_NL", "RBRACE")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        brackets: list[bool] = []  # True where newlines continue the line
        prev: Token | None = None
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if prev is None or prev.type in _CONTINUES_LINE or prev.type == "_NL" \
                        or (brackets and brackets[-1]):
                    continue
            elif kind in ("LPAR", "LSQB"):
                brackets.append(True)
            elif kind == "LBRACE":
                brackets.append(prev is not None and prev.type == "STEPS")
            elif kind in ("RPAR", "RSQB", "RBRACE"):
                is_block = kind == "RBRACE" and bool(brackets) and not brackets[-1]
                if brackets:
                    brackets.pop()
                if is_block and prev is not None and prev.type not in ("_NL", "LBRACE"):
                    yield Token.new_borrow_pos("_NL", "", tok)
            yield tok
            prev = tok
        if prev is not None and prev.type != "_NL":
            yield Token.new_borrow_pos("_NL", "", prev)


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
                postlex=LinePostLexer(), lexer_callbacks={"COMMENT": _record_comment},
                transformer=ToAst(),
                cache=_cache_path())


def _cache_path() -> str | bool:
    # Building the LALR tables takes ~0.2 s; Lark caches them keyed by the
    # grammar's hash. Fall back to no cache where the temp dir is read-only.
    import tempfile
    import os
    path = os.path.join(tempfile.gettempdir(), "leadscore-grammar.lark-cache")
    return path if os.access(tempfile.gettempdir(), os.W_OK) else False


def terminal_patterns() -> dict[str, str]:
    """Terminal name -> literal text for keyword and punctuation terminals."""
    return {t.name: t.pattern.value for t in _lark().terminals if t.pattern.type == "str"}


def parse(text: str, file: str) -> tuple[ast.Ruleset, list[Diagnostic]]:
    """Parse a rule file. Always returns a Ruleset (possibly partial) and
    the syntax diagnostics, in file order."""
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a BOM: keep columns, drop the mark
    diagnostics: list[Diagnostic] = []
    working = text
    for _ in range(MAX_SYNTAX_ERRORS + 1):
        state = ParseState(file)
        token = current_parse.set(state)
        try:
            statements = _lark().parse(working)
        except UnexpectedInput as error:
            diagnostic, blank_from, blank_to = _syntax_error(error, working, file)
            diagnostics.append(diagnostic)
            if blank_to <= blank_from:
                break  # nothing left to skip (the end of the file)
            working = working[:blank_from] + _blank(working[blank_from:blank_to]) + working[blank_to:]
            continue
        finally:
            current_parse.reset(token)
        return _build(statements, state, text, file, diagnostics)
    else:
        last = diagnostics[-1].span
        diagnostics.append(make("LS111", f"more than {MAX_SYNTAX_ERRORS} syntax errors; "
                                "fix these first", last))
    return ast.Ruleset(file, (), ()), diagnostics


def _build(statements: list, state: ParseState, text: str, file: str,
           diagnostics: list[Diagnostic]) -> tuple[ast.Ruleset, list[Diagnostic]]:
    too_deep = depth_violation(state)
    if too_deep is not None:
        line, column = too_deep
        diagnostics.append(make("LS107", f"this expression is nested more than {MAX_DEPTH} "
                                "levels deep", Span.point(file, line, column),
                                "split it into derived scores or simpler rules"))
        return ast.Ruleset(file, (), ()), diagnostics
    diagnostics.extend(state.diagnostics)
    comments = tuple(_comment(t, text, file) for t in state.comments)
    ruleset = ast.Ruleset(file, tuple(statements), comments)
    return ruleset, sorted(diagnostics, key=lambda d: (d.span.line, d.span.column))


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
        diagnostic = describe_unexpected_token(error, text, file)
        position = error.token.start_pos if error.token.start_pos is not None else len(text)
        if error.token.type == "$END":
            return diagnostic, len(text), len(text)
    else:  # pragma: no cover - LALR raises only the two above
        raise error
    start, end = _statement_around(text, position)
    return diagnostic, start, end


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


def _blank(fragment: str) -> str:
    # Keep newlines (positions) and drop everything else, braces included:
    # a blanked `score x {` line costs the rules below it their block, which
    # is reported as further errors rather than guessed at.
    return "".join("\n" if c == "\n" else " " for c in fragment)

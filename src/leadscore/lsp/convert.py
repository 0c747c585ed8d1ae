"""Spans (1-based, in characters) to LSP ranges (0-based, in the client's
code units) and back. pygls's position codec does the unit conversion: the
client may count UTF-16 units, and `“` or an emoji must not shift a caret."""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition, ServerTextRange

from ..dsl.diagnostics import Span


def to_range(span: Span, lines: list[str], codec: PositionCodec) -> types.Range:
    start = ServerTextPosition(max(0, span.line - 1), max(0, span.column - 1))
    end = ServerTextPosition(max(0, span.end_line - 1), max(0, span.end_column - 1))
    return codec.range_to_client_units(_with_end_line(lines), ServerTextRange(start, max(start, end)))


def from_position(position: types.Position, lines: list[str], codec: PositionCodec) -> tuple[int, int]:
    """The 1-based line and column of a client position."""
    found = codec.position_from_client_units(_with_end_line(lines), position)
    return found.line + 1, found.character + 1


def _with_end_line(lines: list[str]) -> list[str]:
    # Diagnostics may point one past the last line (the end of the file).
    return [*lines, ""]

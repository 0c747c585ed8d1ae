"""Messages from the editor that are not JSON-RPC: a body that is not JSON, or JSON of the
wrong shape. pygls logs each with a Python traceback, as if the server had failed, and pops
up an "Error in server" message. The server ignores such a message and keeps serving; the
user sees one line on standard error (the editor's output panel) saying what was wrong.

A request (a message with an id and a method) whose parameters do not have the shape LSP gives
them is answered with a JSON-RPC InvalidParams error: pygls would drop it unanswered, and the
editor would wait for the answer forever."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from cattrs import ClassValidationError, transform_error
from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol

LOG = logging.getLogger("leadscore.lsp")

# What pygls 2 logs, with a traceback, for a message it cannot read: its read loop
# (io_.run_async) and its message decoder (JsonRPCProtocol.structure_message).
PYGLS_UNREADABLE = ("Unable to handle message", "Unable to deserialize message")


class DropUnreadableTracebacks(logging.Filter):
    """Drops pygls's records for an unreadable message: `report_unreadable` says it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("pygls") and str(record.msg).startswith(PYGLS_UNREADABLE))


def configure_logging() -> None:
    """Warnings and errors of the server and of pygls to standard error, one record a line as
    before, without the tracebacks of unreadable messages."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(DropUnreadableTracebacks())
    logging.getLogger().addHandler(handler)


def what_is_wrong(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "its body is not UTF-8"
    if isinstance(error, json.JSONDecodeError):
        return f"its body is not JSON ({error})"
    if isinstance(error.__cause__, ClassValidationError):
        return "its fields do not have the shape LSP gives them (" + "; ".join(transform_error(error.__cause__)) + ")"
    if isinstance(error, AttributeError):
        # pygls hands a JSON value without a "jsonrpc" member on as it is, and fails to read it
        return 'it is not a JSON-RPC 2.0 object (no "jsonrpc" member)'
    return f"{type(error).__name__}: {error}"


def report_unreadable(error: BaseException) -> None:
    if isinstance(error, RefusedRequest):
        LOG.warning("leadscore lsp: answered a %s request from the editor with an InvalidParams error: %s",
                    error.method, what_is_wrong(error))
    else:
        LOG.warning("leadscore lsp: ignored a message from the editor: %s", what_is_wrong(error))


class RefusedRequest(JsonRpcInvalidParams):
    """A request whose parameters could not be read, already answered with this error."""

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(f"{JsonRpcInvalidParams.MESSAGE}: {reason}")
        self.method = method


class AnsweringProtocol(LanguageServerProtocol):
    """pygls's protocol, answering a request whose parameters it cannot read (`structure_message`
    is its public hook for reading a message; `protocol_cls` of the server chooses the class)."""

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams as error:
            request_id, method = data.get("id"), data.get("method")
            if type(request_id) not in (int, str) or not isinstance(method, str):
                raise   # not a request, or one whose id cannot be answered: only reported
            refused = RefusedRequest(method, what_is_wrong(error))
            self.answer_with_error(request_id, refused)
            raise refused from error.__cause__   # the read loop reports it in one line

    def answer_with_error(self, request_id: int | str, error: JsonRpcInvalidParams) -> None:
        # pygls has no public way to answer a request outside a handler; _send_response is
        # what its own handlers' errors go through.
        self._send_response(request_id, error=error.to_response_error())

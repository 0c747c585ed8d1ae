"""`leadscore lsp` on messages that are not JSON-RPC (docs/editor.md): a raw client writes
Content-Length frames to the server's standard input. Each unreadable message is one line on
standard error, never a traceback nor an error pop-up, and the server keeps serving; a request
whose parameters have the wrong shape is answered with an InvalidParams error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

SRC = str(Path(__file__).resolve().parents[1] / "src")
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"processId": None, "rootUri": None, "capabilities": {}}}
SHUTDOWN = {"jsonrpc": "2.0", "id": 2, "method": "shutdown"}
EXIT = {"jsonrpc": "2.0", "method": "exit"}


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def messages(stdout: bytes) -> list[dict]:
    """The JSON-RPC messages the server wrote, in order."""
    found = []
    while stdout:
        head, _, rest = stdout.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        found.append(json.loads(rest[:length]))
        stdout = rest[length:]
    return found


def serve(*bodies: bytes, after_initialize: bool = False) -> tuple[list[dict], list[str], int]:
    """Sends `bodies`, then initialize (or initialize, then `bodies`), shutdown and exit: the
    server's messages, its standard error lines and its exit code."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    initialize = json.dumps(INITIALIZE).encode()
    sent = [initialize, *bodies] if after_initialize else [*bodies, initialize]
    stream = b"".join(frame(body) for body in sent)
    stream += b"".join(frame(json.dumps(m).encode()) for m in (SHUTDOWN, EXIT))
    done = subprocess.run([sys.executable, "-m", "leadscore.cli", "lsp"], input=stream, capture_output=True,
                          env=env, timeout=120)
    return messages(done.stdout), done.stderr.decode("utf-8", "replace").splitlines(), done.returncode


def assert_ignored(bodies: tuple[bytes, ...], sent: list[dict], errors: list[str], code: int) -> None:
    assert code == 0
    assert not any("Traceback" in line for line in errors), errors
    assert len(errors) == len(bodies), errors
    assert all(line.startswith("leadscore lsp: ignored a message from the editor: ") for line in errors)
    assert [m.get("method") for m in sent if "method" in m] == []          # no "Error in server" pop-up
    answers = {m["id"]: m for m in sent if "id" in m}
    assert "capabilities" in answers[1]["result"] and answers[2] == {"id": 2, "jsonrpc": "2.0", "result": None}


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "its body is not JSON (Expecting property name"),
    (b'{"a": "\xc3\x28"}', "its body is not UTF-8"),
    (b"[1, 2]", 'it is not a JSON-RPC 2.0 object (no "jsonrpc" member)'),
    (b'{"id": 3}', 'it is not a JSON-RPC 2.0 object (no "jsonrpc" member)'),
    (b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"x": 1}}',
     "its fields do not have the shape LSP gives them (required field missing @ $.params.text_document)"),
])
def test_an_unreadable_message_is_one_line_and_the_server_keeps_serving(body, reason):
    sent, errors, code = serve(body)
    assert_ignored((body,), sent, errors, code)
    assert errors[0].removeprefix("leadscore lsp: ignored a message from the editor: ").startswith(reason)


JSON_ISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                            st.sampled_from(["id", "method", "params", "result", "x"]), inner, max_size=3),
                        max_leaves=8)


@settings(max_examples=8, deadline=None)
@given(bodies=st.lists(st.binary(min_size=1, max_size=40) | JSON_ISH.map(lambda v: json.dumps(v).encode()),
                       min_size=1, max_size=4))
def test_any_unreadable_messages_leave_the_server_serving(bodies):
    sent, errors, code = serve(*bodies)
    assert_ignored(tuple(bodies), sent, errors, code)


def request(request_id, method: str, params=None, **more) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, **more}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


DOCUMENT = {"uri": "file:///nowhere/rules.score"}


@pytest.mark.parametrize("params, reason", [
    ({"textDocument": DOCUMENT}, "required field missing @ $.params.position"),
    ({"textDocument": DOCUMENT, "position": {"line": "one", "character": 0}}, "$.params.position.line"),
    (5, "$.params"),
    (None, "$.params"),
])
def test_a_request_with_parameters_of_the_wrong_shape_is_answered_with_invalid_params(params, reason):
    body = request(7, "textDocument/hover", params)
    sent, errors, code = serve(body, request(8, "textDocument/documentSymbol", {"textDocument": DOCUMENT}),
                               after_initialize=True)
    assert code == 0 and not any("Traceback" in line for line in errors), errors
    answers = [m for m in sent if "id" in m]
    assert [m["id"] for m in answers] == [1, 7, 8, 2]   # each request answered once, in order
    refused = answers[1]
    assert refused["error"]["code"] == -32602 and "result" not in refused
    assert reason in refused["error"]["message"]
    assert "result" in answers[2] and answers[3]["result"] is None   # still serving
    assert [m.get("method") for m in sent if "method" in m] == []      # no "Error in server" pop-up
    assert len(errors) == 1 and errors[0].startswith(
        "leadscore lsp: answered a textDocument/hover request from the editor with an InvalidParams error: "
        "its fields do not have the shape LSP gives them (")


@pytest.mark.parametrize("request_id", [{"a": 1}, [7], None, True, 1.5])
def test_a_request_whose_id_cannot_be_answered_is_only_reported(request_id):
    body = request(request_id, "textDocument/hover", {"textDocument": DOCUMENT})
    sent, errors, code = serve(body)
    assert_ignored((body,), sent, errors, code)


METHODS = ["textDocument/hover", "textDocument/definition", "textDocument/references", "textDocument/completion",
           "textDocument/documentSymbol", "textDocument/formatting", "textDocument/rename",
           "textDocument/codeAction", "textDocument/codeLens", "textDocument/semanticTokens/full",
           "textDocument/inlayHint"]
PARAMS = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.sampled_from(["", "file:///nowhere/rules.score", "x"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(
        st.sampled_from(["textDocument", "uri", "position", "line", "character", "range", "context", "newName",
                         "options", "tabSize", "insertSpaces", "start", "end", "diagnostics"]), inner, max_size=3),
    max_leaves=10)


@settings(max_examples=8, deadline=None)
@given(requests=st.lists(st.tuples(st.sampled_from(METHODS), PARAMS), min_size=1, max_size=4))
def test_every_request_is_answered_once_whatever_its_parameters(requests):
    bodies = [request(10 + i, method, params) for i, (method, params) in enumerate(requests)]
    sent, errors, code = serve(*bodies, after_initialize=True)
    assert code == 0 and not any("Traceback" in line for line in errors), errors
    answered = [m["id"] for m in sent if "id" in m]
    assert answered == [1, *range(10, 10 + len(requests)), 2]
    assert [m.get("method") for m in sent if "method" in m] == []

"""A real LSP client (pytest-lsp) driving `leadscore lsp` over stdio.

Tests open documents in the running server and assert what the client
receives, never by calling handler functions. Rule files are written to a
tmp folder beside the inline acme schema of helpers.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from helpers import ACME_SCHEMA

SRC = str(Path(__file__).resolve().parents[1] / "src")
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "leadscore.cli", "lsp"],
    server_env={**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")},
)

HEADER = 'ruleset "t" version 1\nschema "schema.yaml"\n'


def capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(code_lens=types.CodeLensWorkspaceClientCapabilities(
            refresh_support=True)),
        text_document=types.TextDocumentClientCapabilities(
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(related_information=True)))


async def start(client: LanguageClient, root: Path | None, options: dict | None = None) -> None:
    """Initialize; the server's answer is kept as `client.initialize_result`."""
    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def code_lens_refresh(ls, params) -> None:
        ls.code_lens_refreshes = getattr(ls, "code_lens_refreshes", 0) + 1

    client.initialize_result = await client.initialize_session(types.InitializeParams(
        capabilities=capabilities(), root_uri=root.as_uri() if root else None,
        initialization_options=options))


def folder_with_schema(path: Path, schema: str = ACME_SCHEMA) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "schema.yaml").write_text(schema, encoding="utf-8")
    return path


async def open_document(client: LanguageClient, uri: str, text: str) -> list[types.Diagnostic]:
    """Open a document and wait for its diagnostics."""
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="leadscore", version=1, text=text)))
    while uri not in client.diagnostics:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return list(client.diagnostics[uri])


async def change_document(client: LanguageClient, uri: str, text: str, version: int) -> list[types.Diagnostic]:
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=version, uri=uri),
        [types.TextDocumentContentChangeWholeDocument(text=text)]))
    while uri not in client.diagnostics:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return list(client.diagnostics[uri])


def write_rules(folder: Path, body: str, name: str = "t.score") -> tuple[str, str]:
    """A rule file (header + body) on disk; its URI and text."""
    path = folder / name
    text = HEADER + body
    path.write_text(text, encoding="utf-8")
    return path.as_uri(), text


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


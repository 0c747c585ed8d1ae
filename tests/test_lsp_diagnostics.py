"""`leadscore lsp`: diagnostics as the user types, and the documents that
crashed other servers (empty, unsaved, no folder, no schema, no root URI)."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_support import SERVER, change_document, folder_with_schema, open_document, start, write_rules

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, tmp_path):
    await start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def rootless(lsp_client: LanguageClient):
    await start(lsp_client, None)
    yield
    await lsp_client.shutdown_session()


async def test_diagnostics_have_check_codes_positions_and_hints(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, 'score fit {\n  a: +10 if industy == "Retail"\n}\n')
    found = await open_document(client, uri, text)
    assert [(d.code, d.range.start.line, d.range.start.character, d.range.end.character) for d in found] == \
        [("LS300", 3, 12, 19)]
    assert found[0].severity == types.DiagnosticSeverity.Error
    assert "hint: did you mean `industry`?" in found[0].message
    # As the user types: the fix clears it.
    fixed = text.replace("industy", "industry")
    assert await change_document(client, uri, fixed, 2) == []

"""`leadscore lsp`: diagnostics as the user types, and the documents that
crashed other servers (empty, unsaved, no folder, no schema, no root URI)."""

from __future__ import annotations

import subprocess
import sys

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


async def test_a_problem_in_the_schema_is_shown_at_the_schema_line(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules", "lead:\n  fields:\n    employees: {type: integer}\n")
    uri, text = write_rules(folder, "const a = 1\n")
    found = await open_document(client, uri, text)
    assert [d.code for d in found] == ["LS602"]
    # Shown on the `schema "schema.yaml"` line, pointing into the schema file.
    assert found[0].range.start.line == 1
    related = found[0].related_information[0].location
    assert related.uri == (folder / "schema.yaml").as_uri() and related.range.start.line == 2


async def test_an_empty_document_is_one_diagnostic(client: LanguageClient, tmp_path):
    found = await open_document(client, (tmp_path / "empty.score").as_uri(), "")
    assert [(d.code, d.range.start.line, d.range.start.character) for d in found] == [("LS200", 0, 0)]


async def test_a_missing_schema_is_ls600_and_the_server_goes_on(client: LanguageClient, tmp_path):
    (tmp_path / "lonely").mkdir()
    uri, text = write_rules(tmp_path / "lonely", "const a = 1\nscore s {\n  r: +a if nothing == 1\n}\n")
    found = await open_document(client, uri, text)
    assert [(d.code, d.range.start.line) for d in found] == [("LS600", 1)]
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(4, 7)))
    assert "**const** `a`" in hover.contents.value


async def test_an_unsaved_document_is_checked_without_a_schema(client: LanguageClient):
    uri = "untitled:Untitled-1"
    found = await open_document(client, uri, 'ruleset "t" version 1\nscore s {\n  r: +1 if\n}\n')
    codes = {d.code for d in found}
    assert "LS100" in codes
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        types.TextDocumentIdentifier(uri)))
    assert [s.name for s in symbols] == ["s"]


async def test_a_file_at_the_root_of_the_file_system(client: LanguageClient):
    # Never written: the server must not need the file, nor a folder around it.
    uri = "file:///t.score"
    found = await open_document(client, uri, 'ruleset "t" version 1\nschema "schema.yaml"\n')
    assert [d.code for d in found] == ["LS600"]


async def test_a_client_without_a_root_uri(rootless: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, "score fit {\n  a: +10 if employees > 5\n}\n")
    assert await open_document(rootless, uri, text) == []
    assert await open_document(rootless, "untitled:x", "") != []


async def test_check_does_not_import_the_language_server(tmp_path):
    # `leadscore check` runs in CI and pre-commit hooks: its start-up must not pay for pygls.
    folder = folder_with_schema(tmp_path / "rules")
    write_rules(folder, "const a = 1\n")
    script = ("import sys\nfrom click.testing import CliRunner\nfrom leadscore.cli import main\n"
              f"result = CliRunner().invoke(main, ['check', {str(folder / 't.score')!r}])\n"
              "print(result.exit_code, 'pygls' in sys.modules, 'lsprotocol' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=SERVER.server_env,
                          check=True)
    assert done.stdout.split() == ["0", "False", "False"]


async def test_positions_count_utf16_units(client: LanguageClient, tmp_path):
    # Each emoji is one character for the checker and two UTF-16 units for the editor.
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, 'score fit {\n  a: +1 if job_title == "\U0001F600\U0001F600" and industy == "x"\n}\n')
    (found,) = await open_document(client, uri, text)
    assert found.code == "LS300"
    assert found.range.start.character == text.splitlines()[3].index("industy") + 2


NASTY = [
    "{",
    "}}}}",
    'ruleset "t',
    "\x00\x01\x02",
    "score s {\n  a: +1 per\n",
    'ruleset "t" version 1\r\nschema "schema.yaml"\r\nscore s {\r\n  a: +1 if employees > 1\r\n}\r\n',
    'ruleset "t" version 1\nschema "schema.yaml"\nscore s = s + `\n',
    "const a = " + "(" * 300 + "1" + ")" * 300 + "\n",
    "# only a comment",
    'ruleset "t" version 1\nschema "../schema.yaml"\nthreshold t: x >= 1\n',
]


@pytest.mark.parametrize("text", NASTY)
async def test_every_feature_answers_on_broken_text(client: LanguageClient, tmp_path, text):
    folder = folder_with_schema(tmp_path / "rules")
    uri = (folder / "t.score").as_uri()
    await open_document(client, uri, text)
    document = types.TextDocumentIdentifier(uri)
    lines = text.splitlines() or [""]
    for line, content in enumerate(lines[:6]):
        for character in range(0, min(len(content), 40) + 1, 3):
            at = types.Position(line, character)
            await client.text_document_hover_async(types.HoverParams(document, at))
            await client.text_document_definition_async(types.DefinitionParams(document, at))
            await client.text_document_completion_async(types.CompletionParams(document, at))
            await client.text_document_prepare_rename_async(types.PrepareRenameParams(document, at))
            await client.text_document_references_async(types.ReferenceParams(
                context=types.ReferenceContext(include_declaration=True), text_document=document, position=at))
    whole = types.Range(types.Position(0, 0), types.Position(len(lines), 0))
    await client.text_document_document_symbol_async(types.DocumentSymbolParams(document))
    await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(document))
    await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=document, range=whole))
    await client.text_document_code_lens_async(types.CodeLensParams(document))
    await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=document, options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    await client.text_document_code_action_async(types.CodeActionParams(
        text_document=document, range=whole, context=types.CodeActionContext(
            diagnostics=list(client.diagnostics[uri]))))


async def test_closing_a_document_clears_its_diagnostics(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, "const a = \n")
    assert await open_document(client, uri, text) != []
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []

"""`leadscore lsp`: quick fixes, formatting, document symbols, semantic
tokens, decay inlay hints and the threshold code lens — one test per feature,
through a real client over stdio."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from leadscore.dsl.formatter import format_ruleset
from leadscore.dsl.parser import parse
from lsp_support import SERVER, change_document, doc, folder_with_schema, open_document, pos, start, write_rules
from test_simulator_support import SCHEMA, history

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, tmp_path):
    await start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply non-overlapping edits (ASCII text: characters are code units)."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = offsets[edit.range.start.line] + edit.range.start.character
        end = offsets[edit.range.end.line] + edit.range.end.character
        text = text[:start] + edit.new_text + text[end:]
    return text


async def test_quick_fixes_for_did_you_mean_and_curly_quotes(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, 'score fit {\n  a: +10 if industy == "Retial"\n'
                                    '  b: +10 if role == \u201cbuyer\u201d\n}\n')
    found = await open_document(client, uri, text)
    assert [d.code for d in found] == ["LS300", "LS101"]

    async def fixes(diagnostic):
        return await client.text_document_code_action_async(types.CodeActionParams(
            text_document=doc(uri), range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic])))

    (name_fix,) = await fixes(found[0])
    assert name_fix.title == "Change to industry" and name_fix.kind == types.CodeActionKind.QuickFix
    text = apply(text, name_fix.edit.changes[uri])
    assert "if industry ==" in text
    (quote_fix,) = await fixes(found[1])
    text = apply(text, quote_fix.edit.changes[uri])
    assert 'role == "buyer"' in text
    # After both fixes the enum value's own did-you-mean is left, and fixed the same way.
    found = await change_document(client, uri, text, 2)
    assert [d.code for d in found] == ["LS404"]
    (value_fix,) = await fixes(found[0])
    assert apply(text, value_fix.edit.changes[uri]).count('"Retail"') == 1
    assert await check_clean(client, uri, apply(text, value_fix.edit.changes[uri]))


async def check_clean(client, uri, text) -> bool:
    return await change_document(client, uri, text, 3) == []


async def test_formatting_is_fmt(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    messy = 'ruleset   "t" version 1\nschema "schema.yaml"\nscore fit {\n' \
            'a:+10 if employees>5   # big\n}\n'
    uri = (folder / "t.score").as_uri()
    await open_document(client, uri, messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    formatted = apply(messy, edits)
    assert formatted == format_ruleset(parse(messy, "t.score")[0])
    assert "  a: +10 if employees > 5  # big" in formatted
    await change_document(client, uri, formatted, 2)
    assert await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True))) == ()
    await change_document(client, uri, messy.replace("+10", "+"), 3)
    assert await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True))) is None


async def test_document_symbols_outline_the_ruleset(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, "const bar = 5\nscore fit {\n  group g max 10 {\n    a: +1 if employees > 1\n"
                                    "  }\n  b: +2 per page_view\n}\nthreshold mql: fit >= bar\n"
                                    "segment grade {\n  A if fit > 3\n  B otherwise\n}\n")
    await open_document(client, uri, text)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(doc(uri)))
    shape = [(s.name, s.kind, [(c.name, [g.name for g in c.children or []]) for c in s.children or []])
             for s in symbols]
    assert shape == [("bar", types.SymbolKind.Constant, []),
                     ("fit", types.SymbolKind.Class, [("g", ["a"]), ("b", [])]),
                     ("mql", types.SymbolKind.Event, []),
                     ("grade", types.SymbolKind.Enum, [("A", []), ("B", [])])]
    fit = symbols[1]
    assert (fit.range.start.line, fit.range.end.line, fit.selection_range.start.character) == (3, 8, 6)


async def test_semantic_tokens_say_what_each_name_is(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, "# note\nconst bar = 5\nscore fit {\n"
                                    '  a: +bar per page_view where url == "/x", decay half_life 7d\n'
                                    "  b: +1 if employees > 1\n}\n")
    await open_document(client, uri, text)
    result = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(doc(uri)))
    legend = client.initialize_result.capabilities.semantic_tokens_provider.legend
    assert list(legend.token_modifiers) == ["declaration", "readonly"]
    types_ = legend.token_types
    decoded, line, start = [], 0, 0
    data = result.data
    for i in range(0, len(data), 5):
        line += data[i]
        start = data[i + 1] if data[i] else start + data[i + 1]
        word = text.splitlines()[line][start:start + data[i + 2]]
        decoded.append((word, types_[data[i + 3]], data[i + 4]))
    assert ("# note", "comment", 0) in decoded
    assert ("bar", "variable", 3) in decoded  # declaration + readonly
    assert ("bar", "variable", 2) in decoded  # a use: readonly
    assert ("page_view", "type", 0) in decoded and ("url", "property", 0) in decoded
    assert ("employees", "variable", 0) in decoded and ('"/x"', "string", 0) in decoded
    assert ("7d", "number", 0) in decoded and ("per", "keyword", 0) in decoded
    assert ("fit", "class", 1) in decoded and ("a", "method", 1) in decoded


async def test_inlay_hints_show_decayed_points(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, "score s {\n  decay half_life 30d\n  a: +20 per page_view\n"
                                    "  b: +10 per email_open within 30d, decay none\n"
                                    "  c: +10 per demo_request, decay none\n"
                                    "  d: +5 if employees > 3\n}\n")
    await open_document(client, uri, text)
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=doc(uri), range=types.Range(pos(0, 0), pos(9, 0))))
    found = [(h.position.line, h.position.character, h.label) for h in hints]
    assert found == [(4, 22, "7d: +17.01 · 30d: +10 · 90d: +2.5"),
                     (5, 46, "7d: +10 · 30d: 0 · 90d: 0")]


async def test_code_lens_counts_threshold_crossings_in_the_history(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules", SCHEMA)
    history(folder / "history", [{"lead_id": f"L{k}"} for k in range(1, 5)], [
        ("L1", "page_view", "2026-01-05T09:00:00Z", "/a"), ("L1", "page_view", "2026-01-06T10:00:00Z", "/b"),
        ("L2", "demo_request", "2026-06-01T12:00:00Z", None),
        ("L3", "page_view", "2026-06-10T09:00:00Z", "/a"), ("L3", "page_view", "2026-06-11T09:00:00Z", "/a"),
        ("L4", "page_view", "2026-06-15T00:00:00Z", "/a")], [("L1", "won", "2026-02-01T00:00:00Z")])
    body = ("const bar = 20\nscore interest {\n  view: +10 per page_view, decay none\n"
            "  demo: +30 per demo_request, decay none\n}\nthreshold mql: interest >= bar\n"
            "threshold hot: interest >= 60\n")
    uri, text = write_rules(folder, body)
    await open_document(client, uri, text)
    # An edit at once supersedes the first replay: the lens shows the edited rules' counts.
    await change_document(client, uri, text.replace("bar = 20", "bar = 30"), 2)
    # L1 crossed in January (not in the last 90 days before 2026-06-16); L2 and L3 in June.
    assert await lens_titles(client, uri) == [(7, "1 lead crossed it in the last 90 days of the history"),
                                              (8, "0 leads crossed it in the last 90 days of the history")]
    await change_document(client, uri, text, 3)
    assert (await lens_titles(client, uri))[0] == (7, "2 leads crossed it in the last 90 days of the history")


async def lens_titles(client: LanguageClient, uri: str) -> list[tuple[int, str]]:
    """The lenses once the background replay is done."""
    while True:
        lenses = await client.text_document_code_lens_async(types.CodeLensParams(doc(uri)))
        titles = [(lens.range.start.line, lens.command.title) for lens in lenses]
        if titles and not any("replaying" in title for _, title in titles):
            return titles
        await asyncio.sleep(0.05)


async def test_no_code_lens_without_a_history(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    uri, text = write_rules(folder, "score s {\n  a: +1 if employees > 1\n}\nthreshold t: s > 0\n")
    await open_document(client, uri, text)
    assert not await client.text_document_code_lens_async(types.CodeLensParams(doc(uri)))


@pytest_lsp.fixture(config=SERVER)
async def configured(lsp_client: LanguageClient, tmp_path):
    await start(lsp_client, tmp_path, {"history": "data"})
    yield
    await lsp_client.shutdown_session()


async def test_the_history_option_names_another_folder_inside(configured: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules", SCHEMA)
    history(folder / "data", [{"lead_id": "L1"}], [("L1", "demo_request", "2026-06-01T12:00:00Z", None)])
    uri, text = write_rules(folder, "score s {\n  d: +30 per demo_request, decay none\n}\nthreshold t: s > 0\n")
    await open_document(configured, uri, text)
    assert await lens_titles(configured, uri) == [(5, "1 lead crossed it in the last 90 days of the history")]
    # `history/` is not read when the option names another folder.
    other = folder_with_schema(tmp_path / "other", SCHEMA)
    history(other / "history", [{"lead_id": "L1"}], [("L1", "demo_request", "2026-06-01T12:00:00Z", None)])
    uri, text = write_rules(other, "score s {\n  d: +30 per demo_request, decay none\n}\nthreshold t: s > 0\n")
    await open_document(configured, uri, text)
    assert not await configured.text_document_code_lens_async(types.CodeLensParams(doc(uri)))

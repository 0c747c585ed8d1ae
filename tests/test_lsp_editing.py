"""`leadscore lsp`: completion, hover, go to definition, references, rename —
one test per feature, through a real client over stdio."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_support import SERVER, doc, folder_with_schema, open_document, pos, start, write_rules

pytestmark = pytest.mark.asyncio(loop_scope="function")

BODY = """\
const bonus = 15
score fit {
  decay half_life 30d
  retail: +10 if industry == "Retail"
  pricing: +bonus per page_view where url starts_with "/pricing", max 30
}
score total = fit + bonus
threshold mql: total >= 40
segment grade {
  A if fit >= 60
  B otherwise
}
"""
# Lines (0-based) of BODY in the document: the header takes lines 0 and 1.
CONST, SCORE, RETAIL, PRICING, TOTAL, MQL = 2, 3, 5, 6, 8, 9


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, tmp_path):
    await start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def rules(tmp_path):
    return write_rules(folder_with_schema(tmp_path / "rules"), BODY)


async def labels(client, uri, line, character):
    found = await client.text_document_completion_async(types.CompletionParams(doc(uri), pos(line, character)))
    return [item.label for item in found.items]


async def test_completion_offers_what_the_place_expects(client: LanguageClient, tmp_path):
    folder = folder_with_schema(tmp_path / "rules")
    text = ('ruleset "t" version 1\nschema "schema.yaml"\nconst bonus = 15\n\nscore s {\n'
            '  a: +1 per \n'
            '  b: +1 per page_view where \n'
            '  c: +1 if industry == "Re\n'
            '  d: +1 if role in ["buyer", "\n'
            '  e: +1 if \n'
            '  \n'
            '  f: +1 \n'
            '  g: +1 per page_view, \n'
            '  h: +1 per page_view, at most 2 per \n'
            '  inactivity \n'
            '  inactivity after 30d: -5 \n'
            '}\n')
    (folder / "t.score").write_text(text)
    uri = (folder / "t.score").as_uri()
    await open_document(client, uri, text)
    lines = text.splitlines()

    async def at_end(line):
        return await labels(client, uri, line, len(lines[line]))

    assert "page_view" in await at_end(5)
    where = await at_end(6)
    assert where[0] == "url" and "industry" in where and "bonus" in where
    assert "Retail" in await at_end(7)
    assert set(await at_end(8)) == {"buyer", "end_user", "influencer"}
    condition = await at_end(9)
    assert {"industry", "bonus", "count", "not"} <= set(condition) and "s" not in condition
    assert set(await at_end(10)) == {"decay", "clamp", "inactivity", "group"}
    assert set(await at_end(11)) == {"if", "per"}
    assert "once" in await at_end(12)
    assert set(await at_end(13)) == {"day", "week"}
    assert await at_end(14) == ["after"]
    assert await at_end(15) == ["every"]
    assert "threshold" in await labels(client, uri, 3, 0)
    assert await labels(client, uri, 0, 10) == []  # inside the ruleset's name


async def test_hover_says_what_a_name_is(client: LanguageClient, rules):
    uri, text = rules
    await open_document(client, uri, text)

    async def hover(line, character):
        found = await client.text_document_hover_async(types.HoverParams(doc(uri), pos(line, character)))
        return found.contents.value if found else None

    assert "string, one of: Financial Services" in await hover(RETAIL, 18)
    assert "`bonus` = `15`" in await hover(CONST, 7)
    words = await hover(PRICING, 4)
    assert "+15 points" in words and "`page_view`" in words and "at most 30 points" in words
    assert "halve every 30 days (the score's decay)" in words
    assert "`url`: string" in await hover(PRICING, 40)
    assert await hover(RETAIL, 28) is None  # on the string


async def test_definition_of_declarations_and_schema_entries(client: LanguageClient, rules, tmp_path):
    uri, text = rules
    await open_document(client, uri, text)

    async def definition(line, character):
        return await client.text_document_definition_async(types.DefinitionParams(doc(uri), pos(line, character)))

    found = await definition(TOTAL, 21)  # `bonus`
    assert found.uri == uri and (found.range.start.line, found.range.start.character) == (CONST, 6)
    found = await definition(MQL, 16)  # `total`
    assert (found.range.start.line, found.range.start.character) == (TOTAL, 6)
    schema = (tmp_path / "rules" / "schema.yaml").as_uri()
    found = await definition(RETAIL, 18)  # `industry`: a line of schema.yaml
    assert found.uri == schema and found.range.start.line == 5
    found = await definition(PRICING, 27)  # `page_view`
    assert found.uri == schema and found.range.start.line == 23


async def test_references_of_a_constant_and_a_field(client: LanguageClient, rules):
    uri, text = rules
    await open_document(client, uri, text)

    async def references(line, character, declaration):
        found = await client.text_document_references_async(types.ReferenceParams(
            context=types.ReferenceContext(include_declaration=declaration), text_document=doc(uri),
            position=pos(line, character)))
        return [(r.uri.rsplit("/", 1)[-1], r.range.start.line, r.range.start.character) for r in found]

    assert await references(CONST, 7, True) == [("t.score", CONST, 6), ("t.score", PRICING, 12),
                                                ("t.score", TOTAL, 20)]
    assert await references(CONST, 7, False) == [("t.score", PRICING, 12), ("t.score", TOTAL, 20)]
    assert await references(RETAIL, 18, True) == [("schema.yaml", 5, 4), ("t.score", RETAIL, 17)]


async def test_rename_changes_every_use(client: LanguageClient, rules):
    uri, text = rules
    await open_document(client, uri, text)
    prepared = await client.text_document_prepare_rename_async(types.PrepareRenameParams(doc(uri), pos(MQL, 16)))
    assert (prepared.start.line, prepared.start.character, prepared.end.character) == (MQL, 15, 20)

    async def rename(line, character, new):
        edit = await client.text_document_rename_async(types.RenameParams(text_document=doc(uri), position=pos(line, character), new_name=new))
        return sorted((e.range.start.line, e.range.start.character, e.new_text) for e in edit.changes[uri])

    assert await rename(CONST, 7, "extra") == [(CONST, 6, "extra"), (PRICING, 12, "extra"), (TOTAL, 20, "extra")]
    assert await rename(SCORE, 7, "fit score") == [(SCORE, 6, "`fit score`"), (TOTAL, 14, "`fit score`"),
                                                    (MQL + 2, 7, "`fit score`")]
    assert await rename(PRICING, 3, "pricing_page") == [(PRICING, 2, "pricing_page")]
    # A field is the schema's: it is not renamed from here.
    assert await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(doc(uri), pos(RETAIL, 18))) is None
    with pytest.raises(Exception, match="cannot be a name"):
        await rename(CONST, 7, "bad`name")

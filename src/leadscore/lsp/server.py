"""The server: LSP messages in, features out. Every document is analysed
again on each change (rule files are small); each handler reads the last
analysis. A handler never lets an exception reach the client for bad input:
the analysis turns bad input into diagnostics."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version

from lsprotocol import types
from pygls import uris
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from ..dsl import ast
from ..dsl.diagnostics import Span, sort_key
from ..dsl.formatter import format_ruleset, shape
from ..dsl.parser import parse
from . import lens, malformed, navigation, problems
from .analysis import Analysis, analyse
from .completion import complete, place
from .convert import from_position, to_range
from .decay_hints import decay_hints
from .hover import hover_text
from .outline import outline
from .tokens import TOKEN_MODIFIERS, TOKEN_TYPES, semantic_tokens


class RulesServer(LanguageServer):
    def __init__(self) -> None:
        try:
            release = version("leadscore")
        except PackageNotFoundError:  # run from a source tree
            release = "0"
        super().__init__("leadscore", release, protocol_cls=malformed.AnsweringProtocol)
        self.analyses: dict[str, Analysis] = {}
        self.history_setting: str | None = None
        # Replays run one at a time: the simulator keeps its job in a module global.
        self.replays = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadscore-replay")
        self.generations: dict[str, int] = {}
        self.crossings: dict[str, lens.Crossings] = {}
        self.pending: dict[str, asyncio.Task] = {}

    def report_server_error(self, error: Exception, source: type) -> None:
        # pygls's read loop names JsonRpcException as the source of a message it could not read:
        # the editor's fault, not the server's, so one log line and no error pop-up.
        if source is JsonRpcException:
            malformed.report_unreadable(error)
            return
        super().report_server_error(error, source)

    # --- documents ---------------------------------------------------------

    def refresh(self, uri: str) -> None:
        document = self.workspace.get_text_document(uri)
        path = uris.to_fs_path(uri) if uri.startswith("file:") else None
        analysis = analyse(document.source, path, uri)
        self.analyses[uri] = analysis
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri, self.diagnostics(analysis), version=document.version))
        self.start_replay(uri, analysis)

    def diagnostics(self, analysis: Analysis) -> list[types.Diagnostic]:
        codec, lines = self.workspace.position_codec, analysis.lines
        header = analysis.ruleset.schema
        found = []
        for d in sorted(analysis.diagnostics, key=sort_key):
            elsewhere = d.span.file != analysis.file
            # A problem in the schema file is shown on the line that names it.
            at = d.span if not elsewhere else header.path.span if header else Span.point(analysis.file, 1, 1)
            related = None
            if elsewhere and d.span.file in analysis.sources:
                related = [types.DiagnosticRelatedInformation(
                    types.Location(uris.from_fs_path(d.span.file) or d.span.file,
                                   to_range(d.span, analysis.sources[d.span.file].splitlines(), codec)),
                    d.message)]
            suggested = problems.replacement(d) if not elsewhere else None
            found.append(types.Diagnostic(
                to_range(at, lines, codec), problems.message(d, elsewhere), severity=problems.severity(d),
                code=d.code, source=problems.SOURCE, related_information=related,
                data={"replacement": suggested} if suggested else None))
        return found

    def at(self, uri: str, position: types.Position):
        """The analysis of a document and the name at a position (or None)."""
        analysis = self.analyses.get(uri)
        if analysis is None:
            return None, None
        line, column = from_position(position, analysis.lines, self.workspace.position_codec)
        return analysis, analysis.symbols.at(line, column)

    def location(self, analysis: Analysis, span: Span, uri: str) -> types.Location:
        if span.file == analysis.file:
            return types.Location(uri, to_range(span, analysis.lines, self.workspace.position_codec))
        lines = analysis.sources.get(span.file, "").splitlines()
        return types.Location(uris.from_fs_path(span.file) or span.file,
                              to_range(span, lines, self.workspace.position_codec))

    # --- the threshold lens's replay ----------------------------------------

    def start_replay(self, uri: str, analysis: Analysis) -> None:
        generation = self.generations[uri] = self.generations.get(uri, 0) + 1
        self.crossings.pop(uri, None)
        running = self.pending.pop(uri, None)
        if running is not None:
            running.cancel()
        folder = lens.history_folder(analysis.path, self.history_setting)
        if folder is None or analysis.checked is None:
            return

        def stale() -> bool:
            return self.generations.get(uri) != generation

        async def run() -> None:
            # While the user types, each keystroke cancels this task before the replay starts.
            await asyncio.sleep(lens.TYPING_PAUSE_SECONDS)
            loop = asyncio.get_running_loop()
            try:
                found = await loop.run_in_executor(
                    self.replays, lens.replay, analysis.checked, analysis.path, folder, stale)
            except lens.Superseded:
                return
            except Exception as error:  # a replay must never take the server down
                found = lens.Crossings(None, f"internal error: {error}")
            if stale():
                return
            self.crossings[uri] = found
            self.pending.pop(uri, None)
            if _can_refresh_lenses(self.client_capabilities):
                self.workspace_code_lens_refresh(None)

        self.pending[uri] = asyncio.get_event_loop().create_task(run())


def _can_refresh_lenses(capabilities: types.ClientCapabilities | None) -> bool:
    workspace = capabilities.workspace if capabilities else None
    lenses = workspace.code_lens if workspace else None
    return bool(lenses and lenses.refresh_support)


server = RulesServer()


@server.feature(types.INITIALIZE)
def initialize(ls: RulesServer, params: types.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("history"), str):
        ls.history_setting = options["history"]


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: RulesServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: RulesServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: RulesServer, params: types.DidSaveTextDocumentParams) -> None:
    # The schema may have changed on disk meanwhile.
    ls.refresh(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: RulesServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.analyses.pop(uri, None)
    ls.generations[uri] = ls.generations.get(uri, 0) + 1
    ls.crossings.pop(uri, None)
    running = ls.pending.pop(uri, None)
    if running is not None:
        running.cancel()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=['"', "(", " ", "."]))
def completion(ls: RulesServer, params: types.CompletionParams) -> types.CompletionList:
    document = ls.workspace.get_text_document(params.text_document.uri)
    lines = document.source.splitlines()
    line, column = from_position(params.position, lines, ls.workspace.position_codec)
    items = complete(ls.analyses.get(params.text_document.uri), place(lines, line, column))
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: RulesServer, params: types.HoverParams) -> types.Hover | None:
    analysis, found = ls.at(params.text_document.uri, params.position)
    text = hover_text(analysis, found) if found else None
    if text is None:
        return None
    return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text),
                       to_range(found.span, analysis.lines, ls.workspace.position_codec))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: RulesServer, params: types.DefinitionParams) -> types.Location | None:
    analysis, found = ls.at(params.text_document.uri, params.position)
    span = navigation.definition(analysis, found) if found else None
    return ls.location(analysis, span, params.text_document.uri) if span else None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def references(ls: RulesServer, params: types.ReferenceParams) -> list[types.Location] | None:
    analysis, found = ls.at(params.text_document.uri, params.position)
    if found is None:
        return None
    spans = navigation.references(analysis, found, params.context.include_declaration)
    return [ls.location(analysis, span, params.text_document.uri) for span in spans]


@server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
def prepare_rename(ls: RulesServer, params: types.PrepareRenameParams) -> types.Range | None:
    analysis, found = ls.at(params.text_document.uri, params.position)
    if not navigation.renamable(found):
        return None
    return to_range(found.span, analysis.lines, ls.workspace.position_codec)


@server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
def rename(ls: RulesServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
    analysis, found = ls.at(params.text_document.uri, params.position)
    if not navigation.renamable(found):
        return None
    edits = navigation.rename_edits(analysis, found, params.new_name)
    if edits is None:
        raise ValueError(f"{params.new_name!r} cannot be a name: it may not be empty, start or end with a "
                         "space, or hold a back-quote or line break")
    codec = ls.workspace.position_codec
    return types.WorkspaceEdit(changes={params.text_document.uri: [
        types.TextEdit(to_range(span, analysis.lines, codec), text) for span, text in edits]})


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def code_action(ls: RulesServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    document = ls.workspace.get_text_document(params.text_document.uri)
    return problems.quick_fixes(params.text_document.uri, list(params.context.diagnostics),
                                document.source.splitlines(), ls.workspace.position_codec)


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: RulesServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    text = document.source
    ruleset, diagnostics = parse(text, params.text_document.uri)
    if any(d.is_error for d in diagnostics):
        return None  # like `leadscore fmt`: a file with syntax errors is left as it is
    formatted = format_ruleset(ruleset)
    if formatted == text or shape(parse(formatted, params.text_document.uri)[0]) != shape(ruleset):
        return []
    lines = text.split("\n")
    end = types.Position(len(lines) - 1, ls.workspace.position_codec.client_num_units(lines[-1]))
    return [types.TextEdit(types.Range(types.Position(0, 0), end), formatted)]


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: RulesServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    analysis = ls.analyses.get(params.text_document.uri)
    if analysis is None:
        return []
    codec = ls.workspace.position_codec
    return outline(analysis.ruleset, lambda span: to_range(span, analysis.lines, codec))


@server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                types.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS))
def semantic_tokens_full(ls: RulesServer, params: types.SemanticTokensParams) -> types.SemanticTokens:
    analysis = ls.analyses.get(params.text_document.uri)
    data = semantic_tokens(analysis, ls.workspace.position_codec) if analysis else []
    return types.SemanticTokens(data=data)


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
def inlay_hint(ls: RulesServer, params: types.InlayHintParams) -> list[types.InlayHint]:
    analysis = ls.analyses.get(params.text_document.uri)
    if analysis is None:
        return []
    codec = ls.workspace.position_codec
    hints = decay_hints(analysis.ruleset, params.range.start.line + 1, params.range.end.line + 1)
    return [types.InlayHint(to_range(h.at, analysis.lines, codec).end, h.label, padding_left=True,
                            tooltip=h.tooltip) for h in hints]


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
def code_lens(ls: RulesServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    uri = params.text_document.uri
    analysis = ls.analyses.get(uri)
    if analysis is None or analysis.checked is None \
            or lens.history_folder(analysis.path, ls.history_setting) is None:
        return []
    found = ls.crossings.get(uri)
    codec = ls.workspace.position_codec
    return [types.CodeLens(to_range(t.name.span, analysis.lines, codec),
                           command=types.Command(lens.lens_title(found, t.name.name), ""))
            for t in analysis.checked.ruleset.declarations if isinstance(t, ast.Threshold)]

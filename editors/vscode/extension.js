// The leadscore extension: highlighting comes from the TextMate grammar
// (syntaxes/); everything else (diagnostics, completion, hover, rename,
// formatting, ...) comes from the language server, `leadscore lsp`, which
// this client starts and talks to over stdio.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverCommand() {
  // The command is configurable: a project may run leadscore from its own
  // virtual environment (`[".venv/bin/leadscore", "lsp"]`).
  const configured = vscode.workspace.getConfiguration("leadscore").get("server.command");
  const [command, ...args] = Array.isArray(configured) && configured.length > 0
    ? configured : ["leadscore", "lsp"];
  return { command, args, transport: TransportKind.stdio };
}

function activate(context) {
  const server = serverCommand();
  client = new LanguageClient(
    "leadscore",
    "leadscore language server",
    { run: server, debug: server },
    {
      documentSelector: [{ language: "leadscore" }],
      synchronize: {
        // Schema and test files change what the rule files mean.
        fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{score,yaml,yml}"),
      },
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

// Renders a .score file to a self-contained HTML page with the extension's
// TextMate grammar, tokenised exactly as VS Code does (vscode-textmate with
// the Oniguruma regex engine), coloured with a Dark+-like theme. The page is
// what docs/highlighting.png is a screenshot of (scripts/screenshot.sh).
//
//   node scripts/render-highlighting.js INPUT.score OUTPUT.html
"use strict";

const fs = require("fs");
const path = require("path");
const oniguruma = require("vscode-oniguruma");
const textmate = require("vscode-textmate");

// Scope prefix -> colour; the longest matching prefix wins, as in a theme.
const THEME = {
  "comment": "#6a9955",
  "string": "#ce9178",
  "string.regexp": "#d16969",
  "constant.character.escape": "#d7ba7d",
  "constant.numeric": "#b5cea8",
  "constant.other.date": "#b5cea8",
  "constant.language": "#569cd6",
  "storage.type": "#569cd6",
  "storage.modifier": "#d16969",
  "keyword.other.header": "#c586c0",
  "keyword.control": "#c586c0",
  "keyword.other.option": "#c586c0",
  "keyword.operator": "#d4d4d4",
  "keyword.operator.word": "#569cd6",
  "support.constant": "#4fc1ff",
  "support.function": "#dcdcaa",
  "entity.name.type": "#4ec9b0",
  "entity.name.function": "#dcdcaa",
  "entity.name.tag": "#4ec9b0",
  "variable": "#9cdcfe",
  "variable.language": "#569cd6",
};
const FOREGROUND = "#d4d4d4";
const BACKGROUND = "#1e1e1e";

function colour(scopes) {
  let best = FOREGROUND;
  let bestLength = -1;
  for (const scope of scopes) {
    for (const [prefix, value] of Object.entries(THEME)) {
      const matches = scope === prefix || scope.startsWith(prefix + ".");
      if (matches && prefix.length >= bestLength) {
        best = value;
        bestLength = prefix.length;
      }
    }
  }
  return best;
}

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

async function main() {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error("usage: node scripts/render-highlighting.js INPUT.score OUTPUT.html");
    process.exit(2);
  }
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async () => {
      const file = path.join(__dirname, "..", "syntaxes", "leadscore.tmLanguage.json");
      return textmate.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  const grammar = await registry.loadGrammar("source.leadscore");
  let state = textmate.INITIAL;
  const lines = fs.readFileSync(input, "utf8").replace(/\n$/, "").split("\n");
  const html = lines.map((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    return result.tokens.map((token) => {
      const text = escapeHtml(line.slice(token.startIndex, token.endIndex));
      return `<span style="color:${colour(token.scopes)}">${text}</span>`;
    }).join("");
  });
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(path.basename(input))}</title>
<style>
  body { margin: 0; background: ${BACKGROUND}; }
  pre { margin: 0; padding: 16px 20px; color: ${FOREGROUND};
        font: 14px/1.45 "DejaVu Sans Mono", "Menlo", "Consolas", monospace; }
</style></head>
<body><pre>${html.join("\n")}</pre></body></html>
`;
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, page);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

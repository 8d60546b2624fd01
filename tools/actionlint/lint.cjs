#!/usr/bin/env node
// actionlint over the workflow files named on the command line, through the WebAssembly
// build that package.json pins (no Go toolchain or downloaded binary needed).
// Prints one JSON array of findings ({file, line, column, message, kind}) on stdout;
// exit 0 when there are none, 1 when there are, 2 when the linter cannot run.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node lint.cjs WORKFLOW.yml...\n");
    return 2;
  }
  // The package's own loader; its `exports` expose only the CLI, which prints in colour.
  const { runLint } = require(
    path.join(__dirname, "node_modules", "@tktco", "node-actionlint", "build", "run-lint.js"),
  );
  const findings = [];
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    for (const finding of await runLint(text, file)) {
      if (finding.message) {
        findings.push({
          file,
          line: finding.line,
          column: finding.column,
          message: finding.message,
          kind: finding.kind,
        });
      }
    }
  }
  process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
  return findings.length ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`actionlint: ${error && error.stack ? error.stack : error}\n`);
    process.exit(2);
  },
);

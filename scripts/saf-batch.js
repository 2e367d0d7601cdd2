#!/usr/bin/env node
// Runs the SAF CLI's own commands in one Node.js process for many argument lists, so a test can
// compare thousands of verdicts with the real SAF code without paying SAF's 2 s start-up each time.
//
// Usage: node scripts/saf-batch.js SAF_PACKAGE_DIR CASES.json OUT.json
//   SAF_PACKAGE_DIR  the installed @mitre/saf package (node_modules/@mitre/saf)
//   CASES.json       [{"argv": ["validate", "threshold", "-i", "hdf.json", "-T", "t.yml"]}, ...]
//   OUT.json         written: [{"exit": 0|1|..., "stdout": "...", "stderr": "..."}, ...] in order
//
// Each case runs through oclif exactly as `saf ARGV...` does; console output is captured per case
// and `process.exitCode` (how SAF reports a failed threshold) is read and reset between cases.
'use strict';
const fs = require('fs');

const [safRoot, casesPath, outPath] = process.argv.slice(2);
if (!safRoot || !casesPath || !outPath) {
  console.error('usage: saf-batch.js SAF_PACKAGE_DIR CASES.json OUT.json');
  process.exit(2);
}
process.env.SAF_SKIP_NEW_VERSION_CHECK = 'true';
const oclif = require(require.resolve('@oclif/core', { paths: [safRoot] }));
const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));

async function runCase(argv) {
  let stdout = '';
  let stderr = '';
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const line = (args) => args.map(String).join(' ') + '\n';
  console.log = console.info = (...a) => { stdout += line(a); };
  console.warn = console.error = (...a) => { stderr += line(a); };
  process.exitCode = 0;
  try {
    await oclif.run(argv, safRoot);
  } catch (e) {
    // What the `saf` launcher's error handler would print before exiting non-zero.
    stderr += `Error: ${e.message}\n`;
    if (!process.exitCode) process.exitCode = e.oclif?.exit ?? 2;
  } finally {
    Object.assign(console, saved);
  }
  const exit = process.exitCode || 0;
  process.exitCode = 0;
  return { exit, stdout, stderr };
}

(async () => {
  const results = [];
  for (const c of cases) results.push(await runCase(c.argv));
  fs.writeFileSync(outPath, JSON.stringify(results));
})().catch((e) => {
  console.error(`saf-batch: ${e.stack || e}`);
  process.exit(3);
});

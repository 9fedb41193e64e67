#!/usr/bin/env node
// Reprints what failed in a test log, for .ci/run after a failing `npm test`: whoever reads a CI run
// often sees only its last lines, and nx's summary there names the failed package, not the test.
// Picks out vitest's "Failed Tests" and "Unhandled Errors" sections (name, error, stack), node:test's ✖ lines and the
// demo's "not ok" lines, ANSI colours stripped, at most MAX_LINES in all.
//
// usage: node tools/ci-failures.mjs <log>
import { readFileSync } from 'node:fs';

const MAX_LINES = 200;

/** The failure lines of a log's text, in order: vitest sections whole, other markers one line each. */
export function failureLines(text) {
  const lines = text.replace(/\u001b\[[0-9;]*m/g, '').split(/\r?\n/);
  const out = [];
  let inSection = false;
  for (const line of lines) {
    if (/Failed Tests \d+|Unhandled Errors?\b/.test(line)) inSection = true;
    if (inSection) {
      out.push(line);
      // vitest's run summary follows the failures it listed.
      if (/Test Files\s+\d/.test(line)) inSection = false;
    } else if (/✖|\bnot ok\b|\bFAIL\b/.test(line)) out.push(line);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node tools/ci-failures.mjs <log>');
    process.exit(2);
  }
  const lines = failureLines(readFileSync(file, 'utf8'));
  console.log(`\n==== what failed (from ${file}) ====`);
  if (lines.length === 0) console.log('(no test failure markers in the log: see the output above)');
  for (const l of lines.slice(0, MAX_LINES)) console.log(l);
  if (lines.length > MAX_LINES) console.log(`… ${lines.length - MAX_LINES} more lines in the log above`);
}

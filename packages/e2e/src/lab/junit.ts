/**
 * JUnit XML for CI systems: one testsuite per scenario, one testcase per expectation (a step's
 * expectation carries the step's time), a run that broke as an error testcase; the logs of hosts
 * whose steps failed in system-out. Pure.
 */
import type { RunResult } from './runner.js';

export function junitXml(results: readonly RunResult[]): string {
  const suites = results.map(suite);
  const tests = results.reduce((n, r) => n + r.expectations.length + (r.error ? 1 : 0), 0);
  const failures = results.reduce(
    (n, r) => n + (r.error ? 0 : r.expectations.filter((e) => !e.ok).length),
    0,
  );
  const errors = results.filter((r) => r.error).length;
  const time = results.reduce((n, r) => n + r.ms, 0) / 1000;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="ftpfwd-lab" tests="${tests}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`;
}

function suite(r: RunResult): string {
  const cls = `ftpfwd-lab.${r.scenario.name}`;
  const cases: string[] = [];
  if (r.error)
    cases.push(
      `    <testcase classname="${x(cls)}" name="run" time="${(r.ms / 1000).toFixed(3)}"><error message="${x(r.error)}" type="${r.aborted ? 'interrupted' : 'run'}">${x(r.error)}</error></testcase>`,
    );
  for (const e of r.expectations) {
    const step = e.step ? r.steps.find((s) => s.name === e.step) : undefined;
    const time = ((step?.report?.ms ?? 0) / 1000).toFixed(3);
    const body = e.ok
      ? ''
      : r.error
        ? `<skipped message="${x(e.message)}"/>`
        : `<failure message="${x(e.message)}" type="expectation">${x(`${e.title}\n${e.message}`)}</failure>`;
    cases.push(`    <testcase classname="${x(cls)}" name="${x(e.title)}" time="${time}">${body}</testcase>`);
  }
  const failedHosts = [...new Set(r.steps.filter((s) => !s.ok).map((s) => s.host))];
  const logs = (r.error ? Object.keys(r.logs) : failedHosts)
    .map((h) => `===== ${h} =====\n${r.logs[h] ?? ''}`)
    .join('\n');
  const failures = r.error ? 0 : r.expectations.filter((e) => !e.ok).length;
  const skipped = r.error ? r.expectations.filter((e) => !e.ok).length : 0;
  return [
    `  <testsuite name="${x(r.scenario.name)}" file="${x(r.scenario.file)}" tests="${r.expectations.length + (r.error ? 1 : 0)}" failures="${failures}" errors="${r.error ? 1 : 0}" skipped="${skipped}" time="${(r.ms / 1000).toFixed(3)}" timestamp="${new Date(r.startedAt).toISOString().replace(/\.\d+Z$/, '')}">`,
    ...cases,
    ...(logs ? [`    <system-out>${x(logs)}</system-out>`] : []),
    '  </testsuite>',
  ].join('\n');
}

/** XML-escapes text and drops characters XML 1.0 cannot carry (control bytes in logs). */
function x(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

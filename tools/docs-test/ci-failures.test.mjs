// tools/ci-failures.mjs: what .ci/run reprints at the end of a failing run must name the failed test
// and its error, from the colours and prefixes nx and vitest really print.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { failureLines } from '../ci-failures.mjs';

const red = (s) => `\u001b[31m${s}\u001b[39m`;

it('picks the vitest failure section (name, error) and node:test ✖ lines out of an nx log', () => {
  const log = [
    '@ftpfwd/sshd:  ✓ src/policy.test.ts (12 tests) 40ms',
    red('@ftpfwd/sshd: ⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯'),
    `@ftpfwd/sshd:  ${red('FAIL')}  src/robustness.test.ts > a client whose link dies > resets`,
    "@ftpfwd/sshd: AssertionError: expected 'end' to be 'ECONNRESET'",
    '@ftpfwd/sshd:  Test Files  1 failed | 13 passed (14)',
    '@ftpfwd/sshd:       Tests  1 failed | 81 passed (82)',
    'docs: ✔ a passing check (2ms)',
    `docs: ${red('✖')} deploy/ftpfwd.yaml validates (5ms)`,
  ].join('\n');
  assert.deepEqual(failureLines(log), [
    '@ftpfwd/sshd: ⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯',
    '@ftpfwd/sshd:  FAIL  src/robustness.test.ts > a client whose link dies > resets',
    "@ftpfwd/sshd: AssertionError: expected 'end' to be 'ECONNRESET'",
    '@ftpfwd/sshd:  Test Files  1 failed | 13 passed (14)',
    'docs: ✖ deploy/ftpfwd.yaml validates (5ms)',
  ]);
});

it('finds nothing in a passing log', () => {
  const log = [
    '@ftpfwd/sshd:  Test Files  14 passed (14)',
    'docs: ℹ fail 0',
    'demo: ok EPSV',
    'demo: 5 passed, 0 failed',
  ];
  assert.deepEqual(failureLines(log.join('\n')), []);
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_NETBLOCK } from './netblock.js';
import { PasswordChecks } from './password-checks.js';

/** A verify that finishes when the test says, recording the order checks started in. */
function gate() {
  const started: string[] = [];
  const finishers: (() => void)[] = [];
  const verify =
    (name: string, ok = false) =>
    () => {
      started.push(name);
      return new Promise<boolean>((r) => finishers.push(() => r(ok)));
    };
  const finishOne = async () => {
    finishers.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { started, verify, finishOne };
}

const checks = (maxWaitMs = 10_000) =>
  new PasswordChecks({ concurrency: 2, perSource: 2, maxWaitMs, netBlockSize: DEFAULT_NETBLOCK });

describe('password checks', () => {
  it('run at most `concurrency` at once and answer busy beyond the per-source budget', async () => {
    const c = checks();
    const g = gate();
    const results = [1, 2, 3].map((i) => c.check('192.0.2.1', g.verify(`a${i}`)));
    expect(await results[2]).toBe('busy'); // a third from the same source, at once
    expect(g.started).toEqual(['a1', 'a2']);
    c.check('192.0.2.2', g.verify('b1'));
    expect(g.started).toEqual(['a1', 'a2']); // both slots busy: b1 waits
    await g.finishOne();
    expect(g.started).toEqual(['a1', 'a2', 'b1']);
    expect(c.peakConcurrency).toBe(2);
    expect(await results[0]).toBe('wrong');
  });

  it('serve sources round-robin, and a source that logged in before ahead of the flood', async () => {
    const c = checks();
    const g = gate();
    c.noteSuccess('203.0.113.5');
    c.check('192.0.2.1', g.verify('busy1'));
    c.check('192.0.2.1', g.verify('busy2'));
    for (let i = 0; i < 20; i++) c.check(`198.51.100.${i}`, g.verify(`flood${i}`));
    const user = c.check('203.0.113.5', g.verify('user', true));
    await g.finishOne();
    expect(g.started[2]).toBe('user'); // the next free slot goes to the returning user
    await g.finishOne();
    await g.finishOne();
    expect(await user).toBe('ok');
    expect(g.started.slice(3, 5)).toEqual(['flood0', 'flood1']);
  });

  it('answer busy when a check could not start in time, without running it', async () => {
    const c = checks(30);
    const g = gate();
    c.check('192.0.2.1', g.verify('a'));
    c.check('192.0.2.2', g.verify('b'));
    const late = c.check('192.0.2.3', g.verify('late'));
    expect(await late).toBe('busy');
    expect(g.started).toEqual(['a', 'b']);
    expect(c.waiting).toBe(0);
  });
});

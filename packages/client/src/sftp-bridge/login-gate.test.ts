import { describe, expect, it } from 'vitest';
import { DEFAULT_LOGIN_GATE, LoginGate } from './login-gate.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('LoginGate', () => {
  it('blocks an address after maxFailures, doubling the block with each further failure, capped', () => {
    const c = clock();
    const g = new LoginGate(
      { ...DEFAULT_LOGIN_GATE, maxFailures: 3, blockMs: 1000, maxBlockMs: 4000 },
      c.now,
    );
    const fail = () => {
      const a = g.admit('192.0.2.7');
      if (!a.ok) throw new Error(`refused: ${a.reason}`);
      a.done('failed');
    };
    fail();
    fail();
    expect(g.admit('192.0.2.7').ok).toBe(true); // two failures: still admitted (and released below)
    const third = g.admit('192.0.2.7');
    if (third.ok) third.done('failed');
    // the probe above was admitted but never finished: it still counts as one running check
    expect(g.admit('192.0.2.7')).toMatchObject({ ok: false, reason: 'blocked', retryAfterMs: 1000 });
    expect(g.admit('198.51.100.1').ok).toBe(true); // other sources are not affected
    const blocked = [1000, 2000, 4000, 4000];
    for (const ms of blocked) {
      c.advance(ms);
      const a = g.admit('192.0.2.7');
      expect(a.ok, `after ${ms} ms`).toBe(true);
      if (a.ok) a.done('failed');
      const next = g.admit('192.0.2.7');
      expect(next.ok).toBe(false);
    }
  });

  it('a success clears the record; an error (not a wrong password) counts nothing', () => {
    const c = clock();
    const g = new LoginGate({ ...DEFAULT_LOGIN_GATE, maxFailures: 2, perSource: 10 }, c.now);
    for (const outcome of ['failed', 'error', 'error', 'ok', 'failed', 'error'] as const) {
      const a = g.admit('203.0.113.5');
      expect(a.ok).toBe(true);
      if (a.ok) a.done(outcome);
    }
    expect(g.admit('203.0.113.5').ok).toBe(true);
  });

  it('bounds checks running at once per source and in all; done() twice releases once', () => {
    const g = new LoginGate({ ...DEFAULT_LOGIN_GATE, perSource: 2, concurrency: 3 });
    const a1 = g.admit('a');
    const a2 = g.admit('a');
    expect(g.admit('a')).toMatchObject({ ok: false, reason: 'busy-source' });
    const b1 = g.admit('b');
    expect(g.admit('c')).toMatchObject({ ok: false, reason: 'busy' });
    if (!a1.ok || !a2.ok || !b1.ok) throw new Error('expected admissions');
    a1.done('ok');
    a1.done('ok');
    expect(g.admit('a').ok).toBe(true);
    expect(g.admit('c')).toMatchObject({ ok: false, reason: 'busy' });
  });

  it('forgets quiet sources, and never remembers more than maxSources', () => {
    const c = clock();
    const g = new LoginGate({ ...DEFAULT_LOGIN_GATE, maxSources: 3, forgetMs: 10_000 }, c.now);
    for (const src of ['a', 'b', 'c', 'd']) {
      const a = g.admit(src);
      if (a.ok) a.done('failed');
    }
    expect(g.size).toBe(3);
    c.advance(10_001);
    const a = g.admit('b');
    expect(a.ok).toBe(true);
    if (a.ok) a.done('ok');
    expect(g.size).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_NETBLOCK } from './netblock.js';
import { parseMaxStartups, StartupLimiter } from './startups.js';

let clock = 0;
const limiter = (maxStartups: string, perSource = Number.POSITIVE_INFINITY, random = () => 0.5) =>
  new StartupLimiter(
    {
      maxStartups: parseMaxStartups(maxStartups),
      perSource,
      netBlockSize: DEFAULT_NETBLOCK,
      evictAfterMs: 1000,
    },
    random,
    () => clock,
  );
const noop = () => {};

describe('MaxStartups and PerSourceMaxStartups', () => {
  it('lets every connection in below start, none at full, and drops in between with the rising chance', () => {
    const l = limiter('2:50:4', Number.POSITIVE_INFINITY, () => 0.6);
    const a = [l.admit('192.0.2.1', noop), l.admit('192.0.2.2', noop)];
    expect(a.every((x) => x.ok)).toBe(true);
    // 2 startups: drop chance 50 %, random 0.6 → in. 3 startups: 75 %, 0.6 → dropped.
    expect(l.admit('192.0.2.3', noop).ok).toBe(true);
    expect(l.admit('192.0.2.4', noop)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('max-startups 2:50:4'),
    });
    const b = limiter('2:50:4', Number.POSITIVE_INFINITY, () => 0.99);
    for (let i = 0; i < 4; i++) expect(b.admit(`192.0.2.${i}`, noop).ok).toBe(true);
    expect(b.admit('192.0.2.9', noop).ok).toBe(false); // full
  });

  it('caps startups per source, and a release (login or close) frees the slot', () => {
    const l = limiter('100:30:200', 2);
    const first = l.admit('198.51.100.7', noop);
    expect(l.admit('198.51.100.7', noop).ok).toBe(true);
    expect(l.admit('::ffff:198.51.100.7', noop)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('per-source'),
    });
    expect(l.admit('198.51.100.8', noop).ok).toBe(true); // another source is not affected
    if (first.ok) {
      first.release();
      first.release(); // idempotent
    }
    expect(l.admit('198.51.100.7', noop).ok).toBe(true);
    expect(l.startups).toBe(3);
  });

  it('gives a would-be-dropped newcomer the slot of the oldest connection still in key exchange', () => {
    clock = 0;
    const l = limiter('2:100:2');
    const evicted: string[] = [];
    const old = l.admit('192.0.2.1', () => evicted.push('old'));
    const done = l.admit('192.0.2.2', () => evicted.push('done'));
    if (done.ok) done.handshakeDone();
    expect(l.admit('192.0.2.3', noop).ok).toBe(false); // full, and nobody old enough yet
    clock = 1500;
    expect(l.admit('192.0.2.3', noop).ok).toBe(true);
    expect(evicted).toEqual(['old']); // the handshaken one stays
    expect(l.startups).toBe(2);
    if (old.ok) old.release(); // its socket closing later changes nothing
    expect(l.startups).toBe(2);
  });

  it('parses OpenSSH syntax and refuses nonsense', () => {
    expect(parseMaxStartups('10:30:100')).toEqual({ start: 10, rate: 30, full: 100 });
    expect(parseMaxStartups('20')).toEqual({ start: 20, rate: 100, full: 20 });
    expect(() => parseMaxStartups('10:130:100')).toThrow(/START:RATE:FULL|RATE/);
    expect(() => parseMaxStartups('x')).toThrow(/START:RATE:FULL/);
  });
});

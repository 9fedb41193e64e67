import { describe, expect, it } from 'vitest';
import { SourceBackoff } from './backoff.js';

describe('per-source back-off', () => {
  const setup = () => {
    let now = 1_000_000;
    const b = new SourceBackoff({
      threshold: 3,
      windowMs: 60_000,
      baseBlockMs: 10_000,
      maxBlockMs: 25_000,
      now: () => now,
    });
    return { b, advance: (ms: number) => (now += ms) };
  };

  it('blocks an address after threshold failures within the window, doubling up to the maximum', () => {
    const { b, advance } = setup();
    expect(b.recordFailure('192.0.2.1')).toBe(0);
    expect(b.recordFailure('192.0.2.1')).toBe(0);
    expect(b.blockedForMs('192.0.2.1')).toBe(0);
    expect(b.recordFailure('192.0.2.1')).toBe(10_000);
    expect(b.blockedForMs('192.0.2.1')).toBe(10_000);
    expect(b.blockedForMs('::ffff:192.0.2.1')).toBe(10_000);
    expect(b.blockedForMs('192.0.2.2')).toBe(0);
    advance(10_000);
    expect(b.blockedForMs('192.0.2.1')).toBe(0);
    b.recordFailure('192.0.2.1');
    b.recordFailure('192.0.2.1');
    expect(b.recordFailure('192.0.2.1')).toBe(20_000);
    advance(20_000);
    for (let i = 0; i < 2; i++) b.recordFailure('192.0.2.1');
    expect(b.recordFailure('192.0.2.1')).toBe(25_000);
  });

  it('forgets failures older than the window, and after a success', () => {
    const { b, advance } = setup();
    b.recordFailure('198.51.100.7');
    b.recordFailure('198.51.100.7');
    advance(60_001);
    expect(b.recordFailure('198.51.100.7')).toBe(0);
    b.recordFailure('198.51.100.7');
    b.recordSuccess('198.51.100.7');
    expect(b.recordFailure('198.51.100.7')).toBe(0);
  });

  it('keeps its table bounded', () => {
    const b = new SourceBackoff({
      threshold: 1,
      windowMs: 1000,
      baseBlockMs: 1000,
      maxBlockMs: 1000,
      maxEntries: 10,
    });
    for (let i = 0; i < 100; i++) b.recordFailure(`203.0.113.${i}`);
    expect(b.blockedForMs('203.0.113.0')).toBe(0); // evicted
    expect(b.blockedForMs('203.0.113.99')).toBeGreaterThan(0);
  });

  it('threshold 0 turns it off', () => {
    const b = new SourceBackoff({ threshold: 0, windowMs: 1000, baseBlockMs: 1000, maxBlockMs: 1000 });
    for (let i = 0; i < 50; i++) b.recordFailure('192.0.2.9');
    expect(b.blockedForMs('192.0.2.9')).toBe(0);
  });
});

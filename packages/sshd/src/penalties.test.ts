import { describe, expect, it } from 'vitest';
import { parseAddressPatterns } from './host-patterns.js';
import { DEFAULT_NETBLOCK } from './netblock.js';
import { DEFAULT_PENALTIES, SourcePenalties } from './penalties.js';

function setup(exempt?: string) {
  let now = 1_000_000;
  const p = new SourcePenalties({
    ...DEFAULT_PENALTIES,
    netBlockSize: DEFAULT_NETBLOCK,
    maxSources: 3,
    ...(exempt ? { exempt: parseAddressPatterns(exempt) } : {}),
    now: () => now,
  });
  return { p, advance: (ms: number) => (now += ms) };
}

describe('per-source penalties', () => {
  it('refuse a source once its accrued penalty reaches min, until it runs out', () => {
    const { p, advance } = setup();
    expect(p.penalize('192.0.2.1', 'authfail')).toBe(0); // 5 s accrued
    expect(p.penalize('192.0.2.1', 'authfail')).toBe(0); // 10 s
    expect(p.blockedForMs('192.0.2.1')).toBe(0);
    expect(p.penalize('192.0.2.1', 'authfail')).toBe(15_000); // 15 s: refused
    expect(p.blockedForMs('::ffff:192.0.2.1')).toBe(15_000);
    expect(p.blockedForMs('192.0.2.2')).toBe(0);
    expect(p.penalize('192.0.2.1', 'authfail')).toBe(0); // already refused: extended, not restarted
    expect(p.blockedForMs('192.0.2.1')).toBe(20_000);
    advance(20_000);
    expect(p.blockedForMs('192.0.2.1')).toBe(0);
  });

  it('decays: penalties far apart never add up to a refusal', () => {
    const { p, advance } = setup();
    for (let i = 0; i < 10; i++) {
      p.penalize('192.0.2.1', 'authfail');
      advance(6_000);
    }
    expect(p.blockedForMs('192.0.2.1')).toBe(0);
  });

  it('cap at max, exempt listed sources, and bound the table', () => {
    const { p } = setup('10.0.0.0/8');
    for (let i = 0; i < 500; i++) p.penalize('192.0.2.1', 'graceExceeded');
    expect(p.blockedForMs('192.0.2.1')).toBe(DEFAULT_PENALTIES.maxMs);
    for (let i = 0; i < 10; i++) p.penalize('10.1.2.3', 'authfail');
    expect(p.blockedForMs('10.1.2.3')).toBe(0);
    for (const a of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) p.penalize(a, 'noauth');
    expect(p.size).toBe(3);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ipv4Subnet } from './subnet.js';

describe('Ipv4Subnet', () => {
  it('names host addresses and knows what it contains', () => {
    const s = Ipv4Subnet.parse('198.51.100.37/27');
    expect(s.toString()).toBe('198.51.100.32/27');
    expect(s.host(10)).toBe('198.51.100.42');
    expect(s.contains('198.51.100.63')).toBe(true);
    expect(s.contains('198.51.100.64')).toBe(false);
    expect(() => s.host(31)).toThrow(/outside/);
  });

  it('accepts only the documentation ranges as such', () => {
    expect(Ipv4Subnet.parse('203.0.113.64/27').isDocumentationRange()).toBe(true);
    expect(Ipv4Subnet.parse('192.0.2.0/24').isDocumentationRange()).toBe(true);
    expect(Ipv4Subnet.parse('10.88.0.0/16').isDocumentationRange()).toBe(false);
    expect(Ipv4Subnet.parse('198.51.0.0/16').isDocumentationRange()).toBe(false);
  });

  it('overlap is symmetric and matches address containment', () => {
    const cidr = fc
      .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 30 }))
      .map(([o, p]) => Ipv4Subnet.parse(`198.51.100.${o}/${p}`));
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        expect(a.overlaps(b)).toBe(b.overlaps(a));
        const shared = Array.from({ length: a.size }, (_, i) => `198.51.100.${(a.base % 256) + i}`).some(
          (x) => b.contains(x),
        );
        expect(a.overlaps(b)).toBe(shared);
      }),
    );
  });

  it('refuses what is not a CIDR, saying what it got', () => {
    expect(() => Ipv4Subnet.parse('198.51.100.0')).toThrow(/expected an IPv4 CIDR.*"198.51.100.0"/);
    expect(() => Ipv4Subnet.parse('300.1.1.1/24')).toThrow(/expected an IPv4 CIDR/);
  });
});

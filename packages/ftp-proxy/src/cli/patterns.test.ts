import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wildcardMatch } from './patterns.js';

describe('OpenSSH patterns', () => {
  it('wildcards: * and ? over the whole name, case-insensitive (property)', () => {
    fc.assert(
      fc.property(fc.domain(), (d) => {
        expect(wildcardMatch('*', d)).toBe(true);
        expect(wildcardMatch(d.toUpperCase(), d)).toBe(true);
        expect(wildcardMatch(`*${d.slice(1)}`, d)).toBe(true);
        expect(wildcardMatch(`?${d.slice(1)}`, d)).toBe(true);
        expect(wildcardMatch(`${d}?`, d)).toBe(false);
      }),
    );
  });
  it('matches as OpenSSH does for the lists it is used on', () => {
    expect(wildcardMatch('aes*-cbc', 'aes128-cbc')).toBe(true);
    expect(wildcardMatch('aes*-cbc', 'aes128-ctr')).toBe(false);
    expect(wildcardMatch('*.example.com', 'ftp.EXAMPLE.com')).toBe(true);
    expect(wildcardMatch('192.0.2.?', '192.0.2.17')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { netblockOf, parseNetBlockSize } from './netblock.js';

describe('netblocks', () => {
  it('counts each address as its own source by default, IPv4-mapped as IPv4', () => {
    expect(netblockOf('192.0.2.7')).toBe('192.0.2.7/32');
    expect(netblockOf('::ffff:192.0.2.7')).toBe('192.0.2.7/32');
    expect(netblockOf('2001:db8::1')).toBe('2001:db8:0:0:0:0:0:1/128');
  });
  it('clears host bits for wider blocks', () => {
    const size = parseNetBlockSize('24:64');
    expect(netblockOf('192.0.2.7', size)).toBe('192.0.2.0/24');
    expect(netblockOf('2001:db8:1:2:3:4:5:6', size)).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(netblockOf('2001:db8:1:2::9', size)).toBe(netblockOf('2001:db8:1:2:ffff::1', size));
    expect(netblockOf('10.1.2.3', parseNetBlockSize('20'))).toBe('10.1.0.0/20');
  });
  it('refuses sizes out of range', () => {
    expect(() => parseNetBlockSize('33')).toThrow(/IPV4BITS/);
    expect(() => parseNetBlockSize('24:129')).toThrow(/IPV4BITS/);
  });
});

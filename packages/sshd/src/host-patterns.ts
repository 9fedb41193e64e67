/**
 * OpenSSH-style address pattern lists as used by authorized_keys `from="…"`: comma-separated
 * patterns with `*` and `?` wildcards, CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`) and `!`
 * negation. A negated match refuses even if another pattern matches. Only addresses are matched:
 * the server does no reverse DNS, so a host-name pattern can never match (and is reported).
 */
import { BlockList, isIP } from 'node:net';
import { wildcardMatch } from '@ftpfwd/ftp-proxy/cli';
import { normalizeAddress } from './policy.js';

interface Pattern {
  negated: boolean;
  test(addr: string): boolean;
}

export interface AddressPatternList {
  readonly source: string;
  matches(address: string): boolean;
}

/**
 * Parse a pattern list. Throws an Error whose message says which pattern is malformed; host-name
 * patterns (letters other than hex digits, no wildcards-only meaning) are refused because they could
 * only ever be matched through DNS, which this server does not consult.
 */
export function parseAddressPatterns(list: string): AddressPatternList {
  const patterns: Pattern[] = [];
  for (const raw of list.split(',')) {
    let text = raw.trim();
    if (text.length === 0) throw new Error(`expected address patterns, got an empty entry in "${list}"`);
    const negated = text.startsWith('!');
    if (negated) text = text.slice(1);
    const slash = text.indexOf('/');
    if (slash >= 0) {
      const addr = text.slice(0, slash);
      const bits = Number(text.slice(slash + 1));
      const family = isIP(addr);
      const max = family === 4 ? 32 : 128;
      if (family === 0 || !/^\d+$/.test(text.slice(slash + 1)) || bits > max) {
        throw new Error(`expected a CIDR block such as 192.0.2.0/24, got "${text}"`);
      }
      const block = new BlockList();
      block.addSubnet(addr, bits, family === 4 ? 'ipv4' : 'ipv6');
      patterns.push({
        negated,
        test: (a) => {
          const fam = isIP(a);
          return fam !== 0 && block.check(a, fam === 4 ? 'ipv4' : 'ipv6');
        },
      });
      continue;
    }
    if (!/^[0-9A-Fa-f:.*?]+$/.test(text)) {
      throw new Error(
        `expected an address, wildcard or CIDR pattern (no host names: no DNS is used), got "${text}"`,
      );
    }
    patterns.push({ negated, test: (a) => wildcardMatch(text, a) });
  }
  return {
    source: list,
    matches(address: string): boolean {
      const a = normalizeAddress(address);
      let ok = false;
      for (const p of patterns) {
        if (p.test(a)) {
          if (p.negated) return false;
          ok = true;
        }
      }
      return ok;
    },
  };
}

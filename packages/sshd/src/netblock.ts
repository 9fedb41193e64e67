/**
 * Source netblocks, as OpenSSH's PerSourceNetBlockSize groups addresses: connections from one /32
 * (IPv4) or one /128 (IPv6) count as one source by default; wider blocks make a whole network one
 * source (an IPv6 attacker owns a /64 and can use every address in it).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { normalizeAddress } from './policy.js';

export interface NetBlockSize {
  v4: number;
  v6: number;
}

export const DEFAULT_NETBLOCK: Readonly<NetBlockSize> = Object.freeze({ v4: 32, v6: 128 });

/** `32:128`, `24`, `24:64` (OpenSSH's syntax). Throws an Error saying what was expected. */
export function parseNetBlockSize(text: string): NetBlockSize {
  const m = /^(\d{1,2})(?::(\d{1,3}))?$/.exec(text.trim());
  const v4 = m ? Number(m[1]) : Number.NaN;
  const v6 = m?.[2] !== undefined ? Number(m[2]) : DEFAULT_NETBLOCK.v6;
  if (!(v4 >= 0 && v4 <= 32 && v6 >= 0 && v6 <= 128)) {
    throw new Error(`expected IPV4BITS[:IPV6BITS] such as 32:128, got ${JSON.stringify(text)}`);
  }
  return { v4, v6 };
}

/** The key under which `address` is counted: the address with its host bits cleared, and the prefix. */
export function netblockOf(address: string, size: NetBlockSize = DEFAULT_NETBLOCK): string {
  const a = normalizeAddress(address);
  if (isIPv4(a)) {
    const bytes = Uint8Array.from(a.split('.').map(Number));
    return `${mask(bytes, size.v4).join('.')}/${size.v4}`;
  }
  if (isIPv6(a)) {
    const bytes = ipv6Bytes(a);
    const masked = mask(bytes, size.v6);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((masked[i]! << 8) | masked[i + 1]!).toString(16));
    return `${groups.join(':')}/${size.v6}`;
  }
  return a; // not an address (a Unix socket peer): one source of its own
}

function mask(bytes: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** The 16 bytes of an IPv6 literal (with `::` and an embedded IPv4 tail). */
function ipv6Bytes(text: string): Uint8Array {
  let s = text.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g || '0', 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SshdError } from './errors.js';
import { parseAddressPatterns } from './host-patterns.js';
import {
  matchPermitListen,
  matchPermitOpen,
  parsePermitListen,
  parsePermitListenList,
  parsePermitOpen,
  parsePermitOpenList,
  resolveBindAddress,
} from './policy.js';

describe('permit-open', () => {
  it('parses every documented form', () => {
    expect(parsePermitOpen('ftp.example:21')).toMatchObject({
      kind: 'hostport',
      host: 'ftp.example',
      port: 21,
      ftp: false,
    });
    expect(parsePermitOpen('*:443')).toMatchObject({ host: '*', port: 443 });
    expect(parsePermitOpen('db.internal:*')).toMatchObject({ host: 'db.internal', port: '*' });
    expect(parsePermitOpen('[2001:db8::1]:21/ftp')).toMatchObject({
      host: '2001:db8::1',
      port: 21,
      ftp: true,
    });
    expect(parsePermitOpen('192.0.2.10:21/ftp')).toMatchObject({ host: '192.0.2.10', port: 21, ftp: true });
    expect(parsePermitOpen('any').kind).toBe('any');
    expect(parsePermitOpen('none').kind).toBe('none');
  });

  it('refuses malformed specs with a message saying what was expected', () => {
    for (const bad of [
      '',
      'host',
      'host:',
      ':21',
      'host:0',
      'host:65536',
      'host:x',
      '2001:db8::1:21',
      'a b:1',
      'host:*/ftp',
      'any/ftp',
    ]) {
      expect(() => parsePermitOpen(bad), bad).toThrow(SshdError);
    }
    expect(() => parsePermitOpen('host')).toThrow(/expected host:port/);
    expect(() => parsePermitOpenList(['none', 'a:1'])).toThrow(/"none" alone/);
  });

  it('matches host and port, with wildcards; empty list = any; none = nothing', () => {
    const rules = parsePermitOpenList(['ftp.example:21/ftp', '*:8080', 'db:*']);
    expect(matchPermitOpen(rules, 'FTP.example', 21)?.spec).toBe('ftp.example:21/ftp');
    expect(matchPermitOpen(rules, 'ftp.example', 22)).toBeUndefined();
    expect(matchPermitOpen(rules, 'anything', 8080)?.spec).toBe('*:8080');
    expect(matchPermitOpen(rules, 'db', 5432)?.spec).toBe('db:*');
    expect(matchPermitOpen([], 'x', 1)?.kind).toBe('any');
    expect(matchPermitOpen(parsePermitOpenList(['none']), 'x', 1)).toBeUndefined();
    expect(matchPermitOpen(parsePermitOpenList(['127.0.0.1:80']), '::ffff:127.0.0.1', 80)).toBeDefined();
  });

  it('any text either parses or fails with a typed error (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        for (const parse of [parsePermitOpen, parsePermitListen]) {
          try {
            parse(text);
          } catch (err) {
            expect(err).toBeInstanceOf(SshdError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a host:port rule permits exactly that pair (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9.-]{1,20}$/),
        fc.integer({ min: 1, max: 65535 }),
        fc.stringMatching(/^[a-z0-9.-]{1,20}$/),
        fc.integer({ min: 1, max: 65535 }),
        (h, p, h2, p2) => {
          const rules = [parsePermitOpen(`${h}:${p}`)];
          expect(matchPermitOpen(rules, h2, p2) !== undefined).toBe(h === h2 && p === p2);
        },
      ),
    );
  });
});

describe('permit-listen', () => {
  it('parses [addr:]port, *, any, none', () => {
    expect(parsePermitListen('8080')).toMatchObject({ kind: 'port', host: undefined, port: 8080 });
    expect(parsePermitListen('localhost:8080')).toMatchObject({ host: 'localhost', port: 8080 });
    expect(parsePermitListen('*:9000')).toMatchObject({ host: undefined, port: 9000 });
    expect(parsePermitListen('*')).toMatchObject({ port: '*' });
    expect(() => parsePermitListen('0')).toThrow(SshdError);
    expect(() => parsePermitListen('x:y')).toThrow(/expected \[addr:\]port/);
    expect(() => parsePermitListenList(['none', '80'])).toThrow(/alone/);
  });

  it('port 0 (server allocates) matches only rules that allow any port', () => {
    expect(matchPermitListen(parsePermitListenList(['8080']), '127.0.0.1', 0)).toBeUndefined();
    expect(matchPermitListen(parsePermitListenList(['*']), '127.0.0.1', 0)).toBeDefined();
    expect(matchPermitListen(parsePermitListenList(['8080']), '', 8080)).toBeDefined();
    expect(matchPermitListen(parsePermitListenList(['localhost:8080']), '0.0.0.0', 8080)).toBeUndefined();
    expect(matchPermitListen(parsePermitListenList(['none']), '', 8080)).toBeUndefined();
    expect(matchPermitListen([], '', 0)?.kind).toBe('any');
  });
});

describe('gateway ports', () => {
  it('follows OpenSSH: no forces loopback, yes the wildcard, clientspecified the request', () => {
    expect(resolveBindAddress('no', '0.0.0.0')).toBe('127.0.0.1');
    expect(resolveBindAddress('no', '')).toBe('127.0.0.1');
    expect(resolveBindAddress('yes', 'localhost')).toBe('0.0.0.0');
    expect(resolveBindAddress('clientspecified', '')).toBe('0.0.0.0');
    expect(resolveBindAddress('clientspecified', '*')).toBe('0.0.0.0');
    expect(resolveBindAddress('clientspecified', 'localhost')).toBe('127.0.0.1');
    expect(resolveBindAddress('clientspecified', '127.0.0.2')).toBe('127.0.0.2');
  });
});

describe('from= address patterns', () => {
  it('supports wildcards, CIDR and negation; negation wins', () => {
    const p = parseAddressPatterns('192.0.2.*,!192.0.2.66,2001:db8::/32,127.0.0.?');
    expect(p.matches('192.0.2.5')).toBe(true);
    expect(p.matches('192.0.2.66')).toBe(false);
    expect(p.matches('2001:db8::42')).toBe(true);
    expect(p.matches('2001:db9::42')).toBe(false);
    expect(p.matches('127.0.0.1')).toBe(true);
    expect(p.matches('127.0.0.10')).toBe(false);
    expect(p.matches('198.51.100.1')).toBe(false);
  });

  it('an IPv4 CIDR block contains exactly the addresses of its prefix (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (net, bits, addr) => {
        const toInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
        const mask = bits === 0 ? 0 : (2 ** 32 - 2 ** (32 - bits)) >>> 0;
        const expected = (toInt(net) & mask) >>> 0 === (toInt(addr) & mask) >>> 0;
        expect(parseAddressPatterns(`${net}/${bits}`).matches(addr)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});

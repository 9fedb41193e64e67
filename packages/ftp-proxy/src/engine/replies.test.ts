import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FtpParseError } from './errors.js';
import {
  formatEpsvReply,
  formatPasvReply,
  isAuthFeatureLine,
  parseEpsvReply,
  parsePasvReply,
  passiveReplyTarget,
  ReplyBoundaryCheck,
  ReplyFramer,
  rewriteEpsvLine,
  rewritePasvLine,
  withholdPassiveEndpoint,
} from './replies.js';

describe('227 replies in the forms seen in the wild', () => {
  it.each([
    ['227 Entering Passive Mode (192,0,2,10,195,80).', '192.0.2.10', 50000],
    ['227 PASV OK (127,0,0,1,117,48)', '127.0.0.1', 30000], // ftp-srv
    ['227 Entering Passive Mode 192,0,2,10,195,80', '192.0.2.10', 50000], // no parentheses
    ['227 =192,0,2,10,195,80', '192.0.2.10', 50000], // Microsoft FTP style
    ['227 Entering Passive Mode (192, 0, 2, 10, 195, 80)', '192.0.2.10', 50000], // spaces after commas
    ['227 ok (0,0,0,0,4,1)', '0.0.0.0', 1025], // a server announcing 0.0.0.0: parsed, the policy decides
    ['227-Entering Passive Mode\n227 (198,51,100,4,4,0)', '198.51.100.4', 1024], // multi-line
  ])('%j', (text, host, port) => {
    expect(parsePasvReply(text)).toEqual({ host, port });
  });
  it.each([
    ['227 Entering Passive Mode', 'no numbers'],
    ['227 Entering Passive Mode (192,0,2,10,195)', 'five numbers'],
    ['227 Entering Passive Mode (192,0,2,10,195,80,7)', 'seven numbers'],
    ['227 Entering Passive Mode (300,0,2,10,195,80)', 'a number above 255'],
    ['227 Entering Passive Mode (192,0,2,10,0,0)', 'port 0'],
  ])('rejects %j (%s)', (text) => {
    expect(() => parsePasvReply(text)).toThrow(FtpParseError);
  });
  it('rewrites the endpoint and keeps the wording', () => {
    expect(rewritePasvLine('227 PASV OK (10,0,0,1,117,48)', { host: '127.0.0.1', port: 40000 })).toBe(
      '227 PASV OK (127,0,0,1,156,64)',
    );
    expect(rewritePasvLine('227-Entering Passive Mode', { host: '127.0.0.1', port: 1 })).toBeUndefined();
  });
  it('format→parse round trip (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        expect(parsePasvReply(formatPasvReply({ host, port }))).toEqual({ host, port });
      }),
    );
  });
});

describe('229 replies', () => {
  it.each([
    ['229 Entering Extended Passive Mode (|||6446|)', 6446],
    ['229 EPSV ok (!!!1025!)', 1025],
    ['229 Entering Extended Passive Mode (###65535#)', 65535],
    ['229 |||2000|', 2000],
  ])('%j', (text, port) => {
    expect(parseEpsvReply(text)).toBe(port);
  });
  it.each([
    '229 Entering Extended Passive Mode (|||0|)',
    '229 Entering Extended Passive Mode (|||70000|)',
    '229 Entering Extended Passive Mode (||6446|)',
    '229 Entering Extended Passive Mode (|!|6446|)',
    '229 Entering Extended Passive Mode',
  ])('rejects %j', (text) => {
    expect(() => parseEpsvReply(text)).toThrow(FtpParseError);
  });
  it('round-trips with every delimiter RFC 2428 allows (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 33, max: 126 }), fc.integer({ min: 1, max: 65535 }), (code, port) => {
        const d = String.fromCharCode(code);
        expect(parseEpsvReply(`229 Extended (${d}${d}${d}${port}${d})`)).toBe(port);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), (port) => {
        expect(parseEpsvReply(formatEpsvReply(port))).toBe(port);
      }),
    );
  });
});

describe('ReplyFramer', () => {
  it('frames single and multi-line replies', () => {
    const f = new ReplyFramer();
    expect(f.classify('220 hello')).toEqual({ code: 220, first: true, last: true });
    expect(f.classify('211-Features:')).toEqual({ code: 211, first: true, last: false });
    expect(f.classify(' EPSV')).toEqual({ code: 211, first: false, last: false });
    expect(f.classify('211-looks like an end but is not')).toEqual({ code: 211, first: false, last: false });
    expect(f.classify('2110 not the end either')).toEqual({ code: 211, first: false, last: false });
    expect(f.classify('211 End')).toEqual({ code: 211, first: false, last: true });
    expect(f.classify('200')).toEqual({ code: 200, first: true, last: true });
    expect(f.classify('hello')).toEqual({ code: undefined, first: true, last: true });
  });
  it('recognises AUTH lines in FEAT', () => {
    expect(isAuthFeatureLine(' AUTH TLS')).toBe(true);
    expect(isAuthFeatureLine(' auth ssl')).toBe(true);
    expect(isAuthFeatureLine(' AUTHX')).toBe(false);
    expect(isAuthFeatureLine(' EPSV')).toBe(false);
  });
});

describe('passive replies in odd forms', () => {
  it("reads pyftpdlib's IPv6 227 and rewrites it to a tuple", () => {
    expect(parsePasvReply('227 Entering passive mode (::1,120,255).')).toEqual({ host: '::1', port: 30975 });
    expect(
      rewritePasvLine('227 Entering passive mode (::1,120,255).', { host: '127.0.0.1', port: 1025 }),
    ).toBe('227 Entering passive mode (127,0,0,1,4,1).');
  });
  it("rewrites a 229's port, keeping its wording and delimiter", () => {
    expect(rewriteEpsvLine('229 Extended (!!!6446!) ok', 1025)).toBe('229 Extended (!!!1025!) ok');
    expect(rewriteEpsvLine('229 |||2000|', 1025)).toBe('229 |||1025|');
    expect(rewriteEpsvLine('229-Entering Extended Passive Mode', 1025)).toBeUndefined();
  });
  it('targets the endpoint on the last line, else the first line that has one', () => {
    expect(passiveReplyTarget(227, ['227-x 1,2,3,4,5,6', '227 (7,8,9,10,11,12)'])).toEqual({
      host: '7.8.9.10',
      port: 2828,
    });
    expect(passiveReplyTarget(227, ['227-(7,8,9,10,11,12)', '227 end'])).toEqual({
      host: '7.8.9.10',
      port: 2828,
    });
    expect(passiveReplyTarget(229, ['229-a', '229 (|||2000|)'])).toEqual({ port: 2000 });
    expect(() => passiveReplyTarget(229, ['229 nothing'])).toThrow(FtpParseError);
  });
  it('withholds the endpoint of an unsolicited 227 or 229', () => {
    expect(withholdPassiveEndpoint('227 Entering Passive Mode (10,0,0,5,4,1).')).not.toMatch(/10,0,0,5/);
    expect(withholdPassiveEndpoint('229 ok (|||2000|)')).not.toMatch(/2000/);
    expect(withholdPassiveEndpoint('200 ok')).toBe('200 ok');
  });
});

describe('ReplyBoundaryCheck', () => {
  const run = (lines: [string, boolean][]) => {
    const framer = new ReplyFramer();
    const check = new ReplyBoundaryCheck();
    return lines.map(([text, crlf]) => check.check(crlf, framer.classify(text)));
  };
  it('flags a reply that starts after a bare LF from a CRLF server', () => {
    expect(
      run([
        ['220 hi', true],
        ['257 "/a', false],
        ['229 (|||1|)" x', true],
      ]),
    ).toEqual([undefined, undefined, expect.stringMatching(/bare LF/)]);
  });
  it('does not flag a server that uses bare LFs throughout, nor text inside a multi-line reply', () => {
    expect(
      run([
        ['220 hi', false],
        ['200 ok', false],
      ]),
    ).toEqual([undefined, undefined]);
    expect(
      run([
        ['220 hi', true],
        ['214-Help', true],
        ['a', false],
        ['b', true],
        ['214 end', true],
      ]),
    ).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});

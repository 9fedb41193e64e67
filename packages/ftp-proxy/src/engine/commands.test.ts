import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatEprtArgument,
  formatPortArgument,
  parseCommandLine,
  parseEprtArgument,
  parsePortArgument,
} from './commands.js';
import { FtpParseError } from './errors.js';

describe('parseCommandLine', () => {
  it('upper-cases the verb and keeps the argument as sent', () => {
    expect(parseCommandLine('retr My File.txt')).toEqual({ verb: 'RETR', argument: 'My File.txt' });
    expect(parseCommandLine('PASV')).toEqual({ verb: 'PASV', argument: '' });
  });
  it('sees ABOR behind Telnet IAC IP / IAC DM, also when the urgent DM was lost (lftp)', () => {
    expect(parseCommandLine('\xff\xf4\xff\xf2ABOR')).toEqual({ verb: 'ABOR', argument: '' });
    expect(parseCommandLine('\xff\xf4\xffABOR')).toEqual({ verb: 'ABOR', argument: '' });
  });
  it('returns undefined for a line that is no command', () => {
    expect(parseCommandLine('')).toBeUndefined();
    expect(parseCommandLine('123 abc')).toBeUndefined();
    expect(parseCommandLine('\x16\x03\x01')).toBeUndefined();
  });
});

describe('PORT argument', () => {
  it('parses h1,h2,h3,h4,p1,p2', () => {
    expect(parsePortArgument('192,0,2,7,4,1')).toEqual({ host: '192.0.2.7', port: 1025 });
    expect(parsePortArgument(' 127,0,0,1,255,255 ')).toEqual({ host: '127.0.0.1', port: 65535 });
  });
  it.each([
    ['192,0,2,7,4', 'five fields'],
    ['192,0,2,7,4,1,9', 'seven fields'],
    ['256,0,2,7,4,1', 'a number above 255'],
    ['192,0,2,7,0,0', 'port 0'],
    ['192,0,2,-7,4,1', 'a sign'],
    ['192,0,2,7,4,1x', 'trailing junk'],
    ['192, 0,2,7,4,1', 'inner space'],
    ['', 'nothing'],
    ['1234,0,2,7,4,1', 'four digits'],
  ])('rejects %j (%s) with a typed error', (arg) => {
    expect(() => parsePortArgument(arg)).toThrow(FtpParseError);
  });
  it('says what it expected and what came', () => {
    try {
      parsePortArgument('1,2,3');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FtpParseError);
      expect((error as FtpParseError).expected).toMatch(/h1,h2,h3,h4,p1,p2/);
      expect((error as FtpParseError).got).toBe('1,2,3');
    }
  });
  it('formats, refusing IPv6', () => {
    expect(formatPortArgument({ host: '203.0.113.9', port: 50001 })).toBe('203,0,113,9,195,81');
    expect(formatPortArgument({ host: '::ffff:127.0.0.1', port: 256 })).toBe('127,0,0,1,1,0');
    expect(() => formatPortArgument({ host: '::1', port: 2000 })).toThrow(FtpParseError);
  });
  it('round-trips every IPv4 endpoint (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        expect(parsePortArgument(formatPortArgument({ host, port }))).toEqual({ host, port });
      }),
    );
  });
});

describe('EPRT argument', () => {
  it('parses IPv4 and IPv6 with any delimiter', () => {
    expect(parseEprtArgument('|1|132.235.1.2|6275|')).toEqual({ host: '132.235.1.2', port: 6275 });
    expect(parseEprtArgument('|2|1080::8:800:200C:417A|5282|')).toEqual({
      host: '1080::8:800:200C:417A',
      port: 5282,
    });
    expect(parseEprtArgument('!1!127.0.0.1!2000!')).toEqual({ host: '127.0.0.1', port: 2000 });
  });
  it.each([
    ['|3|127.0.0.1|2000|', 'family 3'],
    ['|1|::1|2000|', 'IPv6 under family 1'],
    ['|2|127.0.0.1|2000|', 'IPv4 under family 2'],
    ['|1|127.0.0.1|0|', 'port 0'],
    ['|1|127.0.0.1|70000|', 'port too large'],
    ['|1|127.0.0.1|2000', 'missing closing delimiter'],
    ['|1|127.0.0.1|2000|x', 'trailing junk'],
    [' 1|127.0.0.1|2000|', 'space delimiter'],
    ['|1|host.example|2000|', 'a host name'],
  ])('rejects %j (%s)', (arg) => {
    expect(() => parseEprtArgument(arg)).toThrow(FtpParseError);
  });
  it('round-trips IPv4 and IPv6 endpoints (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        const parsed = parseEprtArgument(formatEprtArgument({ host, port }));
        expect(parsed.port).toBe(port);
        expect(formatEprtArgument(parsed)).toBe(formatEprtArgument({ host, port }));
      }),
    );
  });
});

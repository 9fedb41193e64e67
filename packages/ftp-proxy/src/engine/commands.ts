import { isIPv4, isIPv6 } from 'node:net';
import { isValidPort, normalizeAddress } from './address.js';
import { excerpt, FtpParseError } from './errors.js';
import { restoreLostDm, stripTelnet } from './telnet.js';
import type { Endpoint } from './types.js';

/** A client command as recognised: verb upper-cased, argument as sent (may be empty). */
export interface FtpCommand {
  verb: string;
  argument: string;
}

/**
 * Recognises the command on a control line (text without terminator, latin1). Telnet sequences are
 * stripped first (IAC IP IAC DM ABOR). Returns undefined for a line that is not `VERB [argument]`
 * with an alphabetic verb; such a line is forwarded as it is and the server answers it.
 */
export function parseCommandLine(text: string): FtpCommand | undefined {
  const m = /^\s*([A-Za-z]{1,16})(?: (.*))?$/s.exec(stripTelnet(text));
  if (!m) return undefined;
  return { verb: m[1]!.toUpperCase(), argument: m[2] ?? '' };
}

function byteValue(field: string, what: string, got: string): number {
  if (!/^\d{1,3}$/.test(field)) throw new FtpParseError(what, got);
  const n = Number(field);
  if (n > 255) throw new FtpParseError(what, got);
  return n;
}

/**
 * `PORT h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2): exactly six decimal numbers 0–255; the port must be
 * 1–65535. Whitespace around the whole argument is tolerated, inside it is not.
 */
export function parsePortArgument(argument: string): Endpoint {
  const what = 'h1,h2,h3,h4,p1,p2 with six numbers 0-255';
  const fields = argument.trim().split(',');
  if (fields.length !== 6) throw new FtpParseError(what, excerpt(argument));
  const n = fields.map((f) => byteValue(f, what, excerpt(argument)));
  const port = n[4]! * 256 + n[5]!;
  if (!isValidPort(port)) throw new FtpParseError('a port 1-65535', String(port));
  return { host: `${n[0]}.${n[1]}.${n[2]}.${n[3]}`, port };
}

/** Endpoint (IPv4) → `h1,h2,h3,h4,p1,p2`. */
export function formatPortArgument(ep: Endpoint): string {
  const host = normalizeAddress(ep.host);
  if (!isIPv4(host)) throw new FtpParseError('an IPv4 address for PORT/227', ep.host);
  if (!isValidPort(ep.port)) throw new FtpParseError('a port 1-65535', String(ep.port));
  return `${host.split('.').join(',')},${ep.port >> 8},${ep.port & 0xff}`;
}

/** RFC 2428 §2: the delimiter is one ASCII character 33–126; `|` is the usual one. */
function isDelimiter(c: string | undefined): c is string {
  if (c === undefined || c.length !== 1) return false;
  const code = c.charCodeAt(0);
  return code >= 33 && code <= 126;
}

/**
 * `EPRT <d><af><d><address><d><port><d>` (RFC 2428 §2): af 1 = IPv4 dotted quad, 2 = IPv6 literal.
 */
export function parseEprtArgument(argument: string): Endpoint {
  const what = 'EPRT |1|a.b.c.d|port| or |2|ipv6|port|';
  const arg = argument.trim();
  const d = arg[0];
  if (!isDelimiter(d)) throw new FtpParseError(what, excerpt(argument));
  const fields = arg.split(d);
  // "|1|addr|port|".split("|") → ["", "1", "addr", "port", ""]
  if (fields.length !== 5 || fields[0] !== '' || fields[4] !== '')
    throw new FtpParseError(what, excerpt(argument));
  const [, af, host, portText] = fields as [string, string, string, string, string];
  if (af === '1') {
    if (!isIPv4(host)) throw new FtpParseError('an IPv4 address after |1|', excerpt(host));
  } else if (af === '2') {
    if (!isIPv6(host)) throw new FtpParseError('an IPv6 address after |2|', excerpt(host));
  } else {
    throw new FtpParseError('address family 1 or 2', excerpt(af));
  }
  if (!/^\d{1,5}$/.test(portText) || !isValidPort(Number(portText))) {
    throw new FtpParseError('a port 1-65535', excerpt(portText));
  }
  return { host, port: Number(portText) };
}

/** Endpoint → `|1|a.b.c.d|port|` or `|2|ipv6|port|`. */
export function formatEprtArgument(ep: Endpoint): string {
  const host = normalizeAddress(ep.host);
  if (!isValidPort(ep.port)) throw new FtpParseError('a port 1-65535', String(ep.port));
  if (isIPv4(host)) return `|1|${host}|${ep.port}|`;
  if (isIPv6(host)) return `|2|${host}|${ep.port}|`;
  throw new FtpParseError('an IPv4 or IPv6 address for EPRT', ep.host);
}

/** Commands after which the server opens or accepts the data connection. */
export const TRANSFER_VERBS: ReadonlySet<string> = new Set([
  'RETR',
  'STOR',
  'STOU',
  'APPE',
  'LIST',
  'NLST',
  'MLSD',
]);

/**
 * The bytes a command line (content without terminator) is forwarded as: ending in CRLF, with the
 * DM of a Synch whose urgent byte Node could not deliver put back (telnet.ts). A line that came as
 * CRLF with nothing to restore is byte-for-byte what the client sent.
 */
export function forwardedCommand(content: Buffer): Buffer {
  return Buffer.from(`${restoreLostDm(content.toString('latin1'))}\r\n`, 'latin1');
}

/**
 * The PORT or EPRT that names `ep` to the FTP server. The family follows the listener, not the
 * client's command (RFC 2428): an IPv6 listener needs `EPRT |2|` even when the client sent PORT.
 */
export function activeCommandFor(verb: 'PORT' | 'EPRT', ep: Endpoint): string {
  const host = normalizeAddress(ep.host);
  if (isIPv6(host)) return `EPRT ${formatEprtArgument(ep)}`;
  if (verb === 'PORT' && isIPv4(host)) return `PORT ${formatPortArgument(ep)}`;
  return `EPRT ${formatEprtArgument(ep)}`;
}

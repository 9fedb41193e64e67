import { isValidPort } from './address.js';
import { formatPortArgument } from './commands.js';
import { excerpt, FtpParseError } from './errors.js';
import type { Endpoint } from './types.js';

/** Where a server line stands within a reply (RFC 959 §4.2). */
export interface ReplyLinePosition {
  /** The reply code, or undefined for a line that is no reply at all (a protocol violation). */
  code: number | undefined;
  /** First line of a reply. */
  first: boolean;
  /** Last line of a reply: the reply is complete. */
  last: boolean;
}

/**
 * Tracks multi-line replies: `123-first line`, any lines, then `123 last line`. A line outside a
 * reply that does not start with three digits is reported with `code: undefined` so the caller can
 * pass it through and log it; it does not disturb the framing of later replies.
 */
export class ReplyFramer {
  private multiLineCode: string | undefined;

  classify(text: string): ReplyLinePosition {
    const open = this.multiLineCode;
    if (open !== undefined) {
      const ends = text.startsWith(open) && (text.length === 3 || text[3] === ' ');
      if (ends) this.multiLineCode = undefined;
      return { code: Number(open), first: false, last: ends };
    }
    const m = /^(\d{3})([ -]|$)/.exec(text);
    if (!m) return { code: undefined, first: true, last: true };
    if (m[2] === '-') {
      this.multiLineCode = m[1]!;
      return { code: Number(m[1]), first: true, last: false };
    }
    return { code: Number(m[1]), first: true, last: true };
  }

  /** True while inside a multi-line reply. */
  get inReply(): boolean {
    return this.multiLineCode !== undefined;
  }
}

/** 1xx replies are preliminary: the command's final reply is still to come. */
export function isPreliminary(code: number): boolean {
  return code >= 100 && code < 200;
}

// Six comma-separated numbers, not part of a longer list: the h1,h2,h3,h4,p1,p2 of a 227 reply.
// Servers differ in the text around it (`227 Entering Passive Mode (…).`, ftp-srv's `227 PASV OK (…)`,
// `227 =h1,…`, no parentheses), and some put spaces after the commas.
const PASV_TUPLE =
  /(?<!\d\s*,\s*)(?<!\d)(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})(?!\d)(?!\s*,\s*\d)/;

function pasvTupleToEndpoint(m: RegExpExecArray, text: string): Endpoint {
  const n = m.slice(1, 7).map(Number);
  if (n.some((v) => v > 255)) throw new FtpParseError('227 numbers 0-255', excerpt(text));
  const port = n[4]! * 256 + n[5]!;
  if (!isValidPort(port)) throw new FtpParseError('a 227 port 1-65535', excerpt(text));
  return { host: `${n[0]}.${n[1]}.${n[2]}.${n[3]}`, port };
}

/** The data endpoint in a 227 reply's text (all its lines). Throws FtpParseError. */
export function parsePasvReply(text: string): Endpoint {
  const m = PASV_TUPLE.exec(text);
  if (!m) throw new FtpParseError('227 with h1,h2,h3,h4,p1,p2', excerpt(text));
  return pasvTupleToEndpoint(m, text);
}

/**
 * The 227 line with its endpoint replaced, the server's wording kept. Returns undefined when the line
 * holds no endpoint (in a multi-line 227 only one line does).
 */
export function rewritePasvLine(text: string, ep: Endpoint): string | undefined {
  const m = PASV_TUPLE.exec(text);
  if (!m) return undefined;
  return text.slice(0, m.index) + formatPortArgument(ep) + text.slice(m.index + m[0].length);
}

/** A 227 in the usual wording, for a client that sent PASV when the server answered in another form. */
export function formatPasvReply(ep: Endpoint): string {
  return `227 Entering Passive Mode (${formatPortArgument(ep)}).`;
}

// RFC 2428 §3: `229 text (<d><d><d><port><d>)`, <d> any ASCII character 33–126.
const EPSV_PARENS = /\(([!-~])\1\1(\d{1,5})\1\)/;
const EPSV_BARE = /([!-~])\1\1(\d{1,5})\1/;

/** The port in a 229 reply's text. Throws FtpParseError. */
export function parseEpsvReply(text: string): number {
  const body = text.slice(4);
  const m = EPSV_PARENS.exec(body) ?? EPSV_BARE.exec(body);
  if (!m) throw new FtpParseError('229 with (|||port|)', excerpt(text));
  const port = Number(m[2]);
  if (!isValidPort(port)) throw new FtpParseError('a 229 port 1-65535', excerpt(text));
  return port;
}

export function formatEpsvReply(port: number): string {
  if (!isValidPort(port)) throw new FtpParseError('a port 1-65535', String(port));
  return `229 Entering Extended Passive Mode (|||${port}|)`;
}

/**
 * A FEAT reply line that announces AUTH (` AUTH TLS`, ` AUTH SSL`, ` AUTH TLS;TLS-C;…`): removed when
 * the proxy refuses AUTH, so clients that upgrade when offered do not try.
 */
export function isAuthFeatureLine(text: string): boolean {
  return /^\s+AUTH(\s|$)/i.test(text);
}

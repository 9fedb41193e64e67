import { isIPv6 } from 'node:net';
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

/**
 * Notices when a server's replies stop being framed unambiguously. FTP clients end a reply line at
 * LF; a server that otherwise ends its lines with CRLF does not mean a bare LF as a line end: it is
 * inside text the server took from elsewhere (an echoed command, a file name). When the line after
 * such a bare LF would start a reply or end a multi-line one, the server and its clients disagree
 * about where replies are, and a reply pairing with a command may be forged. Servers that end every
 * line with a bare LF from their greeting on are framed the same by everybody and never flagged.
 */
export class ReplyBoundaryCheck {
  private crlfServer: boolean | undefined;
  private afterBareLf = false;

  /**
   * Call with each complete server line (before acting on it): whether it ended in CRLF, and its
   * position from a ReplyFramer. Returns why the framing is ambiguous, or undefined.
   */
  check(endedInCrlf: boolean, position: ReplyLinePosition): string | undefined {
    this.crlfServer ??= endedInCrlf;
    const suspicious = this.afterBareLf && position.code !== undefined && (position.first || position.last);
    this.afterBareLf = this.crlfServer && !endedInCrlf;
    return suspicious
      ? 'a reply line began after a bare LF from a server that ends its lines with CRLF'
      : undefined;
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
// pyftpdlib on an IPv6 control connection answers PASV with `227 Entering passive mode (::1,120,255).`
const PASV_V6 = /\(([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\)/;

function portOf(p1: string, p2: string, text: string): number {
  const hi = Number(p1);
  const lo = Number(p2);
  if (hi > 255 || lo > 255) throw new FtpParseError('227 numbers 0-255', excerpt(text));
  const port = hi * 256 + lo;
  if (!isValidPort(port)) throw new FtpParseError('a 227 port 1-65535', excerpt(text));
  return port;
}

/** The data endpoint in a 227 reply's text, or undefined when it names none. Throws FtpParseError. */
function findPasvEndpoint(text: string): Endpoint | undefined {
  const m = PASV_TUPLE.exec(text);
  if (m) {
    const n = m.slice(1, 5).map(Number);
    if (n.some((v) => v > 255)) throw new FtpParseError('227 numbers 0-255', excerpt(text));
    return { host: n.join('.'), port: portOf(m[5]!, m[6]!, text) };
  }
  const v6 = PASV_V6.exec(text);
  if (v6 && isIPv6(v6[1]!)) return { host: v6[1]!, port: portOf(v6[2]!, v6[3]!, text) };
  return undefined;
}

/** The data endpoint in a 227 reply's text (all its lines). Throws FtpParseError. */
export function parsePasvReply(text: string): Endpoint {
  const ep = findPasvEndpoint(text);
  if (!ep) throw new FtpParseError('227 with h1,h2,h3,h4,p1,p2', excerpt(text));
  return ep;
}

/**
 * The 227 line with every endpoint in it replaced, the server's wording kept. Returns undefined when
 * the line holds no endpoint (in a multi-line 227 usually only one line does).
 */
export function rewritePasvLine(text: string, ep: Endpoint): string | undefined {
  const tuple = formatPortArgument(ep);
  const out = replaceAll(
    replaceAll(text, PASV_TUPLE, () => tuple),
    PASV_V6,
    (m) => (isIPv6(m[1]!) ? `(${tuple})` : undefined),
  );
  return out === text && !PASV_TUPLE.test(text) ? undefined : out;
}

/** A 227 in the usual wording, for a client that sent PASV when the server answered in another form. */
export function formatPasvReply(ep: Endpoint): string {
  return `227 Entering Passive Mode (${formatPortArgument(ep)}).`;
}

// RFC 2428 §3: `229 text (<d><d><d><port><d>)`, <d> any ASCII character 33–126.
const EPSV_PARENS = /\(([!-~])\1\1(\d{1,5})\1\)/;
const EPSV_BARE = /([!-~])\1\1(\d{1,5})\1/;

/** A reply line's text without its `NNN ` / `NNN-` code (digits there could pass for a delimiter). */
function withoutCode(text: string): string {
  return /^\d{3}[ -]/.test(text) ? text.slice(4) : text;
}

/** The port in a 229 reply's text, or undefined when it names none. Throws FtpParseError. */
function findEpsvPort(text: string): number | undefined {
  const body = withoutCode(text);
  const m = EPSV_PARENS.exec(body) ?? EPSV_BARE.exec(body);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!isValidPort(port)) throw new FtpParseError('a 229 port 1-65535', excerpt(text));
  return port;
}

/** The port in a 229 reply's text. Throws FtpParseError. */
export function parseEpsvReply(text: string): number {
  const port = findEpsvPort(text);
  if (port === undefined) throw new FtpParseError('229 with (|||port|)', excerpt(text));
  return port;
}

/** The 229 line with its port replaced, the server's wording and delimiter kept; undefined without one. */
export function rewriteEpsvLine(text: string, port: number): string | undefined {
  if (!isValidPort(port)) throw new FtpParseError('a port 1-65535', String(port));
  const code = text.length - withoutCode(text).length;
  const body = text.slice(code);
  const pattern = EPSV_PARENS.test(body) ? EPSV_PARENS : EPSV_BARE;
  const m = pattern.exec(body);
  if (!m) return undefined;
  const d = m[1]!;
  const token = pattern === EPSV_PARENS ? `(${d}${d}${d}${port}${d})` : `${d}${d}${d}${port}${d}`;
  return text.slice(0, code) + body.slice(0, m.index) + token + body.slice(m.index + m[0].length);
}

export function formatEpsvReply(port: number): string {
  if (!isValidPort(port)) throw new FtpParseError('a port 1-65535', String(port));
  return `229 Entering Extended Passive Mode (|||${port}|)`;
}

/**
 * Where a passive reply sends the FTP client: the endpoint on the reply's last line when that line
 * names one (RFC 959's reply proper; curl reads only it), else the first line that names one.
 * Hosts are absent for 229. Throws FtpParseError when no line names an endpoint.
 */
export function passiveReplyTarget(
  code: 227 | 229,
  lines: readonly string[],
): { host?: string; port: number } {
  const find = (t: string) => (code === 227 ? findPasvEndpoint(t) : portAsTarget(findEpsvPort(t)));
  const last = lines.length > 0 ? find(lines[lines.length - 1]!) : undefined;
  if (last) return last;
  for (const line of lines) {
    const found = find(line);
    if (found) return found;
  }
  return code === 227 ? parsePasvReply(lines.join('\n')) : { port: parseEpsvReply(lines.join('\n')) };
}

function portAsTarget(port: number | undefined): { port: number } | undefined {
  return port === undefined ? undefined : { port };
}

/**
 * A 227 or 229 line that answers no PASV/EPSV, with its endpoint taken out: passed on as it came, it
 * would show the FTP client the server's real data address and invite a connection around the tunnel.
 */
export function withholdPassiveEndpoint(text: string): string {
  const withheld = 'address withheld by the proxy: not a reply to PASV/EPSV';
  const out = replaceAll(
    replaceAll(text, PASV_TUPLE, () => withheld),
    PASV_V6,
    () => withheld,
  );
  const code = text.length - withoutCode(text).length;
  return out.slice(0, code) + replaceAll(out.slice(code), EPSV_BARE, () => withheld);
}

/** `text` with every match of `pattern` replaced by what `by` returns (undefined: left as it is). */
function replaceAll(text: string, pattern: RegExp, by: (m: RegExpExecArray) => string | undefined): string {
  const global = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`);
  let out = '';
  let last = 0;
  for (let m = global.exec(text); m !== null; m = global.exec(text)) {
    const replacement = by(m);
    if (m[0].length === 0) global.lastIndex++;
    if (replacement === undefined) continue;
    out += text.slice(last, m.index) + replacement;
    last = m.index + m[0].length;
  }
  return out + text.slice(last);
}

/**
 * A FEAT reply line that announces AUTH (` AUTH TLS`, ` AUTH SSL`, ` AUTH TLS;TLS-C;…`): removed when
 * the proxy refuses AUTH, so clients that upgrade when offered do not try.
 */
export function isAuthFeatureLine(text: string): boolean {
  return /^\s+AUTH(\s|$)/i.test(text);
}

/**
 * OpenSSH authorized_keys parsing: `[options] keytype base64 [comment]` per line. Pure (text in,
 * entries and problems out). A line with anything this server cannot honour — an unknown option, a
 * malformed value, an unsupported key type — is refused and reported with its line number, never
 * silently accepted with fewer restrictions than its author wrote.
 */

import type { ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';
import { excerpt, type LineProblem } from './errors.js';
import { type AddressPatternList, parseAddressPatterns } from './host-patterns.js';
import { type PermitListenRule, type PermitOpenRule, parsePermitListen, parsePermitOpen } from './policy.js';

const SUPPORTED_TYPES = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
]);
const KNOWN_UNSUPPORTED_TYPE = /^(ssh-dss|sk-.*@openssh\.com|.*-cert-v01@openssh\.com)$/;

/**
 * Options that only matter for sessions, agents, X11, tunnels or commands. This server has none of
 * those, so honouring them needs no action: they are accepted and have no effect.
 */
const SESSION_ONLY_OPTIONS = new Set([
  'agent-forwarding',
  'no-agent-forwarding',
  'x11-forwarding',
  'no-x11-forwarding',
  'pty',
  'no-pty',
  'user-rc',
  'no-user-rc',
  'command',
  'environment',
  'tunnel',
]);

/** What an authorized_keys line's options ask of a session that authenticated with that key. */
export interface KeyRestrictions {
  /** `from=`: the client address must match. */
  from?: AddressPatternList;
  /** `permitopen=` (repeatable): direct-tcpip only to these; undefined = no key-level limit. */
  permitOpen?: PermitOpenRule[];
  /** `permitlisten=` (repeatable): tcpip-forward only for these; undefined = no key-level limit. */
  permitListen?: PermitListenRule[];
  /** `no-port-forwarding`, or `restrict` without a later `port-forwarding`. */
  noPortForwarding: boolean;
  /** `expiry-time=`: the key is refused after this instant. */
  expiresAt?: Date;
}

export interface AuthorizedKey {
  /** 1-based line number in its file. */
  line: number;
  source: string;
  type: string;
  key: ParsedKey;
  /** The public key blob (SSH wire format), compared against what a client offers. */
  blob: Buffer;
  comment: string;
  restrictions: KeyRestrictions;
}

export interface AuthorizedKeysResult {
  keys: AuthorizedKey[];
  problems: LineProblem[];
}

interface RawOption {
  name: string;
  value?: string;
}

/**
 * Split the options field at the start of `text`: comma-separated `name` or `name="value"` (value
 * may contain commas, spaces and `\"`). Returns the options and the rest of the line after the
 * field's terminating whitespace. Throws with a message on unbalanced quotes or empty options.
 */
export function splitOptions(text: string): { options: RawOption[]; rest: string } {
  const options: RawOption[] = [];
  let i = 0;
  for (;;) {
    const nameMatch = /^[A-Za-z0-9_-]*/.exec(text.slice(i));
    const name = nameMatch ? nameMatch[0] : '';
    if (name.length === 0) {
      throw new Error(
        `expected an option name at column ${i + 1}, got ${JSON.stringify(excerpt(text.slice(i), 20))}`,
      );
    }
    i += name.length;
    let value: string | undefined;
    if (text[i] === '=') {
      if (text[i + 1] !== '"') throw new Error(`expected a double-quoted value after ${name}=`);
      i += 2;
      let v = '';
      for (;;) {
        if (i >= text.length) throw new Error(`expected a closing double quote for ${name}=`);
        const c = text[i]!;
        if (c === '\\' && text[i + 1] === '"') {
          v += '"';
          i += 2;
        } else if (c === '"') {
          i += 1;
          break;
        } else {
          v += c;
          i += 1;
        }
      }
      value = v;
    }
    options.push(value === undefined ? { name: name.toLowerCase() } : { name: name.toLowerCase(), value });
    if (text[i] === ',') {
      i += 1;
      continue;
    }
    if (i >= text.length || text[i] === ' ' || text[i] === '\t') break;
    throw new Error(`expected "," or whitespace after option ${name}, got ${JSON.stringify(text[i])}`);
  }
  return { options, rest: text.slice(i).trimStart() };
}

/** `YYYYMMDD[HHMM[SS]]`, local time unless it ends in `Z` (as OpenSSH). */
function parseExpiry(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z)?$/.exec(text);
  if (!m) throw new Error(`expiry-time: expected YYYYMMDD[HHMM[SS]][Z], got ${JSON.stringify(text)}`);
  const utc = m[7] === 'Z';
  const parts = [
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
  ] as const;
  const date = utc ? new Date(Date.UTC(...parts)) : new Date(...parts);
  // Date rolls 20260231 over into March: a month that changed means the text named no real day.
  if (Number.isNaN(date.getTime()) || (utc ? date.getUTCMonth() : date.getMonth()) !== parts[1]) {
    throw new Error(`expiry-time: not a valid date: ${JSON.stringify(text)}`);
  }
  return date;
}

function needValue(opt: RawOption): string {
  if (opt.value === undefined) throw new Error(`option ${opt.name} needs a value (${opt.name}="…")`);
  return opt.value;
}

function needNoValue(opt: RawOption): void {
  if (opt.value !== undefined) throw new Error(`option ${opt.name} takes no value`);
}

/** Turn parsed options into restrictions; throws (with the option named) on anything unsupported. */
export function applyOptions(options: readonly RawOption[]): KeyRestrictions {
  const r: KeyRestrictions = { noPortForwarding: false };
  for (const opt of options) {
    switch (opt.name) {
      case 'from':
        try {
          r.from = parseAddressPatterns(needValue(opt));
        } catch (err) {
          throw new Error(`from=: ${(err as Error).message}`);
        }
        break;
      case 'permitopen':
        r.permitOpen ??= [];
        r.permitOpen.push(parsePermitOpen(needValue(opt)));
        break;
      case 'permitlisten':
        r.permitListen ??= [];
        r.permitListen.push(parsePermitListen(needValue(opt)));
        break;
      case 'no-port-forwarding':
        needNoValue(opt);
        r.noPortForwarding = true;
        break;
      case 'port-forwarding':
        needNoValue(opt);
        r.noPortForwarding = false;
        break;
      case 'restrict':
        // OpenSSH: restrict = every no-* option, including any added in future; later
        // `port-forwarding` re-enables forwarding.
        needNoValue(opt);
        r.noPortForwarding = true;
        break;
      case 'expiry-time':
        r.expiresAt = parseExpiry(needValue(opt));
        break;
      case 'cert-authority':
      case 'principals':
        throw new Error(`option ${opt.name} is not supported (this server does not accept certificates)`);
      case 'no-touch-required':
      case 'verify-required':
        throw new Error(`option ${opt.name} is not supported (security keys are not supported)`);
      default:
        if (SESSION_ONLY_OPTIONS.has(opt.name)) {
          if (
            (opt.name === 'command' || opt.name === 'environment' || opt.name === 'tunnel') &&
            opt.value === undefined
          ) {
            throw new Error(`option ${opt.name} needs a value (${opt.name}="…")`);
          }
          break;
        }
        throw new Error(`unknown option "${excerpt(opt.name, 40)}"`);
    }
  }
  if (r.permitOpen?.some((p) => p.kind === 'none') && r.permitOpen.length > 1) {
    throw new Error('permitopen="none" must stand alone');
  }
  return r;
}

/** Parse one non-empty, non-comment line. Throws with a message saying what is wrong. */
function parseLine(text: string, line: number, source: string): AuthorizedKey {
  const first = text.split(/[ \t]/, 1)[0]!;
  let options: RawOption[] = [];
  let rest = text;
  if (!SUPPORTED_TYPES.has(first) && !KNOWN_UNSUPPORTED_TYPE.test(first)) {
    ({ options, rest } = splitOptions(text));
  }
  const fields = rest.split(/[ \t]+/);
  const type = fields[0] ?? '';
  const b64 = fields[1] ?? '';
  const comment = fields.slice(2).join(' ');
  if (KNOWN_UNSUPPORTED_TYPE.test(type)) throw new Error(`key type ${type} is not supported`);
  if (!SUPPORTED_TYPES.has(type)) {
    throw new Error(
      `expected a key type (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa), got ${JSON.stringify(excerpt(type, 40))}`,
    );
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`expected base64 key data after ${type}`);
  const parsed = ssh2.utils.parseKey(`${type} ${b64}`);
  if (parsed instanceof Error) throw new Error(`key data is not a valid ${type} key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key.type !== type) throw new Error(`key data does not hold a ${type} key`);
  const restrictions = applyOptions(options);
  return { line, source, type, key, blob: key.getPublicSSH(), comment, restrictions };
}

/**
 * Parse an authorized_keys file. Blank lines and `#` comments are skipped; every other line either
 * becomes an entry or a problem with its line number (the line is then refused entirely).
 */
export function parseAuthorizedKeys(text: string, source = 'authorized_keys'): AuthorizedKeysResult {
  const keys: AuthorizedKey[] = [];
  const problems: LineProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const trimmed = raw.trim();
    if (trimmed.length === 0 || trimmed.startsWith('#')) return;
    try {
      keys.push(parseLine(trimmed, idx + 1, source));
    } catch (err) {
      problems.push({ line: idx + 1, message: (err as Error).message });
    }
  });
  return { keys, problems };
}

import { FtpfwdError } from './errors.js';

/** `-L` forwards listen on this host, `-R` forwards ask the SSH server to listen. */
export type ForwardDirection = 'L' | 'R';
/** `sftp`: an FTP server here whose files come from the SSH server's SFTP subsystem (-L only). */
export type ForwardProtocol = 'tcp' | 'ftp' | 'sftp';

/** One `-L`/`-R` argument, parsed. `bindAddress` undefined = the OpenSSH default (loopback unless -g). */
export interface ForwardSpec {
  direction: ForwardDirection;
  protocol: ForwardProtocol;
  /** As written: undefined (none), '' or '*' (all interfaces), 'localhost', an address or a name. */
  bindAddress: string | undefined;
  bindPort: number;
  /** The target; for `sftp/` the SSH server itself: '' (there is no second hop). */
  host: string;
  /** 0 for `sftp/`. */
  hostPort: number;
  /** `sftp/` only: the FTP root's start directory on the SSH server (undefined: SFTP's own). */
  remoteDir?: string;
}

const SYNTAX = '[ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT';
const SFTP_SYNTAX = 'sftp/[BIND:]PORT[:REMOTE_DIR]';

/**
 * Splits on ':' outside square brackets, so `[::1]:2121:[fe80::1]:21` works as in OpenSSH.
 * Brackets are removed from the fields they enclose.
 */
function splitFields(text: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let inBracket = false;
  let bracketed = false;
  for (const ch of text) {
    if (ch === '[' && !inBracket && cur === '' && !bracketed) {
      inBracket = true;
      bracketed = true;
    } else if (ch === ']' && inBracket) {
      inBracket = false;
    } else if (ch === ':' && !inBracket) {
      out.push(cur);
      cur = '';
      bracketed = false;
    } else {
      if (bracketed && !inBracket) return undefined; // text after ']' before ':'
      cur += ch;
    }
  }
  if (inBracket) return undefined;
  out.push(cur);
  return out;
}

function parsePort(text: string, allowZero: boolean): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  if (n > 65535 || (!allowZero && n === 0)) return undefined;
  return n;
}

/**
 * Parses one forwarding argument. ssh_config's `LocalForward 2121 ftp:21` form (space between the
 * listen and the target part) is accepted too.
 */
export function parseForwardSpec(direction: ForwardDirection, raw: string): ForwardSpec {
  const bad = (why: string) =>
    new FtpfwdError('usage', `bad -${direction} forwarding "${raw}": ${why}; expected ${SYNTAX}`);
  let text = raw.trim();
  let protocol: ForwardProtocol = 'tcp';
  if (/^sftp\//i.test(text)) return parseSftpSpec(direction, raw, text.slice(5));
  const m = /^(ftp|tcp)\//i.exec(text);
  if (m) {
    protocol = (m[1] as string).toLowerCase() as ForwardProtocol;
    text = text.slice(m[0].length);
  } else if (/^[a-z]+\//i.test(text)) {
    throw bad(`unknown protocol prefix "${text.split('/')[0]}/"`);
  }
  text = text.replace(/\s+/g, ':');
  const fields = splitFields(text);
  if (!fields) throw bad('unbalanced [brackets]');
  let bindAddress: string | undefined;
  let rest: string[];
  if (fields.length === 4) {
    bindAddress = fields[0] as string;
    rest = fields.slice(1);
  } else if (fields.length === 3) {
    rest = fields;
  } else {
    throw bad(`${fields.length} fields`);
  }
  const [portText, host, hostPortText] = rest as [string, string, string];
  const bindPort = parsePort(portText, true);
  if (bindPort === undefined) throw bad(`listen port "${portText}" is not 0-65535`);
  if (host === '') throw bad('empty HOST');
  if (/[\s/]/.test(host)) throw bad(`HOST "${host}" is not a host name or address`);
  const hostPort = parsePort(hostPortText, false);
  if (hostPort === undefined) throw bad(`HOSTPORT "${hostPortText}" is not 1-65535`);
  return { direction, protocol, bindAddress, bindPort, host, hostPort };
}

/**
 * `sftp/[BIND:]PORT[:REMOTE_DIR]`. The first field is the port when it is all digits (a bind
 * address never is), so `sftp/2121:/srv` and `sftp/127.0.0.1:2121` both read as meant; everything
 * after the port is the directory, colons and spaces included.
 */
function parseSftpSpec(direction: ForwardDirection, raw: string, text: string): ForwardSpec {
  const bad = (why: string) =>
    new FtpfwdError('usage', `bad -${direction} forwarding "${raw}": ${why}; expected ${SFTP_SYNTAX}`);
  if (direction !== 'L')
    throw bad('sftp/ serves FTP on this host from the SSH server’s files, so it is a -L forwarding only');
  const fields = splitFields(text.trim());
  if (!fields || fields.length === 0) throw bad('unbalanced [brackets]');
  let bindAddress: string | undefined;
  let portAt = 0;
  if (!/^\d+$/.test(fields[0] as string)) {
    bindAddress = fields[0] as string;
    portAt = 1;
  }
  const portText = fields[portAt];
  if (portText === undefined) throw bad('no listen port');
  const bindPort = parsePort(portText, true);
  if (bindPort === undefined) throw bad(`listen port "${portText}" is not 0-65535`);
  // splitFields took brackets off; the directory is re-read from the raw text after the port.
  const dirFields = fields.slice(portAt + 1);
  const spec: ForwardSpec = { direction, protocol: 'sftp', bindAddress, bindPort, host: '', hostPort: 0 };
  if (dirFields.length > 0) {
    const remoteDir = afterFields(text.trim(), portAt + 1);
    if (remoteDir === '') throw bad('empty REMOTE_DIR (leave it out for the SFTP start directory)');
    spec.remoteDir = remoteDir;
  }
  return spec;
}

/** `text` after its first `n` colon-separated fields (brackets protect colons, as in splitFields). */
function afterFields(text: string, n: number): string {
  let depth = 0;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '[') depth++;
    else if (ch === ']') depth = Math.max(0, depth - 1);
    else if (ch === ':' && depth === 0 && ++seen === n) return text.slice(i + 1);
  }
  return '';
}

/** `-L ftp/127.0.0.1:2121:ftp:21` again, for logs. */
export function formatForwardSpec(spec: ForwardSpec): string {
  const h = (s: string) => (s.includes(':') ? `[${s}]` : s);
  const bind = spec.bindAddress === undefined ? '' : `${h(spec.bindAddress)}:`;
  if (spec.protocol === 'sftp')
    return `-L sftp/${bind}${spec.bindPort}${spec.remoteDir === undefined ? '' : `:${spec.remoteDir}`}`;
  return `-${spec.direction} ${spec.protocol}/${bind}${spec.bindPort}:${h(spec.host)}:${spec.hostPort}`;
}

/**
 * Every interface, both families: one dual-stack socket on `::` (IPv4 clients arrive as
 * `::ffff:a.b.c.d`). listenOn falls back to 0.0.0.0 on a host without IPv6.
 */
export const ALL_INTERFACES = '::';

/**
 * Address a local (-L) listener binds to, OpenSSH rules: explicit bind wins, else -g decides. "All
 * interfaces" (-g, `*`, empty) means IPv4 and IPv6, as OpenSSH binds every address family; an
 * explicit `0.0.0.0` stays IPv4 only.
 */
export function localBindAddress(spec: ForwardSpec, gatewayPorts: boolean): string {
  const b = spec.bindAddress;
  if (b === undefined) return gatewayPorts ? ALL_INTERFACES : '127.0.0.1';
  if (b === '' || b === '*') return ALL_INTERFACES;
  if (b === 'localhost') return '127.0.0.1';
  return b;
}

/** Address sent in the tcpip-forward request for a -R forwarding, as OpenSSH sends it. */
export function remoteBindAddress(spec: ForwardSpec): string {
  const b = spec.bindAddress;
  if (b === undefined) return 'localhost';
  if (b === '*') return '';
  return b;
}

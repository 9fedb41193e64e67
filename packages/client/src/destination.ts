import { FtpfwdError } from './errors.js';

export interface Destination {
  user: string | undefined;
  host: string;
  port: number | undefined;
}

/** `[user@]host` or `ssh://[user@]host[:port]` (host may be `[v6]`), as OpenSSH accepts them. */
export function parseDestination(raw: string): Destination {
  const bad = (why: string) =>
    new FtpfwdError(
      'usage',
      `bad destination "${raw}": ${why}; expected [user@]host or ssh://[user@]host[:port]`,
    );
  if (raw.startsWith('ssh://')) {
    const rest = raw.slice(6).replace(/\/$/, '');
    const at = rest.lastIndexOf('@');
    const user = at >= 0 ? rest.slice(0, at) : undefined;
    const hostPart = at >= 0 ? rest.slice(at + 1) : rest;
    let host: string;
    let portText: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(hostPart);
    if (v6) {
      host = v6[1] as string;
      portText = v6[2];
    } else {
      const parts = hostPart.split(':');
      if (parts.length > 2) throw bad('IPv6 addresses need [brackets]');
      host = parts[0] as string;
      portText = parts[1];
    }
    if (host === '') throw bad('empty host');
    if (user === '') throw bad('empty user');
    let port: number | undefined;
    if (portText !== undefined) {
      if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
        throw bad(`port "${portText}" is not 1-65535`);
      port = Number(portText);
    }
    return { user, host, port };
  }
  if (raw.includes('/')) throw bad('"/" in host');
  const at = raw.lastIndexOf('@');
  const user = at >= 0 ? raw.slice(0, at) : undefined;
  let host = at >= 0 ? raw.slice(at + 1) : raw;
  if (/^\[.*\]$/.test(host)) host = host.slice(1, -1);
  if (host === '') throw bad('empty host');
  if (user === '') throw bad('empty user');
  if (host.startsWith('-')) throw bad('host starts with "-"');
  return { user, host, port: undefined };
}

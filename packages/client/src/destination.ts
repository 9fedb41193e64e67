import { splitHostPort } from '@ftpfwd/ftp-proxy';
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
    if (/^\[[^\]]+\]$/.test(hostPart)) {
      host = hostPart.slice(1, -1);
    } else if (!hostPart.includes(':')) {
      host = hostPart;
    } else {
      const parts = splitHostPort(hostPart);
      if (!parts?.host) throw bad('IPv6 addresses need [brackets]');
      host = parts.host;
      portText = parts.port;
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

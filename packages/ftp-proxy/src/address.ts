import { isIP, isIPv4, isIPv6 } from 'node:net';
import { FtpParseError } from './errors.js';
import type { Endpoint } from './types.js';

/**
 * `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`; other addresses unchanged
 * except IPv6 lower-cased. Used wherever two addresses are compared or an IPv4 form is needed.
 */
export function normalizeAddress(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  return isIPv6(lower) ? lower : host;
}

/** True when both name the same IP address (IPv4-mapped IPv6 and case folded). */
export function sameAddress(a: string, b: string): boolean {
  return normalizeAddress(a) === normalizeAddress(b);
}

/** True for a literal IPv4 address (after IPv4-mapped normalisation). */
export function isIPv4Address(host: string): boolean {
  return isIPv4(normalizeAddress(host));
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** `host:port` or `[v6]:port` → Endpoint. Throws FtpParseError. */
export function parseHostPort(text: string): Endpoint {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) throw new FtpParseError('host:port or [ipv6]:port', text);
  const port = Number(m[2]);
  if (!isValidPort(port)) throw new FtpParseError('a port 1-65535', m[2]!);
  return { host: m[1]!, port };
}

/** Endpoint → `host:port`, with brackets around IPv6 literals. */
export function formatHostPort(ep: Endpoint): string {
  return isIP(ep.host) === 6 ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

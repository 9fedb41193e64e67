import { isIP, isIPv4, isIPv6 } from 'node:net';
import { FtpParseError } from './errors.js';
import type { Endpoint } from './types.js';

/**
 * `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`; everything lower-cased
 * (IPv6 hex digits, host names). Used wherever two addresses or names are compared, or an IPv4
 * form is needed.
 */
export function normalizeAddress(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  return lower;
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

/**
 * Splits `host:port`, `[v6]:port` or (when `hostOptional`) a bare `port` into its parts, without
 * judging the port. Undefined when the text has none of these forms. A bare IPv6 address without
 * brackets is refused: its last group would be ambiguous with a port.
 */
export function splitHostPort(
  text: string,
  hostOptional = false,
): { host?: string; port: string } | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    const host = text.slice(1, close);
    if (!isIPv6(host)) return undefined;
    return { host, port: text.slice(close + 2) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return hostOptional ? { port: text } : undefined;
  const host = text.slice(0, colon);
  if (host.length === 0 || host.includes(':')) return undefined;
  return { host, port: text.slice(colon + 1) };
}

/** `host:port` or `[v6]:port` → Endpoint, port 1-65535. Throws FtpParseError. */
export function parseHostPort(text: string): Endpoint {
  const parts = splitHostPort(text);
  if (!parts?.host) throw new FtpParseError('host:port or [ipv6]:port', text);
  const port = /^\d{1,5}$/.test(parts.port) ? Number(parts.port) : Number.NaN;
  if (!isValidPort(port)) throw new FtpParseError('a port 1-65535', parts.port);
  return { host: parts.host, port };
}

/** Endpoint → `host:port`, with brackets around IPv6 literals. */
export function formatHostPort(ep: Endpoint): string {
  return isIP(ep.host) === 6 ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

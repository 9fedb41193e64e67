/**
 * Forwarding policy: the permit-open and permit-listen rule languages (shared by the command line,
 * the config file and authorized_keys options) and the pure matchers the server consults.
 */
import { normalizeAddress, splitHostPort } from '@ftpfwd/ftp-proxy';
import { SshdError } from './errors.js';

export { normalizeAddress, splitHostPort };

/** One `--permit-open` rule. `ftp` marks an FTP-aware control-connection rule (`host:port/ftp`). */
export type PermitOpenRule =
  | { kind: 'any'; spec: string }
  | { kind: 'none'; spec: string }
  | { kind: 'hostport'; host: string; port: number | '*'; ftp: boolean; spec: string };

/** One `--permit-listen` rule. `host` undefined means any bind address. */
export type PermitListenRule =
  | { kind: 'any'; spec: string }
  | { kind: 'none'; spec: string }
  | { kind: 'port'; host: string | undefined; port: number | '*'; spec: string };

export type GatewayPorts = 'no' | 'yes' | 'clientspecified';
export type AllowTcpForwarding = 'yes' | 'no' | 'local' | 'remote';

function specError(what: string, spec: string, expected: string): SshdError {
  return new SshdError('policy-spec', `${what}: expected ${expected}, got ${JSON.stringify(spec)}`);
}

function parsePort(text: string, allowStar: boolean): number | '*' | undefined {
  if (allowStar && text === '*') return '*';
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 0 && n <= 65535 ? n : undefined;
}

const HOST_RE = /^(\*|[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]+)$/;

/** Parse one permit-open spec: `host:port`, `*:port`, `host:*`, `any`, `none`, each with optional `/ftp`. */
export function parsePermitOpen(spec: string): PermitOpenRule {
  const text = spec.trim();
  const expected = 'host:port, *:port, host:*, any or none (host:port may end in /ftp)';
  if (text === 'any') return { kind: 'any', spec: text };
  if (text === 'none') return { kind: 'none', spec: text };
  const ftp = text.endsWith('/ftp');
  const body = ftp ? text.slice(0, -4) : text;
  const parts = splitHostPort(body);
  if (!parts?.host || !HOST_RE.test(parts.host)) throw specError('permit-open', spec, expected);
  const port = parsePort(parts.port, true);
  if (port === undefined || port === 0) throw specError('permit-open', spec, expected);
  if (ftp && port === '*')
    throw specError('permit-open', spec, 'an FTP-aware rule with a fixed port (host:21/ftp)');
  return { kind: 'hostport', host: parts.host.toLowerCase(), port, ftp, spec: text };
}

/** Parse one permit-listen spec: `[addr:]port` (port may be `*`), `any`, `none`. */
export function parsePermitListen(spec: string): PermitListenRule {
  const text = spec.trim();
  const expected = '[addr:]port (port 1-65535 or *), any or none';
  if (text === 'any') return { kind: 'any', spec: text };
  if (text === 'none') return { kind: 'none', spec: text };
  const parts = splitHostPort(text, true);
  if (!parts || (parts.host !== undefined && !HOST_RE.test(parts.host))) {
    throw specError('permit-listen', spec, expected);
  }
  const port = parsePort(parts.port, true);
  if (port === undefined || port === 0) throw specError('permit-listen', spec, expected);
  const host = parts.host === undefined || parts.host === '*' ? undefined : parts.host.toLowerCase();
  return { kind: 'port', host, port, spec: text };
}

/** `none` must stand alone: a list that mixes it with permits is most likely a mistake. */
function checkNoneAlone(rules: { kind: string }[], what: string): void {
  if (rules.length > 1 && rules.some((r) => r.kind === 'none')) {
    throw new SshdError('policy-spec', `${what}: expected "none" alone, got it together with other rules`);
  }
}

export function parsePermitOpenList(specs: readonly string[]): PermitOpenRule[] {
  const rules = specs.map(parsePermitOpen);
  checkNoneAlone(rules, 'permit-open');
  return rules;
}

export function parsePermitListenList(specs: readonly string[]): PermitListenRule[] {
  const rules = specs.map(parsePermitListen);
  checkNoneAlone(rules, 'permit-listen');
  return rules;
}

/**
 * The first rule that permits a `direct-tcpip` to host:port, or undefined. An empty list permits
 * everything (the default is `any`). Hosts compare as the client named them, as OpenSSH does.
 */
export function matchPermitOpen(
  rules: readonly PermitOpenRule[],
  host: string,
  port: number,
): PermitOpenRule | undefined {
  if (rules.length === 0) return { kind: 'any', spec: 'any (default)' };
  const h = normalizeAddress(host);
  for (const rule of rules) {
    if (rule.kind === 'any') return rule;
    if (rule.kind === 'none') continue;
    if (
      (rule.host === '*' || normalizeAddress(rule.host) === h) &&
      (rule.port === '*' || rule.port === port)
    ) {
      return rule;
    }
  }
  return undefined;
}

/**
 * The first rule that permits a `tcpip-forward` for bindAddr:port, or undefined. A request for port
 * 0 (server allocates) is matched only by rules that allow any port.
 */
export function matchPermitListen(
  rules: readonly PermitListenRule[],
  bindAddr: string,
  port: number,
): PermitListenRule | undefined {
  if (rules.length === 0) return { kind: 'any', spec: 'any (default)' };
  const h = normalizeAddress(bindAddr);
  for (const rule of rules) {
    if (rule.kind === 'any') return rule;
    if (rule.kind === 'none') continue;
    const hostOk = rule.host === undefined || rule.host === h;
    const portOk = rule.port === '*' || (port !== 0 && rule.port === port);
    if (hostOk && portOk) return rule;
  }
  return undefined;
}

/**
 * Where a remote-forward listener binds, given the server's GatewayPorts setting and the address
 * the client asked for (OpenSSH semantics): `no` forces loopback, `yes` forces the wildcard,
 * `clientspecified` honours the request ("" and "*" mean the wildcard, "localhost" loopback).
 */
export function resolveBindAddress(mode: GatewayPorts, requested: string): string {
  if (mode === 'no') return requested === '::1' ? '::1' : '127.0.0.1';
  if (mode === 'yes') return '0.0.0.0';
  const r = requested.toLowerCase();
  if (r === '' || r === '*' || r === '0.0.0.0') return '0.0.0.0';
  if (r === 'localhost') return '127.0.0.1';
  return requested;
}

export function parseGatewayPorts(text: string): GatewayPorts {
  if (text === 'no' || text === 'yes' || text === 'clientspecified') return text;
  throw new SshdError(
    'usage',
    `gateway-ports: expected no, yes or clientspecified, got ${JSON.stringify(text)}`,
  );
}

export function parseAllowTcpForwarding(text: string): AllowTcpForwarding {
  if (text === 'yes' || text === 'no' || text === 'local' || text === 'remote') return text;
  throw new SshdError(
    'usage',
    `allow-tcp-forwarding: expected yes, no, local or remote, got ${JSON.stringify(text)}`,
  );
}

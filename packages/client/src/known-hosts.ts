import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { wildcardMatch } from '@ftpfwd/ftp-proxy/cli';

/**
 * OpenSSH known_hosts, the parts a client needs: hashed (`|1|salt|hash`) and plain host lists,
 * `[host]:port` names, `*`/`?` patterns, `!` negation, `@revoked`, and `@cert-authority` (recognised
 * so it can be reported as unsupported instead of silently ignored). Pure: no file I/O here.
 */

export interface KnownHostEntry {
  marker: 'revoked' | 'cert-authority' | undefined;
  /** Raw host field: comma-separated patterns or one `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  /** Base64 of the public key blob, as written. */
  keyBase64: string;
  /** Where it came from, for messages: `file:line`. */
  source: string;
}

/** Parses a known_hosts file's text; malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) continue;
    if (!/^[A-Za-z0-9+/]+=*$/.test(keyBase64)) continue;
    out.push({ marker, hosts, keyType, keyBase64, source: `${file}:${i + 1}` });
  }
  return out;
}

/** The name known_hosts stores for a host and port: `host`, or `[host]:port` when port is not 22. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

function hashedMatch(field: string, name: string): boolean {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] as string, 'base64');
  const want = Buffer.from(parts[3] as string, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Does this host field name `name` (already in `[host]:port` form when needed)? */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(field, name);
  let positive = false;
  for (const raw of field.split(',')) {
    if (raw === '') continue;
    const negated = raw.startsWith('!');
    const pat = negated ? raw.slice(1) : raw;
    if (wildcardMatch(pat, name)) {
      if (negated) return false; // a matching negation overrides every positive match
      positive = true;
    }
  }
  return positive;
}

/** `|1|salt|hash` for a name, as `ssh-keygen -H` writes it. */
export function hashHostName(name: string, salt: Buffer): string {
  const h = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${h}`;
}

/** OpenSSH's `SHA256:…` fingerprint of a key blob (unpadded base64). */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (its first string). */
export function blobKeyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  if (len > blob.length - 4 || len > 64) return 'unknown';
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's short name for a key type in messages: ED25519, ECDSA, RSA. */
export function keyTypeLabel(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  if (type === 'ssh-rsa') return 'RSA';
  if (type === 'ssh-dss') return 'DSA';
  return type;
}

export type HostKeyVerdict =
  | { status: 'ok'; entry: KnownHostEntry }
  | { status: 'revoked'; entry: KnownHostEntry }
  | { status: 'changed'; known: KnownHostEntry[] }
  | { status: 'unknown'; certAuthorities: KnownHostEntry[] };

/**
 * Decides about a presented key for `name`. Order as OpenSSH: a revoked match refuses whatever else
 * matches; then an exact key match accepts; other keys of the same type for this name mean the key
 * changed. Keys of other types only (the server offered a type we never saw) count as unknown.
 */
export function checkHostKey(entries: KnownHostEntry[], name: string, blob: Buffer): HostKeyVerdict {
  const b64 = blob.toString('base64');
  const type = blobKeyType(blob);
  const matching = entries.filter((e) => hostFieldMatches(e.hosts, name));
  const revoked = matching.find((e) => e.marker === 'revoked' && sameKey(e.keyBase64, b64));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = matching.filter((e) => e.marker === undefined);
  const ok = plain.find((e) => sameKey(e.keyBase64, b64));
  if (ok) return { status: 'ok', entry: ok };
  const sameType = plain.filter((e) => e.keyType === type);
  if (sameType.length > 0) return { status: 'changed', known: sameType };
  return {
    status: 'unknown',
    certAuthorities: matching.filter((e) => e.marker === 'cert-authority'),
  };
}

function sameKey(a: string, b: string): boolean {
  return a.replace(/=+$/, '') === b.replace(/=+$/, '');
}

/** Key types recorded for `name`, to prefer those algorithms in the key exchange (as OpenSSH). */
export function knownKeyTypes(entries: KnownHostEntry[], name: string): string[] {
  const types = new Set<string>();
  for (const e of entries)
    if (e.marker === undefined && hostFieldMatches(e.hosts, name)) types.add(e.keyType);
  return [...types];
}

/** The line `accept-new` appends. */
export function formatKnownHostLine(name: string, blob: Buffer): string {
  return `${name} ${blobKeyType(blob)} ${blob.toString('base64')}\n`;
}

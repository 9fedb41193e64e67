/**
 * Host keys: loading OpenSSH private key files, generating new ones (`keygen`, and the automatic
 * key in the state directory), and OpenSSH-style SHA256 fingerprints.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';
import { SshdError } from './errors.js';

export type KeyKind = 'ed25519' | 'ecdsa' | 'rsa';

export interface HostKey {
  /** Where it came from (a path, or "generated"). */
  source: string;
  /** The private key text, as ssh2's server takes it. */
  pem: Buffer;
  parsed: ParsedKey;
  /** `SHA256:…` as OpenSSH prints it. */
  fingerprint: string;
  type: string;
}

/** OpenSSH's fingerprint form: SHA256 of the public key blob, base64 without padding. */
export function fingerprintOf(key: ParsedKey | Buffer): string {
  const blob = Buffer.isBuffer(key) ? key : key.getPublicSSH();
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parse a private host key; throws SshdError naming the source when it is not usable. */
export function parseHostKey(pem: Buffer, source: string): HostKey {
  const parsed = ssh2.utils.parseKey(pem);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    throw new SshdError(
      'host-key',
      `host key ${source}: expected an unencrypted OpenSSH private key (ed25519, ecdsa or rsa), got: ${parsed.message}${encrypted ? ' (remove the passphrase: ssh-keygen -p -N "" -f FILE)' : ''}`,
    );
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) {
    throw new SshdError('host-key', `host key ${source}: expected a private key, got a public key`);
  }
  return { source, pem, parsed: key, fingerprint: fingerprintOf(key), type: key.type };
}

export function loadHostKey(path: string): HostKey {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new SshdError('host-key', `host key ${path}: cannot read it: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseHostKey(pem, path);
}

function defaultComment(): string {
  let user = 'root';
  try {
    user = userInfo().username;
  } catch {}
  return `${user}@${hostname()}`;
}

export function generateKeyPair(
  kind: KeyKind,
  comment = defaultComment(),
): { private: string; public: string } {
  switch (kind) {
    case 'ed25519':
      return ssh2.utils.generateKeyPairSync('ed25519', { comment });
    case 'ecdsa':
      return ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256, comment });
    case 'rsa':
      return ssh2.utils.generateKeyPairSync('rsa', { bits: 3072, comment });
  }
}

/**
 * Write a new key pair: FILE (mode 0600) and FILE.pub. Refuses to overwrite FILE. Returns the key.
 */
export function writeNewKey(path: string, kind: KeyKind): HostKey {
  const pair = generateKeyPair(kind);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SshdError(
      'host-key',
      code === 'EEXIST'
        ? `keygen: ${path} exists already; expected a new file name (nothing was overwritten)`
        : `keygen: cannot write ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  chmodSync(path, 0o600);
  writeFileSync(`${path}.pub`, `${pair.public.trim()}\n`, { mode: 0o644 });
  return parseHostKey(Buffer.from(pair.private), path);
}

/** `$XDG_STATE_HOME/ftpfwd-sshd`, else `~/.local/state/ftpfwd-sshd`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'ftpfwd-sshd');
}

/**
 * The automatic host key: `<stateDir>/host_ed25519_key`, created once (directory 0700, key 0600)
 * and reused on later starts. `created` says whether this call made it.
 */
export function loadOrCreateStateKey(stateDir: string): { key: HostKey; created: boolean } {
  const path = join(stateDir, 'host_ed25519_key');
  if (existsSync(path)) return { key: loadHostKey(path), created: false };
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // Write to a temporary name and rename, so two servers starting at once never see half a key.
  const pair = generateKeyPair('ed25519', `ftpfwd-sshd@${hostname()}`);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, pair.private, { mode: 0o600 });
  writeFileSync(`${path}.pub`, `${pair.public.trim()}\n`, { mode: 0o644 });
  renameSync(tmp, path);
  return { key: loadHostKey(path), created: true };
}

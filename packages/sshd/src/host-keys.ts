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

/** How many fresh keys `generateKeyPair` tries before it gives up with an error. */
export const KEYGEN_ATTEMPTS = 10;

export type KeyPairText = { private: string; public: string };
export type KeyPairGenerator = (kind: KeyKind, comment: string) => KeyPairText;

function generateRaw(kind: KeyKind, comment: string): KeyPairText {
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
 * Why a generated pair is unusable, or undefined when it is fine: the private key must parse as a
 * private key of the asked type, and the .pub text must parse to the same public key.
 */
function pairProblem(kind: KeyKind, pair: KeyPairText): string | undefined {
  let priv: HostKey;
  try {
    priv = parseHostKey(Buffer.from(pair.private), 'generated');
  } catch (err) {
    return `private key: ${(err as Error).message}`;
  }
  const pub = ssh2.utils.parseKey(pair.public);
  if (pub instanceof Error) return `public key: ${pub.message}`;
  const pubKey = Array.isArray(pub) ? pub[0] : pub;
  if (!pubKey?.getPublicSSH().equals(priv.parsed.getPublicSSH())) {
    return 'public key: does not match the private key';
  }
  const expectedType = { ed25519: 'ssh-ed25519', ecdsa: 'ecdsa-sha2-nistp256', rsa: 'ssh-rsa' }[kind];
  if (priv.type !== expectedType) return `private key: expected type ${expectedType}, got ${priv.type}`;
  return undefined;
}

/**
 * A new key pair that parses back. About 0.6% of the ed25519 pairs ssh2's generateKeyPairSync
 * returns are malformed (neither ssh2 nor OpenSSH can read them); writing one would leave a key
 * file that breaks `keygen` or every later start. So each pair is parsed before it is returned and
 * a bad one is replaced by a fresh one, at most KEYGEN_ATTEMPTS times in all.
 */
export function generateKeyPair(
  kind: KeyKind,
  comment = defaultComment(),
  generate: KeyPairGenerator = generateRaw,
): KeyPairText {
  let last = '';
  for (let attempt = 1; attempt <= KEYGEN_ATTEMPTS; attempt++) {
    const pair = generate(kind, comment);
    const problem = pairProblem(kind, pair);
    if (problem === undefined) return pair;
    last = problem;
  }
  throw new SshdError(
    'host-key',
    `keygen: expected a ${kind} key pair that parses back, got ${KEYGEN_ATTEMPTS} unusable ones in a row (last: ${last}); nothing was written`,
  );
}

/**
 * Write a new key pair: FILE (mode 0600) and FILE.pub. Refuses to overwrite FILE. Returns the key.
 * The pair is generated and parsed back before anything is written.
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
  // Generated (and parsed back) before anything touches the disk: a key that cannot be read must
  // never land here, or every later start would fail on it.
  const pair = generateKeyPair('ed25519', `ftpfwd-sshd@${hostname()}`);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // Write to a temporary name and rename, so two servers starting at once never see half a key.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, pair.private, { mode: 0o600 });
  writeFileSync(`${path}.pub`, `${pair.public.trim()}\n`, { mode: 0o644 });
  renameSync(tmp, path);
  return { key: loadHostKey(path), created: true };
}

/**
 * The password file: one `user:$scrypt$ln=N,r=R,p=P$salt$hash` line per user (salt and hash in
 * unpadded base64), `#` comments allowed. Written by `ftpfwd-sshd passwd`; read by ftpfwd-sshd for
 * SSH logins and by ftpfwd's `sftp/` forwardings for FTP logins (`--sftp-login FILE`): one format,
 * here. Verification is constant-time and costs one scrypt run even for unknown users, so timing
 * does not tell which user names exist.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { excerpt } from '../engine/errors.js';

/** A line of a file that could not be used, and why. */
export interface LineProblem {
  /** 1-based line number. */
  line: number;
  message: string;
}

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

export interface PasswordHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

export interface PasswordFileResult {
  entries: Map<string, PasswordHash>;
  problems: LineProblem[];
}

/** 2^15 × 8 × 128 B = 32 MiB per check: slow for guessing, still fast enough for a login. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ ln: 15, r: 8, p: 1 });
const KEY_LENGTH = 32;
const USER_RE = /^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$/;

function scrypt(
  password: Buffer | string,
  salt: Buffer,
  params: ScryptParams,
  keylen: number,
): Promise<Buffer> {
  const N = 2 ** params.ln;
  const maxmem = 256 * N * params.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, { N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

export function formatPasswordHash(h: PasswordHash): string {
  return `$scrypt$ln=${h.params.ln},r=${h.params.r},p=${h.params.p}$${b64(h.salt)}$${b64(h.hash)}`;
}

/** Parse a `$scrypt$…` string; throws an Error saying what was expected. */
export function parsePasswordHash(text: string): PasswordHash {
  const m =
    /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/.exec(text);
  if (!m) {
    throw new Error(
      `expected $scrypt$ln=N,r=R,p=P$salt$hash (see "ftpfwd-sshd passwd"), got ${JSON.stringify(excerpt(text, 30))}`,
    );
  }
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) {
    throw new Error(
      `scrypt parameters out of range (ln 10-20, r 1-32, p 1-16): ln=${params.ln},r=${params.r},p=${params.p}`,
    );
  }
  return { params, salt: Buffer.from(m[4]!, 'base64'), hash: Buffer.from(m[5]!, 'base64') };
}

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<PasswordHash> {
  const salt = randomBytes(16);
  return { params, salt, hash: await scrypt(password, salt, params, KEY_LENGTH) };
}

const DUMMY: PasswordHash = {
  params: DEFAULT_SCRYPT,
  salt: Buffer.alloc(16, 1),
  hash: Buffer.alloc(KEY_LENGTH, 0),
};

/**
 * True when `password` matches `stored`. With `stored` undefined (unknown user) it still runs
 * scrypt once and returns false.
 */
export async function verifyPassword(password: string, stored: PasswordHash | undefined): Promise<boolean> {
  const h = stored ?? DUMMY;
  const got = await scrypt(password, h.salt, h.params, h.hash.length);
  return timingSafeEqual(got, h.hash) && stored !== undefined;
}

export function parsePasswordFile(text: string): PasswordFileResult {
  const entries = new Map<string, PasswordHash>();
  const problems: LineProblem[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon < 0 ? '' : line.slice(0, colon);
    if (!USER_RE.test(user)) {
      problems.push({
        line: idx + 1,
        message: `expected user:$scrypt$…, got ${JSON.stringify(excerpt(line, 30))}`,
      });
      return;
    }
    if (entries.has(user)) {
      problems.push({ line: idx + 1, message: `user ${user} appears twice; the first entry is used` });
      return;
    }
    try {
      entries.set(user, parsePasswordHash(line.slice(colon + 1)));
    } catch (err) {
      problems.push({ line: idx + 1, message: (err as Error).message });
    }
  });
  return { entries, problems };
}

/** Reads and parses a password file (I/O errors are thrown as they are). */
export async function readPasswordFile(path: string): Promise<PasswordFileResult> {
  return parsePasswordFile(await readFile(path, 'utf8'));
}

export function isValidUserName(user: string): boolean {
  return USER_RE.test(user);
}

/**
 * The file's text with `user`'s line set to `hash` (replaced in place, or appended), keeping every
 * other line, comment and blank as it was.
 */
export function setPasswordLine(text: string, user: string, hash: PasswordHash): string {
  const entry = `${user}:${formatPasswordHash(hash)}`;
  const lines = text.length === 0 ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const idx = lines.findIndex((l) => l.trim().startsWith(`${user}:`));
  if (idx >= 0) lines[idx] = entry;
  else lines.push(entry);
  return `${lines.join('\n')}\n`;
}

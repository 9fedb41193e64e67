/**
 * FTP logins checked against a password file in the format `ftpfwd-sshd passwd` writes: one
 * `user:$scrypt$ln=N,r=R,p=P$salt$hash` line per user (salt and hash unpadded base64), `#`
 * comments and blank lines allowed. Reimplemented here (the client does not depend on the sshd
 * package); the format is packages/sshd/src/passwords.ts's.
 *
 * A check costs one scrypt run also for an unknown user, and compares in constant time, so neither
 * timing nor the reply tells which user names exist.
 */

import { scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

interface Hash {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export interface PasswordFile {
  entries: Map<string, Hash>;
  /** Lines that could not be read, as `line N: why`. */
  problems: string[];
}

const USER_RE = /^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$/;
const HASH_RE =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;

export function parsePasswordFile(text: string): PasswordFile {
  const entries = new Map<string, Hash>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon < 0 ? '' : line.slice(0, colon);
    if (!USER_RE.test(user)) {
      problems.push(`line ${i + 1}: expected user:$scrypt$…`);
      return;
    }
    if (entries.has(user)) {
      problems.push(`line ${i + 1}: user ${user} appears twice; the first entry is used`);
      return;
    }
    const m = HASH_RE.exec(line.slice(colon + 1));
    if (!m) {
      problems.push(`line ${i + 1}: expected $scrypt$ln=N,r=R,p=P$salt$hash for ${user}`);
      return;
    }
    const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
      problems.push(`line ${i + 1}: scrypt parameters out of range (ln 10-20, r 1-32, p 1-16)`);
      return;
    }
    entries.set(user, { ln, r, p, salt: Buffer.from(m[4]!, 'base64'), hash: Buffer.from(m[5]!, 'base64') });
  });
  return { entries, problems };
}

export async function readPasswordFile(path: string): Promise<PasswordFile> {
  return parsePasswordFile(await readFile(path, 'utf8'));
}

const DUMMY: Hash = { ln: 15, r: 8, p: 1, salt: Buffer.alloc(16, 1), hash: Buffer.alloc(32, 0) };

function scrypt(password: string, h: Hash): Promise<Buffer> {
  const N = 2 ** h.ln;
  const maxmem = 256 * N * h.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCb(password, h.salt, h.hash.length, { N, r: h.r, p: h.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** True when `user` is in the file with this password. */
export async function verifyLogin(file: PasswordFile, user: string, password: string): Promise<boolean> {
  const stored = file.entries.get(user);
  const h = stored ?? DUMMY;
  const got = await scrypt(password, h);
  return timingSafeEqual(got, h.hash) && stored !== undefined;
}

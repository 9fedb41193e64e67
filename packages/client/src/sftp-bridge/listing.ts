/**
 * Listing formats (pure): `LIST` as `ls -l` prints it, `MLSD`/`MLST` facts (RFC 3659 §7), the
 * 14-digit times of MDTM/MFMT/`modify=` (RFC 3659 §2.3, always UTC), and LIST's argument.
 */
import { createHash } from 'node:crypto';

/** What one listed object looks like (from SFTP attrs; any field may be missing). */
export interface ListEntry {
  name: string;
  mode?: number | undefined;
  size?: number | undefined;
  mtime?: number | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
  /** Owner and group names (from the server's `ls -l` longname), else the numbers. */
  owner?: string | undefined;
  group?: string | undefined;
  nlink?: number | undefined;
  /** For a symbolic link: where it points. */
  linkTarget?: string | undefined;
}

const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
const TYPE_CHAR: Record<number, string> = {
  26411: 's',
  [S_IFLNK]: 'l',
  [S_IFREG]: '-',
  14406: 'b',
  [S_IFDIR]: 'd',
  4802: 'c',
  2401: 'p',
};

export function fileType(mode: number | undefined): 'dir' | 'file' | 'link' | 'other' {
  const t = (mode ?? S_IFREG) & S_IFMT;
  if (t === S_IFDIR) return 'dir';
  if (t === S_IFREG) return 'file';
  if (t === S_IFLNK) return 'link';
  return 'other';
}

/** `drwxr-xr-x`, with setuid/setgid/sticky as ls shows them. */
export function modeString(mode: number | undefined): string {
  const m = mode ?? S_IFREG | 0o644;
  const type = TYPE_CHAR[m & S_IFMT] ?? '?';
  const rwx = (bits: number, special: boolean, s: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? s : s.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return (
    type +
    rwx((m >> 6) & 7, (m & 0o4000) !== 0, 's') +
    rwx((m >> 3) & 7, (m & 0o2000) !== 0, 's') +
    rwx(m & 7, (m & 0o1000) !== 0, 't')
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS = 182 * 24 * 3600;

/** `Mar 14 09:26` for the last six months, `Mar 14  2019` otherwise, as ls does (UTC). */
export function lsTime(mtime: number | undefined, nowSeconds: number): string {
  const t = mtime ?? 0;
  const d = new Date(t * 1000);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const month = MONTHS[d.getUTCMonth()]!;
  if (Math.abs(nowSeconds - t) < SIX_MONTHS) {
    const hh = String(d.getUTCHours()).padStart(2, '0');
    const mm = String(d.getUTCMinutes()).padStart(2, '0');
    return `${month} ${day} ${hh}:${mm}`;
  }
  return `${month} ${day}  ${d.getUTCFullYear()}`;
}

/** One `ls -l` line (no line end). */
export function formatLsLine(e: ListEntry, nowSeconds: number): string {
  const owner = (e.owner ?? String(e.uid ?? 0)).padEnd(8);
  const group = (e.group ?? String(e.gid ?? 0)).padEnd(8);
  const size = String(e.size ?? 0).padStart(12);
  const link = e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : '';
  return `${modeString(e.mode)} ${String(e.nlink ?? 1).padStart(3)} ${owner} ${group} ${size} ${lsTime(e.mtime, nowSeconds)} ${e.name}${link}`;
}

/**
 * Owner, group and link count from an OpenSSH `longname` (`-rw-r--r--    1 alice    staff  …`);
 * undefined when it does not look like one (other servers may send anything).
 */
export function parseLongname(
  longname: string | undefined,
): { nlink: number; owner: string; group: string } | undefined {
  if (!longname) return undefined;
  const m = /^[-a-zA-Z?][-rwxsStTl?]{9}[.+@]?\s+(\d+)\s+(\S+)\s+(\S+)\s+\d/.exec(longname);
  if (!m) return undefined;
  return { nlink: Number(m[1]), owner: m[2]!, group: m[3]! };
}

/** `YYYYMMDDHHMMSS` (UTC) of a Unix time in seconds. */
export function time14(seconds: number | undefined): string {
  const d = new Date((seconds ?? 0) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** `YYYYMMDDHHMMSS[.sss]` (UTC) → Unix seconds, or undefined when it is not a valid time. */
export function parseTime14(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d{1,3})?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  // a leap second (60) counts as 59: Unix time has none
  const ms = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59));
  const back = new Date(ms);
  if (back.getUTCDate() !== d || back.getUTCMonth() !== mo - 1) return undefined;
  return Math.floor(ms / 1000);
}

/** The MLST facts this server knows, in FEAT order (RFC 3659 §7.8). */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/** Who the SFTP session runs as, as far as the bridge can tell (see permFact). */
export interface Identity {
  uid?: number | undefined;
  gids?: ReadonlySet<number> | undefined;
}

/** The rwx bits of `mode` that apply to `who`: owner, group or other (uid 0: all). */
function accessBits(e: ListEntry, who: Identity): number {
  const m = e.mode ?? 0;
  if (who.uid === 0) return 7;
  if (who.uid !== undefined && e.uid === who.uid) return (m >> 6) & 7;
  if (e.gid !== undefined && who.gids?.has(e.gid)) return (m >> 3) & 7;
  return m & 7;
}

/**
 * RFC 3659 §7.5.5 `perm`: what the FTP client may do. SFTP does not say what the session user may
 * do, so this is read from the mode bits, for the identity the session guessed (the owner of its
 * start directory). `parentWritable`: whether the directory holding it can be written (d, f).
 */
export function permFact(e: ListEntry, who: Identity, parentWritable: boolean): string {
  const bits = accessBits(e, who);
  const type = fileType(e.mode);
  let p = '';
  if (type === 'dir') {
    if (bits & 1) p += 'e';
    if (bits & 4 && bits & 1) p += 'l';
    if (bits & 2 && bits & 1) p += 'cmp';
  } else {
    if (bits & 2) p += 'aw';
    if (bits & 4) p += 'r';
  }
  if (parentWritable) p += 'df';
  return p;
}

/**
 * RFC 3659 §7.5.2 `unique`: SFTP v3 has no inode numbers, so this is derived from the object's
 * SFTP path: two objects never share one; a renamed object gets a new one.
 */
export function uniqueFact(sftpPath: string): string {
  return createHash('sha256').update(sftpPath).digest('hex').slice(0, 16);
}

export interface FactInput {
  entry: ListEntry;
  /** `cdir`/`pdir` for MLSD's own directory and its parent, else from the mode. */
  kind?: 'cdir' | 'pdir';
  sftpPath: string;
  who: Identity;
  parentWritable: boolean;
}

/** `type=file;size=12;modify=20240101000000;perm=rw;unique=…; name` (the leading space included). */
export function formatFacts(input: FactInput, facts: ReadonlySet<MlstFact>, name: string): string {
  const e = input.entry;
  const out: string[] = [];
  for (const f of MLST_FACTS) {
    if (!facts.has(f)) continue;
    switch (f) {
      case 'type': {
        const t = fileType(e.mode);
        const v =
          input.kind ??
          (t === 'link'
            ? `OS.unix=slink:${e.linkTarget ?? ''}`
            : t === 'other'
              ? `OS.unix=${modeString(e.mode).charAt(0)}`
              : t);
        out.push(`type=${v}`);
        break;
      }
      case 'size':
        if (e.size !== undefined && fileType(e.mode) !== 'dir') out.push(`size=${e.size}`);
        break;
      case 'modify':
        if (e.mtime !== undefined) out.push(`modify=${time14(e.mtime)}`);
        break;
      case 'perm':
        out.push(`perm=${permFact(e, input.who, input.parentWritable)}`);
        break;
      case 'unique':
        out.push(`unique=${uniqueFact(input.sftpPath)}`);
        break;
    }
  }
  return `${out.map((x) => `${x};`).join('')} ${name}`;
}

/**
 * LIST/NLST's argument: leading `ls` options (`-la`, `-a -l`) are skipped, as most servers do
 * (clients send them), what remains is the path. `--` ends the options.
 */
export function parseListArgument(arg: string): { options: string; path: string } {
  let rest = arg.trim();
  let options = '';
  for (;;) {
    const m = /^(--|-[A-Za-z1]+)(?:\s+|$)/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    if (m[1] === '--') break;
    options += m[1]!.slice(1);
  }
  return { options, path: rest };
}

/** Whether a listing should show `.`-files: always (as pyftpdlib), so mirrors miss nothing. */
export function showEntry(name: string): boolean {
  return name !== '.' && name !== '..';
}

/** Whether `who` may create and remove entries in directory `e` (write and search bits). */
export function writableDir(e: ListEntry, who: Identity): boolean {
  const b = accessBits(e, who);
  return (b & 3) === 3;
}

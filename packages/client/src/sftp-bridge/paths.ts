/**
 * FTP paths → SFTP paths, and the jail (pure: no I/O; the realpath checks that need the server are
 * in resolve.ts).
 *
 * The FTP client sees a "virtual" path space of absolute, `/`-separated paths:
 * - without a jail it is the SFTP server's own: `PWD` shows the real directory, absolute paths are
 *   the server's;
 * - with a jail, `/` is the jail's root (remote_dir as the server resolved it): an absolute path
 *   names a file inside the jail, and a `..` that would climb above `/` is refused, not clamped.
 */
import { posix } from 'node:path';

/** A path that would leave the jail, or that cannot be a path at all. Becomes a 550. */
export class PathRefused extends Error {
  override readonly name = 'PathRefused';
  constructor(
    readonly path: string,
    readonly why: string,
  ) {
    super(`${why}: ${JSON.stringify(path)}`);
  }
}

/** Lexical `..`/`.` resolution of an absolute path; undefined when `..` climbs above `/`. */
export function normalizeAbsolute(path: string): string | undefined {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(seg);
  }
  return `/${out.join('/')}`;
}

export class PathMapper {
  /**
   * @param root the jail's root or, without a jail, `/`... as an absolute SFTP path the server
   *   resolved (realpath), without a trailing slash except for `/` itself
   * @param jail whether paths are confined to `root`
   * @param cwd the virtual directory to start in
   */
  constructor(
    readonly root: string,
    readonly jail: boolean,
    public cwd: string,
  ) {}

  /** The virtual absolute path an FTP argument names (the cwd for an empty one). */
  resolve(arg: string): string {
    if (arg.includes('\0')) throw new PathRefused(arg, 'a path cannot contain NUL');
    const joined = arg.startsWith('/') ? arg : `${this.cwd}/${arg}`;
    const n = normalizeAbsolute(joined);
    if (n === undefined) {
      if (this.jail) throw new PathRefused(arg, 'path leaves the jail');
      return '/';
    }
    return n;
  }

  /** The SFTP path of a virtual path. */
  toSftp(virtual: string): string {
    if (!this.jail || this.root === '/') return virtual;
    return virtual === '/' ? this.root : `${this.root}${virtual}`;
  }

  /** The virtual path of a real SFTP path, or undefined when it lies outside the jail. */
  toVirtual(real: string): string | undefined {
    const r = normalizeAbsolute(real);
    if (r === undefined) return undefined;
    if (!this.jail || this.root === '/') return r;
    if (r === this.root) return '/';
    return r.startsWith(`${this.root}/`) ? r.slice(this.root.length) : undefined;
  }

  /** Whether a real SFTP path lies inside the jail (always, without one). */
  inside(real: string): boolean {
    return this.toVirtual(real) !== undefined;
  }

  /** Parent directory and last component of a virtual path (`/` has no parent: undefined). */
  static split(virtual: string): { parent: string; name: string } | undefined {
    if (virtual === '/') return undefined;
    return { parent: posix.dirname(virtual), name: posix.basename(virtual) };
  }
}

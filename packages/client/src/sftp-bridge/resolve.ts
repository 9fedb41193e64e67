/**
 * From an FTP argument to the SFTP path a request may use, with the jail enforced against what the
 * server says (realpath), not only against the text: a symbolic link inside the jail that points
 * out of it is refused like `..` is.
 *
 * Three kinds of use:
 * - `existing` (RETR, CWD, SIZE, MDTM, MFMT, SITE CHMOD, LIST of a path): the object itself, links
 *   followed. The server's realpath of it must lie inside.
 * - `entry` (DELE, RMD, RNFR): the directory entry, not followed (unlinking a link removes the
 *   link). Its parent's realpath must lie inside.
 * - `create` (STOR, APPE, STOU, MKD, RNTO): the parent's realpath must lie inside, and if the name
 *   exists and is a link, where it points (even a dangling one) must too.
 *
 * Without a jail nothing is checked and the lexical path is used as it is. The server may change
 * between the check and the request (a link replaced in between): the jail is the bridge's policy
 * for the FTP client's paths, not a sandbox; an SSH server's ChrootDirectory is one.
 */
import { PathMapper, PathRefused } from './paths.js';
import type { SftpOps } from './sftp.js';
import { SFTP_STATUS } from './status.js';

export type PathUse = 'existing' | 'entry' | 'create';

export interface ResolvedPath {
  /** The virtual path the FTP client named (for replies). */
  virtual: string;
  /** The SFTP path to use in requests. */
  sftp: string;
}

export async function resolvePath(
  ops: SftpOps,
  map: PathMapper,
  arg: string,
  use: PathUse,
): Promise<ResolvedPath> {
  const virtual = map.resolve(arg);
  const lexical = map.toSftp(virtual);
  if (!map.jail) return { virtual, sftp: lexical };
  if (use === 'existing') {
    const real = await ops.realpath(lexical);
    if (!map.inside(real)) throw new PathRefused(arg, 'path leaves the jail');
    return { virtual, sftp: real };
  }
  const parts = PathMapper.split(virtual);
  if (!parts) {
    // the jail's root itself: it has no entry inside the jail to remove or create
    throw new PathRefused(arg, 'not allowed on the root of the jail');
  }
  const parentReal = await ops.realpath(map.toSftp(parts.parent));
  if (!map.inside(parentReal)) throw new PathRefused(arg, 'path leaves the jail');
  const sftp = parentReal === '/' ? `/${parts.name}` : `${parentReal}/${parts.name}`;
  if (use === 'create') {
    const st = await ops.statIfExists(sftp, false);
    if (st?.isSymbolicLink()) {
      let target: string;
      try {
        target = await ops.realpath(sftp);
      } catch (err) {
        if ((err as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE)
          throw new PathRefused(arg, 'a symbolic link whose target cannot be resolved');
        throw err;
      }
      if (!map.inside(target)) throw new PathRefused(arg, 'path leaves the jail');
    }
  }
  return { virtual, sftp };
}

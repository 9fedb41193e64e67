/** Commands on names and attributes: PWD, CWD, CDUP, DELE, MKD, RMD, RNFR/RNTO, SIZE, MDTM, MFMT, SITE. */
import { netAsciiLength } from '../ascii.js';
import { parseTime14, time14 } from '../listing.js';
import { PathRefused } from '../paths.js';
import { quotePath } from '../reply.js';
import { resolvePath } from '../resolve.js';
import type { FileSystem, FtpSession } from '../session.js';
import { OPEN } from '../sftp.js';
import { SFTP_STATUS, sftpStatusOf } from '../status.js';
import type { CommandSpec, CommandTable } from './spec.js';

const fsOf = (s: FtpSession): FileSystem => s.fs!;

async function cwd(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = fsOf(s);
  let target: string;
  try {
    const p = await resolvePath(ops, map, arg, 'existing');
    const real = map.jail ? p.sftp : await ops.realpath(p.sftp);
    const st = await ops.stat(real);
    if (!st.isDirectory()) return s.reply(550, `${p.virtual}: Not a directory`);
    const v = map.toVirtual(real);
    if (v === undefined) throw new PathRefused(arg, 'path leaves the jail');
    target = v;
  } catch (err) {
    return s.fail('CWD', arg, err);
  }
  map.cwd = target;
  s.reply(250, `Directory changed to ${target}`);
}

async function mkd(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, arg, 'create');
  try {
    await ops.mkdir(p.sftp);
  } catch (err) {
    // OpenSSH answers EEXIST with a bare FAILURE: say what it was
    if (
      sftpStatusOf(err) === SFTP_STATUS.FAILURE &&
      (await ops.statIfExists(p.sftp, false).catch(() => undefined))
    )
      return s.reply(550, `${p.virtual}: File exists`);
    return s.fail('MKD', p.virtual, err);
  }
  s.reply(257, `${quotePath(p.virtual)} directory created`);
}

async function rmd(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, arg, 'entry');
  try {
    await ops.rmdir(p.sftp);
  } catch (err) {
    if (sftpStatusOf(err) === SFTP_STATUS.FAILURE && (await notEmpty(s, p.sftp)))
      return s.reply(550, `${p.virtual}: Directory not empty`);
    return s.fail('RMD', p.virtual, err);
  }
  s.reply(250, `${p.virtual}: directory removed`);
}

async function notEmpty(s: FtpSession, path: string): Promise<boolean> {
  const { ops } = fsOf(s);
  try {
    const h = await ops.opendir(path);
    try {
      const batch = await ops.readdir(h);
      return batch !== undefined && batch.length > 0;
    } finally {
      await ops.close(h).catch(() => {});
    }
  } catch {
    return false;
  }
}

async function dele(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, arg, 'entry');
  try {
    await ops.unlink(p.sftp);
  } catch (err) {
    return s.fail('DELE', p.virtual, err);
  }
  s.reply(250, `${p.virtual}: deleted`);
}

async function rnfr(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, arg, 'entry');
  try {
    await ops.lstat(p.sftp);
  } catch (err) {
    return s.fail('RNFR', p.virtual, err);
  }
  s.renameFrom = p.sftp;
  s.reply(350, 'Ready for RNTO');
}

async function rnto(s: FtpSession, arg: string): Promise<void> {
  const from = s.renameFrom;
  s.renameFrom = undefined;
  if (from === undefined) return s.reply(503, 'Send RNFR first');
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, arg, 'create');
  try {
    if (ops.has('posix-rename@openssh.com')) await ops.posixRename(from, p.sftp);
    else {
      // SFTP v3's RENAME refuses an existing target; without posix-rename it cannot be replaced
      // atomically, and removing it first could lose it: say so instead
      if (await ops.statIfExists(p.sftp, false))
        return s.reply(
          550,
          `${p.virtual}: exists, and the SFTP server offers no posix-rename@openssh.com to replace it atomically`,
        );
      await ops.rename(from, p.sftp);
    }
  } catch (err) {
    return s.fail('RNTO', p.virtual, err);
  }
  s.reply(250, 'Rename successful');
}

/** Bytes a file takes in TYPE A, read through once (files up to the configured limit). */
async function asciiSize(s: FtpSession, path: string, size: number): Promise<number | undefined> {
  if (size > s.config.asciiSizeLimit) return undefined;
  const { ops } = fsOf(s);
  const h = await ops.open(path, OPEN.READ);
  try {
    const chunk = Math.min(64 * 1024, ops.maxReadLen);
    let n = 0;
    let prevCr = false;
    for (let pos = 0; ; ) {
      const data = await ops.read(h, Buffer.allocUnsafe(chunk), chunk, pos);
      if (data.length === 0) return n;
      n += netAsciiLength(data, prevCr);
      prevCr = data[data.length - 1] === 0x0d;
      pos += data.length;
    }
  } finally {
    await ops.close(h).catch(() => {});
  }
}

async function size(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, arg, 'existing');
  let st: Awaited<ReturnType<typeof ops.stat>>;
  try {
    st = await ops.stat(p.sftp);
  } catch (err) {
    return s.fail('SIZE', p.virtual, err);
  }
  if (!st.isFile()) return s.reply(550, `${p.virtual}: not a regular file`);
  if (s.type === 'I') return s.reply(213, String(st.size));
  let n: number | undefined;
  try {
    n = await asciiSize(s, p.sftp, st.size);
  } catch (err) {
    return s.fail('SIZE', p.virtual, err);
  }
  if (n === undefined)
    return s.reply(
      550,
      `${p.virtual}: SIZE in ASCII mode would read the whole file (over ${s.config.asciiSizeLimit} bytes); use TYPE I`,
    );
  s.reply(213, String(n));
}

async function mdtm(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, arg, 'existing');
  try {
    const st = await ops.stat(p.sftp);
    s.reply(213, time14(st.mtime));
  } catch (err) {
    s.fail('MDTM', p.virtual, err);
  }
}

async function mfmt(s: FtpSession, arg: string): Promise<void> {
  const m = /^(\S+) (.+)$/.exec(arg);
  const t = m ? parseTime14(m[1]!) : undefined;
  if (!m || t === undefined) return s.reply(501, 'MFMT needs YYYYMMDDHHMMSS and a path');
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, m[2]!, 'existing');
  try {
    const st = await ops.stat(p.sftp);
    // SFTP v3 sets access and modification time together: keep the access time
    await ops.setstat(p.sftp, { atime: st.atime ?? t, mtime: t });
  } catch (err) {
    return s.fail('MFMT', p.virtual, err);
  }
  s.reply(213, `Modify=${time14(t)}; ${p.virtual}`);
}

async function site(s: FtpSession, arg: string): Promise<void> {
  const [sub = '', ...rest] = arg.trim().split(/\s+/);
  const what = sub.toUpperCase();
  if (what === 'HELP') return s.reply(214, ['SITE commands:', 'CHMOD <octal mode> <path>', 'HELP', 'End']);
  if (what !== 'CHMOD') return s.reply(502, `SITE ${sub} not implemented`);
  const m = /^\s*CHMOD\s+([0-7]{1,4})\s+(.+)$/i.exec(arg);
  if (!m || rest.length < 2) return s.reply(501, 'SITE CHMOD needs an octal mode and a path');
  const { ops, map } = fsOf(s);
  const p = await resolvePath(ops, map, m[2]!, 'existing');
  try {
    await ops.setstat(p.sftp, { mode: Number.parseInt(m[1]!, 8) });
  } catch (err) {
    return s.fail('SITE CHMOD', p.virtual, err);
  }
  s.reply(200, `SITE CHMOD command ok`);
}

const pwd: CommandSpec = {
  login: true,
  arg: 'none',
  help: 'PWD: the current directory',
  run: (s) => s.reply(257, `${quotePath(fsOf(s).map.cwd)} is the current directory`),
};
const cwdSpec: CommandSpec = { login: true, arg: 'required', help: 'CWD <dir>', run: cwd };
const cdup: CommandSpec = { login: true, arg: 'none', help: 'CDUP: CWD ..', run: (s) => cwd(s, '..') };
const mkdSpec: CommandSpec = { login: true, arg: 'required', help: 'MKD <dir>', run: mkd };
const rmdSpec: CommandSpec = { login: true, arg: 'required', help: 'RMD <dir>', run: rmd };

export const FS: CommandTable = {
  PWD: pwd,
  XPWD: pwd,
  CWD: cwdSpec,
  XCWD: cwdSpec,
  CDUP: cdup,
  XCUP: cdup,
  MKD: mkdSpec,
  XMKD: mkdSpec,
  RMD: rmdSpec,
  XRMD: rmdSpec,
  DELE: { login: true, arg: 'required', help: 'DELE <file>', run: dele },
  RNFR: { login: true, arg: 'required', help: 'RNFR <from>, then RNTO <to>', run: rnfr },
  RNTO: { login: true, arg: 'required', help: 'RNTO <to>', run: rnto },
  SIZE: { login: true, arg: 'required', help: 'SIZE <file>: bytes in the current TYPE', run: size },
  MDTM: { login: true, arg: 'required', help: 'MDTM <file>: modification time (UTC)', run: mdtm },
  MFMT: {
    login: true,
    arg: 'required',
    help: 'MFMT <YYYYMMDDHHMMSS> <path>: set the modification time',
    run: mfmt,
  },
  SITE: { login: true, arg: 'required', help: 'SITE CHMOD <mode> <path> | SITE HELP', run: site },
};

/** LIST, NLST, MLSD (on the data connection), MLST and STAT <path> (on the control connection). */
import type { Socket } from 'node:net';
import type { FileEntry } from 'ssh2';
import {
  formatFacts,
  formatLsLine,
  type ListEntry,
  type MlstFact,
  parseListArgument,
  parseLongname,
  showEntry,
  writableDir,
} from '../listing.js';
import { PathMapper } from '../paths.js';
import { resolvePath } from '../resolve.js';
import type { FileSystem, FtpSession } from '../session.js';
import type { FileStats, SftpOps } from '../sftp.js';
import { DataConnectionLost, TransferAborted } from '../transfer.js';
import { runTransfer } from './run.js';
import type { CommandTable } from './spec.js';

type Format = 'LIST' | 'NLST' | 'MLSD';

function entryOf(name: string, st: Partial<FileStats>, longname?: string): ListEntry {
  const ln = parseLongname(longname);
  return {
    name,
    mode: st.mode,
    size: st.size,
    mtime: st.mtime,
    uid: st.uid,
    gid: st.gid,
    owner: ln?.owner,
    group: ln?.group,
    nlink: ln?.nlink,
  };
}

function isLink(e: ListEntry): boolean {
  return e.mode !== undefined && (e.mode & 0o170000) === 0o120000;
}

async function withLinkTargets(ops: SftpOps, dir: string, entries: ListEntry[]): Promise<ListEntry[]> {
  await Promise.all(
    entries.filter(isLink).map(async (e) => {
      e.linkTarget = await ops.readlink(join(dir, e.name)).catch(() => '?');
    }),
  );
  return entries;
}

const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** What a listing command lists: a directory (opened already) or one file. */
type Target =
  | { kind: 'dir'; sftp: string; virtual: string; handle: Buffer; dirStat: FileStats }
  | { kind: 'file'; sftp: string; virtual: string; shown: string; stat: FileStats };

async function openTarget(fs: FileSystem, pathArg: string): Promise<Target> {
  const { ops, map } = fs;
  const p = await resolvePath(ops, map, pathArg, 'existing');
  const st = await ops.stat(p.sftp);
  if (st.isDirectory()) {
    const handle = await ops.opendir(p.sftp);
    return { kind: 'dir', sftp: p.sftp, virtual: p.virtual, handle, dirStat: st };
  }
  const lst = await ops.lstat(p.sftp).catch(() => st);
  return { kind: 'file', sftp: p.sftp, virtual: p.virtual, shown: pathArg || p.virtual, stat: lst };
}

/** Lines of one batch of entries, in `format`. */
function lines(
  fs: FileSystem,
  format: Format,
  facts: ReadonlySet<MlstFact>,
  dir: string,
  dirEntry: ListEntry | undefined,
  batch: ListEntry[],
): string {
  const now = Math.floor(Date.now() / 1000);
  let out = '';
  const parentWritable = dirEntry ? writableDir(dirEntry, fs.who) : false;
  for (const e of batch) {
    if (format === 'NLST') out += `${e.name}\r\n`;
    else if (format === 'LIST') out += `${formatLsLine(e, now)}\r\n`;
    else
      out += `${formatFacts({ entry: e, sftpPath: join(dir, e.name), who: fs.who, parentWritable }, facts, e.name)}\r\n`;
  }
  return out;
}

function writeAll(sock: Socket, text: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new TransferAborted('transfer aborted'));
  if (sock.destroyed)
    return Promise.reject(new DataConnectionLost('data connection closed by the FTP client'));
  if (text === '' || sock.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      sock.off('drain', onDrain);
      sock.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new DataConnectionLost('data connection closed by the FTP client'));
    const onAbort = () => done(new TransferAborted('transfer aborted'));
    sock.once('drain', onDrain);
    sock.once('close', onClose);
    signal.addEventListener('abort', onAbort);
  });
}

async function listing(s: FtpSession, format: Format, arg: string): Promise<void> {
  const fs = s.fs!;
  const { ops } = fs;
  const pathArg = format === 'MLSD' ? arg : parseListArgument(arg).path;
  s.restOffset = 0;
  if (!s.data.prepared) return s.reply(425, 'Use PORT, EPRT, PASV or EPSV first');
  let target: Target;
  try {
    target = await openTarget(fs, pathArg);
  } catch (err) {
    return s.fail(format, pathArg || fs.map.cwd, err);
  }
  if (target.kind === 'file' && format === 'MLSD') return s.reply(501, `${target.virtual}: not a directory`);
  const facts = s.mlstFacts;
  let count = 0;
  await runTransfer(s, {
    verb: format,
    path: target.virtual,
    direction: 'list',
    opening: `Here comes the listing of ${target.virtual}`,
    async work(sock, signal, stats) {
      const send = async (text: string) => {
        stats.netBytes += Buffer.byteLength(text);
        await writeAll(sock, text, signal);
      };
      if (target.kind === 'file') {
        const e = entryOf(target.shown, target.stat);
        if (isLink(e)) e.linkTarget = await ops.readlink(target.sftp).catch(() => '?');
        count = 1;
        await send(lines(fs, format, facts, PathMapper.split(target.virtual)?.parent ?? '/', undefined, [e]));
        return;
      }
      const dirEntry = entryOf('.', target.dirStat);
      for (;;) {
        const batch = await ops.readdir(target.handle);
        if (!batch) break;
        const entries = batch
          .filter((f: FileEntry) => showEntry(f.filename))
          .map((f: FileEntry) => entryOf(f.filename, f.attrs, f.longname));
        if (format === 'LIST' || format === 'MLSD') await withLinkTargets(ops, target.sftp, entries);
        count += entries.length;
        await send(lines(fs, format, facts, target.sftp, dirEntry, entries));
      }
    },
    async finish() {
      if (target.kind === 'dir') await ops.close(target.handle);
    },
    doneText: () => `${count} entries`,
  });
}

/** MLST <path>: the facts of one object, on the control connection. */
async function mlst(s: FtpSession, arg: string): Promise<void> {
  const fs = s.fs!;
  const { ops, map } = fs;
  const p = await resolvePath(ops, map, arg, 'existing');
  let st: FileStats;
  let parent: FileStats | undefined;
  try {
    st = await ops.lstat(p.sftp);
    const up = PathMapper.split(p.virtual);
    parent = up ? await ops.stat(map.toSftp(up.parent)).catch(() => undefined) : undefined;
  } catch (err) {
    return s.fail('MLST', p.virtual, err);
  }
  const e = entryOf(p.virtual, st);
  if (isLink(e)) e.linkTarget = await ops.readlink(p.sftp).catch(() => '?');
  const facts = formatFacts(
    {
      entry: e,
      sftpPath: p.sftp,
      who: fs.who,
      parentWritable: parent ? writableDir(entryOf('..', parent), fs.who) : false,
    },
    s.mlstFacts,
    p.virtual,
  );
  s.reply(250, [`Listing ${p.virtual}`, facts, 'End']);
}

/** STAT <path>: LIST's lines on the control connection (213). */
export async function statPath(s: FtpSession, arg: string): Promise<void> {
  const fs = s.fs!;
  const { ops } = fs;
  const pathArg = parseListArgument(arg).path;
  let target: Target;
  try {
    target = await openTarget(fs, pathArg);
  } catch (err) {
    return s.fail('STAT', pathArg, err);
  }
  const out: string[] = [];
  const now = Math.floor(Date.now() / 1000);
  try {
    if (target.kind === 'file') out.push(formatLsLine(entryOf(target.shown, target.stat), now));
    else {
      for (;;) {
        const batch = await ops.readdir(target.handle);
        if (!batch) break;
        const entries = batch
          .filter((f) => showEntry(f.filename))
          .map((f) => entryOf(f.filename, f.attrs, f.longname));
        await withLinkTargets(ops, target.sftp, entries);
        for (const e of entries) out.push(formatLsLine(e, now));
      }
    }
  } catch (err) {
    return s.fail('STAT', target.virtual, err);
  } finally {
    if (target.kind === 'dir') await ops.close(target.handle).catch(() => {});
  }
  s.reply(213, [`Status of ${target.virtual}:`, ...out, 'End of status']);
}

export const LISTING: CommandTable = {
  LIST: {
    login: true,
    arg: 'optional',
    help: 'LIST [path]: ls -l style listing',
    run: (s, a) => listing(s, 'LIST', a),
  },
  NLST: {
    login: true,
    arg: 'optional',
    help: 'NLST [path]: names only',
    run: (s, a) => listing(s, 'NLST', a),
  },
  MLSD: {
    login: true,
    arg: 'optional',
    help: 'MLSD [dir]: machine listing (RFC 3659)',
    run: (s, a) => listing(s, 'MLSD', a),
  },
  MLST: { login: true, arg: 'optional', help: 'MLST [path]: facts of one object', run: mlst },
};

/** RETR, STOR, APPE, STOU, REST, ABOR: file transfers through the pump (transfer.ts). */
import { randomBytes } from 'node:crypto';
import { FromNetAscii, ToNetAscii } from '../ascii.js';
import { PathMapper } from '../paths.js';
import { resolvePath } from '../resolve.js';
import type { FtpSession } from '../session.js';
import { freeBytes, OPEN } from '../sftp.js';
import { SFTP_STATUS, sftpStatusOf } from '../status.js';
import { sftpToSocket, socketToSftp } from '../transfer.js';
import { runTransfer } from './run.js';
import type { CommandTable } from './spec.js';

const mode = (s: FtpSession) => (s.type === 'A' ? 'ASCII' : 'BINARY');

async function retr(s: FtpSession, arg: string): Promise<void> {
  const { ops, map } = s.fs!;
  const rest = s.restOffset;
  s.restOffset = 0;
  const p = await resolvePath(ops, map, arg, 'existing');
  let handle: Buffer;
  try {
    handle = await ops.open(p.sftp, OPEN.READ);
  } catch (err) {
    return s.fail('RETR', p.virtual, err);
  }
  let size: number;
  try {
    const st = await ops.fstat(handle);
    size = st.size;
    if (st.isDirectory() || (st.mode !== undefined && !st.isFile())) {
      await ops.close(handle).catch(() => {});
      return s.reply(550, `${p.virtual}: not a regular file`);
    }
  } catch (err) {
    await ops.close(handle).catch(() => {});
    return s.fail('RETR', p.virtual, err);
  }
  if (rest > size) {
    await ops.close(handle).catch(() => {});
    return s.reply(554, `Restart point ${rest} is beyond the end of ${p.virtual} (${size} bytes)`);
  }
  if (!s.data.prepared) {
    await ops.close(handle).catch(() => {});
    return s.reply(425, 'Use PORT, EPRT, PASV or EPSV first');
  }
  const ascii = s.type === 'A';
  // TYPE A with REST: the offset counts network bytes, so the file is read from its start and the
  // first `rest` converted bytes are skipped
  const skip = ascii ? rest : 0;
  await runTransfer(s, {
    verb: 'RETR',
    path: p.virtual,
    direction: 'down',
    opening: `Opening ${mode(s)} mode data connection for ${p.virtual} (${size} bytes)`,
    work(sock, signal, stats) {
      const conv = ascii ? skipping(new ToNetAscii(), skip) : undefined;
      return sftpToSocket(ops, handle, ascii ? 0 : rest, sock, s.config.pump, signal, conv, stats);
    },
    finish: () => ops.close(handle),
  });
}

/** A converter whose first `n` output bytes are dropped (TYPE A restart). */
function skipping(inner: ToNetAscii, n: number) {
  let left = n;
  return {
    push(chunk: Buffer): Buffer {
      const out = inner.push(chunk);
      if (left === 0) return out;
      const drop = Math.min(left, out.length);
      left -= drop;
      return out.subarray(drop);
    },
  };
}

type StoreKind = 'STOR' | 'APPE' | 'STOU';

async function store(s: FtpSession, verb: StoreKind, arg: string): Promise<void> {
  const { ops, map } = s.fs!;
  const rest = verb === 'STOR' ? s.restOffset : 0;
  s.restOffset = 0;
  const ascii = s.type === 'A';
  if (ascii && rest > 0)
    return s.reply(504, 'REST with STOR in ASCII mode is not supported (offsets are ambiguous); use TYPE I');
  // the name is checked first (550 for a bad one), then the data connection (no file is created
  // or truncated for a transfer that cannot happen)
  const checked = verb === 'STOU' ? undefined : await resolvePath(ops, map, arg, 'create');
  if (!s.data.prepared) return s.reply(425, 'Use PORT, EPRT, PASV or EPSV first');
  let handle: Buffer | undefined;
  let path: { virtual: string; sftp: string };
  let start = 0;
  if (verb === 'STOU') {
    const made = await createUnique(s, arg);
    if (!made) return;
    ({ handle, path } = made);
  } else {
    path = checked!;
    try {
      if (verb === 'STOR' && rest === 0)
        handle = await ops.open(path.sftp, OPEN.WRITE | OPEN.CREAT | OPEN.TRUNC);
      else {
        // APPE and REST+STOR write at an offset: no TRUNC, and no APPEND flag (servers differ
        // in whether it ignores the offset); the offset is the size (APPE) or the restart point
        handle = await ops.open(path.sftp, OPEN.WRITE | OPEN.CREAT);
        const st = await ops.fstat(handle);
        if (verb === 'APPE') start = st.size;
        else {
          if (rest > st.size) {
            await ops.close(handle).catch(() => {});
            return s.reply(
              554,
              `Restart point ${rest} is beyond the end of ${path.virtual} (${st.size} bytes)`,
            );
          }
          if (st.size > rest) await ops.fsetstat(handle, { size: rest });
          start = rest;
        }
      }
    } catch (err) {
      if (handle) await ops.close(handle).catch(() => {});
      return s.fail(verb, path.virtual, err);
    }
  }
  const h = handle;
  const name = PathMapper.split(path.virtual)?.name ?? path.virtual;
  await runTransfer(s, {
    verb,
    path: path.virtual,
    direction: 'up',
    opening:
      verb === 'STOU'
        ? `FILE: ${name}`
        : `Opening ${mode(s)} mode data connection for ${path.virtual}${start ? ` at offset ${start}` : ''}`,
    work(sock, signal, stats) {
      return socketToSftp(
        ops,
        h,
        start,
        sock,
        s.config.pump,
        signal,
        ascii ? new FromNetAscii() : undefined,
        stats,
      );
    },
    finish: () => ops.close(h),
    async diskFull() {
      if (!ops.has('statvfs@openssh.com')) return false;
      return freeBytes(await ops.statvfs(path.sftp)) < s.config.pump.chunkSize * 2;
    },
    doneText: verb === 'STOU' ? () => `stored as ${name}` : undefined,
  });
}

/** STOU: a new file with a name nobody has, created exclusively (RFC 1123 §4.1.2.9). */
async function createUnique(s: FtpSession, arg: string) {
  const { ops, map } = s.fs!;
  const base = arg.trim() === '' ? 'ftpfwd' : arg.trim();
  for (let i = 0; i < 8; i++) {
    const candidate = `${base}.${randomBytes(4).toString('hex')}`;
    const path = await resolvePath(ops, map, candidate, 'create');
    try {
      const handle = await ops.open(path.sftp, OPEN.WRITE | OPEN.CREAT | OPEN.EXCL);
      return { handle, path };
    } catch (err) {
      const st = sftpStatusOf(err);
      if (st === SFTP_STATUS.FAILURE || st === SFTP_STATUS.FILE_ALREADY_EXISTS) {
        if (await ops.statIfExists(path.sftp, false).catch(() => undefined)) continue;
      }
      s.fail('STOU', path.virtual, err);
      return undefined;
    }
  }
  s.reply(450, 'Could not find a unique file name');
  return undefined;
}

async function abor(s: FtpSession): Promise<void> {
  const t = s.transfer;
  if (!t) {
    s.data.reset();
    s.reply(225, 'No transfer to abort');
    return;
  }
  t.abort.abort();
  await t.done;
  s.reply(226, 'ABOR successful');
}

export const XFER: CommandTable = {
  RETR: { login: true, arg: 'required', help: 'RETR <file>: download', run: retr },
  STOR: { login: true, arg: 'required', help: 'STOR <file>: upload', run: (s, a) => store(s, 'STOR', a) },
  APPE: { login: true, arg: 'required', help: 'APPE <file>: append', run: (s, a) => store(s, 'APPE', a) },
  STOU: {
    login: true,
    arg: 'optional',
    help: 'STOU: upload under a new unique name',
    run: (s, a) => store(s, 'STOU', a),
  },
  REST: {
    login: true,
    arg: 'required',
    help: 'REST <offset>: the next RETR or STOR starts there',
    run(s, arg) {
      if (!/^\d{1,15}$/.test(arg.trim())) return s.reply(501, 'REST needs a byte offset');
      s.restOffset = Number(arg.trim());
      s.reply(350, `Restarting at ${s.restOffset}; send RETR or STOR`);
    },
  },
  ABOR: { login: false, arg: 'none', help: 'ABOR: abort the transfer in progress', run: abor },
};

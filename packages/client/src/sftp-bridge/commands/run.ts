/**
 * One transfer on the data connection, with its replies: 150, then 226 — or 425 (no data
 * connection), 426 (aborted, or the data connection broke), or the SFTP failure's reply. The SFTP
 * handle is closed before the last reply goes out. ABOR answers only after that last reply (426),
 * so the client sees 426 then 226 (RFC 959 §4.1.3).
 */
import type { Socket } from 'node:net';
import { NoDataConnection } from '../data-channel.js';
import type { FtpSession, RunningTransfer } from '../session.js';
import { SFTP_STATUS, sftpStatusOf } from '../status.js';
import { DataConnectionLost, type PumpResult, TransferAborted } from '../transfer.js';

export interface TransferJob {
  verb: string;
  /** The virtual path, for replies and logs. */
  path: string;
  /** The 150 reply's text. */
  opening: string;
  /** Moves the bytes, counting those that crossed the data connection in `stats.netBytes`. */
  work(sock: Socket, signal: AbortSignal, stats: PumpResult): Promise<unknown>;
  /** Releases the SFTP side (closes the handle); runs once, also after a failure. */
  finish(failed: boolean): Promise<void>;
  /** For uploads: asks whether a failed write was the file system running full. */
  diskFull?(): Promise<boolean>;
  /** Text added to the 226 reply. */
  doneText?(): string;
  direction: 'down' | 'up' | 'list';
}

const CLOSE_WAIT_MS = 10_000;

function bounded(p: Promise<void>): Promise<void> {
  return Promise.race([p.catch(() => {}), new Promise<void>((r) => setTimeout(r, CLOSE_WAIT_MS).unref())]);
}

/** How long a failed upload's data connection is read and discarded before it is closed. */
const UPLOAD_DRAIN_MS = 5_000;

/**
 * After an upload fails on the SFTP side (disk full, permission), the FTP client may still be
 * sending. Closing at once would reset its data connection, and a client that does not read the
 * control connection while it sends (Python's ftplib, curl) then fails with a socket error and
 * leaves the final reply unread, so every later reply in the session is off by one. Reading and
 * discarding until the client ends (bounded in time; an ABOR before the reply cuts it short) lets it
 * finish and read the 552/550/451, as it would from an FTP server that keeps reading. The session
 * goes on meanwhile: the reply does not wait for the drain.
 */
function drainThenClose(sock: Socket, signal: AbortSignal): void {
  const close = () => {
    clearTimeout(timer);
    signal.removeEventListener('abort', close);
    sock.destroy();
  };
  const timer = setTimeout(close, UPLOAD_DRAIN_MS);
  timer.unref();
  signal.addEventListener('abort', close);
  sock.on('error', close);
  // a client that had sent everything before the failure has nothing left to drain
  if (sock.readableEnded) sock.end(close);
  else {
    sock.on('end', () => sock.end(close));
    sock.on('data', () => {});
    sock.resume();
  }
}

export async function runTransfer(s: FtpSession, job: TransferJob): Promise<void> {
  const abort = new AbortController();
  const stats: PumpResult = { netBytes: 0, fileBytes: 0 };
  let settle!: () => void;
  const t: RunningTransfer = {
    verb: job.verb,
    path: job.path,
    abort,
    done: new Promise<void>((r) => {
      settle = r;
    }),
    bytes: () => stats.netBytes,
  };
  s.transfer = t;
  let sock: Socket | undefined;
  const t0 = Date.now();
  try {
    s.reply(150, job.opening);
    try {
      sock = await s.data.open(abort.signal);
    } catch (err) {
      await bounded(job.finish(true));
      if (abort.signal.aborted) s.reply(426, 'Transfer aborted before the data connection opened');
      else s.reply(425, `Cannot open data connection: ${(err as Error).message}`);
      return;
    }
    let failure: unknown;
    const moved = () => stats.netBytes;
    try {
      await job.work(sock, abort.signal, stats);
    } catch (err) {
      failure = err;
    }
    if (failure !== undefined) {
      const lostOrAborted = failure instanceof TransferAborted || failure instanceof DataConnectionLost;
      if (job.direction === 'up' && !lostOrAborted) drainThenClose(sock, abort.signal);
      else sock.destroy();
      sock = undefined;
    } else {
      // closed gracefully, its bytes handed to the kernel before the 226; destroying a socket at
      // once could reset bytes still on their way
      const done = sock;
      sock = undefined;
      await new Promise<void>((r) => {
        done.end(() => r());
        setTimeout(r, CLOSE_WAIT_MS).unref();
      });
      setTimeout(() => done.destroy(), CLOSE_WAIT_MS).unref();
    }
    if (failure !== undefined) {
      // after a failure or an ABOR the close is bounded: a stalled server must not hold the reply
      await bounded(job.finish(true));
    } else {
      try {
        await job.finish(false);
      } catch (err) {
        failure = err; // an upload can fail at its close (a quota, a network file system)
      }
    }
    if (job.direction === 'down') s.bytesDown += moved();
    else if (job.direction === 'up') s.bytesUp += moved();
    if (failure === undefined) {
      s.log.debug(
        { session: s.id, command: job.verb, path: job.path, bytes: moved(), ms: Date.now() - t0 },
        'transfer complete',
      );
      s.reply(226, `Transfer complete${job.doneText ? ` (${job.doneText()})` : ''}`);
      return;
    }
    if (failure instanceof TransferAborted) {
      s.log.info({ session: s.id, command: job.verb, path: job.path, bytes: moved() }, 'transfer aborted');
      s.reply(426, 'Connection closed; transfer aborted');
      return;
    }
    if (failure instanceof DataConnectionLost) {
      s.log.info(
        { session: s.id, command: job.verb, path: job.path, bytes: moved(), reason: failure.message },
        'transfer aborted: data connection lost',
      );
      s.reply(426, `Connection closed; transfer aborted (${failure.message})`);
      return;
    }
    if (failure instanceof NoDataConnection) {
      s.reply(425, `Cannot open data connection: ${failure.message}`);
      return;
    }
    const full =
      job.diskFull && sftpStatusOf(failure) === SFTP_STATUS.FAILURE
        ? await job.diskFull().catch(() => false)
        : false;
    s.fail(job.verb, job.path, failure, { diskFull: full });
  } finally {
    sock?.destroy();
    s.transfer = undefined;
    settle();
  }
}

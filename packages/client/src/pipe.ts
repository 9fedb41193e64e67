import type { Duplex } from 'node:stream';
import { CHANNEL_BUFFER_LIMIT, feed, noteBytesMoved, onLinkLoss, resetPeer } from '@ftpfwd/ftp-proxy';
import { congestionOf } from './backpressure.js';

export interface PipeStats {
  bytesAtoB: number;
  bytesBtoA: number;
}

/**
 * Once one side has closed, how long the other may stay open after what it was given is flushed.
 * When the channel closes under an upload (the server stopped taking it), the FTP client keeps
 * sending into a data socket nobody reads any more and would wait forever. A download's last bytes
 * are in the kernel by then, and closing does not drop them: the FTP client sends nothing on that
 * connection. (A link that dies resets the socket at once: onLinkLoss.)
 */
export const CLOSE_LINGER_MS = 5_000;

/**
 * Joins two duplex streams both ways: backpressure as with `pipe`, plus, where one side is an ssh2
 * channel, from that channel's SSH socket (ssh2 ignores its write() return, so without this every
 * channel could queue its whole window there) and at 256 KiB held in the channel. Half-close is
 * preserved (the end of one side's reading ends the other side's writing, nothing more), an error
 * on either side destroys both. Resolves once both are closed; never rejects.
 */
export interface PipeOptions {
  /** See CLOSE_LINGER_MS. */
  lingerMs?: number;
  /**
   * When `a` closes while `b` still sends, keep reading (and dropping) what `b` sends for this long
   * before closing it, instead of cutting it at once. For FTP data: a client that stops a download
   * closes the data connection and sends ABOR as TCP urgent data, which cannot cross SSH; servers
   * that read ABOR only when their transfer ends (inetutils-ftpd exits on the EPIPE of a write to a
   * data connection cut under it) see the transfer finish instead, then the ABOR.
   */
  drainMs?: number;
}

/** How long an FTP data connection's server side is drained after the FTP client closed its side. */
export const DATA_DRAIN_MS = 3_000;

export function pipeBoth(a: Duplex, b: Duplex, opts: PipeOptions = {}): Promise<PipeStats> {
  const lingerMs = opts.lingerMs ?? CLOSE_LINGER_MS;
  const stats: PipeStats = { bytesAtoB: 0, bytesBtoA: 0 };
  a.on('data', (d: Buffer) => {
    stats.bytesAtoB += d.length;
    noteBytesMoved(d.length);
  });
  b.on('data', (d: Buffer) => {
    stats.bytesBtoA += d.length;
    noteBytesMoved(d.length);
  });
  const toB = congestionOf(b);
  const toA = congestionOf(a);
  // A channel cut by its link dying resets the other side instead of ending it cleanly.
  if (toB) onLinkLoss(b, toB.socket, () => resetPeer(a));
  if (toA) onLinkLoss(a, toA.socket, () => resetPeer(b));
  feed(a, b, { congestion: toB, cap: CHANNEL_BUFFER_LIMIT, gather: toB?.socket ?? b });
  feed(b, a, { congestion: toA, cap: CHANNEL_BUFFER_LIMIT, gather: toA?.socket ?? a });
  return new Promise((resolve) => {
    let open = 2;
    const onClose = () => {
      if (--open === 0) resolve(stats);
    };
    const kill = () => {
      a.destroy();
      b.destroy();
    };
    // `on`, not `once`: a second error event without a listener would crash the process.
    a.on('error', kill);
    b.on('error', kill);
    // Once both directions have ended and flushed, release both even if a peer never closes its
    // side explicitly (autoDestroy covers sockets; this covers any other duplex).
    let done = 0;
    const onDone = () => {
      if (++done === 4) setImmediate(kill);
    };
    for (const s of [a, b]) {
      s.once('end', onDone);
      s.once('finish', onDone);
    }
    once(a, 'close', () => {
      onClose();
      if (opts.drainMs && !b.destroyed && !b.readableEnded) drainThenDestroy(b, opts.drainMs);
      else lingerThenDestroy(b, lingerMs);
    });
    once(b, 'close', () => {
      onClose();
      lingerThenDestroy(a, lingerMs);
    });
  });
}

/**
 * Ends `s` if nothing has (the other side went without an end), and destroys it `ms` after its
 * writable side has finished, unless it closes by itself first.
 */
function lingerThenDestroy(s: Duplex, ms: number): void {
  if (s.destroyed) return;
  const arm = (): void => {
    const t = setTimeout(() => s.destroy(), ms);
    t.unref();
    s.once('close', () => clearTimeout(t));
  };
  if (s.writableFinished) {
    arm();
    return;
  }
  s.once('finish', arm);
  if (!s.writableEnded) s.end();
}

/**
 * Reads and drops what `s` still sends, and destroys it after `ms` unless it closes first. No EOF
 * goes to it before it has finished sending (inetutils-ftpd aborts on one), then one does.
 */
function drainThenDestroy(s: Duplex, ms: number): void {
  s.once('end', () => {
    if (!s.writableEnded) s.end();
  });
  // feed() drops what a closed sink cannot take; a source it had paused must flow again.
  s.resume();
  const t = setTimeout(() => s.destroy(), ms);
  t.unref();
  s.once('close', () => clearTimeout(t));
}

function once(s: Duplex, ev: string, fn: () => void): void {
  if (s.destroyed && ev === 'close') {
    setImmediate(fn);
    return;
  }
  s.once(ev, fn);
}

/**
 * The byte relay both halves use: two duplex streams (TCP sockets, ssh2 channels) joined both ways,
 * with the backpressure, half-close and teardown rules an SSH forwarder needs. ftpfwd uses it for
 * every forwarded connection and data channel, ftpfwd-sshd for every channel it carries.
 *
 * - Backpressure as with `pipe`, plus, where an end is an ssh2 channel, from that channel's SSH
 *   socket (ssh2 ignores its write() return, so a channel could queue its whole 2 MiB window
 *   there) and at CHANNEL_BUFFER_LIMIT held in the channel.
 * - Half-close: the end of one side's reading ends the other side's writing, nothing more. An
 *   ssh2 server channel is given an EOF (`eof: 'eof'`), not end(): its end() also closes the
 *   channel, which would cut what the client still had to send (an upload's reply).
 * - A channel cut by its SSH link dying resets the other side (link-loss.ts): a cut transfer must
 *   not look complete.
 * - An error on either side destroys both; once one side has closed, the other lingers for
 *   `lingerMs` after what it was given is flushed (or is drained, `drainMs`), then is destroyed.
 */
import type { Duplex, Writable } from 'node:stream';
import { CHANNEL_BUFFER_LIMIT, feed, type SocketCongestion } from './backpressure.js';
import { noteBytesMoved } from './gc-pacing.js';
import { onLinkLoss, resetPeer } from './link-loss.js';

/** One side of a relay. */
export interface RelayEnd {
  stream: Duplex;
  /** The SSH connection this side's packets leave by, when it is an ssh2 channel. */
  congestion?: SocketCongestion;
  /** How an EOF reaches this side: end() (the default), or eof() for an ssh2 server channel. */
  eof?: 'end' | 'eof';
}

/**
 * Sits in the path of an FTP control channel (FtpControlGuard): takes each chunk each way and writes
 * what goes on through the outputs it was made with.
 */
export interface RelayFilter {
  fromA(chunk: Buffer): void;
  fromB(chunk: Buffer): void;
}

export interface RelayOptions {
  /** Once one side has closed, how long the other may stay after what it was given is flushed. */
  lingerMs?: number;
  /**
   * When `a` closes while `b` still sends, keep reading (and dropping) what `b` sends for this long
   * before closing it, instead of cutting it at once; `b` gets its EOF only once it has finished
   * sending. For FTP data (`a` the FTP client): a client that stops a download closes the data
   * connection and sends ABOR as TCP urgent data, which cannot cross SSH; servers that read ABOR
   * only when their transfer ends (inetutils-ftpd exits on the EPIPE of a write to a cut data
   * connection, and on an EOF) see the transfer finish instead, then the ABOR.
   */
  drainMs?: number;
  /** No byte either way for this long destroys both sides (`onIdle` first). 0 = never. */
  idleTimeoutMs?: number;
  onIdle?: () => void;
  /** Instead of copying: the bytes of both sides go through the filter `makeFilter` returns. */
  makeFilter?: (outputs: { toA: (b: Buffer) => void; toB: (b: Buffer) => void }) => RelayFilter;
  /** Called with each chunk as it arrives (before it is passed on). */
  onFromA?: (chunk: Buffer) => void;
  onFromB?: (chunk: Buffer) => void;
}

export interface RelayStats {
  bytesAtoB: number;
  bytesBtoA: number;
}

export interface Relay {
  readonly stats: RelayStats;
  /** Resolves once both sides have closed. Never rejects. */
  readonly closed: Promise<RelayStats>;
  /** Closes both sides now. */
  destroy(): void;
}

/**
 * Once one side has closed, how long the other may stay open after what it was given is flushed.
 * When the channel closes under an upload (the server stopped taking it), the FTP client keeps
 * sending into a data socket nobody reads any more and would wait forever. A download's last bytes
 * are in the kernel by then, and closing does not drop them.
 */
export const CLOSE_LINGER_MS = 5_000;

/** How long an FTP data connection's server side is drained after the FTP client closed its side. */
export const DATA_DRAIN_MS = 3_000;

export function relay(a: RelayEnd, b: RelayEnd, opts: RelayOptions = {}): Relay {
  const stats: RelayStats = { bytesAtoB: 0, bytesBtoA: 0 };
  const lingerMs = opts.lingerMs ?? CLOSE_LINGER_MS;
  const A = a.stream;
  const B = b.stream;
  const kill = (): void => {
    A.destroy();
    B.destroy();
  };

  let lastActivity = Date.now();
  let idle: NodeJS.Timeout | undefined;
  const idleMs = opts.idleTimeoutMs ?? 0;
  const armIdle = (): void => {
    idle = setTimeout(
      () => {
        if (Date.now() - lastActivity < idleMs) return armIdle();
        opts.onIdle?.();
        kill();
      },
      Math.max(50, lastActivity + idleMs - Date.now()),
    );
    idle.unref();
  };
  if (idleMs > 0) armIdle();

  A.on('data', (chunk: Buffer) => {
    stats.bytesAtoB += chunk.length;
    if (idleMs > 0) lastActivity = Date.now();
    noteBytesMoved(chunk.length);
    opts.onFromA?.(chunk);
  });
  B.on('data', (chunk: Buffer) => {
    stats.bytesBtoA += chunk.length;
    if (idleMs > 0) lastActivity = Date.now();
    noteBytesMoved(chunk.length);
    opts.onFromB?.(chunk);
  });

  // A channel cut by its link dying resets the other side instead of ending it cleanly.
  if (a.congestion) onLinkLoss(A, a.congestion.socket, () => resetPeer(B));
  if (b.congestion) onLinkLoss(B, b.congestion.socket, () => resetPeer(A));

  if (opts.makeFilter) {
    const filter = opts.makeFilter({ toA: writeOrPause(A, B), toB: writeOrPause(B, A) });
    A.on('data', (chunk: Buffer) => filter.fromA(chunk));
    B.on('data', (chunk: Buffer) => filter.fromB(chunk));
    for (const s of [A, B]) if (s.readableFlowing !== true) s.resume();
  } else {
    // The packets of one read leave together: gathered on the SSH socket under a channel, else on
    // the sink itself (backpressure.ts).
    feed(A, B, {
      end: false,
      congestion: b.congestion,
      cap: CHANNEL_BUFFER_LIMIT,
      gather: b.congestion?.socket ?? B,
    });
    feed(B, A, {
      end: false,
      congestion: a.congestion,
      cap: CHANNEL_BUFFER_LIMIT,
      gather: a.congestion?.socket ?? A,
    });
  }
  A.once('end', () => passEof(b));
  B.once('end', () => passEof(a));

  // `on`, not `once`: a second error event without a listener would crash the process.
  // With drainMs, an error on `a` (an FTP client that closes a download's data connection with
  // data unread resets it) closes `a` only: `b` is drained as after a clean close, so the server
  // is not cut mid-write (inetutils-ftpd exits on the EPIPE of such a write).
  A.on('error', opts.drainMs ? () => A.destroy() : kill);
  B.on('error', kill);

  // Once both directions have ended and flushed, release both even if a peer never closes its
  // side explicitly (autoDestroy covers sockets; this covers any other duplex).
  let done = 0;
  const onDone = (): void => {
    if (++done === 4) setImmediate(kill);
  };
  for (const s of [A, B]) {
    s.once('end', onDone);
    s.once('finish', onDone);
  }

  const closed = new Promise<RelayStats>((resolve) => {
    let open = 2;
    const onClose = (): void => {
      if (--open > 0) return;
      clearTimeout(idle);
      resolve(stats);
    };
    whenClosed(A, () => {
      onClose();
      if (opts.drainMs && !B.destroyed && !B.readableEnded) drainThenDestroy(b, opts.drainMs);
      else lingerThenDestroy(b, lingerMs);
    });
    whenClosed(B, () => {
      onClose();
      lingerThenDestroy(a, lingerMs);
    });
  });

  return { stats, closed, destroy: kill };
}

/** For the filter's outputs: writes to `sink`, pausing `source` while `sink` is full. */
function writeOrPause(sink: Duplex, source: Duplex): (bytes: Buffer) => void {
  return (bytes) => {
    if (sink.destroyed || sink.writableEnded) return;
    if (!sink.write(bytes)) {
      source.pause();
      sink.once('drain', () => source.resume());
    }
  };
}

/** An EOF to `end`, after everything written to it before (write callbacks run in order). */
function passEof(end: RelayEnd): void {
  const s = end.stream;
  if (s.destroyed || s.writableEnded) return;
  if (end.eof !== 'eof') {
    s.end();
    return;
  }
  const eof = (): void => (s as Duplex & { eof?: () => void }).eof?.();
  if (!s.writable) eof();
  else s.write(Buffer.alloc(0), eof);
}

/**
 * Ends `end` if nothing has (the other side went without an EOF), and destroys it `ms` after its
 * writable side has finished, unless it closes by itself first.
 */
function lingerThenDestroy(end: RelayEnd, ms: number): void {
  const s = end.stream;
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

/** Reads and drops what `end` still sends, its EOF once it has finished, destroyed after `ms`. */
function drainThenDestroy(end: RelayEnd, ms: number): void {
  const s = end.stream;
  s.once('end', () => passEof(end));
  // feed() drops what a closed sink cannot take; a source it had paused must flow again.
  s.resume();
  const t = setTimeout(() => s.destroy(), ms);
  t.unref();
  s.once('close', () => clearTimeout(t));
}

/** `fn` once `s` has closed (ssh2 channels emit 'close' only when both directions are done). */
function whenClosed(s: Duplex | Writable, fn: () => void): void {
  if (s.destroyed && (s as { closed?: boolean }).closed !== false) {
    setImmediate(fn);
    return;
  }
  s.once('close', fn);
}

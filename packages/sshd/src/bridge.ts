/**
 * Moves bytes between an SSH channel and a TCP socket in both directions, with backpressure, byte
 * counts, optional taps (for the read-only FTP observer) and clean teardown: an error or close on
 * one side ends the other, and nothing here can throw into the caller.
 */
import type { Socket } from 'node:net';
import {
  CHANNEL_BUFFER_LIMIT,
  feed,
  gatherWrites,
  noteBytesMoved,
  onLinkLoss,
  resetPeer,
  type SocketCongestion,
} from '@ftpfwd/ftp-proxy';
import type { Channel } from 'ssh2';

export interface BridgeStats {
  /** Bytes the SSH client sent into the channel (towards the TCP peer). */
  bytesFromClient: number;
  /** Bytes the TCP peer sent (towards the SSH client). */
  bytesToClient: number;
}

/**
 * Sits in the path of an FTP control channel (FtpControlGuard): takes every chunk each way and
 * writes what should go on through the outputs it was built with (see `controlBridge`).
 */
export interface ControlFilter {
  fromClient(chunk: Buffer): void;
  fromServer(chunk: Buffer): void;
}

export interface BridgeOptions {
  onFromClient?: (chunk: Buffer) => void;
  onToClient?: (chunk: Buffer) => void;
  onClose?: (stats: BridgeStats) => void;
  /**
   * No byte either way for this long closes both sides (`onIdle` says so first): a data channel to
   * an FTP server that stalled would otherwise be held until the server process died. 0 = never.
   */
  idleTimeoutMs?: number;
  onIdle?: () => void;
  /** After the channel closes, how long the socket may take to flush before it is destroyed. */
  lingerMs?: number;
  /** The SSH connection's socket: the TCP peer stops being read while it is congested. */
  congestion?: SocketCongestion;
}

export interface Bridge {
  readonly stats: BridgeStats;
  /** Close both sides now. */
  destroy(): void;
}

/**
 * A bridge for an FTP control channel: the bytes of both directions go through `filter` (made with
 * `outputs`) instead of straight across. Control channels carry little; plain write backpressure
 * (pause the source while the destination is full) is all they need.
 */
export function controlBridge(
  channel: Channel,
  socket: Socket,
  makeFilter: (outputs: { toServer: (b: Buffer) => void; toClient: (b: Buffer) => void }) => ControlFilter,
  opts: Omit<BridgeOptions, 'congestion'> = {},
): Bridge {
  const filter = makeFilter({
    toServer: (b) => {
      if (!socket.destroyed && !socket.writableEnded && !socket.write(b)) {
        channel.pause();
        socket.once('drain', () => channel.resume());
      }
    },
    toClient: (b) => {
      if (channel.writable && !channel.write(b)) {
        socket.pause();
        channel.once('drain', () => socket.resume());
      }
    },
  });
  return bridge(channel, socket, { ...opts, filter });
}

export function bridge(
  channel: Channel,
  socket: Socket,
  opts: BridgeOptions & { filter?: ControlFilter } = {},
): Bridge {
  const stats: BridgeStats = { bytesFromClient: 0, bytesToClient: 0 };
  let closed = false;
  let channelClosed = false;
  let socketClosed = false;

  const finish = (): void => {
    if (closed || !channelClosed || !socketClosed) return;
    closed = true;
    clearTimeout(idle);
    opts.onClose?.(stats);
  };

  let idle: NodeJS.Timeout | undefined;
  const idleMs = opts.idleTimeoutMs ?? 0;
  let lastActivity = Date.now();
  const armIdle = (): void => {
    idle = setTimeout(
      () => {
        if (Date.now() - lastActivity < idleMs) return armIdle();
        opts.onIdle?.();
        socket.destroy();
        channel.close();
      },
      Math.max(50, lastActivity + idleMs - Date.now()),
    );
    idle.unref();
  };
  if (idleMs > 0) armIdle();

  channel.on('data', (chunk: Buffer) => {
    stats.bytesFromClient += chunk.length;
    lastActivity = Date.now();
    noteBytesMoved(chunk.length);
    // Before pipe()'s own 'data' listener writes it: the packets of one SSH read leave together.
    gatherWrites(socket);
    opts.onFromClient?.(chunk);
    opts.filter?.fromClient(chunk);
  });
  socket.on('data', (chunk: Buffer) => {
    stats.bytesToClient += chunk.length;
    lastActivity = Date.now();
    noteBytesMoved(chunk.length);
    opts.onToClient?.(chunk);
    opts.filter?.fromServer(chunk);
  });
  // Client EOF ends the socket's write side (half-close towards the TCP peer).
  // A channel cut by the SSH connection dying resets the TCP peer instead of ending it cleanly.
  if (opts.congestion) onLinkLoss(channel, opts.congestion.socket, () => resetPeer(socket));
  if (opts.filter) {
    channel.once('end', () => socket.end());
  } else {
    channel.pipe(socket);
  }
  // The other way round, pipe() would end() the channel, and ssh2's server channels answer end()
  // with EOF *and* CLOSE: whatever the client still had to send (an echo, an upload's reply) would
  // be cut. So a TCP half-close becomes an SSH EOF only, sent once everything before it is out.
  // Not pipe(): ssh2 writes each packet to the SSH socket whatever it already holds, so the TCP
  // peer is paused while that socket is congested, and while the channel holds more than a small
  // cap (ssh2's Channel would take its whole 2 MiB window before write() returned false).
  if (!opts.filter)
    feed(socket, channel, {
      end: false,
      congestion: opts.congestion,
      cap: CHANNEL_BUFFER_LIMIT,
      gather: opts.congestion?.socket,
    });
  const flushed = (then: () => void): void => {
    if (!channel.writable) {
      then();
      return;
    }
    channel.write(Buffer.alloc(0), () => then());
  };
  socket.once('end', () => flushed(() => channel.eof()));

  channel.on('error', () => socket.destroy());
  socket.on('error', () => {});
  // ssh2 emits 'close' on the channel when the client's CHANNEL_CLOSE arrives (or the SSH
  // connection dies). Let the socket flush what it holds, then make sure it goes.
  channel.once('close', () => {
    channelClosed = true;
    if (!socket.destroyed) {
      socket.end();
      const t = setTimeout(() => socket.destroy(), opts.lingerMs ?? 5_000);
      t.unref();
      socket.once('close', () => clearTimeout(t));
    }
    finish();
  });
  socket.once('close', (hadError: boolean) => {
    socketClosed = true;
    // Both directions are done (or the peer failed): close the channel, after what is queued when
    // the close was clean, at once after an error.
    if (hadError) channel.close();
    else flushed(() => channel.close());
    finish();
  });

  return {
    stats,
    destroy(): void {
      socket.destroy();
      channel.close();
    },
  };
}

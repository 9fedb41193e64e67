import type { Duplex } from 'node:stream';
import { type Direction, FtpControlSession } from '../engine/session.js';
import type { DataChannelBroker, SessionContext, SessionEvent, SessionPolicy } from '../engine/types.js';

export interface PipeFtpSessionOptions {
  /** Stream to and from the FTP client (an accepted socket, or an SSH channel for `-R ftp/`). */
  client: Duplex;
  /** Stream to and from the FTP server (an SSH channel for `-L ftp/`, or a socket for `-R ftp/`). */
  server: Duplex;
  broker: DataChannelBroker;
  context: SessionContext;
  policy?: Partial<SessionPolicy>;
  onEvent?: (event: SessionEvent) => void;
  /** After one side closed, how long the other may take to finish before it is destroyed. */
  closeGraceMs?: number;
}

export interface FtpSessionStats {
  bytesFromClient: number;
  bytesFromServer: number;
  dataChannelsOpened: number;
  dataChannelsFailed: number;
  /** The first stream error or protocol failure that ended the session, if any. */
  error?: Error;
}

export interface FtpSessionHandle {
  readonly session: FtpControlSession;
  /** Sends `code text` to the FTP client (e.g. 421 when the SSH link is lost), then closes both sides. */
  closeWithReply(code: number, text: string): void;
  /** Closes both sides and releases every data channel. */
  close(): void;
  /** Resolves once both streams have closed. Never rejects. */
  readonly closed: Promise<FtpSessionStats>;
}

/**
 * Wires an FTP client stream and an FTP server stream through an {@link FtpControlSession}, with
 * backpressure both ways: a source is paused while its destination's buffer is full, and while the
 * session holds that direction for the broker. An end on one side is passed on as a half-close once
 * everything before it was delivered; an error or a close on one side closes the other. Stream errors
 * are recorded in the stats, never thrown.
 */
export function pipeFtpSession(options: PipeFtpSessionOptions): FtpSessionHandle {
  const { client, server } = options;
  const graceMs = options.closeGraceMs ?? 5_000;
  const stats: FtpSessionStats = {
    bytesFromClient: 0,
    bytesFromServer: 0,
    dataChannelsOpened: 0,
    dataChannelsFailed: 0,
  };
  const clientPause = new PauseReasons(client);
  const serverPause = new PauseReasons(server);
  let clientEnded = false;
  let serverEnded = false;

  const writeTo = (target: Duplex, sourcePause: PauseReasons) => (bytes: Buffer) => {
    if (target.destroyed || target.writableEnded) return;
    if (!target.write(bytes)) {
      sourcePause.add('drain');
      target.once('drain', () => sourcePause.delete('drain'));
    }
  };

  const session = new FtpControlSession({
    broker: options.broker,
    context: options.context,
    policy: options.policy,
    toClient: writeTo(client, serverPause),
    toServer: writeTo(server, clientPause),
    onEvent: options.onEvent,
    onFatal: (error) => {
      stats.error ??= error;
      client.end();
      server.destroy();
    },
    onResume: (direction: Direction) => {
      if (direction === 'fromClient') {
        clientPause.delete('held');
        if (clientEnded) server.end();
      } else {
        serverPause.delete('held');
        if (serverEnded) client.end();
      }
    },
  });

  client.on('data', (chunk: Buffer) => {
    stats.bytesFromClient += chunk.length;
    if (!session.fromClient(chunk)) clientPause.add('held');
  });
  server.on('data', (chunk: Buffer) => {
    stats.bytesFromServer += chunk.length;
    if (!session.fromServer(chunk)) serverPause.add('held');
  });
  // A half-close is passed on once the session is not holding lines that came before it.
  client.on('end', () => {
    clientEnded = true;
    if (!clientPause.has('held')) server.end();
  });
  server.on('end', () => {
    serverEnded = true;
    if (!serverPause.has('held')) client.end();
  });

  const onError = (side: 'client' | 'server') => (error: Error) => {
    stats.error ??= error;
    try {
      options.onEvent?.({ type: 'stream-error', side, reason: error.message });
    } catch {
      // An observer's bug must not keep the streams open.
    }
    client.destroy();
    server.destroy();
  };
  client.on('error', onError('client'));
  server.on('error', onError('server'));

  const closedOnce = (stream: Duplex) =>
    new Promise<void>((resolve) => {
      if (stream.destroyed && (stream as { closed?: boolean }).closed) resolve();
      else stream.once('close', () => resolve());
    });
  const clientClosed = closedOnce(client);
  const serverClosed = closedOnce(server);
  // When one side is gone, the other is ended gracefully and destroyed if it lingers.
  const finishOther = (other: Duplex) => () => {
    session.end();
    if (!other.destroyed) {
      other.end();
      setTimeout(() => other.destroy(), graceMs).unref();
    }
  };
  clientClosed.then(finishOther(server));
  serverClosed.then(finishOther(client));

  const closed = Promise.all([clientClosed, serverClosed]).then(() => {
    session.end();
    Object.assign(stats, session.stats);
    return stats;
  });

  return {
    session,
    closed,
    close() {
      session.end();
      client.end();
      server.end();
      setTimeout(() => {
        client.destroy();
        server.destroy();
      }, graceMs).unref();
    },
    closeWithReply(code: number, text: string) {
      session.end();
      if (!client.destroyed && !client.writableEnded) client.end(`${code} ${text}\r\n`);
      server.destroy();
      setTimeout(() => client.destroy(), graceMs).unref();
    },
  };
}

/** A stream stays paused while any reason holds; resumed when the last one is gone. */
class PauseReasons {
  private readonly reasons = new Set<string>();
  constructor(private readonly stream: Duplex) {}
  add(reason: string): void {
    this.reasons.add(reason);
    this.stream.pause();
  }
  delete(reason: string): void {
    if (this.reasons.delete(reason) && this.reasons.size === 0 && !this.stream.destroyed)
      this.stream.resume();
  }
  has(reason: string): boolean {
    return this.reasons.has(reason);
  }
}

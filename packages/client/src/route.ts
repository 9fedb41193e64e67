import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { Duplex, type Writable } from 'node:stream';
import type { ByteCountingStream } from '@ftpfwd/ftp-proxy/transport';
import { FtpfwdError, oneLine } from './errors.js';
import { type ProxyCommandStream, startProxyCommand } from './proxy-command.js';

/**
 * How the bytes of one SSH connection get to its server, before SSH itself: a TCP connection
 * (BindAddress, AddressFamily, ConnectionAttempts, ConnectTimeout per attempt), a ProxyCommand's
 * stdio, or a channel of the jump host before it (link.ts builds those chains). ssh2 runs over any
 * of them (`sock`); nothing here assumes a net.Socket beyond the TCP case.
 */

/** Where the first connection of a route comes from, and how it is made. */
export interface RouteOptions {
  /** ProxyCommand (`%h %p %r %n %%`) instead of a TCP connection. */
  proxyCommand?: string;
  /** %n: the host name as the user wrote it. */
  originalHost?: string;
  /** BindAddress: the local address (or name) the TCP connection comes from. */
  bindAddress?: string;
  /** AddressFamily: 4 (inet), 6 (inet6) or 0 (any). */
  family?: 0 | 4 | 6;
  /** ConnectionAttempts: TCP connects tried, one second apart (default 1). */
  connectionAttempts?: number;
}

/** One SSH connection's stream and what the link needs to know of it. */
export interface Transport {
  /** What ssh2 runs over. */
  readonly stream: Duplex & ByteCountingStream;
  /** Where bytes queue when the way out of this host is slow (SocketCongestion watches it). */
  readonly congestion: Writable;
  /** `[jump host ] TCP 192.0.2.1:22`, for logs. */
  readonly describe: string;
  /** Why it ended, when it knows better than "connection closed" (a ProxyCommand's exit, a hop lost). */
  failure(): string | undefined;
  /** Ends it and everything it rides on (jump hosts, the ProxyCommand). */
  destroy(): void;
}

export interface TransportTarget {
  host: string;
  port: number;
  user: string;
  /** `host:port` as the link names it, for messages. */
  label: string;
  /** Per attempt (0: none). */
  connectTimeoutMs: number;
}

/** The first connection of a route: ProxyCommand or TCP. */
export async function openFirstLeg(
  target: TransportTarget,
  route: RouteOptions,
  hooks: { stderr?: 'inherit' | 'ignore'; onAttemptFailed?: (attempt: number, err: Error) => void } = {},
): Promise<Transport> {
  if (route.proxyCommand !== undefined) {
    const s = startProxyCommand(
      route.proxyCommand,
      {
        host: target.host,
        port: target.port,
        user: target.user,
        originalHost: route.originalHost ?? target.host,
      },
      hooks.stderr,
    );
    return commandTransport(s);
  }
  const attempts = Math.max(1, route.connectionAttempts ?? 1);
  let last: Error | undefined;
  for (let i = 1; i <= attempts; i++) {
    try {
      return tcpTransport(await connectTcp(target, route));
    } catch (err) {
      last = err as Error;
      if (i < attempts) {
        hooks.onAttemptFailed?.(i, last);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
  if (attempts > 1 && last instanceof FtpfwdError)
    throw new FtpfwdError(last.code, `${last.message} (${attempts} attempts)`);
  throw last;
}

/** The bind address as an IP of the wanted family (a name is resolved, as OpenSSH does). */
async function bindAddressOf(route: RouteOptions, label: string): Promise<string | undefined> {
  const b = route.bindAddress;
  if (b === undefined || b === '') return undefined;
  if (isIP(b) !== 0) return b;
  try {
    return (await lookup(b, { family: route.family ?? 0 })).address;
  } catch (err) {
    throw new FtpfwdError(
      'connect-failed',
      `cannot connect to ${label}: BindAddress ${b}: ${(err as NodeJS.ErrnoException).code ?? oneLine(err)}`,
    );
  }
}

async function connectTcp(target: TransportTarget, route: RouteOptions): Promise<Socket> {
  const { label } = target;
  const localAddress = await bindAddressOf(route, label);
  const family = route.family ?? 0;
  if (family !== 0 && isIP(target.host) !== 0 && isIP(target.host) !== family)
    throw new FtpfwdError(
      'connect-failed',
      `cannot connect to ${label}: AddressFamily ${family === 4 ? 'inet' : 'inet6'} excludes ${target.host}`,
    );
  return new Promise((resolve, reject) => {
    const sock = netConnect({
      host: target.host,
      port: target.port,
      ...(localAddress ? { localAddress } : {}),
      ...(family ? { family } : {}),
    });
    sock.setNoDelay(true);
    const t =
      target.connectTimeoutMs > 0
        ? setTimeout(() => {
            sock.destroy();
            reject(
              new FtpfwdError(
                'connect-failed',
                `cannot connect to ${label}: timed out after ${target.connectTimeoutMs / 1000}s`,
              ),
            );
          }, target.connectTimeoutMs)
        : undefined;
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      const why =
        err.code === 'ECONNREFUSED'
          ? 'connection refused'
          : err.code === 'ENOTFOUND'
            ? family
              ? `host not found (as an ${family === 4 ? 'IPv4' : 'IPv6'} address)`
              : 'host not found'
            : err.code === 'EADDRNOTAVAIL' && localAddress
              ? `BindAddress ${localAddress} is not an address of this host`
              : oneLine(err);
      reject(new FtpfwdError('connect-failed', `cannot connect to ${label}: ${why}`));
    });
    sock.once('connect', () => {
      clearTimeout(t);
      resolve(sock);
    });
  });
}

function tcpTransport(sock: Socket): Transport {
  return {
    stream: sock,
    congestion: sock,
    describe: `TCP ${sock.localAddress}:${sock.localPort} -> ${sock.remoteAddress}:${sock.remotePort}`,
    failure: () => undefined,
    destroy: () => sock.destroy(),
  };
}

function commandTransport(s: ProxyCommandStream): Transport {
  return {
    stream: s,
    congestion: s,
    describe: `ProxyCommand ${s.commandText}`,
    failure: () => s.exitReason(),
    destroy: () => s.destroy(),
  };
}

/**
 * A stream over another (a jump host's channel), counting bytes as a socket does. Backpressure
 * passes through: a write waits while the channel's buffer is full, reading pauses the channel.
 */
export class CountingStream extends Duplex {
  bytesRead = 0;
  bytesWritten = 0;

  constructor(private readonly inner: Duplex) {
    super({ allowHalfOpen: false });
    inner.on('data', (d: Buffer) => {
      this.bytesRead += d.length;
      if (!this.push(d)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('close', () => this.destroy());
    inner.on('error', (err: Error) => this.destroy(err));
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    if (this.inner.write(chunk)) cb();
    else this.inner.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }
}

/**
 * A transport over a channel of the hop before: its congestion is the first hop's (what leaves
 * this host), its failure the first hop that reported one, and destroying it ends the hops too.
 */
export function channelTransport(
  channel: Duplex,
  via: { congestion: Writable; describe: string; failure(): string | undefined; destroy(): void },
  hop: string,
): Transport {
  const stream = new CountingStream(channel);
  let done = false;
  const destroy = (): void => {
    if (done) return;
    done = true;
    stream.destroy();
    via.destroy();
  };
  // When the server's connection ends, the hops it rode on have no more use.
  stream.once('close', destroy);
  return {
    stream,
    congestion: via.congestion,
    describe: `${via.describe} -> jump host ${hop}`,
    failure: via.failure,
    destroy,
  };
}

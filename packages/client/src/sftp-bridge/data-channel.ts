/**
 * Data connections of one FTP session, with the protections of ftpfwd's `ftp/` forwardings:
 * - passive (PASV/EPSV): a listener on the address the FTP client reached, which hands over the
 *   first connection from the control connection's peer address and refuses any other (someone
 *   else on the LAN guessing the port gets nothing); it closes after that one, or when idle;
 * - active (PORT/EPRT): only to the FTP client's own address and to a port >= 1024 (RFC 2577:
 *   no FTP bounce through the bridge).
 */
import { randomInt } from 'node:crypto';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { type Endpoint, normalizeAddress, sameAddress } from '@ftpfwd/ftp-proxy';
import type { Logger } from 'pino';
import { listenPort } from './transport.js';

export interface DataChannelOptions {
  /** The FTP client's address (peer of the control connection). */
  controlPeer: string;
  /** The address the FTP client connected to (local side of the control connection). */
  controlLocal: string;
  dataPorts?: { lo: number; hi: number } | undefined;
  /** How long a passive listener waits for its connection. */
  acceptTimeoutMs: number;
  /** How long an active connection may take. */
  connectTimeoutMs: number;
  /** Lowest port PORT/EPRT may name. */
  minActivePort: number;
  logger: Logger;
  session: string;
}

/** Why PORT/EPRT's endpoint is refused, or undefined when it is acceptable. */
export function activeTargetProblem(ep: Endpoint, controlPeer: string, minPort: number): string | undefined {
  if (!sameAddress(ep.host, controlPeer))
    return `the data connection must go to your own address ${normalizeAddress(controlPeer)}, not ${ep.host}`;
  if (ep.port < minPort) return `port ${ep.port} is below ${minPort}`;
  return undefined;
}

/** Thrown by `open` when no data connection can be had; becomes 425. */
export class NoDataConnection extends Error {
  override readonly name = 'NoDataConnection';
}

async function listenOn(server: Server, host: string, range: { lo: number; hi: number } | undefined) {
  if (!range) return listenPort(server, host, 0);
  const size = range.hi - range.lo + 1;
  const first = randomInt(0, size);
  const tries = Math.min(size, 200);
  for (let i = 0; i < tries; i++) {
    const port = range.lo + ((first + i) % size);
    try {
      return await listenPort(server, host, port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new NoDataConnection(`no free port in ${range.lo}-${range.hi}`);
}

type Plan =
  | { kind: 'none' }
  | {
      kind: 'passive';
      server: Server;
      port: number;
      socket?: Socket | undefined;
      waiter?: ((s: Socket) => void) | undefined;
      timer: NodeJS.Timeout;
      /** Released: a connection arriving now is refused. */
      closed: boolean;
    }
  | { kind: 'active'; target: Endpoint };

export class DataChannel {
  private plan: Plan = { kind: 'none' };

  constructor(private readonly opts: DataChannelOptions) {}

  /** Whether PASV/EPSV/PORT/EPRT prepared a connection the next transfer can use. */
  get prepared(): boolean {
    return this.plan.kind !== 'none';
  }

  get mode(): 'none' | 'passive' | 'active' {
    return this.plan.kind;
  }

  /** A new passive listener (the previous one, if any, is closed). Resolves its port. */
  async passive(): Promise<number> {
    this.reset();
    const server = createServer({ pauseOnConnect: true });
    const host = normalizeAddress(this.opts.controlLocal);
    let port: number;
    try {
      port = await listenOn(server, host, this.opts.dataPorts);
    } catch (err) {
      server.close();
      throw err instanceof NoDataConnection
        ? err
        : new NoDataConnection(`cannot listen on ${host}: ${(err as Error).message}`);
    }
    const timer = setTimeout(() => {
      if (this.plan.kind === 'passive' && this.plan.server === server && !this.plan.socket) {
        this.opts.logger.debug({ session: this.opts.session, port }, 'passive data listener expired unused');
        this.reset();
      }
    }, this.opts.acceptTimeoutMs);
    timer.unref();
    const plan: Plan & { kind: 'passive' } = { kind: 'passive', server, port, timer, closed: false };
    server.on('error', () => {});
    server.on('connection', (sock: Socket) => {
      sock.on('error', () => {});
      if (plan.closed || plan.socket) {
        sock.destroy();
        return;
      }
      if (!sock.remoteAddress || !sameAddress(sock.remoteAddress, this.opts.controlPeer)) {
        this.opts.logger.warn(
          { session: this.opts.session, expected: this.opts.controlPeer, got: sock.remoteAddress },
          'data connection from another address than the FTP client refused',
        );
        sock.destroy();
        return;
      }
      sock.setNoDelay(true);
      plan.socket = sock;
      clearTimeout(plan.timer);
      server.close();
      const w = plan.waiter;
      plan.waiter = undefined;
      w?.(sock);
    });
    this.plan = plan;
    return port;
  }

  /** PORT/EPRT: the next transfer connects to `target` (checked with activeTargetProblem first). */
  active(target: Endpoint): void {
    this.reset();
    this.plan = { kind: 'active', target };
  }

  /**
   * The data connection for a transfer: the one the passive listener accepted (waiting for it if
   * needed), or a new one to the active target. The plan is used up either way.
   */
  open(signal: AbortSignal): Promise<Socket> {
    const plan = this.plan;
    this.plan = { kind: 'none' };
    if (plan.kind === 'none')
      return Promise.reject(new NoDataConnection('no PASV, EPSV, PORT or EPRT first'));
    if (plan.kind === 'active') return this.connect(plan.target, signal);
    if (plan.socket) {
      plan.closed = true;
      return Promise.resolve(plan.socket);
    }
    return new Promise<Socket>((resolve, reject) => {
      const done = (err?: Error, sock?: Socket): void => {
        clearTimeout(plan.timer);
        clearTimeout(t);
        signal.removeEventListener('abort', onAbort);
        plan.waiter = undefined;
        plan.closed = true;
        plan.server.close();
        if (sock) resolve(sock);
        else reject(err);
      };
      const onAbort = (): void => done(new NoDataConnection('aborted while waiting for the data connection'));
      const t = setTimeout(
        () => done(new NoDataConnection(`no data connection within ${this.opts.acceptTimeoutMs / 1000} s`)),
        this.opts.acceptTimeoutMs,
      );
      plan.waiter = (s) => done(undefined, s);
      signal.addEventListener('abort', onAbort);
    });
  }

  private connect(target: Endpoint, signal: AbortSignal): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const local = normalizeAddress(this.opts.controlLocal);
      const sock = netConnect({ host: target.host, port: target.port, localAddress: local });
      sock.setNoDelay(true);
      const done = (err?: Error): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', onAbort);
        sock.off('connect', onConnect);
        sock.off('error', onError);
        if (err) {
          sock.destroy();
          reject(err);
        } else {
          sock.on('error', () => {});
          sock.pause();
          resolve(sock);
        }
      };
      const onConnect = (): void => done();
      const onError = (err: Error): void =>
        done(new NoDataConnection(`cannot connect to ${target.host}:${target.port}: ${err.message}`));
      const onAbort = (): void => done(new NoDataConnection('aborted while connecting'));
      const t = setTimeout(
        () => done(new NoDataConnection(`connecting to ${target.host}:${target.port} timed out`)),
        this.opts.connectTimeoutMs,
      );
      sock.once('connect', onConnect);
      sock.once('error', onError);
      signal.addEventListener('abort', onAbort);
    });
  }

  /** Forgets the prepared connection: closes a listener and an accepted connection not used yet. */
  reset(): void {
    const plan = this.plan;
    this.plan = { kind: 'none' };
    if (plan.kind === 'passive') {
      plan.closed = true;
      clearTimeout(plan.timer);
      plan.server.close();
      plan.socket?.destroy();
    }
  }
}

import { createServer, type Server, type Socket } from 'node:net';
import { formatHostPort, normalizeAddress } from '@ftpfwd/ftp-proxy';
import { relay } from '@ftpfwd/ftp-proxy/transport';
import type { ClientChannel } from 'ssh2';
import { connectThenAccept } from './connect-then-accept.js';
import type { ForwardContext } from './context.js';
import { oneLine } from './errors.js';
import { type ForwardSpec, localBindAddress, remoteBindAddress } from './forward-spec.js';
import { boundAddress, listenOn } from './listen.js';

/** A forwarding that is running: where it listens and how to stop it. */
export interface ActiveForward {
  readonly spec: ForwardSpec;
  /** Where it listens: a local address for -L, the SSH server's side for -R. */
  readonly listen: { host: string; port: number };
  /** `tcp 127.0.0.1:8080 -> web:80`, for the startup line. */
  describe(): string;
  /**
   * Stops accepting (a reload removed it); connections and FTP sessions already open run on to
   * their natural end, on the same SSH connection. close() still ends them.
   */
  stopListening(): Promise<void>;
  /** Connections or FTP sessions it carries now (a retired forwarding is dropped at 0). */
  openConnections(): number;
  close(): Promise<void>;
}

export function hostPort(host: string, port: number): string {
  return formatHostPort({ host, port });
}

/** `-L tcp/…`: a local listener; each connection becomes a direct-tcpip channel. */
export class LocalTcpForward implements ActiveForward {
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();
  listen = { host: '', port: 0 };

  constructor(
    readonly spec: ForwardSpec,
    private readonly ctx: ForwardContext,
  ) {}

  async start(): Promise<void> {
    const host = localBindAddress(this.spec, this.ctx.gatewayPorts);
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.onConnection(s));
    const port = await listenOn(this.server, host, this.spec.bindPort);
    // After listen(): a listen failure is reported by listenOn, not as a runtime warning.
    this.server.on('error', (err) => this.ctx.logger.warn({ err: oneLine(err) }, 'listener error'));
    // Where it really listens: all interfaces fall back to IPv4's on a host without IPv6.
    this.listen = { host: boundAddress(this.server, host), port };
  }

  describe(): string {
    return `tcp ${hostPort(this.listen.host, this.listen.port)} -> ${hostPort(this.spec.host, this.spec.hostPort)}`;
  }

  private onConnection(sock: Socket): void {
    const { logger, metrics, link } = this.ctx;
    sock.setNoDelay(true);
    sock.on('error', () => {}); // reported through the relay / the channel attempt
    this.conns.add(sock);
    sock.once('close', () => this.conns.delete(sock));
    metrics.sessions.inc({ protocol: 'tcp', direction: 'local' });
    // A dual-stack listener's IPv4 peers come as ::ffff:a.b.c.d: name them as IPv4.
    const from = normalizeAddress(sock.remoteAddress ?? '');
    const peer = hostPort(from || '?', sock.remotePort ?? 0);
    link
      .waitUp(this.ctx.linkWaitMs)
      .then(() => link.openDirect(from, sock.remotePort ?? 0, this.spec.host, this.spec.hostPort))
      .then(
        async (ch: ClientChannel) => {
          if (sock.destroyed) {
            ch.close();
            return;
          }
          metrics.activeSessions.inc({ protocol: 'tcp', direction: 'local' });
          const st = await relay({ stream: sock }, { stream: ch, congestion: link.congestionOf(ch) }).closed;
          metrics.activeSessions.dec({ protocol: 'tcp', direction: 'local' });
          metrics.bytes.inc({ protocol: 'tcp', direction: 'to_server' }, st.bytesAtoB);
          metrics.bytes.inc({ protocol: 'tcp', direction: 'to_client' }, st.bytesBtoA);
          logger.debug({ peer, sent: st.bytesAtoB, received: st.bytesBtoA }, 'tcp connection closed');
        },
        (err: unknown) => {
          metrics.forwardFailures.inc({ kind: 'channel' });
          logger.warn({ peer, err: oneLine(err) }, `tcp connection refused: ${this.describe()}`);
          sock.destroy();
        },
      );
  }

  openConnections(): number {
    return this.conns.size;
  }

  async stopListening(): Promise<void> {
    // close() without waiting for its callback: that fires only when the last connection ends.
    this.server?.close();
  }

  async close(): Promise<void> {
    for (const s of this.conns) s.destroy();
    await new Promise<void>((r) => (this.server?.listening ? this.server.close(() => r()) : r()));
  }
}

/** `-R tcp/…`: the SSH server listens; each connection is connected to HOST:HOSTPORT from here. */
export class RemoteTcpForward implements ActiveForward {
  private boundPort = 0;
  private readonly conns = new Set<Socket>();
  private readonly onUp = () => {
    this.register().catch((err) =>
      this.ctx.logger.warn(
        { err: oneLine(err) },
        `after reconnect: ${this.spec.direction} forwarding not restored`,
      ),
    );
  };
  listen = { host: '', port: 0 };

  constructor(
    readonly spec: ForwardSpec,
    protected readonly ctx: ForwardContext,
  ) {}

  async start(): Promise<void> {
    await this.register();
    this.ctx.link.on('up', this.onUp);
  }

  private async register(): Promise<void> {
    const bind = remoteBindAddress(this.spec);
    const port = await this.ctx.link.listenRemote(bind, this.spec.bindPort, (d, accept, reject) =>
      this.onRemote(d, accept, reject),
    );
    const changed = this.boundPort !== 0 && port !== this.boundPort;
    this.boundPort = port;
    this.listen = { host: bind || '*', port };
    if (this.spec.bindPort === 0 || changed)
      this.ctx.logger.info(
        `Allocated port ${port} for remote forward to ${hostPort(this.spec.host, this.spec.hostPort)}`,
      );
  }

  describe(): string {
    return `${this.spec.protocol} remote ${hostPort(this.listen.host, this.listen.port)} -> ${hostPort(this.spec.host, this.spec.hostPort)}`;
  }

  protected onRemote(
    details: { srcIP: string; srcPort: number; destIP: string; destPort: number },
    accept: () => ClientChannel,
    reject: () => void,
  ): void {
    const { logger, metrics } = this.ctx;
    metrics.sessions.inc({ protocol: 'tcp', direction: 'remote' });
    const sock = connectThenAccept({ host: this.spec.host, port: this.spec.hostPort }, accept, reject, {
      onConnectError: (err) => {
        metrics.forwardFailures.inc({ kind: 'connect' });
        logger.warn(
          { err: oneLine(err) },
          `remote forward: cannot connect to ${hostPort(this.spec.host, this.spec.hostPort)}`,
        );
      },
      onAccepted: async (sock, ch) => {
        metrics.activeSessions.inc({ protocol: 'tcp', direction: 'remote' });
        const st = await relay({ stream: ch, congestion: this.ctx.link.congestionOf(ch) }, { stream: sock })
          .closed;
        metrics.activeSessions.dec({ protocol: 'tcp', direction: 'remote' });
        metrics.bytes.inc({ protocol: 'tcp', direction: 'to_server' }, st.bytesAtoB);
        metrics.bytes.inc({ protocol: 'tcp', direction: 'to_client' }, st.bytesBtoA);
        logger.debug({ peer: hostPort(details.srcIP, details.srcPort) }, 'remote tcp connection closed');
      },
    });
    this.conns.add(sock);
    sock.once('close', () => this.conns.delete(sock));
  }

  openConnections(): number {
    return this.conns.size;
  }

  async stopListening(): Promise<void> {
    this.ctx.link.off('up', this.onUp);
    this.ctx.link.unlistenRemote(remoteBindAddress(this.spec), this.boundPort);
  }

  async close(): Promise<void> {
    await this.stopListening();
    for (const s of this.conns) s.destroy();
  }
}

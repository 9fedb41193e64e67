import { createServer, type Server, type Socket } from 'node:net';
import {
  normalizeAddress,
  type SessionContext,
  type SessionEvent,
  type SessionPolicy,
} from '@ftpfwd/ftp-proxy';
import { type FtpSessionHandle, type FtpSessionStats, pipeFtpSession } from '@ftpfwd/ftp-proxy/transport';
import type { ClientChannel, TcpConnectionDetails } from 'ssh2';
import { connectThenAccept } from './connect-then-accept.js';
import type { ForwardContext } from './context.js';
import { oneLine } from './errors.js';
import { type ForwardSpec, localBindAddress } from './forward-spec.js';
import { type DataStats, LocalFtpBroker, RemoteFtpBroker } from './ftp-brokers.js';
import { boundAddress, listenOn } from './listen.js';
import { promptAcks } from './prompt-ack.js';
import { type ActiveForward, hostPort, RemoteTcpForward } from './tcp-forward.js';

const LINK_LOST = 'Service not available, SSH link lost';
const LINK_DOWN = 'Service not available, SSH link down';

function policyOf(ctx: ForwardContext): Partial<SessionPolicy> {
  const p: Partial<SessionPolicy> = { pasvTarget: ctx.ftp.pasvTarget };
  if (ctx.ftp.dataIdleTimeoutMs !== undefined) p.dataIdleTimeoutMs = ctx.ftp.dataIdleTimeoutMs;
  return p;
}

/** Logs what a session did: rewrites at -v, refusals and failures always. */
function eventLogger(ctx: ForwardContext, sessionId: string) {
  return (e: SessionEvent) => {
    const log = ctx.logger;
    switch (e.type) {
      case 'rewrite':
        log.debug({ session: sessionId }, `${e.before} → ${e.after}`);
        break;
      case 'data-channel-opened':
        ctx.metrics.dataChannels.inc({ command: e.command, result: 'opened' });
        log.debug(
          { session: sessionId },
          `${e.command} data channel ${hostPort(e.advertised.host, e.advertised.port)} -> ${hostPort(e.target.host, e.target.port)}`,
        );
        break;
      case 'data-channel-failed':
        ctx.metrics.dataChannels.inc({ command: e.command, result: 'failed' });
        log.warn({ session: sessionId, reason: e.reason }, `${e.command} data channel failed`);
        break;
      case 'refused':
        log.warn({ session: sessionId, reply: e.reply, reason: e.reason }, `${e.command} refused`);
        break;
      case 'protocol-error':
        log.warn({ session: sessionId, direction: e.direction, reason: e.reason }, 'FTP protocol error');
        break;
      case 'tls-passthrough':
        log.info({ session: sessionId }, 'AUTH TLS passed through: data channels cannot be forwarded');
        break;
    }
  };
}

/** Session bookkeeping shared by both directions: 421 on link loss, one line at close. */
class SessionSet {
  private readonly handles = new Set<FtpSessionHandle>();
  constructor(
    private readonly ctx: ForwardContext,
    private readonly direction: 'local' | 'remote',
  ) {}

  add(handle: FtpSessionHandle, s: SessionContext, data: DataStats): void {
    const { ctx } = this;
    this.handles.add(handle);
    ctx.metrics.sessions.inc({ protocol: 'ftp', direction: this.direction });
    ctx.metrics.activeSessions.inc({ protocol: 'ftp', direction: this.direction });
    handle.closed.then((st: FtpSessionStats) => {
      this.handles.delete(handle);
      ctx.metrics.activeSessions.dec({ protocol: 'ftp', direction: this.direction });
      ctx.metrics.bytes.inc({ protocol: 'ftp', direction: 'to_server' }, st.bytesFromClient);
      ctx.metrics.bytes.inc({ protocol: 'ftp', direction: 'to_client' }, st.bytesFromServer);
      ctx.logger.info(
        {
          session: s.sessionId,
          client: hostPort(s.clientAddress.host, s.clientAddress.port),
          server: hostPort(s.serverAddress.host, s.serverAddress.port),
          data_opened: st.dataChannelsOpened,
          data_failed: st.dataChannelsFailed,
          data_bytes_to_server: data.toServer,
          data_bytes_to_client: data.toClient,
          control_bytes_from_client: st.bytesFromClient,
          control_bytes_from_server: st.bytesFromServer,
          ...(st.error ? { error: oneLine(st.error) } : {}),
        },
        'ftp session closed',
      );
    });
  }

  get size(): number {
    return this.handles.size;
  }

  /** The SSH link dropped: every session's server side is gone; tell the FTP clients. */
  linkLost(): void {
    for (const h of this.handles) h.closeWithReply(421, LINK_LOST);
  }

  closeAll(): void {
    for (const h of this.handles) h.closeWithReply(421, 'Service not available, forwarding closed');
  }
}

/** `-L ftp/…`: FTP clients connect here; control over direct-tcpip; data by LocalFtpBroker. */
export class LocalFtpForward implements ActiveForward {
  private server: Server | undefined;
  private readonly sessions: SessionSet;
  private readonly pending = new Set<Socket>();
  private readonly onDown = () => this.sessions.linkLost();
  listen = { host: '', port: 0 };

  constructor(
    readonly spec: ForwardSpec,
    private readonly ctx: ForwardContext,
  ) {
    this.sessions = new SessionSet(ctx, 'local');
  }

  async start(): Promise<void> {
    const host = localBindAddress(this.spec, this.ctx.gatewayPorts);
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.onConnection(s));
    const port = await listenOn(this.server, host, this.spec.bindPort);
    // After listen(): a listen failure is reported by listenOn, not as a runtime warning.
    this.server.on('error', (err) => this.ctx.logger.warn({ err: oneLine(err) }, 'listener error'));
    // Where it really listens: all interfaces fall back to IPv4's on a host without IPv6.
    this.listen = { host: boundAddress(this.server, host), port };
    this.ctx.link.on('down', this.onDown);
  }

  describe(): string {
    return `ftp ${hostPort(this.listen.host, this.listen.port)} -> ${hostPort(this.spec.host, this.spec.hostPort)}`;
  }

  private onConnection(sock: Socket): void {
    const { ctx } = this;
    sock.setNoDelay(true);
    sock.on('error', () => {});
    this.pending.add(sock);
    const sessionId = ctx.nextSessionId();
    const peer = { host: normalizeAddress(sock.remoteAddress ?? ''), port: sock.remotePort ?? 0 };
    const local = { host: normalizeAddress(sock.localAddress ?? ''), port: sock.localPort ?? 0 };
    const refuse = (text: string) => {
      this.pending.delete(sock);
      if (!sock.destroyed) sock.end(`421 ${text}\r\n`);
      sock.resume(); // read (and drop) until the client's FIN so the socket closes promptly
      setTimeout(() => sock.destroy(), 5000).unref();
    };
    ctx.link
      .waitUp(ctx.linkWaitMs)
      .then(
        () => ctx.link.openDirect(peer.host, peer.port, this.spec.host, this.spec.hostPort),
        (err: unknown) => {
          ctx.logger.warn(
            { session: sessionId, client: hostPort(peer.host, peer.port), err: oneLine(err) },
            'ftp session refused',
          );
          refuse(LINK_DOWN);
          return undefined;
        },
      )
      .then(
        (ch: ClientChannel | undefined) => {
          if (!ch) return;
          this.pending.delete(sock);
          if (sock.destroyed) {
            ch.close();
            return;
          }
          const context: SessionContext = {
            sessionId,
            clientAddress: peer,
            controlLocalAddress: local,
            serverAddress: { host: this.spec.host, port: this.spec.hostPort },
          };
          const broker = new LocalFtpBroker(ctx);
          const handle = pipeFtpSession({
            client: sock,
            server: ch,
            broker,
            context,
            policy: policyOf(ctx),
            onEvent: eventLogger(ctx, sessionId),
          });
          // After pipeFtpSession, which reads the channel: replies through OpenSSH stall otherwise.
          promptAcks(ch);
          this.sessions.add(handle, context, broker.stats);
          sock.resume();
        },
        (err: unknown) => {
          ctx.metrics.forwardFailures.inc({ kind: 'channel' });
          ctx.logger.warn({ session: sessionId, err: oneLine(err) }, 'ftp session: control channel refused');
          refuse(
            `Service not available: cannot reach ${hostPort(this.spec.host, this.spec.hostPort)} through SSH`,
          );
        },
      );
  }

  openConnections(): number {
    return this.sessions.size + this.pending.size;
  }

  async stopListening(): Promise<void> {
    // Sessions keep their 421-on-link-loss handler (onDown) while they finish.
    this.server?.close();
  }

  async close(): Promise<void> {
    this.ctx.link.off('down', this.onDown);
    this.sessions.closeAll();
    for (const s of this.pending) s.destroy();
    await new Promise<void>((r) => (this.server?.listening ? this.server.close(() => r()) : r()));
  }
}

/** `-R ftp/…`: FTP clients reach the SSH server's listener; FTP server connected from here. */
export class RemoteFtpForward extends RemoteTcpForward {
  private readonly sessions: SessionSet;
  private readonly onDown = () => this.sessions.linkLost();

  constructor(spec: ForwardSpec, ctx: ForwardContext) {
    super(spec, ctx);
    this.sessions = new SessionSet(ctx, 'remote');
  }

  override async start(): Promise<void> {
    await super.start();
    this.ctx.link.on('down', this.onDown);
  }

  protected override onRemote(
    details: TcpConnectionDetails,
    accept: () => ClientChannel,
    reject: () => void,
  ): void {
    const { ctx, spec } = this;
    const sessionId = ctx.nextSessionId();
    connectThenAccept({ host: spec.host, port: spec.hostPort }, accept, reject, {
      onConnectError: (err) => {
        ctx.metrics.forwardFailures.inc({ kind: 'connect' });
        ctx.logger.warn(
          { session: sessionId, err: oneLine(err) },
          `-R ftp: cannot connect to the FTP server ${hostPort(spec.host, spec.hostPort)}`,
        );
      },
      onAccepted: (sock, ch) => {
        const context: SessionContext = {
          sessionId,
          clientAddress: { host: normalizeAddress(details.srcIP), port: details.srcPort },
          controlLocalAddress: { host: details.destIP, port: details.destPort },
          serverAddress: { host: spec.host, port: spec.hostPort },
        };
        const broker = new RemoteFtpBroker(
          ctx,
          normalizeAddress(sock.localAddress ?? '127.0.0.1'),
          sock.remoteAddress ? normalizeAddress(sock.remoteAddress) : undefined,
        );
        const handle = pipeFtpSession({
          client: ch,
          server: sock,
          broker,
          context,
          policy: policyOf(ctx),
          onEvent: eventLogger(ctx, sessionId),
        });
        this.sessions.add(handle, context, broker.stats);
      },
    });
  }

  override openConnections(): number {
    return this.sessions.size + super.openConnections();
  }

  override async close(): Promise<void> {
    this.ctx.link.off('down', this.onDown);
    this.sessions.closeAll();
    await super.close();
  }
}

import { isIP, type Server, type Socket } from 'node:net';
import {
  type ActiveRequest,
  type DataChannelBroker,
  type DataChannelLease,
  type DataConnectionProgress,
  type Endpoint,
  normalizeAddress,
  type PassiveRequest,
  type SessionContext,
  sameAddress,
} from '@ftpfwd/ftp-proxy';
import { DATA_DRAIN_MS, relay } from '@ftpfwd/ftp-proxy/transport';
import type { ClientChannel, TcpConnectionDetails } from 'ssh2';
import { connectThenAccept } from './connect-then-accept.js';
import type { BrokerContext } from './context.js';
import { oneLine } from './errors.js';
import { listenDataPort } from './listen.js';
import { LeaseSequence, OneShotGate } from './one-shot-gate.js';

/**
 * Data-channel brokers for the ftp-proxy engine, built on the SSH link. One broker per FTP session
 * (it knows that session's addresses); each lease is one listener that accepts one connection.
 *
 * `release()` never cuts a data connection already accepted: the engine releases when the transfer's
 * final reply passes, and bytes may still be in flight through the tunnel at that moment. A listener
 * released before it accepted gets a short grace (OneShotGate says why) unless it was superseded.
 */

/** An address a listener may bind to literally: `localhost` → 127.0.0.1, wildcards → 0.0.0.0. */
function bindable(host: string): string {
  const h = normalizeAddress(host);
  if (h === '' || h === '*' || h === 'localhost') return h === 'localhost' ? '127.0.0.1' : '0.0.0.0';
  return h;
}

/** The address itself when it is a literal IP (after `localhost` → 127.0.0.1), else undefined. */
function literalIp(host: string): string | undefined {
  const h = normalizeAddress(host);
  if (h === 'localhost') return '127.0.0.1';
  return isIP(h) !== 0 ? h : undefined;
}

/** An address worth advertising: a literal, non-wildcard IP; otherwise `fallback`. */
function advertisable(host: string, fallback: string): string {
  const h = normalizeAddress(host);
  if (h === 'localhost') return '127.0.0.1';
  if (isIP(h) === 0 || h === '0.0.0.0' || h === '::') return fallback;
  return h;
}

/**
 * How far an active-mode data connection has got towards the FTP client: the engine holds the
 * transfer's final reply until it is through (pure-ftpd sends a small file's 226 at once; curl gives
 * up on a transfer whose 226 overtook its data connection).
 */
class DataDelivery {
  state: DataConnectionProgress['state'] = 'none';
  readonly settled: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.settled = new Promise((r) => {
      this.resolve = r;
    });
  }
  /** The FTP server's connection arrived; it is being connected on. */
  arrived(): void {
    if (this.state === 'none') this.state = 'connecting';
  }
  /** Through to the FTP client, or failed, or never coming (the listener closed). */
  done(): void {
    this.state = 'done';
    this.resolve();
  }
  progress = (): DataConnectionProgress => ({ state: this.state, settled: this.settled });
}

/** Bytes one session's data channels carried, for its closing log line. */
export interface DataStats {
  toServer: number;
  toClient: number;
}

/** Pipes one data channel (the FTP client's side first), then counts and logs its bytes. */
async function pipeData(
  ctx: BrokerContext,
  stats: DataStats,
  sessionId: string,
  clientSide: Socket | ClientChannel,
  serverSide: Socket | ClientChannel,
  what: string,
): Promise<void> {
  // Counted as the bytes flow: the control session may close (and log) before this pipe does.
  clientSide.on('data', (d: Buffer) => {
    stats.toServer += d.length;
  });
  serverSide.on('data', (d: Buffer) => {
    stats.toClient += d.length;
  });
  const end = (stream: Socket | ClientChannel) => ({ stream, congestion: ctx.link.congestionOf(stream) });
  const st = await relay(end(clientSide), end(serverSide), { drainMs: DATA_DRAIN_MS }).closed;
  ctx.metrics.dataBytes.inc({ direction: 'to_server' }, st.bytesAtoB);
  ctx.metrics.dataBytes.inc({ direction: 'to_client' }, st.bytesBtoA);
  ctx.logger.debug(
    { session: sessionId, to_server: st.bytesAtoB, to_client: st.bytesBtoA },
    `data channel closed: ${what}`,
  );
}

/**
 * A local one-shot listener. Connections from another address than the FTP client's are refused
 * (data-port theft in gateway mode) without using it up; the first right one is handed to
 * `onAccept` and the listener closes. Its lifecycle (idle timeout, release grace) is the gate's.
 */
async function oneShotLocal(
  ctx: BrokerContext,
  seq: LeaseSequence,
  bindHost: string,
  expectPeer: string | undefined,
  idleMs: number,
  onAccept: (sock: Socket) => void,
  onUnused?: () => void,
): Promise<{ port: number; release: () => void }> {
  let server: Server | undefined;
  const gate: OneShotGate = new OneShotGate(
    () => {
      server?.close();
      // Closed without a connection (expired, released, superseded, listener error).
      if (gate.state === 'closed') onUnused?.();
    },
    idleMs,
    ctx.ftp.releaseGraceMs,
  );
  const listening = await listenDataPort(bindHost, ctx.ftp.dataPorts, (sock) => {
    sock.on('error', () => {});
    if (!gate.open) {
      sock.destroy();
      return;
    }
    if (expectPeer && sock.remoteAddress && !sameAddress(sock.remoteAddress, expectPeer)) {
      ctx.logger.warn(
        { expected: expectPeer, got: sock.remoteAddress },
        'data connection from another address than the FTP client refused',
      );
      sock.destroy();
      return;
    }
    gate.take();
    sock.setNoDelay(true);
    onAccept(sock);
  });
  server = listening.server;
  server.on('error', () => gate.close());
  // Closed while listen() was pending (cannot happen today, but keep the listener from leaking).
  if (!gate.open) server.close();
  return { port: listening.port, release: seq.issue(gate) };
}

/**
 * A remote one-shot listener (tcpip-forward, port 0): the first connection from the expected peer
 * is handed to `onAccept`, others are rejected; the forward is cancelled after it, on expiry, or
 * after the release grace (see OneShotGate).
 */
async function oneShotRemote(
  ctx: BrokerContext,
  seq: LeaseSequence,
  bindHost: string,
  expectSrc: string | undefined,
  idleMs: number,
  onAccept: (details: TcpConnectionDetails, accept: () => ClientChannel, reject: () => void) => void,
  onUnused?: () => void,
): Promise<{ port: number; release: () => void }> {
  const link = ctx.link;
  let port = 0;
  const gate: OneShotGate = new OneShotGate(
    () => {
      if (port) link.unlistenRemote(bindHost, port);
      if (gate.state === 'closed') onUnused?.();
    },
    idleMs,
    ctx.ftp.releaseGraceMs,
  );
  port = await link.listenRemote(bindHost, 0, (details, accept, reject) => {
    if (!gate.open) {
      reject();
      return;
    }
    // Refused without using up the listener: the expected peer may still come.
    if (expectSrc && details.srcIP && !sameAddress(details.srcIP, expectSrc)) {
      ctx.logger.warn(
        { expected: expectSrc, got: details.srcIP },
        'data connection from an unexpected address refused',
      );
      reject();
      return;
    }
    gate.take();
    onAccept(details, accept, reject);
  });
  if (!gate.open) link.unlistenRemote(bindHost, port);
  return { port, release: seq.issue(gate) };
}

/**
 * The `direct-tcpip` channel for one data connection of a local one-shot listener, opened as soon
 * as the listener is: the SSH round trip and the SSH server's connect to `target` then overlap with
 * the 227/229 (or 200) travelling to the FTP client and the connection coming back, instead of
 * following it. What the far end sends before the local connection arrives waits in the channel
 * (ssh2 buffers it and withholds window), so an early RETR's bytes are not lost. Closed if the
 * listener closes unused.
 */
class ChannelAhead {
  readonly channel: Promise<ClientChannel>;
  private opened: ClientChannel | undefined;
  private unused = false;

  constructor(ctx: BrokerContext, origin: Endpoint, target: Endpoint) {
    this.channel = ctx.link.openDirect(origin.host, 0, target.host, target.port);
    this.channel.then(
      (ch) => {
        // Until pipeBoth listens: an error on an idle channel must not crash the process.
        ch.on('error', () => {});
        this.opened = ch;
        if (this.unused) ch.close();
      },
      () => {}, // reported to the connection that needed it (directThenPipe)
    );
  }

  /** The listener closed without a connection: nobody will use the channel. */
  discard(): void {
    this.unused = true;
    this.opened?.close();
  }
}

/**
 * A data connection arrived on a local one-shot listener: pipe it into its `direct-tcpip` channel
 * to `target` beyond the SSH server (opened ahead, see ChannelAhead). `target` is the FTP server
 * (passive mode of `-L ftp/`) or the FTP client (active mode of `-R ftp/`).
 */
function directThenPipe(
  ctx: BrokerContext,
  stats: DataStats,
  sessionId: string,
  sock: Socket,
  ahead: ChannelAhead,
  role: 'client' | 'server',
  what: string,
  delivery?: DataDelivery,
): void {
  delivery?.arrived();
  ahead.channel.then(
    // pipeData takes the FTP client's side first.
    (ch) => {
      delivery?.done();
      void (role === 'server'
        ? pipeData(ctx, stats, sessionId, sock, ch, what)
        : pipeData(ctx, stats, sessionId, ch, sock, what));
    },
    (err: unknown) => {
      delivery?.done();
      ctx.metrics.forwardFailures.inc({ kind: 'data-channel' });
      ctx.logger.warn(
        { session: sessionId, err: oneLine(err) },
        `${role === 'server' ? 'passive' : 'active'} data channel failed`,
      );
      sock.destroy();
    },
  );
}

/** Where a local one-shot listener's connection goes, for oneShotLocalToRemote. */
interface LocalToRemote {
  sessionId: string;
  bindHost: string;
  /** The only peer the listener accepts (when known). */
  expectPeer: string | undefined;
  idleMs: number;
  /** What the channel names as its originator: the FTP peer that will connect (port not known yet). */
  origin: Endpoint;
  target: Endpoint;
  /** Which FTP party `target` is. */
  role: 'client' | 'server';
  what: string;
  /** Active mode: told when the connection arrives and when it is through. */
  delivery?: DataDelivery;
}

/**
 * A local one-shot listener whose connection is piped into a `direct-tcpip` channel to `target`,
 * opened ahead (ChannelAhead) and closed if the listener closes unused.
 */
async function oneShotLocalToRemote(
  ctx: BrokerContext,
  seq: LeaseSequence,
  stats: DataStats,
  o: LocalToRemote,
): Promise<{ port: number; release: () => void }> {
  const ahead = new ChannelAhead(ctx, o.origin, o.target);
  try {
    return await oneShotLocal(
      ctx,
      seq,
      o.bindHost,
      o.expectPeer,
      o.idleMs,
      (sock) => directThenPipe(ctx, stats, o.sessionId, sock, ahead, o.role, o.what, o.delivery),
      () => {
        ahead.discard();
        o.delivery?.done();
      },
    );
  } catch (err) {
    ahead.discard();
    throw err;
  }
}

/**
 * A forwarded-tcpip data connection arrived: connect to `target` (the FTP client in active mode of
 * `-L ftp/`, the FTP server in passive mode of `-R ftp/`), accept the channel (connectThenAccept),
 * then pipe the two.
 */
function connectDataThenAccept(
  ctx: BrokerContext,
  stats: DataStats,
  sessionId: string,
  target: Endpoint,
  role: 'client' | 'server',
  accept: () => ClientChannel,
  reject: () => void,
  what: string,
  delivery?: DataDelivery,
): void {
  delivery?.arrived();
  connectThenAccept(target, accept, reject, {
    onConnectError: (err) => {
      delivery?.done();
      ctx.metrics.forwardFailures.inc({ kind: 'data-channel' });
      ctx.logger.warn(
        { session: sessionId, err: oneLine(err) },
        `${role === 'client' ? 'active' : 'passive'} data channel: cannot reach the FTP ${role} at ${target.host}:${target.port}`,
      );
    },
    onAccepted: (sock, ch) => {
      delivery?.done();
      // pipeData takes the FTP client's side first.
      if (role === 'client') void pipeData(ctx, stats, sessionId, sock, ch, what);
      else void pipeData(ctx, stats, sessionId, ch, sock, what);
    },
  });
}

/** Broker for `-L ftp/`: FTP client here, FTP server beyond the SSH server. */
export class LocalFtpBroker implements DataChannelBroker {
  private readonly seq = new LeaseSequence();
  constructor(
    private readonly ctx: BrokerContext,
    readonly stats: DataStats = { toServer: 0, toClient: 0 },
  ) {}

  /** PASV/EPSV: listen where the FTP client reached us; pipe its connection into direct-tcpip. */
  async openPassive(req: PassiveRequest, s: SessionContext): Promise<DataChannelLease> {
    const { ctx } = this;
    const bindHost = bindable(s.controlLocalAddress.host);
    const l = await oneShotLocalToRemote(ctx, this.seq, this.stats, {
      sessionId: s.sessionId,
      bindHost,
      expectPeer: s.clientAddress.host,
      idleMs: req.idleTimeoutMs,
      origin: s.clientAddress,
      target: req.server,
      role: 'server',
      what: `${req.command} -> ${req.server.host}:${req.server.port}`,
    });
    const endpoint: Endpoint = {
      host: ctx.ftp.advertise ?? advertisable(bindHost, '127.0.0.1'),
      port: l.port,
    };
    return { endpoint, release: l.release };
  }

  /**
   * PORT/EPRT: a remote listener on the SSH server (127.0.0.1 or --remote-data-bind, port 0); the
   * FTP server is told that address (or --remote-data-advertise) and its connection is piped to the
   * FTP client's own listener.
   */
  async openActive(req: ActiveRequest, s: SessionContext): Promise<DataChannelLease> {
    const { ctx } = this;
    // The data family toward the server follows the server (RFC 2428), whatever the client speaks.
    const loopback = isIP(literalIp(s.serverAddress.host) ?? '') === 6 ? '::1' : '127.0.0.1';
    const bind = ctx.ftp.remoteDataBind ?? loopback;
    const delivery = new DataDelivery();
    // Only the FTP server may connect (when its address is a literal): another user on the SSH
    // server's host must not receive an upload or feed a download.
    const r = await oneShotRemote(
      ctx,
      this.seq,
      bind,
      literalIp(s.serverAddress.host),
      req.idleTimeoutMs,
      (_d, accept, reject) =>
        connectDataThenAccept(
          ctx,
          this.stats,
          s.sessionId,
          req.client,
          'client',
          accept,
          reject,
          `${req.command} <- ${req.client.host}:${req.client.port}`,
          delivery,
        ),
      () => delivery.done(),
    );
    const endpoint: Endpoint = {
      host: ctx.ftp.remoteDataAdvertise ?? advertisable(bind, loopback),
      port: r.port,
    };
    return { endpoint, release: r.release, dataConnection: delivery.progress };
  }
}

/**
 * Broker for `-R ftp/`: FTP client beyond the SSH server, FTP server here. Passive listeners are
 * remote forwards; active connections are local listeners the FTP server connects to, piped into
 * direct-tcpip channels to the FTP client's listener.
 */
export class RemoteFtpBroker implements DataChannelBroker {
  private readonly seq = new LeaseSequence();
  constructor(
    private readonly ctx: BrokerContext,
    /** Local address of our control connection to the FTP server: the FTP server sees us there. */
    private readonly localControlAddress: string,
    /** The FTP server's address on that connection: the only peer an active data listener accepts. */
    private readonly serverPeerAddress: string | undefined,
    readonly stats: DataStats = { toServer: 0, toClient: 0 },
  ) {}

  async openPassive(req: PassiveRequest, s: SessionContext): Promise<DataChannelLease> {
    const { ctx } = this;
    const bind = ctx.ftp.remoteDataBind ?? bindableRemote(s.controlLocalAddress.host);
    const r = await oneShotRemote(
      ctx,
      this.seq,
      bind,
      s.clientAddress.host,
      req.idleTimeoutMs,
      (_d, accept, reject) =>
        connectDataThenAccept(
          ctx,
          this.stats,
          s.sessionId,
          req.server,
          'server',
          accept,
          reject,
          `${req.command} -> ${req.server.host}:${req.server.port}`,
        ),
    );
    const endpoint: Endpoint = { host: ctx.ftp.advertise ?? advertisable(bind, '127.0.0.1'), port: r.port };
    return { endpoint, release: r.release };
  }

  async openActive(req: ActiveRequest, s: SessionContext): Promise<DataChannelLease> {
    const { ctx } = this;
    const bindHost = bindable(this.localControlAddress);
    const delivery = new DataDelivery();
    const l = await oneShotLocalToRemote(ctx, this.seq, this.stats, {
      delivery,
      sessionId: s.sessionId,
      bindHost,
      expectPeer: this.serverPeerAddress,
      idleMs: req.idleTimeoutMs,
      origin: { host: this.serverPeerAddress ?? s.serverAddress.host, port: 0 },
      target: req.client,
      role: 'client',
      what: `${req.command} -> ${req.client.host}:${req.client.port}`,
    });
    const endpoint: Endpoint = {
      host: ctx.ftp.remoteDataAdvertise ?? advertisable(bindHost, '127.0.0.1'),
      port: l.port,
    };
    return { endpoint, release: l.release, dataConnection: delivery.progress };
  }
}

/** The bind address for a remote data listener next to a remote control listener. */
function bindableRemote(controlBind: string): string {
  if (controlBind === 'localhost' || controlBind === '') return controlBind === '' ? '' : '127.0.0.1';
  return controlBind;
}

/**
 * One SSH connection: the coordinator of its jobs — authentication (authentication.ts), direct-tcpip
 * policy and connect (direct-tcpip.ts), remote forwards and active-mode slots (remote-forwards.ts),
 * FTP observation and permits (ftp-control.ts), channels and their relays (channels.ts) — and of
 * what belongs to the connection itself: its timers, its re-keying, draining, and the summary at
 * close. A misbehaving client can only end this connection.
 */
import type { Socket } from 'node:net';
import {
  enforceRekeyLimit,
  noCommonAlgorithm,
  packetPoolEnabled,
  poolOutgoingPackets,
  rejectChannel,
  SocketCongestion,
  watchPeerKexInit,
} from '@ftpfwd/ftp-proxy/transport';
import type { Logger } from 'pino';
import type {
  AcceptConnection,
  Channel,
  Connection,
  RejectConnection,
  TcpipBindInfo,
  TcpipRequestInfo,
} from 'ssh2';
import { Authentication, type Login } from './authentication.js';
import { ChannelSet, type ConnectionScope, type Emit, type LoginState, OPEN_FAILURE } from './channels.js';
import { DirectTcpip } from './direct-tcpip.js';
import { FtpControls } from './ftp-control.js';
import type { PasswordChecks } from './password-checks.js';
import type { SourcePenalties } from './penalties.js';
import { normalizeAddress } from './policy.js';
import { RemoteForwards } from './remote-forwards.js';
import type { ResolvedServerOptions } from './types.js';

export { OPEN_FAILURE } from './channels.js';

export const SESSION_REFUSED_MESSAGE =
  'ftpfwd-sshd only forwards ports: no shell, command or subsystem here (use ssh -N with -L/-R)';

export interface ConnectionDeps {
  id: string;
  socket: Socket;
  options: ResolvedServerOptions;
  logger: Logger;
  emit: Emit;
  passwordChecks: PasswordChecks;
  penalties: SourcePenalties;
  /** Its startup slot (MaxStartups): given back once it logs in or closes. */
  releaseStartup: () => void;
  /** Its SSH key exchange finished: its startup slot is no longer taken for a newcomer. */
  handshakeDone: () => void;
  /** A login succeeded: false when the server already has limits.maxConnections logged in. */
  onLogin: () => boolean;
}

export class SshConnection {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  private client: Connection | undefined;
  private readonly socket: Socket;
  private readonly opts: ResolvedServerOptions;
  private readonly log: Logger;
  private readonly deps: ConnectionDeps;
  private readonly auth: Authentication;
  private readonly channels: ChannelSet;
  private readonly direct: DirectTcpip;
  private readonly remote: RemoteForwards;
  private loggedIn: LoginState | undefined;
  private graceExpired = false;
  private readonly startedAt = Date.now();
  private lastActivity = Date.now();
  private graceTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private draining = false;
  /** The cipher the first key exchange chose (RekeyLimit's default depends on it). */
  private cipher = '';
  /** The client's KEXINIT as it came: a failed negotiation can then say what it offered. */
  private readonly peerOffer: ReturnType<typeof watchPeerKexInit>;
  private readonly closeWaiters: (() => void)[] = [];

  constructor(deps: ConnectionDeps) {
    this.deps = deps;
    this.id = deps.id;
    this.socket = deps.socket;
    this.peerOffer = watchPeerKexInit(deps.socket);
    this.opts = deps.options;
    this.ip = normalizeAddress(deps.socket.remoteAddress ?? '?');
    this.port = deps.socket.remotePort ?? 0;
    this.log = deps.logger.child({ conn: this.id, ip: this.ip });
    const touch = (): void => {
      this.lastActivity = Date.now();
    };
    this.channels = new ChannelSet({
      congestion: new SocketCongestion(deps.socket),
      limit: this.opts.limits.maxChannelsPerConnection,
      log: this.log,
      touch,
      user: () => this.loggedIn?.user,
      dataIdleMs: this.opts.ftp.dataIdleTimeoutMs,
      onClosed: () => this.checkDrained(),
    });
    const ftp = new FtpControls({
      connectionId: this.id,
      log: this.log,
      policy: this.opts.ftp,
      ttlMs: this.opts.limits.ftpPermitTimeoutMs,
      maxPerControl: this.opts.limits.maxFtpPermitsPerControl,
      user: () => this.loggedIn?.user,
      ownForward: (port) => this.remote.ownForward(port),
      emit: (e) => deps.emit('ftp', e),
    });
    const scope: ConnectionScope = {
      id: this.id,
      ip: this.ip,
      opts: this.opts,
      log: this.log,
      emit: deps.emit,
      ftp,
      channels: this.channels,
      client: () => this.client,
      login: () => this.loggedIn,
      isClosed: () => this.closed,
      isDraining: () => this.draining,
      touch,
      guarded: (fn) => this.guarded(fn),
    };
    this.direct = new DirectTcpip(scope);
    this.remote = new RemoteForwards(scope, () => this.checkDrained());
    this.auth = new Authentication({
      connectionId: this.id,
      ip: this.ip,
      opts: this.opts,
      log: this.log,
      passwordChecks: deps.passwordChecks,
      penalties: deps.penalties,
      emit: (e) => deps.emit('auth', e),
      onLogin: (login) => this.onLogin(login),
      end: () => this.client?.end(),
      isOpen: () => !this.closed,
    });
    if (this.opts.limits.loginGraceTimeMs > 0) {
      this.graceTimer = setTimeout(() => {
        this.graceExpired = true;
        this.log.warn({ event: 'login-grace-expired' }, 'no successful login within the grace time; closing');
        this.penalize('graceExceeded');
        this.socket.destroy();
      }, this.opts.limits.loginGraceTimeMs);
      this.graceTimer.unref();
    }
    this.socket.once('close', () => this.onClosed());
  }

  /** OpenSSH's line for a client with no algorithm in common, both offers named. */
  private noCommonAlgorithm(): void {
    const theirs = this.peerOffer.offer();
    const a = this.opts.algorithms;
    const hostkey = this.opts.hostKeys.flatMap((k) =>
      k.type === 'ssh-rsa' ? a.hostkey.filter((x) => /^(rsa-sha2-(256|512)|ssh-rsa)$/.test(x)) : [k.type],
    );
    const line = theirs
      ? noCommonAlgorithm(
          {
            kex: a.kex,
            hostkey,
            cipher: a.cipher,
            mac: a.mac,
            compress: ['none', 'zlib@openssh.com', 'zlib'],
          },
          theirs,
          { host: this.ip, port: this.port },
          false,
        )
      : undefined;
    this.log.warn(
      { event: 'negotiation-failed', reason: line ?? 'no algorithm in common' },
      line ?? `Unable to negotiate with ${this.ip} port ${this.port}: no algorithm in common`,
    );
  }

  /** The user logged in on this connection, if any. */
  get user(): string | undefined {
    return this.loggedIn?.user;
  }

  /** Called by the server once ssh2 has parsed the client's identification. */
  attach(c: Connection): void {
    this.client = c;
    c.on('error', (err: Error & { level?: string }) => {
      this.log.debug({ event: 'client-error', err: err.message, level: err.level }, 'connection error');
      if (/^Handshake failed: no matching/.test(err.message)) this.noCommonAlgorithm();
    });
    c.on('authentication', (ctx) => this.auth.handle(ctx));
    c.once('handshake', (negotiated) => {
      this.cipher = negotiated.cs.cipher;
      this.deps.handshakeDone();
    });
    c.on('rekey', () => this.log.debug({ event: 'rekey' }, 'SSH keys renewed'));
    c.on('ready', () => this.onReady());
    c.on('session', (_accept: AcceptConnection, reject: RejectConnection) => {
      this.lastActivity = Date.now();
      this.log.info({ event: 'session-refused' }, 'session channel refused (forwarding only)');
      rejectChannel(c, reject, OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, SESSION_REFUSED_MESSAGE);
    });
    c.on('tcpip', (accept: AcceptConnection<Channel>, reject: RejectConnection, info: TcpipRequestInfo) =>
      this.direct.handle(accept, reject, info),
    );
    c.on('request', (accept, reject, name, info) => {
      this.lastActivity = Date.now();
      if (name === 'tcpip-forward') this.remote.request(accept, reject, info as TcpipBindInfo);
      else if (name === 'cancel-tcpip-forward') this.remote.cancel(accept, reject, info as TcpipBindInfo);
      else {
        this.log.info({ event: 'request-refused', request: name }, 'global request refused');
        reject?.();
      }
    });
  }

  get openChannels(): number {
    return this.channels.open;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onLogin(login: Login): boolean {
    if (!this.deps.onLogin()) {
      this.log.warn(
        {
          event: 'connection-refused',
          user: login.user,
          reason: `max-connections ${this.opts.limits.maxConnections}`,
        },
        'login refused: too many logged-in connections',
      );
      return false;
    }
    this.loggedIn = {
      user: login.user,
      keyRef: login.detail.split(' ')[0] ?? '',
      restrictions: login.restrictions,
      userEntry: login.userEntry,
    };
    this.deps.releaseStartup();
    return true;
  }

  /** A penalty for this connection's source (penalties.ts); logged when it starts a refusal. */
  private penalize(kind: 'noauth' | 'graceExceeded' | 'authfail'): void {
    const blockMs = this.deps.penalties.penalize(this.ip, kind);
    if (blockMs > 0)
      this.log.warn(
        { event: 'penalty', ip: this.ip, kind, blockMs },
        `source refused for ${Math.ceil(blockMs / 1000)} s (${kind})`,
      );
  }

  private onReady(): void {
    const client = this.client!;
    const pool = poolOutgoingPackets(client, packetPoolEnabled());
    this.log.debug({ event: 'packet-pool', result: pool }, `outgoing packets: ${pool}`);
    // ssh2 never starts a key exchange by itself; a client that does not either would otherwise
    // keep its first keys for the life of the connection.
    enforceRekeyLimit(client, this.socket, this.opts.limits.rekeyLimit, this.cipher, (reason: string) => {
      this.log.debug({ event: 'rekey-start', reason }, 'SSH re-key started');
      client.rekey();
    });
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.scheduleIdle();
  }

  private scheduleIdle(): void {
    const idle = this.opts.limits.idleTimeoutMs;
    if (idle <= 0 || this.closed) return;
    const due = this.lastActivity + idle - Date.now();
    this.idleTimer = setTimeout(
      () => {
        if (Date.now() - this.lastActivity >= idle) {
          this.log.info({ event: 'idle-timeout', idleMs: idle }, 'idle timeout; closing');
          this.end();
        } else {
          this.scheduleIdle();
        }
      },
      Math.max(due, 50),
    );
    this.idleTimer.unref();
  }

  /**
   * Wrap a callback that runs outside ssh2's parser (timers, sockets, promises): an exception in it
   * would otherwise reach the process. Here it ends this connection only.
   */
  private guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        this.log.error(
          { event: 'internal-error', err: (err as Error).message },
          'error handling this connection; closing it',
        );
        this.destroy();
      }
    };
  }

  // ---------------------------------------------------------------- shutdown

  /** Stop taking new forwards, close listeners; resolve when channels are gone or `ms` passed. */
  drain(ms: number): Promise<void> {
    this.draining = true;
    this.remote.closeAll('server shutting down');
    return new Promise((resolve) => {
      if (this.closed) {
        resolve();
        return;
      }
      const t = setTimeout(() => {
        this.end();
        resolve();
      }, ms);
      t.unref();
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    if (this.draining && this.channels.open === 0 && this.remote.size === 0 && !this.closed) this.end();
  }

  end(): void {
    if (this.closed) return;
    try {
      if (this.client) this.client.end();
      else this.socket.destroy();
    } catch {}
    const t = setTimeout(() => this.socket.destroy(), 1_000);
    t.unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const authenticated = this.loggedIn !== undefined;
    if (!authenticated) {
      this.deps.releaseStartup();
      // As OpenSSH: a connection that ended without a login is penalised once, unless its failed
      // checks already were, each, or the grace time already penalised it.
      if (this.auth.failures > this.auth.checkedFailures && this.auth.checkedFailures === 0)
        this.penalize('authfail');
      else if (!this.auth.attempted && !this.graceExpired) this.penalize('noauth');
    }
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.direct.abort();
    const bytes = this.channels.destroyAll();
    this.remote.closeAll('connection closed');
    const summary = {
      connection: this.id,
      ip: this.ip,
      user: this.loggedIn?.user,
      ...bytes,
      durationMs: Date.now() - this.startedAt,
    };
    if (authenticated) this.log.info({ event: 'close', ...summary }, 'connection closed');
    else this.log.debug({ event: 'close', ...summary }, 'connection closed before login');
    this.deps.emit('connection-close', summary);
    for (const w of this.closeWaiters.splice(0)) w();
  }
}

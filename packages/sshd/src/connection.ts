/**
 * One SSH connection: authentication, then the forwarding it may do. Everything a client sends is
 * checked against the policy here; a misbehaving client can only end this connection.
 */
import { createServer, type Server as NetServer, connect as netConnect, type Socket } from 'node:net';
import { enforceRekeyLimit, listenPort, poolOutgoingPackets, SocketCongestion } from '@ftpfwd/ftp-proxy';
import type { Logger } from 'pino';
import type {
  AcceptConnection,
  Channel,
  Connection,
  RejectConnection,
  ServerChannel,
  TcpipBindInfo,
  TcpipRequestInfo,
} from 'ssh2';
import { Authentication, type Login } from './authentication.js';
import type { KeyRestrictions } from './authorized-keys.js';
import { type Bridge, bridge, controlBridge } from './bridge.js';
import { type FtpControl, FtpControls } from './ftp-control.js';
import type { PasswordChecks } from './password-checks.js';
import type { SourcePenalties } from './penalties.js';
import {
  matchPermitListen,
  matchPermitOpen,
  normalizeAddress,
  type PermitListenRule,
  type PermitOpenRule,
  resolveBindAddress,
} from './policy.js';
import type { ResolvedServerOptions, ServerEvents, UserEntry } from './types.js';

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 §5.1). */
export const OPEN_FAILURE = {
  ADMINISTRATIVELY_PROHIBITED: 1,
  CONNECT_FAILED: 2,
  UNKNOWN_CHANNEL_TYPE: 3,
  RESOURCE_SHORTAGE: 4,
} as const;

export const SESSION_REFUSED_MESSAGE =
  'ftpfwd-sshd only forwards ports: no shell, command or subsystem here (use ssh -N with -L/-R)';

interface ProtocolLike {
  channelOpenFail(remote: number, reason: number, desc: string): void;
}

/**
 * ssh2's reject() for an incoming channel picks the reason code itself (CONNECT_FAILED once a
 * channel number was reserved), so OpenSSH would print "connect failed" for a policy refusal. The
 * reject is synchronous: for its duration, route the failure message through one that carries the
 * reason and description we chose.
 */
export function rejectChannel(
  client: Connection,
  reject: RejectConnection,
  reason: number,
  description: string,
): void {
  const proto = (client as unknown as { _protocol?: ProtocolLike })._protocol;
  const original = proto?.channelOpenFail;
  if (!proto || typeof original !== 'function') {
    reject();
    return;
  }
  proto.channelOpenFail = (remote: number) => original.call(proto, remote, reason, description);
  try {
    reject();
  } finally {
    proto.channelOpenFail = original;
  }
}

interface RemoteForward {
  /** Address as the client asked for it (sent back in forwarded-tcpip, matched on cancel). */
  requestedAddr: string;
  bindAddr: string;
  port: number;
  server: NetServer;
  /** An FTP active-mode slot: one connection, from the FTP server, after PORT/EPRT named it. */
  ftpSlot: boolean;
}

type Emit = <K extends keyof ServerEvents>(event: K, payload: ServerEvents[K]) => void;

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
  user: string | undefined;
  private client: Connection | undefined;
  private readonly socket: Socket;
  private readonly opts: ResolvedServerOptions;
  private readonly log: Logger;
  private readonly emit: Emit;
  private readonly deps: ConnectionDeps;
  private readonly auth: Authentication;
  private authenticated = false;
  private graceExpired = false;
  private restrictions: KeyRestrictions | undefined;
  /** `file:line` of the authorized key used, for log lines that name the rule deciding. */
  private keyRef = '';
  private userEntry: UserEntry | undefined;
  private channels = 0;
  private readonly pending = new Set<Socket>();
  private readonly bridges = new Set<Bridge>();
  /** This connection's SSH socket, shared by every bridge feeding it (one 'drain' listener). */
  private readonly congestion: SocketCongestion;
  /** Keyed by bound address and port: with clientspecified, one port may be bound on two addresses. */
  private readonly forwards = new Map<string, RemoteForward>();
  /** FTP slots this server closed itself (used or expired): the client's later cancel is no error. */
  private readonly retiredSlots = new Set<number>();
  private pendingListens = 0;
  private readonly ftp: FtpControls;
  private bytesFromClient = 0;
  private bytesToClient = 0;
  private readonly startedAt = Date.now();
  private lastActivity = Date.now();
  private graceTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private draining = false;
  /** The cipher the first key exchange chose (RekeyLimit's default depends on it). */
  private cipher = '';
  private readonly closeWaiters: (() => void)[] = [];

  constructor(deps: ConnectionDeps) {
    this.deps = deps;
    this.id = deps.id;
    this.socket = deps.socket;
    this.congestion = new SocketCongestion(deps.socket);
    this.opts = deps.options;
    this.ip = normalizeAddress(deps.socket.remoteAddress ?? '?');
    this.port = deps.socket.remotePort ?? 0;
    this.log = deps.logger.child({ conn: this.id, ip: this.ip });
    this.emit = deps.emit;
    this.ftp = new FtpControls({
      connectionId: this.id,
      log: this.log,
      policy: this.opts.ftp,
      ttlMs: this.opts.limits.ftpPermitTimeoutMs,
      maxPerControl: this.opts.limits.maxFtpPermitsPerControl,
      user: () => this.user,
      ownForward: (port) => {
        for (const f of this.forwards.values()) if (f.port === port && !f.ftpSlot) return f.bindAddr;
        return undefined;
      },
      emit: (e) => this.emit('ftp', e),
    });

    this.auth = new Authentication({
      connectionId: this.id,
      ip: this.ip,
      opts: this.opts,
      log: this.log,
      passwordChecks: deps.passwordChecks,
      penalties: deps.penalties,
      emit: (e) => this.emit('auth', e),
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

  /** Called by the server once ssh2 has parsed the client's identification. */
  attach(c: Connection): void {
    this.client = c;
    c.on('error', (err: Error & { level?: string }) => {
      this.log.debug({ event: 'client-error', err: err.message, level: err.level }, 'connection error');
    });
    c.on('authentication', (ctx) => this.auth.handle(ctx));
    c.once('handshake', (negotiated) => {
      this.cipher = negotiated.cs.cipher;
      this.deps.handshakeDone();
    });
    c.on('rekey', () => this.log.debug({ event: 'rekey' }, 'SSH keys renewed'));
    c.on('ready', () => this.onReady());
    c.on('session', (_accept: AcceptConnection, reject: RejectConnection) => {
      this.touch();
      this.log.info({ event: 'session-refused' }, 'session channel refused (forwarding only)');
      rejectChannel(c, reject, OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, SESSION_REFUSED_MESSAGE);
    });
    c.on('tcpip', (accept: AcceptConnection<Channel>, reject: RejectConnection, info: TcpipRequestInfo) =>
      this.onDirectTcpip(accept, reject, info),
    );
    c.on('request', (accept, reject, name, info) => {
      this.touch();
      if (name === 'tcpip-forward') this.onTcpipForward(accept, reject, info as TcpipBindInfo);
      else if (name === 'cancel-tcpip-forward') this.onCancelForward(accept, reject, info as TcpipBindInfo);
      else {
        this.log.info({ event: 'request-refused', request: name }, 'global request refused');
        reject?.();
      }
    });
  }

  get openChannels(): number {
    return this.channels;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- authentication

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
    this.user = login.user;
    this.keyRef = login.detail.split(' ')[0] ?? '';
    this.restrictions = login.restrictions;
    this.userEntry = login.userEntry;
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
    this.authenticated = true;
    poolOutgoingPackets(this.client);
    const client = this.client!;
    // ssh2 never starts a key exchange by itself; a client that does not either would otherwise
    // keep its first keys for the life of the connection.
    enforceRekeyLimit(client, this.socket, this.opts.limits.rekeyLimit, this.cipher, (reason) => {
      this.log.debug({ event: 'rekey-start', reason }, 'SSH re-key started');
      client.rekey();
    });
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.scheduleIdle();
  }

  // ---------------------------------------------------------------- activity and limits

  private touch(): void {
    this.lastActivity = Date.now();
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

  private forwardingAllowed(direction: 'local' | 'remote'): string | undefined {
    const atf = this.userEntry?.allowTcpForwarding ?? this.opts.allowTcpForwarding;
    if (
      atf === 'no' ||
      (atf === 'local' && direction === 'remote') ||
      (atf === 'remote' && direction === 'local')
    ) {
      return `allow-tcp-forwarding ${atf}`;
    }
    if (this.restrictions?.noPortForwarding) return 'no-port-forwarding (authorized_keys)';
    return undefined;
  }

  private channelBudget(): boolean {
    return this.channels < this.opts.limits.maxChannelsPerConnection;
  }

  // ---------------------------------------------------------------- direct-tcpip

  private decideOpen(
    host: string,
    port: number,
  ): { ok: boolean; rule: string; ftp: boolean; ftpHostNamed: boolean; ftpData?: string; command?: string } {
    const blocked = this.forwardingAllowed('local');
    if (blocked) return { ok: false, rule: blocked, ftp: false, ftpHostNamed: false };
    const serverRules: PermitOpenRule[] = this.userEntry?.permitOpen ?? this.opts.permitOpen;
    const serverMatch = matchPermitOpen(serverRules, host, port);
    const keyRules = this.restrictions?.permitOpen;
    const keyMatch = keyRules ? matchPermitOpen(keyRules, host, port) : undefined;
    if (serverMatch && (!keyRules || keyMatch)) {
      const ftpRules = [serverMatch, keyMatch].filter(
        (r): r is Extract<PermitOpenRule, { kind: 'hostport' }> => r?.kind === 'hostport' && r.ftp,
      );
      const ftp = ftpRules.length > 0;
      // A 227 naming another host is believed only if a rule names this FTP server, not a wildcard.
      const ftpHostNamed = ftpRules.some((r) => r.host !== '*');
      const rule = keyMatch
        ? `permit-open ${serverMatch.spec} + permitopen="${keyMatch.spec}"`
        : `permit-open ${serverMatch.spec}`;
      return { ok: true, rule, ftp, ftpHostNamed };
    }
    // Not permitted by a rule: perhaps a data channel an FTP control channel of this connection announced.
    const permit = this.ftp.takePassive(host, port);
    if (permit.ok)
      return {
        ok: true,
        rule: permit.reason,
        ftp: false,
        ftpHostNamed: false,
        ftpData: permit.controlId,
        command: permit.command,
      };
    const refusedBy = serverMatch
      ? `permitopen= of key ${this.keyRef}`
      : `permit-open ${describeRules(serverRules)}`;
    return { ok: false, rule: refusedBy, ftp: false, ftpHostNamed: false };
  }

  private onDirectTcpip(
    accept: AcceptConnection<Channel>,
    reject: RejectConnection,
    info: TcpipRequestInfo,
  ): void {
    this.touch();
    const host = info.destIP;
    const port = info.destPort;
    const target = `${host}:${port}`;
    if (this.draining) {
      rejectChannel(
        this.client!,
        reject,
        OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
        'server is shutting down',
      );
      return;
    }
    // Before the policy: a refused-for-capacity channel must not use up a one-shot FTP permit.
    if (!this.channelBudget()) {
      this.log.warn(
        { event: 'forward', kind: 'direct-tcpip', target, allowed: false, rule: 'max-channels' },
        'too many channels',
      );
      rejectChannel(
        this.client!,
        reject,
        OPEN_FAILURE.RESOURCE_SHORTAGE,
        'ftpfwd-sshd: too many open channels',
      );
      return;
    }
    if (!isValidPort(port) || port === 0 || !isSaneHost(host, false)) {
      this.log.info(
        { event: 'forward', kind: 'direct-tcpip', target, allowed: false, rule: 'malformed request' },
        'direct-tcpip refused',
      );
      rejectChannel(
        this.client!,
        reject,
        OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
        'ftpfwd-sshd: malformed destination',
      );
      return;
    }
    const decision = this.decideOpen(host, port);
    if (!decision.ok) {
      this.log.info(
        {
          event: 'forward',
          kind: 'direct-tcpip',
          user: this.user,
          target,
          allowed: false,
          rule: decision.rule,
        },
        'direct-tcpip refused',
      );
      this.emit('forward', {
        connection: this.id,
        kind: 'direct-tcpip',
        target,
        allowed: false,
        rule: decision.rule,
      });
      rejectChannel(
        this.client!,
        reject,
        OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
        `ftpfwd-sshd: forwarding to ${target} is not permitted`,
      );
      return;
    }
    this.channels += 1;
    const sock = netConnect({ host, port, allowHalfOpen: true });
    sock.setNoDelay(true);
    this.pending.add(sock);
    let settled = false;
    const timer = setTimeout(
      () => sock.destroy(new Error(`timed out after ${this.opts.limits.connectTimeoutMs} ms`)),
      this.opts.limits.connectTimeoutMs,
    );
    timer.unref();
    sock.once(
      'error',
      this.guarded((err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(sock);
        this.channels -= 1;
        const why = err.code ?? err.message;
        this.log.info(
          { event: 'forward', kind: 'direct-tcpip', target, allowed: true, rule: decision.rule, error: why },
          'direct-tcpip connect failed',
        );
        this.emit('forward', {
          connection: this.id,
          kind: 'direct-tcpip',
          target,
          allowed: true,
          rule: decision.rule,
          error: why,
        });
        if (!this.closed)
          rejectChannel(
            this.client!,
            reject,
            OPEN_FAILURE.CONNECT_FAILED,
            `connect to ${target} failed: ${why}`,
          );
      }),
    );
    sock.once(
      'connect',
      this.guarded(() => {
        settled = true;
        clearTimeout(timer);
        this.pending.delete(sock);
        if (this.closed) {
          this.channels -= 1;
          sock.destroy();
          return;
        }
        const channel = accept();
        if (!channel) {
          this.channels -= 1;
          sock.destroy();
          return;
        }
        // Every channel an FTP announcement permitted is audited at info, with its user and command.
        if (decision.ftpData)
          this.log.info(
            {
              event: 'forward',
              kind: 'direct-tcpip',
              user: this.user,
              command: decision.command,
              target,
              allowed: true,
              rule: decision.rule,
            },
            'direct-tcpip opened (FTP data)',
          );
        else
          this.log.info(
            {
              event: 'forward',
              kind: 'direct-tcpip',
              target,
              allowed: true,
              rule: decision.rule,
              ftp: decision.ftp || undefined,
            },
            'direct-tcpip opened',
          );
        this.emit('forward', {
          connection: this.id,
          kind: 'direct-tcpip',
          target,
          allowed: true,
          rule: decision.rule,
        });
        if (decision.ftp) this.runControlBridge(channel, sock, host, target, decision.ftpHostNamed);
        else this.runBridge(channel, sock, target, decision.ftpData !== undefined);
      }),
    );
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

  /** A data or plain forward: bytes straight across; FTP data channels close when idle too long. */
  private runBridge(channel: Channel, sock: Socket, target: string, ftpData: boolean): void {
    const idleMs = ftpData ? this.opts.ftp.dataIdleTimeoutMs : 0;
    const b = bridge(channel, sock, {
      congestion: this.congestion,
      onFromClient: () => this.touch(),
      onToClient: () => this.touch(),
      idleTimeoutMs: idleMs,
      onIdle: () =>
        this.log.info(
          { event: 'ftp-data-idle', user: this.user, target, idleMs },
          'FTP data channel idle too long; closed',
        ),
      onClose: (stats) => this.bridgeClosed(b, target, stats),
    });
    this.bridges.add(b);
  }

  /** An FTP control channel: its bytes go through a guard, its announcements become permits. */
  private runControlBridge(
    channel: Channel,
    sock: Socket,
    requestedHost: string,
    target: string,
    ruleNamesServer: boolean,
  ): void {
    let control: FtpControl | undefined;
    const b = controlBridge(
      channel,
      sock,
      (outputs) => {
        control = this.ftp.open(requestedHost, sock.remoteAddress ?? requestedHost, ruleNamesServer, outputs);
        return control.guard;
      },
      {
        onFromClient: () => this.touch(),
        onToClient: () => this.touch(),
        onClose: (stats) => {
          if (control) this.ftp.closed(control.id);
          this.bridgeClosed(b, target, stats);
        },
      },
    );
    this.bridges.add(b);
  }

  private bridgeClosed(b: Bridge, target: string, stats: Bridge['stats']): void {
    this.channels -= 1;
    this.bridges.delete(b);
    this.bytesFromClient += stats.bytesFromClient;
    this.bytesToClient += stats.bytesToClient;
    this.log.debug({ event: 'channel-close', target, ...stats }, 'channel closed');
    this.checkDrained();
  }

  // ---------------------------------------------------------------- tcpip-forward

  private onTcpipForward(
    accept: ((port?: number) => void) | undefined,
    reject: (() => void) | undefined,
    info: TcpipBindInfo,
  ): void {
    const requested = `${info.bindAddr}:${info.bindPort}`;
    const refuse = (rule: string): void => {
      this.log.info(
        { event: 'forward', kind: 'tcpip-forward', target: requested, allowed: false, rule },
        'remote forward refused',
      );
      this.emit('forward', {
        connection: this.id,
        kind: 'tcpip-forward',
        target: requested,
        allowed: false,
        rule,
      });
      reject?.();
    };
    if (this.draining) {
      refuse('server is shutting down');
      return;
    }
    // The wire format allows any uint32 (and any string): refuse what no socket API would take.
    if (!isValidPort(info.bindPort) || !isSaneHost(info.bindAddr, true)) {
      refuse('malformed request (address or port out of range)');
      return;
    }
    const blocked = this.forwardingAllowed('remote');
    if (blocked) {
      refuse(blocked);
      return;
    }
    if (this.forwards.size + this.pendingListens >= this.opts.limits.maxChannelsPerConnection) {
      refuse('max-channels (listeners)');
      return;
    }
    const serverRules: PermitListenRule[] = this.userEntry?.permitListen ?? this.opts.permitListen;
    const serverMatch = matchPermitListen(serverRules, info.bindAddr, info.bindPort);
    const keyRules = this.restrictions?.permitListen;
    const keyMatch = keyRules ? matchPermitListen(keyRules, info.bindAddr, info.bindPort) : undefined;
    let rule: string;
    let ftpSlot = false;
    if (serverMatch && (!keyRules || keyMatch)) {
      rule = `permit-listen ${serverMatch.spec}${keyMatch ? ` + permitlisten="${keyMatch.spec}"` : ''}`;
    } else if (info.bindPort === 0 && this.ftp.mayOpenSlot()) {
      rule = 'FTP active-mode slot (open FTP control channel)';
      ftpSlot = true;
    } else {
      refuse(
        serverMatch ? `permitlisten= of key ${this.keyRef}` : `permit-listen ${describeRules(serverRules)}`,
      );
      return;
    }
    const bindAddr = resolveBindAddress(this.opts.gatewayPorts, info.bindAddr);
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    this.pendingListens += 1;
    // Port 0 (every FTP active-mode slot) is picked by listenPort: the kernel's own port-0 search
    // slows down with the TIME_WAIT connections earlier transfers leave.
    listenPort(server, bindAddr, info.bindPort).then(
      this.guarded((port: number) => {
        this.pendingListens -= 1;
        if (this.closed || this.draining) {
          server.close();
          reject?.();
          return;
        }
        server.on('error', (err) =>
          this.log.warn({ event: 'listener-error', port, err: err.message }, 'remote-forward listener error'),
        );
        const fwd: RemoteForward = { requestedAddr: info.bindAddr, bindAddr, port, server, ftpSlot };
        this.forwards.set(fwdKey(fwd), fwd);
        if (ftpSlot) {
          this.ftp.openSlot(port, bindAddr);
          // The slot lives as long as its permit: close the listener when it expires unused.
          const t = setTimeout(() => {
            if (this.forwards.get(fwdKey(fwd)) === fwd && !this.ftp.hasSlot(port))
              this.closeForward(fwd, 'FTP slot expired');
          }, this.opts.limits.ftpPermitTimeoutMs + 50);
          t.unref();
          server.once('close', () => clearTimeout(t));
        }
        server.on(
          'connection',
          this.guarded((sock: Socket) => this.onForwardedConnection(fwd, sock)),
        );
        const listen = `${bindAddr}:${port}`;
        // A one-shot FTP slot is one per active-mode transfer: debug, like the data channel it carries.
        if (ftpSlot)
          this.log.debug(
            { event: 'forward', kind: 'tcpip-forward', target: requested, listen, allowed: true, rule },
            'FTP active-mode slot listening',
          );
        else
          this.log.info(
            { event: 'forward', kind: 'tcpip-forward', target: requested, listen, allowed: true, rule },
            'remote forward listening',
          );
        this.emit('forward', {
          connection: this.id,
          kind: 'tcpip-forward',
          target: requested,
          allowed: true,
          rule,
          port,
        });
        accept?.(port);
      }),
      this.guarded((err: NodeJS.ErrnoException) => {
        this.pendingListens -= 1;
        refuse(`listen on ${bindAddr}:${info.bindPort} failed: ${err.code ?? err.message}`);
      }),
    );
  }

  private onForwardedConnection(fwd: RemoteForward, sock: Socket): void {
    this.touch();
    sock.setNoDelay(true);
    sock.on('error', () => {});
    const peer = `${normalizeAddress(sock.remoteAddress ?? '?')}:${sock.remotePort ?? 0}`;
    const target = `${fwd.bindAddr}:${fwd.port}`;
    let rule = 'remote forward';
    let command: string | undefined;
    if (fwd.ftpSlot) {
      const d = this.ftp.admitActive(fwd.port, sock.remoteAddress ?? '');
      if (!d.ok) {
        this.log.info(
          {
            event: 'forward',
            kind: 'forwarded-tcpip',
            user: this.user,
            target,
            peer,
            allowed: false,
            rule: d.reason,
          },
          'connection to FTP slot refused',
        );
        this.emit('forward', {
          connection: this.id,
          kind: 'forwarded-tcpip',
          target,
          allowed: false,
          rule: d.reason,
        });
        sock.destroy();
        return;
      }
      rule = d.reason;
      command = d.command;
      // One connection per slot: stop listening now (the accepted socket lives on).
      this.closeForward(fwd, 'FTP slot used');
    }
    if (this.closed || this.draining || !this.channelBudget()) {
      sock.destroy();
      return;
    }
    this.channels += 1;
    this.client!.forwardOut(
      fwd.requestedAddr,
      fwd.port,
      sock.remoteAddress ?? '',
      sock.remotePort ?? 0,
      this.guarded((err: Error | undefined, channel: ServerChannel) => {
        if (err || this.closed) {
          this.channels -= 1;
          this.log.info(
            {
              event: 'forward',
              kind: 'forwarded-tcpip',
              target,
              peer,
              allowed: true,
              rule,
              error: err?.message,
            },
            'client refused forwarded-tcpip',
          );
          sock.destroy();
          channel?.close();
          return;
        }
        if (fwd.ftpSlot)
          this.log.info(
            {
              event: 'forward',
              kind: 'forwarded-tcpip',
              user: this.user,
              command,
              target,
              peer,
              allowed: true,
              rule,
            },
            'forwarded-tcpip opened (FTP data)',
          );
        else
          this.log.info(
            { event: 'forward', kind: 'forwarded-tcpip', target, peer, allowed: true, rule },
            'forwarded-tcpip opened',
          );
        this.emit('forward', { connection: this.id, kind: 'forwarded-tcpip', target, allowed: true, rule });
        sock.resume();
        this.runBridge(channel, sock, `${peer}->${target}`, fwd.ftpSlot);
      }),
    );
  }

  private onCancelForward(
    accept: (() => void) | undefined,
    reject: (() => void) | undefined,
    info: TcpipBindInfo,
  ): void {
    const fwd = [...this.forwards.values()].find(
      (f) => f.port === info.bindPort && (f.requestedAddr === info.bindAddr || f.bindAddr === info.bindAddr),
    );
    if (!fwd && this.retiredSlots.delete(info.bindPort)) {
      accept?.();
      return;
    }
    if (!fwd) {
      this.log.info(
        {
          event: 'forward',
          kind: 'cancel-tcpip-forward',
          target: `${info.bindAddr}:${info.bindPort}`,
          allowed: false,
        },
        'cancel for an unknown forward',
      );
      reject?.();
      return;
    }
    this.closeForward(fwd, 'cancelled by client');
    accept?.();
  }

  private closeForward(fwd: RemoteForward, why: string): void {
    if (this.forwards.get(fwdKey(fwd)) !== fwd) return;
    this.forwards.delete(fwdKey(fwd));
    if (fwd.ftpSlot) {
      this.ftp.closeSlot(fwd.port);
      if (why !== 'cancelled by client') {
        this.retiredSlots.add(fwd.port);
        if (this.retiredSlots.size > 64)
          this.retiredSlots.delete(this.retiredSlots.values().next().value as number);
      }
    }
    fwd.server.close();
    this.log.debug({ event: 'listener-close', port: fwd.port, why }, 'remote-forward listener closed');
    this.checkDrained();
  }

  // ---------------------------------------------------------------- shutdown

  /** Stop taking new forwards, close listeners; resolve when channels are gone or `ms` passed. */
  drain(ms: number): Promise<void> {
    this.draining = true;
    for (const fwd of [...this.forwards.values()]) this.closeForward(fwd, 'server shutting down');
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
    if (this.draining && this.channels === 0 && this.forwards.size === 0 && !this.closed) this.end();
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
    if (!this.authenticated) {
      this.deps.releaseStartup();
      // As OpenSSH: a connection that ended without a login is penalised once, unless its failed
      // checks already were, each, or the grace time already penalised it.
      if (this.auth.failures > this.auth.checkedFailures && this.auth.checkedFailures === 0)
        this.penalize('authfail');
      else if (!this.auth.attempted && !this.graceExpired) this.penalize('noauth');
    }
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const s of this.pending) s.destroy();
    let fromClient = this.bytesFromClient;
    let toClient = this.bytesToClient;
    for (const b of [...this.bridges]) {
      fromClient += b.stats.bytesFromClient;
      toClient += b.stats.bytesToClient;
      b.destroy();
    }
    for (const fwd of this.forwards.values()) fwd.server.close();
    this.forwards.clear();
    const summary = {
      connection: this.id,
      ip: this.ip,
      user: this.user,
      bytesFromClient: fromClient,
      bytesToClient: toClient,
      durationMs: Date.now() - this.startedAt,
    };
    if (this.authenticated) this.log.info({ event: 'close', ...summary }, 'connection closed');
    else this.log.debug({ event: 'close', ...summary }, 'connection closed before login');
    this.emit('connection-close', summary);
    for (const w of this.closeWaiters.splice(0)) w();
  }
}

const isValidPort = (p: number): boolean => Number.isInteger(p) && p >= 0 && p <= 65535;

/** A host name or address a socket API can take: no control characters, not absurdly long. */
function isSaneHost(h: string, emptyOk: boolean): boolean {
  if (h.length === 0) return emptyOk;
  return h.length <= 255 && /^[\x21-\x7e]+$/.test(h);
}

const fwdKey = (f: { bindAddr: string; port: number }): string => `${f.bindAddr}|${f.port}`;

function describeRules(rules: readonly { spec: string }[]): string {
  return rules.length === 0 ? 'any' : rules.map((r) => r.spec).join(',');
}

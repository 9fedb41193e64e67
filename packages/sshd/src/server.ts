/**
 * The server: TCP listeners, connection admission (limits, per-source back-off), the ssh2 protocol
 * engine, and orderly shutdown. Each accepted socket becomes an {@link SshConnection}.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { AlgorithmListError, checkSsh2, resolveAlgorithms } from '@ftpfwd/ftp-proxy/transport';
import pino, { type Logger } from 'pino';
import type { Connection } from 'ssh2';
import ssh2 from 'ssh2';
import { SshConnection } from './connection.js';
import { SshdError } from './errors.js';
import type { HostKey } from './host-keys.js';
import { DEFAULT_PASSWORD_CHECKS, PasswordChecks } from './password-checks.js';
import { DEFAULT_PENALTIES, SourcePenalties } from './penalties.js';
import { normalizeAddress } from './policy.js';
import { StartupLimiter } from './startups.js';
import {
  DEFAULT_FTP_POLICY,
  DEFAULT_LIMITS,
  type ListenAddress,
  type ResolvedServerOptions,
  type ServerEvents,
  type SshServerOptions,
} from './types.js';

/** What {@link SshServer.reload} can change without a restart. */
export type ReloadableOptions = Partial<
  Pick<
    SshServerOptions,
    | 'authorizedKeys'
    | 'passwords'
    | 'users'
    | 'permitOpen'
    | 'permitListen'
    | 'gatewayPorts'
    | 'allowTcpForwarding'
  >
>;

export const DEFAULT_LISTEN: Readonly<ListenAddress> = Object.freeze({ host: '0.0.0.0', port: 2222 });

export interface ServerStats {
  /** Open TCP connections, logged in or not. */
  connections: number;
  loggedIn: number;
  /** Unauthenticated connections (MaxStartups counts these). */
  startups: number;
  /** Source netblocks with a penalty running. */
  penalisedSources: number;
  passwordChecks: { waiting: number; peakConcurrency: number };
}

export interface SshServer {
  /** Bind every listen address; resolves with the addresses actually bound (real ports). */
  start(): Promise<ListenAddress[]>;
  /**
   * Stop accepting, close remote-forward listeners, let open channels drain for at most
   * `drainMs` (default: limits.drainTimeoutMs), then close what is left.
   */
  stop(drainMs?: number): Promise<void>;
  /**
   * Swap credentials and policy (e.g. after authorized_keys changed). New logins use the new keys;
   * every later forwarding decision, also on connections already open, uses the new policy.
   * Listen addresses, host keys and limits need a restart.
   */
  reload(update: ReloadableOptions): void;
  readonly addresses: ListenAddress[];
  /** `type SHA256:…` per host key, in the order given. */
  readonly fingerprints: { type: string; fingerprint: string; source: string }[];
  /** Open SSH connections right now. */
  readonly connectionCount: number;
  /** Where the admission limits stand (for health checks, metrics and tests). */
  readonly stats: ServerStats;
  on<K extends keyof ServerEvents>(event: K, listener: (payload: ServerEvents[K]) => void): this;
  once<K extends keyof ServerEvents>(event: K, listener: (payload: ServerEvents[K]) => void): this;
  off<K extends keyof ServerEvents>(event: K, listener: (payload: ServerEvents[K]) => void): this;
}

/** The signature algorithms a host key of `type` can serve. */
function hostKeyAlgorithmsOf(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

/**
 * HostKeyAlgorithms, as ssh2's server can have it: it offers every host key it is given (the list
 * only orders RSA's signature variants), so the keys the list leaves out are not given to it, and
 * the rest go in the list's order.
 */
function hostKeysFor(keys: HostKey[], algorithms: string[]): HostKey[] {
  const rank = (k: HostKey) => {
    const i = hostKeyAlgorithmsOf(k.type)
      .map((a) => algorithms.indexOf(a))
      .filter((x) => x >= 0);
    return i.length ? Math.min(...i) : -1;
  };
  const usable = keys.filter((k) => rank(k) >= 0).sort((a, b) => rank(a) - rank(b));
  if (usable.length === 0)
    throw new SshdError(
      'config',
      `algorithms.hostKeyAlgorithms leaves none of the host keys (${keys.map((k) => `${k.type} ${k.source}`).join(', ')}): it allows ${algorithms.join(',')}`,
    );
  return usable;
}

function resolveOptions(o: SshServerOptions): ResolvedServerOptions {
  if (!o.hostKeys || o.hostKeys.length === 0) {
    throw new SshdError('host-key', 'expected at least one host key, got none');
  }
  let algorithms: ResolvedServerOptions['algorithms'];
  try {
    algorithms = resolveAlgorithms(o.algorithms ?? {}).lists;
  } catch (err) {
    if (err instanceof AlgorithmListError) throw new SshdError('config', `algorithms: ${err.message}`);
    throw err;
  }
  return {
    listen: o.listen && o.listen.length > 0 ? o.listen : [{ ...DEFAULT_LISTEN }],
    hostKeys: hostKeysFor(o.hostKeys, algorithms.hostkey),
    algorithms,
    authorizedKeys: o.authorizedKeys ?? [],
    passwords: o.passwords ?? new Map(),
    users: o.users ?? {},
    permitOpen: o.permitOpen ?? [],
    permitListen: o.permitListen ?? [],
    gatewayPorts: o.gatewayPorts ?? 'no',
    allowTcpForwarding: o.allowTcpForwarding ?? 'yes',
    limits: { ...DEFAULT_LIMITS, ...o.limits },
    ftp: { ...DEFAULT_FTP_POLICY, ...o.ftp },
  };
}

class SshServerImpl extends EventEmitter implements SshServer {
  private readonly opts: ResolvedServerOptions;
  private readonly log: Logger;
  private readonly penalties: SourcePenalties;
  private readonly startups: StartupLimiter;
  private readonly passwordChecks: PasswordChecks;
  /** Connections that have logged in (limits.maxConnections caps these, not the startups). */
  private loggedIn = 0;
  private readonly engine: InstanceType<typeof ssh2.Server>;
  private readonly netServers: NetServer[] = [];
  /** Connections not yet handed to ssh2, by their peer's address and port (unique while open). */
  private readonly byPeer = new Map<string, SshConnection>();
  private readonly connections = new Set<SshConnection>();
  private seq = 0;
  private stopping: Promise<void> | undefined;
  addresses: ListenAddress[] = [];

  constructor(options: SshServerOptions) {
    super();
    this.opts = resolveOptions(options);
    this.log = options.logger ?? pino({ level: 'silent' });
    const l = this.opts.limits;
    const netBlockSize = l.perSourceNetBlockSize;
    this.penalties = new SourcePenalties({ ...DEFAULT_PENALTIES, netBlockSize, ...options.penalties });
    this.startups = new StartupLimiter({
      maxStartups: l.maxStartups,
      perSource: l.perSourceMaxStartups,
      netBlockSize,
      evictAfterMs: l.startupEvictAfterMs,
    });
    this.passwordChecks = new PasswordChecks({
      ...DEFAULT_PASSWORD_CHECKS,
      netBlockSize,
      ...options.passwordChecks,
    });
    const a = this.opts.algorithms;
    this.engine = new ssh2.Server({
      hostKeys: this.opts.hostKeys.map((k) => k.pem),
      ident: 'ftpfwd-sshd',
      // Exact lists (ssh2 checks each name); kex-strict is added by ssh2 itself.
      algorithms: { kex: a.kex, cipher: a.cipher, hmac: a.mac, serverHostKey: a.hostkey },
      // ssh2 takes -1/0 as "off" only through these being absent; a huge interval is equivalent.
      keepaliveInterval: l.keepaliveIntervalMs > 0 ? l.keepaliveIntervalMs : 2 ** 31 - 1,
      keepaliveCountMax: l.keepaliveCountMax,
    } as ConstructorParameters<typeof ssh2.Server>[0]);
    this.engine.on('error', (err: Error) => this.log.error({ err: err.message }, 'ssh engine error'));
    this.engine.on('connection', (client: Connection, info: { ip?: string; port?: number }) => {
      // ssh2 names the socket it was given by its peer: the key this server filed the connection under.
      const conn = this.byPeer.get(peerKey(info.ip, info.port));
      if (!conn) {
        client.end();
        return;
      }
      this.byPeer.delete(peerKey(info.ip, info.port));
      conn.attach(client);
    });
  }

  get fingerprints(): { type: string; fingerprint: string; source: string }[] {
    return this.opts.hostKeys.map((k) => ({ type: k.type, fingerprint: k.fingerprint, source: k.source }));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get stats(): ServerStats {
    return {
      connections: this.connections.size,
      loggedIn: this.loggedIn,
      startups: this.startups.startups,
      penalisedSources: this.penalties.size,
      passwordChecks: {
        waiting: this.passwordChecks.waiting,
        peakConcurrency: this.passwordChecks.peakConcurrency,
      },
    };
  }

  private emitEvent<K extends keyof ServerEvents>(event: K, payload: ServerEvents[K]): void {
    try {
      this.emit(event, payload);
    } catch (err) {
      // A listener's bug must not take a client's connection (or the server) down.
      this.log.error({ event, err: (err as Error).message }, 'event listener threw');
    }
  }

  private onSocket(sock: Socket): void {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    const ip = normalizeAddress(sock.remoteAddress ?? '?');
    const refuse = (reason: string): void => {
      this.log.warn({ event: 'connection-refused', ip, reason }, 'connection refused');
      this.emitEvent('connection-refused', { ip, reason });
      sock.destroy();
    };
    if (this.stopping) {
      refuse('server is shutting down');
      return;
    }
    const blocked = this.penalties.blockedForMs(ip);
    if (blocked > 0) {
      refuse(`penalty: refused for ${Math.ceil(blocked / 1000)} s after failed or abandoned logins`);
      return;
    }
    // Unauthenticated connections are admitted by MaxStartups (startups.ts), apart from the
    // logged-in ones: a flood that never logs in cannot take the slots of users who do.
    const startup = this.startups.admit(ip, () => {
      this.log.info(
        { event: 'startup-evicted', ip },
        'unauthenticated connection still in key exchange closed for a newcomer',
      );
      sock.destroy();
    });
    if (!startup.ok) {
      refuse(startup.reason);
      return;
    }

    this.seq += 1;
    const id = `c${this.seq}`;
    // The ssh2 Client object only appears once the client's identification line arrived; until
    // then the connection exists for its socket (grace timer, counting).
    const conn = new SshConnection({
      id,
      socket: sock,
      options: this.opts,
      logger: this.log,
      emit: (e, p) => this.emitEvent(e, p),
      passwordChecks: this.passwordChecks,
      penalties: this.penalties,
      releaseStartup: startup.release,
      handshakeDone: startup.handshakeDone,
      onLogin: () => {
        if (this.loggedIn >= this.opts.limits.maxConnections) return false;
        this.loggedIn += 1;
        loggedIn = true;
        return true;
      },
    });
    let loggedIn = false;
    this.connections.add(conn);
    const key = peerKey(sock.remoteAddress, sock.remotePort);
    this.byPeer.set(key, conn);
    sock.once('close', () => {
      this.connections.delete(conn);
      if (this.byPeer.get(key) === conn) this.byPeer.delete(key);
      startup.release();
      if (loggedIn) this.loggedIn -= 1;
    });
    this.log.debug({ event: 'accept', conn: id, ip, port: sock.remotePort }, 'TCP connection accepted');
    this.engine.injectSocket(sock);
  }

  async start(): Promise<ListenAddress[]> {
    if (this.netServers.length > 0) return this.addresses;
    // What ftpfwd-sshd takes from ssh2's internals is checked once, before the first connection.
    await checkSsh2(this.log);
    const bound: ListenAddress[] = [];
    try {
      for (const addr of this.opts.listen) {
        const srv = createServer((sock) => this.onSocket(sock));
        await new Promise<void>((resolve, reject) => {
          srv.once('error', (err: NodeJS.ErrnoException) =>
            reject(
              new SshdError(
                'listen',
                `cannot listen on ${addr.host}:${addr.port}: ${err.code ?? err.message}`,
                { cause: err },
              ),
            ),
          );
          srv.listen({ host: addr.host, port: addr.port }, () => resolve());
        });
        if (this.stopping) {
          // stop() was called while this listener was being set up (a signal during start-up):
          // it only closes the listeners it saw, so this one and any later ones close here.
          srv.close();
          break;
        }
        srv.removeAllListeners('error');
        srv.on('error', (err) => this.log.error({ err: err.message }, 'listener error'));
        this.netServers.push(srv);
        const a = srv.address();
        bound.push({ host: addr.host, port: typeof a === 'object' && a ? a.port : addr.port });
      }
    } catch (err) {
      for (const s of this.netServers.splice(0)) s.close();
      throw err;
    }
    if (this.stopping) return bound;
    this.addresses = bound;
    for (const k of this.opts.hostKeys) {
      this.log.info(
        { event: 'host-key', type: k.type, fingerprint: k.fingerprint, source: k.source },
        `host key ${k.type} ${k.fingerprint}`,
      );
    }
    for (const a of bound)
      this.log.info(
        { event: 'listening', address: `${a.host}:${a.port}` },
        `listening on ${a.host}:${a.port}`,
      );
    this.emitEvent('listening', { addresses: bound });
    return bound;
  }

  reload(update: ReloadableOptions): void {
    // Connections hold this same object, so they see the change at their next decision.
    const o = this.opts;
    if (update.authorizedKeys) o.authorizedKeys = update.authorizedKeys;
    if (update.passwords) o.passwords = update.passwords;
    if (update.users) o.users = update.users;
    if (update.permitOpen) o.permitOpen = update.permitOpen;
    if (update.permitListen) o.permitListen = update.permitListen;
    if (update.gatewayPorts) o.gatewayPorts = update.gatewayPorts;
    if (update.allowTcpForwarding) o.allowTcpForwarding = update.allowTcpForwarding;
    this.log.info(
      {
        event: 'reloaded',
        authorizedKeys: o.authorizedKeys.length,
        passwordUsers: o.passwords.size,
        users: Object.keys(o.users).length,
      },
      'credentials and policy reloaded',
    );
  }

  stop(drainMs = this.opts.limits.drainTimeoutMs): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info(
        { event: 'stopping', connections: this.connections.size, drainMs },
        'stopping: no new connections, draining',
      );
      const closed = this.netServers.map((s) => new Promise<void>((r) => s.close(() => r())));
      await Promise.all([...this.connections].map((c) => c.drain(drainMs)));
      // What is still open after draining (e.g. a client that ignores the disconnect) goes now.
      for (const c of this.connections) c.destroy();
      await Promise.all(closed);
      this.netServers.length = 0;
      this.log.info({ event: 'stopped' }, 'stopped');
    })();
    return this.stopping;
  }
}

export function createSshServer(options: SshServerOptions): SshServer {
  return new SshServerImpl(options);
}

const peerKey = (ip: string | undefined, port: number | undefined): string => `${ip ?? '?'}|${port ?? 0}`;

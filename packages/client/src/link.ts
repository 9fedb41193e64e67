import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Prompter } from '@ftpfwd/ftp-proxy/cli';
import {
  type ByteCountingStream,
  checkSsh2,
  enforceRekeyLimit,
  noCommonAlgorithm,
  packetPoolEnabled,
  poolOutgoingPackets,
  type RekeyLimit,
  type ResolvedAlgorithms,
  resolveAlgorithms,
  SocketCongestion,
  ssh2AlgorithmCatalog,
  startClientRekey,
  watchPeerKexInit,
} from '@ftpfwd/ftp-proxy/transport';
import ssh2, { type ClientChannel, type TcpConnectionDetails } from 'ssh2';
import { type AuthOptions, createAuth } from './auth.js';
import { FtpfwdError, isPermanent, oneLine } from './errors.js';
import { type HostKeyPolicy, preferredHostKeyTypes, verifyHostKey } from './host-key-check.js';
import type { Logger } from './logger.js';
import { channelTransport, openFirstLeg, type RouteOptions, type Transport } from './route.js';

const { Client } = ssh2;
/** SSH_MSG_CHANNEL_OPEN_FAILURE reason 4 (RFC 4254 §5.1). */
const RESOURCE_SHORTAGE = 4;
type SshClient = InstanceType<typeof Client>;

export interface LinkOptions {
  host: string;
  port: number;
  username: string;
  hostKey: HostKeyPolicy;
  auth: Omit<AuthOptions, 'username' | 'host'>;
  /**
   * ConnectTimeout (0 = none): each TCP connect attempt, and then the server's first answer (up
   * to its host key); never what may wait for a human.
   */
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** When to start a new key exchange (OpenSSH's RekeyLimit); `{}`: the cipher's bound only. */
  rekeyLimit: RekeyLimit;
  /** Reconnect after a drop; capped exponential back-off with jitter. */
  reconnect: boolean;
  /** How long a channel open refused for resource shortage is retried (default 30 s). */
  channelWaitMs?: number;
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Bound on the handshake and authentication; default none when a human may be asked, else 60 s. */
  readyTimeoutMs?: number;
  /** How the first connection is made (ProxyCommand, BindAddress, AddressFamily, ConnectionAttempts). */
  route?: RouteOptions;
  /**
   * ProxyJump: the jump hosts, first first, each with its own host-key policy, authentication,
   * keepalive and algorithms (their own `jumps` are not used: the plan flattens chains). The first
   * one's `route` says how it is reached; every later one, and this server, are reached through a
   * direct-tcpip channel of the hop before. A reconnect builds the whole chain again.
   */
  jumps?: LinkOptions[];
  /** Ciphers, KexAlgorithms, MACs, HostKeyAlgorithms, PubkeyAcceptedAlgorithms; default ssh2's. */
  algorithms?: ResolvedAlgorithms;
  logger: Logger;
}

export type RemoteConnectionHandler = (
  details: TcpConnectionDetails,
  accept: () => ClientChannel,
  reject: () => void,
) => void;

/** Delay before reconnect attempt `n` (0-based): min(cap, base·2ⁿ), then jittered to 50–100 %. */
export function backoffDelay(n: number, baseMs: number, capMs: number, random = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(n, 30));
  return Math.round(exp * (0.5 + random() * 0.5));
}

/**
 * One SSH connection that comes back after it drops. Forwardings and brokers use it through
 * `openDirect` / `listenRemote` and hear `up` / `down`; `fatal` means it gave up (host key, or the
 * first connection failed).
 *
 * Events: 'up' (client), 'down' (reason: Error), 'reconnecting' (attempt, delayMs), 'fatal' (Error),
 * 'rekeyed' after each key exchange past the first (started by either side).
 */
export class SshLink extends EventEmitter {
  private client: SshClient | undefined;
  private closing = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly remoteHandlers = new Map<string, RemoteConnectionHandler>();
  private upWaiters = new Set<() => void>();
  /** A channel open is being retried for resource shortage (logged once per episode). */
  private waitingForChannels = false;
  /** The SSH socket each of our channels' packets leave by (backpressure, link loss). */
  private readonly congestion = new WeakMap<Duplex, SocketCongestion>();
  private current: SocketCongestion | undefined;
  reconnects = 0;

  constructor(readonly opts: LinkOptions) {
    super();
  }

  get isUp(): boolean {
    return this.client !== undefined;
  }

  /** `host:port`, for logs; `host:port (jump j1:22, j2:22)` through jump hosts. */
  get label(): string {
    const via = (this.opts.jumps ?? []).map(hostLabel);
    return via.length ? `${hostLabel(this.opts)} (jump ${via.join(', ')})` : hostLabel(this.opts);
  }

  /** First connection: resolves when authenticated, rejects with a typed error. */
  async start(): Promise<void> {
    // What ftpfwd takes from ssh2's internals is checked once, before the first connection.
    await checkSsh2(this.opts.logger);
    const c = await this.connectOnce();
    this.adopt(c);
  }

  /**
   * The congestion state of the SSH connection `channel` belongs to: undefined for anything that is
   * not one of this link's channels (a TCP socket). The relay pauses sources while it is congested.
   */
  congestionOf(channel: Duplex): SocketCongestion | undefined {
    return this.congestion.get(channel);
  }

  /** Records a channel of the current connection (opened or accepted here). */
  private track<T extends Duplex>(channel: T): T {
    if (this.current) this.congestion.set(channel, this.current);
    return channel;
  }

  /** Waits (bounded) until the link is up. */
  waitUp(timeoutMs: number): Promise<SshClient> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closing) return Promise.reject(new FtpfwdError('closed', 'the SSH connection is closed'));
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(t);
        this.upWaiters.delete(done);
        if (this.client) resolve(this.client);
        else reject(new FtpfwdError('link-down', `SSH link to ${this.label} is down`));
      };
      const t = setTimeout(done, timeoutMs);
      this.upWaiters.add(done);
    });
  }

  /**
   * A direct-tcpip channel to host:port, "from" srcHost:srcPort (what the server logs). When the
   * server refuses for resource shortage (RFC 4254: a per-connection channel cap, as ftpfwd-sshd
   * has), the open is tried again as channels free up, for up to `channelWaitMs`: with every FTP
   * session on one SSH connection, a burst must wait for a free channel, not fail with 425.
   */
  async openDirect(srcHost: string, srcPort: number, host: string, port: number): Promise<ClientChannel> {
    const deadline = Date.now() + (this.opts.channelWaitMs ?? 30_000);
    for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
      try {
        return await this.openDirectOnce(srcHost, srcPort, host, port);
      } catch (err) {
        const shortage = (err as { reason?: unknown }).reason === RESOURCE_SHORTAGE;
        if (!shortage || Date.now() + delay > deadline) throw err;
        if (!this.waitingForChannels) {
          this.waitingForChannels = true;
          this.opts.logger.info(
            { host, port },
            `SSH server ${this.label} is short of channels; waiting for one to free up`,
          );
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private openDirectOnce(
    srcHost: string,
    srcPort: number,
    host: string,
    port: number,
  ): Promise<ClientChannel> {
    const c = this.client;
    if (!c) return Promise.reject(new FtpfwdError('link-down', `SSH link to ${this.label} is down`));
    return new Promise((resolve, reject) => {
      try {
        c.forwardOut(srcHost || '127.0.0.1', srcPort || 0, host, port, (err, ch) => {
          if (err) {
            const e = new FtpfwdError(
              'forward-failed',
              `SSH server ${this.label} refused a channel to ${host}:${port}: ${oneLine(err)}`,
            );
            (e as { reason?: unknown }).reason = (err as { reason?: unknown }).reason;
            reject(e);
          } else {
            this.waitingForChannels = false;
            resolve(this.track(ch));
          }
        });
      } catch (err) {
        reject(new FtpfwdError('link-down', `SSH link to ${this.label} is down: ${oneLine(err)}`));
      }
    });
  }

  /**
   * Asks the server to listen (tcpip-forward) and routes its connections to `handler`.
   * Resolves the bound port (the allocated one when `port` is 0).
   */
  listenRemote(bindAddr: string, port: number, handler: RemoteConnectionHandler): Promise<number> {
    const c = this.client;
    if (!c) return Promise.reject(new FtpfwdError('link-down', `SSH link to ${this.label} is down`));
    return new Promise((resolve, reject) => {
      try {
        c.forwardIn(bindAddr, port, (err, bound) => {
          if (err) {
            reject(
              new FtpfwdError(
                'forward-failed',
                `SSH server ${this.label} refused to listen on ${bindAddr || '*'}:${port}: ${oneLine(err)}`,
              ),
            );
            return;
          }
          const real = port === 0 ? bound : port;
          // ssh2 reports connections under the address we asked for and the real port.
          if (this.client === c) this.remoteHandlers.set(`${bindAddr}:${real}`, handler);
          resolve(real);
        });
      } catch (err) {
        reject(new FtpfwdError('link-down', `SSH link to ${this.label} is down: ${oneLine(err)}`));
      }
    });
  }

  /** Cancels a remote listener; never throws (the link may be gone already). */
  unlistenRemote(bindAddr: string, port: number): void {
    const key = `${bindAddr}:${port}`;
    if (!this.remoteHandlers.delete(key)) return;
    const c = this.client;
    if (!c) return;
    try {
      c.unforwardIn(bindAddr, port, () => {});
    } catch {
      // link went away in between; the server drops the listener with the connection
    }
  }

  /** Ends the connection and stops reconnecting. */
  close(): void {
    this.closing = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    for (const w of [...this.upWaiters]) w();
    if (c) {
      c.end();
      // end() waits for the server; do not let a dead server keep the process alive.
      setTimeout(() => c.destroy(), 2000).unref();
    }
  }

  private adopt({ client: c, transport }: { client: SshClient; transport: Transport }): void {
    const sock = transport.stream;
    this.client = c;
    // A jump chain's bytes queue in the first hop's socket: that is the one to watch.
    this.current = new SocketCongestion(transport.congestion);
    this.attempt = 0;
    this.remoteHandlers.clear();
    c.on('tcp connection', (details, accept, reject) => {
      const h = this.remoteHandlers.get(`${details.destIP}:${details.destPort}`);
      if (!h) {
        reject();
        return;
      }
      try {
        h(details, () => this.track(accept()), reject);
      } catch (err) {
        this.opts.logger.warn({ err: oneLine(err) }, 'remote connection handler failed');
      }
    });
    c.on('error', (err: Error & { level?: string }) => {
      this.opts.logger.debug({ err: oneLine(err), level: err.level }, 'ssh error');
    });
    let gone = false;
    const onGone = (why: string) => {
      if (gone) return;
      gone = true;
      if (this.client !== c) return;
      this.client = undefined;
      this.remoteHandlers.clear();
      const reason = new FtpfwdError(
        'link-down',
        `SSH link to ${this.label} lost: ${transport.failure() ?? why}`,
      );
      transport.destroy();
      this.emit('down', reason);
      if (!this.closing) this.scheduleReconnect();
    };
    // The socket's own events fire before ssh2 tears the channels down, so sessions still hear
    // 'down' while their channels are open and can tell their FTP clients (421).
    sock.prependListener('end', () => onGone('connection closed by server'));
    sock.prependListener('close', () => onGone('connection closed'));
    c.on('close', () => onGone('connection closed'));
    this.emit('up', c);
    for (const w of [...this.upWaiters]) w();
  }

  /**
   * Keeps the connection's keys within RekeyLimit: ssh2 never starts a key exchange by itself,
   * and a tunnel can stay up for weeks. (A re-key's host key is checked in connectOnce.)
   */
  private renewKeys(c: SshClient, sock: ByteCountingStream, cipher: string): void {
    enforceRekeyLimit(c, sock, this.opts.rekeyLimit, cipher, (reason: string) => {
      if (startClientRekey(c)) this.opts.logger.debug({ reason }, 'SSH re-key started');
      else
        this.opts.logger.debug(
          { reason },
          'SSH re-key due, but this ssh2 cannot start one: left to the server',
        );
    });
    c.on('handshake', (negotiated: ssh2.NegotiatedAlgorithms) => {
      this.opts.logger.debug({ cipher: negotiated.cs.cipher }, 'SSH keys renewed');
      if (this.client === c) this.emit('rekeyed');
    });
  }

  private scheduleReconnect(): void {
    if (!this.opts.reconnect || this.closing) {
      if (!this.closing) this.emit('fatal', new FtpfwdError('link-down', `SSH link to ${this.label} lost`));
      return;
    }
    const delay = backoffDelay(
      this.attempt++,
      this.opts.reconnectInitialDelayMs ?? 500,
      this.opts.reconnectMaxDelayMs ?? 30_000,
    );
    this.emit('reconnecting', this.attempt, delay);
    this.timer = setTimeout(() => {
      if (this.closing) return;
      this.connectOnce().then(
        (c) => {
          if (this.closing) {
            c.client.end();
            return;
          }
          this.reconnects++;
          this.adopt(c);
        },
        (err: unknown) => {
          if (this.closing) return;
          if (isPermanent(err)) {
            this.emit('fatal', err);
            return;
          }
          this.opts.logger.warn({ err: oneLine(err) }, 'reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay);
  }

  /**
   * A connection of its own to the same server as another user, logging in with a password
   * (password, then keyboard-interactive with every prompt answered by it): the same way there and
   * the same host-key policy as this link, never a prompt. Not reconnected, not tracked: the caller
   * ends it. Rejects with FtpfwdError 'auth-failed' when the server refuses the password.
   */
  async connectAs(username: string, password: string): Promise<SshClient> {
    const answer: Prompter = { available: true, ask: async () => password };
    const { client } = await this.connectOnce({
      ...this.opts,
      username,
      hostKey: { ...this.opts.hostKey, batchMode: true },
      auth: {
        ...this.opts.auth,
        agent: undefined,
        identityFiles: [],
        identitiesExplicit: false,
        pubkey: false,
        password: true,
        keyboardInteractive: true,
        passwordPrompts: 1,
        prompter: answer,
      },
      readyTimeoutMs: 30_000,
    });
    return client;
  }

  /**
   * One SSH connection to `o`'s server, authenticated: its route first (TCP, ProxyCommand, or the
   * jump hosts one after the other), then the handshake over it.
   */
  private async connectOnce(
    o: LinkOptions = this.opts,
  ): Promise<{ client: SshClient; transport: Transport }> {
    const transport = await this.openTransport(o);
    try {
      return { client: await this.handshake(o, transport), transport };
    } catch (err) {
      transport.destroy();
      throw err;
    }
  }

  /** The stream to `o`'s server: directly, or through each jump host in turn. */
  private async openTransport(o: LinkOptions): Promise<Transport> {
    const jumps = o.jumps ?? [];
    const target = (x: LinkOptions) => ({
      host: x.host,
      port: x.port,
      user: x.username,
      label: hostLabel(x),
      connectTimeoutMs: x.connectTimeoutMs,
    });
    const onAttemptFailed = (attempt: number, err: Error) =>
      o.logger.info({ attempt, err: oneLine(err) }, 'connection attempt failed; trying again');
    if (jumps.length === 0) return openFirstLeg(target(o), o.route ?? {}, { onAttemptFailed });
    const [first, ...rest] = jumps as [LinkOptions, ...LinkOptions[]];
    const hop = await this.connectOnce({ ...first, jumps: [] });
    // Each hop's loss is this connection's loss: say which hop it was.
    let lostHop: string | undefined;
    const watchHop = (c: SshClient, x: LinkOptions) => {
      c.on('error', (err: Error) => {
        lostHop ??= `jump host ${hostLabel(x)}: ${oneLine(err)}`;
      });
      c.on('close', () => {
        lostHop ??= `jump host ${hostLabel(x)} closed the connection`;
      });
    };
    watchHop(hop.client, first);
    const clients: SshClient[] = [hop.client];
    let via: Parameters<typeof channelTransport>[1] = {
      congestion: hop.transport.congestion,
      describe: hop.transport.describe,
      failure: () => hop.transport.failure() ?? lostHop,
      destroy: () => {
        for (const c of clients) c.end();
        hop.transport.destroy();
      },
    };
    try {
      let prev = { client: hop.client, opts: first };
      for (const next of [...rest, o]) {
        const ch = await forwardOut(prev.client, next.host, next.port, hostLabel(prev.opts));
        const t = channelTransport(ch, via, hostLabel(prev.opts));
        if (next === o) return t;
        const c = await this.handshake(next, t);
        watchHop(c, next);
        clients.push(c);
        via = { ...via, describe: t.describe };
        prev = { client: c, opts: next };
      }
    } catch (err) {
      via.destroy();
      throw err;
    }
    throw new Error('unreachable');
  }

  /** SSH over `transport`: key exchange (checked host key, algorithms), authentication, keepalive. */
  private handshake(o: LinkOptions, transport: Transport): Promise<SshClient> {
    const sock = transport.stream;
    const label = o === this.opts ? this.label : hostLabel(o);
    return new Promise((resolve, reject) => {
      let settled = false;
      let hostKeyError: unknown;
      let authError: FtpfwdError | undefined;
      /** The server's KEXINIT, read as it arrives (set once ssh2 has the stream). */
      let peerOffer: ReturnType<typeof watchPeerKexInit> | undefined;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(ct);
        peerOffer?.stop();
        sock.destroy();
        reject(err);
      };
      // ConnectTimeout, as in OpenSSH, also covers the server's first answer (up to its host key);
      // it stops before anything that may wait for a human (host-key prompt, authentication).
      const ct =
        o.connectTimeoutMs > 0
          ? setTimeout(
              () =>
                fail(
                  new FtpfwdError(
                    'connect-failed',
                    transport.failure() ??
                      `SSH server ${label} accepted the connection but did not answer within ${o.connectTimeoutMs / 1000}s`,
                  ),
                ),
              o.connectTimeoutMs,
            )
          : undefined;
      const algorithms = o.algorithms ?? resolveAlgorithms({});
      const offered = {
        kex: algorithms.lists.kex,
        // HostKeyAlgorithms left to its default: the types known_hosts has for this host first.
        hostkey: algorithms.explicit.hostkey
          ? algorithms.lists.hostkey
          : orderHostKeyAlgorithms(preferredHostKeyTypes(o.hostKey), algorithms.lists.hostkey),
        cipher: algorithms.lists.cipher,
        mac: algorithms.lists.mac,
        compress: ssh2AlgorithmCatalog().compress.defaults,
      };
      /** Nothing in common with the server: OpenSSH's line, with both offers. */
      const negotiation = (): FtpfwdError | undefined => {
        const theirs = peerOffer?.offer();
        const line = theirs && noCommonAlgorithm(offered, theirs, { host: o.host, port: o.port });
        return line ? new FtpfwdError('negotiation-failed', `${line} (SSH server ${label})`) : undefined;
      };
      const auth = createAuth({
        ...o.auth,
        username: o.username,
        host: o.host,
        acceptedKeyAlgorithms: algorithms.explicit.pubkey ? algorithms.lists.pubkey : undefined,
      });
      const c = new Client();
      c.on('error', (err: Error & { level?: string }) => {
        if (settled) return;
        if (err.level === 'agent') {
          o.logger.debug({ err: oneLine(err) }, 'ssh-agent error');
          return;
        }
        if (hostKeyError) return fail(hostKeyError);
        if (err.level === 'client-authentication') {
          const allowed = auth.serverMethods();
          authError = new FtpfwdError(
            'auth-failed',
            `permission denied for ${o.username}@${label} (server accepts ${allowed?.join(',') || 'unknown methods'}; tried ${auth.tried.length ? auth.tried.join(', ') : 'nothing usable'})`,
          );
          return fail(authError);
        }
        const noMatch = negotiation();
        if (noMatch) return fail(noMatch);
        if (err.level === 'client-timeout')
          return fail(new FtpfwdError('connect-failed', `SSH handshake with ${label} timed out`));
        // A ProxyCommand's exit or a lost jump host says more than ssh2's "connection lost".
        fail(
          new FtpfwdError(
            'connect-failed',
            `SSH connection to ${label} failed: ${transport.failure() ?? oneLine(err)}`,
          ),
        );
      });
      c.on('close', () => {
        if (hostKeyError) return fail(hostKeyError);
        const noMatch = negotiation();
        if (noMatch) return fail(noMatch);
        const why = transport.failure();
        fail(
          new FtpfwdError(
            'connect-failed',
            why
              ? `SSH connection to ${label} failed: ${why}`
              : `SSH server ${label} closed the connection during the handshake`,
          ),
        );
      });
      let cipher = '';
      c.once('handshake', (negotiated: ssh2.NegotiatedAlgorithms) => {
        cipher = negotiated.cs.cipher;
        peerOffer?.stop();
      });
      c.on('ready', () => {
        if (settled) {
          c.end();
          return;
        }
        settled = true;
        c.setNoDelay(true); // a no-op unless the stream is a TCP socket
        poolOutgoingPackets(c, packetPoolEnabled());
        this.renewKeys(c, sock, cipher);
        resolve(c);
      });
      /** The host key this connection verified (re-keys must show the same one). */
      let verifiedKey: Buffer | undefined;
      c.connect({
        sock,
        username: o.username,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void): boolean | undefined => {
          // A re-key shows the host key again. Answer it at once: ssh2 (1.17) clears its
          // "key exchange running" flag when the server's NEWKEYS arrives but keeps its
          // key-exchange packet layout until our own NEWKEYS goes out, which waits for this
          // answer; channel data sent in between (a window adjust resumes an upload) leaves as
          // a corrupt packet and the server drops the link ("Bad packet length"). The key must
          // be the one this connection verified; another one ends it, as a changed key would.
          if (verifiedKey) return key.equals(verifiedKey);
          clearTimeout(ct);
          verifyHostKey(o.hostKey, key).then(
            () => {
              verifiedKey = Buffer.from(key);
              verify(true);
            },
            (err: unknown) => {
              hostKeyError = err;
              verify(false);
            },
          );
          return undefined;
        },
        authHandler: auth.handler,
        keepaliveInterval: o.keepaliveIntervalMs,
        keepaliveCountMax: o.keepaliveCountMax,
        // Prompts may take a human's time; otherwise a server stalling authentication is bounded.
        readyTimeout:
          o.readyTimeoutMs ?? (o.auth.prompter.available || hostKeyMayAsk(o.hostKey) ? 0 : 60_000),
        // Exact lists: ssh2 checks each name against what it supports.
        algorithms: {
          kex: offered.kex as ssh2.KexAlgorithm[],
          serverHostKey: offered.hostkey as ssh2.ServerHostKeyAlgorithm[],
          cipher: offered.cipher as ssh2.CipherAlgorithm[],
          hmac: offered.mac as ssh2.MacAlgorithm[],
        },
      });
      // After connect(): ssh2 has paused the stream, so this listener does not start it early.
      peerOffer = watchPeerKexInit(sock);
    });
  }
}

/** `host:port`, brackets around IPv6. */
function hostLabel(o: { host: string; port: number }): string {
  return `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
}

/** A direct-tcpip channel from `c` to host:port (the next hop of a jump chain). */
function forwardOut(c: SshClient, host: string, port: number, hop: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      c.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (err)
          reject(
            new FtpfwdError(
              'connect-failed',
              `jump host ${hop} could not connect to ${hostLabel({ host, port })}: ${oneLine(err)}`,
            ),
          );
        else resolve(ch);
      });
    } catch (err) {
      reject(new FtpfwdError('connect-failed', `jump host ${hop} is gone: ${oneLine(err)}`));
    }
  });
}

function hostKeyMayAsk(p: HostKeyPolicy): boolean {
  return p.strict === 'ask' && !p.batchMode && p.prompter.available;
}

/** `base` (the host-key algorithms to offer) with the types known_hosts has for this host first. */
function orderHostKeyAlgorithms(known: string[], base: readonly string[]): string[] {
  const expand = (t: string) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]);
  const first = known.flatMap(expand).filter((a) => base.includes(a));
  return [...new Set([...first, ...base])];
}

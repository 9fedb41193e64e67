import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Prompter } from '@ftpfwd/ftp-proxy/cli';
import {
  checkSsh2,
  enforceRekeyLimit,
  packetPoolEnabled,
  poolOutgoingPackets,
  type RekeyLimit,
  SocketCongestion,
  startClientRekey,
} from '@ftpfwd/ftp-proxy/transport';
import ssh2, { type ClientChannel, type TcpConnectionDetails } from 'ssh2';
import { type AuthOptions, createAuth } from './auth.js';
import { FtpfwdError, isPermanent, oneLine } from './errors.js';
import { type HostKeyPolicy, preferredHostKeyTypes, verifyHostKey } from './host-key-check.js';
import type { Logger } from './logger.js';

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
  /** TCP connect timeout (0 = none). */
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

  /** `user@host:port`, for logs. */
  get label(): string {
    const h = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${h}:${this.opts.port}`;
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

  private adopt({ client: c, sock }: { client: SshClient; sock: Socket }): void {
    this.client = c;
    this.current = new SocketCongestion(sock);
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
      const reason = new FtpfwdError('link-down', `SSH link to ${this.label} lost: ${why}`);
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
  private renewKeys(c: SshClient, sock: Socket, cipher: string): void {
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

  private connectOnce(o: LinkOptions = this.opts): Promise<{ client: SshClient; sock: Socket }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let hostKeyError: unknown;
      let authError: FtpfwdError | undefined;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(ct);
        sock.destroy();
        reject(err);
      };
      const sock = netConnect({ host: o.host, port: o.port });
      sock.setNoDelay(true);
      // ConnectTimeout, as in OpenSSH, covers the TCP connect and the server's first answer (up to
      // its host key); it stops before anything that may wait for a human (host-key prompt, auth).
      let tcpConnected = false;
      const ct =
        o.connectTimeoutMs > 0
          ? setTimeout(
              () =>
                fail(
                  new FtpfwdError(
                    'connect-failed',
                    tcpConnected
                      ? `SSH server ${this.label} accepted the connection but did not answer within ${o.connectTimeoutMs / 1000}s`
                      : `cannot connect to ${this.label}: timed out after ${o.connectTimeoutMs / 1000}s`,
                  ),
                ),
              o.connectTimeoutMs,
            )
          : undefined;
      sock.once('error', (err: NodeJS.ErrnoException) => {
        fail(
          new FtpfwdError(
            'connect-failed',
            `cannot connect to ${this.label}: ${err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' ? 'host not found' : oneLine(err)}`,
          ),
        );
      });
      sock.once('connect', () => {
        if (settled) return;
        tcpConnected = true;
        const auth = createAuth({ ...o.auth, username: o.username, host: o.host });
        const c = new Client();
        const preferred = preferredHostKeyTypes(o.hostKey);
        const algos = orderHostKeyAlgorithms(preferred);
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
              `permission denied for ${o.username}@${this.label} (server accepts ${allowed?.join(',') || 'unknown methods'}; tried ${auth.tried.length ? auth.tried.join(', ') : 'nothing usable'})`,
            );
            return fail(authError);
          }
          if (err.level === 'client-timeout')
            return fail(new FtpfwdError('connect-failed', `SSH handshake with ${this.label} timed out`));
          fail(new FtpfwdError('connect-failed', `SSH connection to ${this.label} failed: ${oneLine(err)}`));
        });
        c.on('close', () => {
          if (hostKeyError) return fail(hostKeyError);
          fail(
            new FtpfwdError(
              'connect-failed',
              `SSH server ${this.label} closed the connection during the handshake`,
            ),
          );
        });
        let cipher = '';
        c.once('handshake', (negotiated: ssh2.NegotiatedAlgorithms) => {
          cipher = negotiated.cs.cipher;
        });
        c.on('ready', () => {
          if (settled) {
            c.end();
            return;
          }
          settled = true;
          c.setNoDelay(true);
          poolOutgoingPackets(c, packetPoolEnabled());
          this.renewKeys(c, sock, cipher);
          resolve({ client: c, sock });
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
          ...(algos ? { algorithms: { serverHostKey: algos as ssh2.ServerHostKeyAlgorithm[] } } : {}),
        });
      });
    });
  }
}

function hostKeyMayAsk(p: HostKeyPolicy): boolean {
  return p.strict === 'ask' && !p.batchMode && p.prompter.available;
}

/** ssh2's default host-key algorithms with the types known_hosts has for this host first. */
function orderHostKeyAlgorithms(known: string[]): string[] | undefined {
  if (known.length === 0) return undefined;
  const defaults = [
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
  ];
  const expand = (t: string) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]);
  const first = known.flatMap(expand).filter((a) => defaults.includes(a));
  return [...new Set([...first, ...defaults])];
}

/**
 * Public types of the FTP control-channel engine.
 *
 * The engine is pure: it sees bytes and calls a {@link DataChannelBroker} when a data channel must be
 * forwarded. The client (ssh2 forwardOut/forwardIn) and anything else that moves bytes implement the
 * broker; the engine never opens a socket itself.
 */

/** A TCP endpoint. `host` is a literal IPv4/IPv6 address or a host name; `port` is 0–65535. */
export interface Endpoint {
  host: string;
  port: number;
}

/** Facts about one FTP control connection that a broker needs to place a data channel. */
export interface SessionContext {
  /** Stable id for logs, unique per process. */
  readonly sessionId: string;
  /** The FTP client's address as seen on the control connection (peer of the accepted socket). */
  readonly clientAddress: Endpoint;
  /**
   * The address the FTP client connected to for the control connection (local side of the accepted
   * socket). A passive listener must be reachable here: after EPSV the client connects to this host.
   */
  readonly controlLocalAddress: Endpoint;
  /** The FTP server's control endpoint as the forwarding names it (HOST:HOSTPORT of `-L ftp/…`). */
  readonly serverAddress: Endpoint;
}

/** Which command asked for the data channel. */
export type DataCommand = 'PASV' | 'EPSV' | 'PORT' | 'EPRT';

export interface PassiveRequest {
  command: 'PASV' | 'EPSV';
  /** Where the FTP server waits for the data connection (after the pasv-target policy was applied). */
  server: Endpoint;
  /** How long an unused listener may wait for its one connection. */
  idleTimeoutMs: number;
}

export interface ActiveRequest {
  command: 'PORT' | 'EPRT';
  /** Where the FTP client listens (already checked by the anti-bounce policy). */
  client: Endpoint;
  idleTimeoutMs: number;
}

/**
 * A data channel a broker set up. The engine advertises `endpoint` (to the FTP client for passive,
 * to the FTP server for active) and calls `release()` when the channel is superseded by a newer
 * PASV/PORT, when the transfer command that used it got its final reply, or when the session ends.
 *
 * `release()` closes the listener if it has not accepted its connection yet; a data connection
 * already accepted runs on to its natural end (a 226 can overtake the last data bytes, which travel
 * on another channel). It must be idempotent and must not throw. A broker's listener accepts exactly
 * one connection and closes itself after it, or after `idleTimeoutMs` without one.
 */
export interface DataChannelLease {
  endpoint: Endpoint;
  release(): void;
  /**
   * Active mode: how far the data connection the FTP server opens has got towards the FTP client.
   * A transfer's final reply must not reach the FTP client before its data connection does (curl
   * gives up on a transfer whose 226 came first, and pure-ftpd sends a small file's 226 at once),
   * so the engine holds that reply until `settled`. `none`: no connection has come yet;
   * `connecting`: it came and is being connected to the FTP client; `done`: connected, or failed.
   * Leases without it (passive mode: the FTP client connects first) are never waited for.
   */
  dataConnection?(): DataConnectionProgress;
}

export interface DataConnectionProgress {
  state: 'none' | 'connecting' | 'done';
  /** Resolves once the state is `done`. Never rejects. */
  settled: Promise<void>;
}

/**
 * The engine's only door to the outside world. Implementations: the client's local and remote FTP
 * forwardings (ssh2), and recording brokers in tests.
 *
 * A rejected promise becomes a `425` (passive) or `500`-class (active) reply to the FTP client; the
 * error's message is logged, never sent to the FTP client verbatim.
 */
export interface DataChannelBroker {
  openPassive(request: PassiveRequest, ctx: SessionContext): Promise<DataChannelLease>;
  openActive(request: ActiveRequest, ctx: SessionContext): Promise<DataChannelLease>;
}

/** How the engine picks the server endpoint of a passive data channel. */
export type PasvTarget = 'control' | 'reply';

export interface SessionPolicy {
  /**
   * `control` (default): use the control connection's server host with the port from the 227 reply,
   * as OpenBSD ftp-proxy and curl's --ftp-skip-pasv-ip do. `reply`: trust the address in the reply.
   */
  pasvTarget: PasvTarget;
  /** Refuse PORT/EPRT that name another host than the FTP client's control address (RFC 2577). */
  antiBounce: boolean;
  /** Lowest port a PORT/EPRT may name (RFC 2577: below 1024 is refused). */
  minActivePort: number;
  /**
   * Lowest port a 227/229 may name: a server (or whoever forged its reply) announcing port 21 or
   * 22 would have the tunnel open a channel to a service on the FTP host (OpenBSD ftp-proxy refuses
   * them too).
   */
  minPassivePort: number;
  /** Pass AUTH TLS/SSL through (data channels then cannot be forwarded). Default false: answer 534. */
  allowAuthTls: boolean;
  /** At most this many data channels open at once per session. */
  maxDataChannels: number;
  /** Longest control line, in bytes, before the line is refused (client side) or the session closed. */
  maxLineLength: number;
  /** How long an unused data listener waits. */
  dataIdleTimeoutMs: number;
  /** How long the engine waits for the broker before answering 425. */
  brokerTimeoutMs: number;
  /** How long a transfer's final reply waits for its active-mode data connection (see DataChannelLease). */
  dataConnectionWaitMs: number;
}

export const DEFAULT_POLICY: Readonly<SessionPolicy> = Object.freeze({
  pasvTarget: 'control',
  antiBounce: true,
  minActivePort: 1024,
  minPassivePort: 1024,
  allowAuthTls: false,
  maxDataChannels: 4,
  maxLineLength: 4096,
  dataIdleTimeoutMs: 60_000,
  brokerTimeoutMs: 30_000,
  dataConnectionWaitMs: 5_000,
});

/** Events a session reports; none of them is thrown. */
export type SessionEvent =
  | { type: 'rewrite'; direction: 'toClient' | 'toServer'; before: string; after: string }
  | { type: 'data-channel-opened'; command: DataCommand; advertised: Endpoint; target: Endpoint }
  | { type: 'data-channel-failed'; command: DataCommand; reason: string }
  | { type: 'refused'; command: string; reply: string; reason: string }
  | { type: 'protocol-error'; direction: 'fromClient' | 'fromServer'; reason: string }
  /** The control stream can no longer be framed safely (replies.ts); no passive channel after it. */
  | { type: 'framing-ambiguous'; direction: 'fromClient' | 'fromServer'; reason: string }
  | { type: 'tls-passthrough' }
  /** A stream of the control connection failed; the session ends (pipeFtpSession only). */
  | { type: 'stream-error'; side: 'client' | 'server'; reason: string };

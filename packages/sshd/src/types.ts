/** Options, limits and events of the SSH server (library API). */

import type { PasswordHash } from '@ftpfwd/ftp-proxy/cli';
import type { AlgorithmKind, AlgorithmSpecs, RekeyLimit } from '@ftpfwd/ftp-proxy/transport';
import type { Logger } from 'pino';
import type { AuthorizedKey } from './authorized-keys.js';
import type { HostKey } from './host-keys.js';
import type { NetBlockSize } from './netblock.js';
import type { PasswordCheckOptions } from './password-checks.js';
import type { PenaltyOptions } from './penalties.js';
import type { AllowTcpForwarding, GatewayPorts, PermitListenRule, PermitOpenRule } from './policy.js';
import type { MaxStartups } from './startups.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** Per-user settings (config file `users:`). Unset fields fall back to the server-wide ones. */
export interface UserEntry {
  keys?: AuthorizedKey[];
  password?: PasswordHash;
  permitOpen?: PermitOpenRule[];
  permitListen?: PermitListenRule[];
  allowTcpForwarding?: AllowTcpForwarding;
}

export interface Limits {
  /** Logged-in connections at once; a login beyond is refused and its connection closed. */
  maxConnections: number;
  /**
   * Unauthenticated connections (OpenSSH's MaxStartups `start:rate:full`): from `start` on, new ones
   * are dropped at random, `rate`% rising to all at `full`. Counted apart from logged-in ones.
   */
  maxStartups: MaxStartups;
  /** Unauthenticated connections from one source netblock; Infinity: no limit. */
  perSourceMaxStartups: number;
  /** What counts as one source for startups and penalties (OpenSSH's PerSourceNetBlockSize). */
  perSourceNetBlockSize: NetBlockSize;
  /**
   * When a new connection would be dropped, an unauthenticated one this old that has not finished
   * its SSH key exchange is closed to make room instead (startups.ts).
   */
  startupEvictAfterMs: number;
  /**
   * Open forwarding channels (and remote-forward listeners) per SSH connection. ftpfwd carries every
   * FTP session over one connection: a control channel and up to 4 data channels each.
   */
  maxChannelsPerConnection: number;
  /** Failed authentication attempts per connection before it is closed. */
  maxAuthTries: number;
  /** Time from TCP accept to successful login; 0 = unlimited. */
  loginGraceTimeMs: number;
  /** Close a logged-in connection after this long without any channel traffic or request; 0 = never. */
  idleTimeoutMs: number;
  /** SSH-level keepalive probe interval; 0 = off. */
  keepaliveIntervalMs: number;
  /** Unanswered keepalive probes before the connection is considered dead. */
  keepaliveCountMax: number;
  /** Time a direct-tcpip connect may take before the channel is refused ("connect failed"). */
  connectTimeoutMs: number;
  /** On stop(): how long open channels may keep running before connections are closed. */
  drainTimeoutMs: number;
  /** Lifetime of an unused FTP data permit (passive permit or active slot). */
  ftpPermitTimeoutMs: number;
  /** Unused FTP data permits one control channel may hold at once. */
  maxFtpPermitsPerControl: number;
  /**
   * New keys after this many bytes one way or this much time (OpenSSH's RekeyLimit), whichever
   * side started the last exchange; `{}`: the cipher's own bound (64 GiB for AES), no time limit.
   */
  rekeyLimit: RekeyLimit;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxConnections: 256,
  maxStartups: { start: 10, rate: 30, full: 100 },
  perSourceMaxStartups: 10,
  perSourceNetBlockSize: { v4: 32, v6: 128 },
  startupEvictAfterMs: 2_000,
  maxChannelsPerConnection: 4096,
  maxAuthTries: 6,
  loginGraceTimeMs: 60_000,
  idleTimeoutMs: 0,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
  connectTimeoutMs: 10_000,
  drainTimeoutMs: 10_000,
  ftpPermitTimeoutMs: 60_000,
  maxFtpPermitsPerControl: 4,
  rekeyLimit: {},
});

/** How the FTP-aware policy treats what control channels announce (config file `ftp:`). */
export interface FtpPolicy {
  /**
   * Whether a 227 may permit a channel to the host it names when that is not the control
   * connection's (only under a rule that names the FTP server, never a wildcard). Default false.
   */
  trustPasvAddress: boolean;
  /** Lowest data port a 227/229 may permit (default 1024: not the FTP host's 21 or 22). */
  minDataPort: number;
  /** Addresses besides a slot's own that a PORT/EPRT may name (this server's address behind NAT). */
  activeAddresses: string[];
  /** An FTP data channel with no bytes either way for this long is closed; 0 = never. */
  dataIdleTimeoutMs: number;
}

export const DEFAULT_FTP_POLICY: Readonly<FtpPolicy> = Object.freeze({
  trustPasvAddress: false,
  minDataPort: 1024,
  activeAddresses: [],
  dataIdleTimeoutMs: 300_000,
});

export interface SshServerOptions {
  /** Where to listen (default 0.0.0.0:2222). Port 0 picks a free port (see `addresses`). */
  listen?: ListenAddress[];
  /** At least one host key. */
  hostKeys: HostKey[];
  /** Keys with which ANY user name may log in (`--authorized-keys`). */
  authorizedKeys?: AuthorizedKey[];
  /** Password hashes by user name (`--passwords`). */
  passwords?: Map<string, PasswordHash>;
  /** Per-user keys, password and policy. */
  users?: Record<string, UserEntry>;
  /** Empty or unset = any. */
  permitOpen?: PermitOpenRule[];
  /** Empty or unset = any. */
  permitListen?: PermitListenRule[];
  gatewayPorts?: GatewayPorts;
  allowTcpForwarding?: AllowTcpForwarding;
  limits?: Partial<Limits>;
  /** The FTP-aware policy's treatment of announcements. */
  ftp?: Partial<FtpPolicy>;
  /** Per-source penalties (OpenSSH's PerSourcePenalties); a kind's time 0 turns it off. */
  penalties?: Partial<Omit<PenaltyOptions, 'netBlockSize' | 'now'>>;
  /** OpenSSH algorithm lists by kind (`cipher: '-aes*-cbc'`); unset kinds keep ssh2's defaults. */
  algorithms?: AlgorithmSpecs;
  /** How many password checks run at once, per source, and how long one may wait. */
  passwordChecks?: Partial<Omit<PasswordCheckOptions, 'netBlockSize'>>;
  /** pino logger; silent when unset. */
  logger?: Logger;
}

export interface ResolvedServerOptions {
  listen: ListenAddress[];
  hostKeys: HostKey[];
  authorizedKeys: AuthorizedKey[];
  passwords: Map<string, PasswordHash>;
  users: Record<string, UserEntry>;
  permitOpen: PermitOpenRule[];
  permitListen: PermitListenRule[];
  gatewayPorts: GatewayPorts;
  allowTcpForwarding: AllowTcpForwarding;
  limits: Limits;
  ftp: FtpPolicy;
  /** The exact lists offered and accepted, per kind. */
  algorithms: Record<AlgorithmKind, string[]>;
}

export interface AuthEvent {
  connection: string;
  ip: string;
  user: string;
  method: string;
  ok: boolean;
  reason: string;
}

export interface ForwardEvent {
  connection: string;
  kind: 'direct-tcpip' | 'tcpip-forward' | 'forwarded-tcpip';
  target: string;
  allowed: boolean;
  /** The rule that decided. */
  rule: string;
  /** For an allowed forward that then failed (connect error). */
  error?: string;
  /** For tcpip-forward: the port actually bound. */
  port?: number;
}

export interface FtpEvent {
  connection: string;
  control: string;
  /**
   * `passive-announced`/`active-announced`: a 227/229 or a PORT/EPRT, with whether it was granted;
   * `active-refused`: a PORT/EPRT/LPRT taken out before it reached the FTP server; `framing-ambiguous`
   * and `tls-started`: the control channel grants nothing more.
   */
  type: 'passive-announced' | 'active-announced' | 'active-refused' | 'framing-ambiguous' | 'tls-started';
  endpoint?: { host: string; port: number };
  granted: boolean;
  command?: string;
  /** The rule that decided, or why nothing was granted. */
  reason?: string;
}

export interface ConnectionCloseEvent {
  connection: string;
  ip: string;
  user: string | undefined;
  bytesFromClient: number;
  bytesToClient: number;
  durationMs: number;
}

export interface ServerEvents {
  listening: { addresses: ListenAddress[] };
  auth: AuthEvent;
  forward: ForwardEvent;
  ftp: FtpEvent;
  'connection-close': ConnectionCloseEvent;
  /** A connection refused before SSH started (max-startups, per-source limit, penalty). */
  'connection-refused': { ip: string; reason: string };
}

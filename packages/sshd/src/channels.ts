/**
 * What the jobs of one SSH connection share (ConnectionScope), and its forwarding channels: how
 * many are open against `limits.maxChannelsPerConnection`, and each one's relay between the ssh2
 * channel and its TCP socket (@ftpfwd/ftp-proxy/transport's relay, the pump both halves use).
 */
import type { Socket } from 'node:net';
import type { FtpControlGuard } from '@ftpfwd/ftp-proxy';
import { type Relay, type RelayStats, relay, type SocketCongestion } from '@ftpfwd/ftp-proxy/transport';
import type { Logger } from 'pino';
import type { Channel, Connection } from 'ssh2';
import type { KeyRestrictions } from './authorized-keys.js';
import type { FtpControls, GuardOutputs } from './ftp-control.js';
import type { ResolvedServerOptions, ServerEvents, UserEntry } from './types.js';

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 §5.1). */
export const OPEN_FAILURE = {
  ADMINISTRATIVELY_PROHIBITED: 1,
  CONNECT_FAILED: 2,
  UNKNOWN_CHANNEL_TYPE: 3,
  RESOURCE_SHORTAGE: 4,
} as const;

export type Emit = <K extends keyof ServerEvents>(event: K, payload: ServerEvents[K]) => void;

/** Who is logged in on a connection, and what their key or user entry restricts. */
export interface LoginState {
  user: string;
  restrictions: KeyRestrictions | undefined;
  userEntry: UserEntry | undefined;
  /** `file:line` of the authorized key used, for log lines that name the rule deciding. */
  keyRef: string;
}

/** What each job of a connection (direct-tcpip, remote forwards) takes from the connection. */
export interface ConnectionScope {
  readonly id: string;
  readonly ip: string;
  readonly opts: ResolvedServerOptions;
  readonly log: Logger;
  readonly emit: Emit;
  readonly ftp: FtpControls;
  readonly channels: ChannelSet;
  client(): Connection | undefined;
  login(): LoginState | undefined;
  isClosed(): boolean;
  isDraining(): boolean;
  /** Traffic or a request: the connection is not idle. */
  touch(): void;
  /** `fn` with an exception in it ending this connection only (callbacks outside ssh2's parser). */
  guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
}

/** Why forwarding in `direction` is not allowed for this login, or undefined. */
export function forwardingBlocked(s: ConnectionScope, direction: 'local' | 'remote'): string | undefined {
  const login = s.login();
  const atf = login?.userEntry?.allowTcpForwarding ?? s.opts.allowTcpForwarding;
  if (
    atf === 'no' ||
    (atf === 'local' && direction === 'remote') ||
    (atf === 'remote' && direction === 'local')
  ) {
    return `allow-tcp-forwarding ${atf}`;
  }
  if (login?.restrictions?.noPortForwarding) return 'no-port-forwarding (authorized_keys)';
  return undefined;
}

export function describeRules(rules: readonly { spec: string }[]): string {
  return rules.length === 0 ? 'any' : rules.map((r) => r.spec).join(',');
}

/** The wire format allows any uint32: refuse what no socket API would take. */
export const isValidPort = (p: number): boolean => Number.isInteger(p) && p >= 0 && p <= 65535;

/** A host name or address a socket API can take: no control characters, not absurdly long. */
export function isSaneHost(h: string, emptyOk: boolean): boolean {
  if (h.length === 0) return emptyOk;
  return h.length <= 255 && /^[\x21-\x7e]+$/.test(h);
}

interface ChannelSetOptions {
  /** This connection's SSH socket: every relay feeding it waits while it is congested. */
  congestion: SocketCongestion;
  limit: number;
  log: Logger;
  touch: () => void;
  user: () => string | undefined;
  /** An FTP data channel with no bytes either way for this long is closed; 0 = never. */
  dataIdleMs: number;
  /** A channel closed (the connection may be draining). */
  onClosed: () => void;
}

export class ChannelSet {
  private count = 0;
  private readonly relays = new Set<Relay>();
  private readonly totals: RelayStats = { bytesAtoB: 0, bytesBtoA: 0 };

  constructor(private readonly o: ChannelSetOptions) {}

  get open(): number {
    return this.count;
  }

  /** Takes a channel slot, or says there is none (checked before the policy uses a permit up). */
  reserve(): boolean {
    if (this.count >= this.o.limit) return false;
    this.count += 1;
    return true;
  }

  /** Gives back a slot whose channel never came to be (a refused or failed open). */
  unreserve(): void {
    this.count -= 1;
  }

  /** Relays a reserved channel and its socket; `ftpData`: closed after the data idle time. */
  run(channel: Channel, sock: Socket, target: string, ftpData: boolean): void {
    const idleMs = ftpData ? this.o.dataIdleMs : 0;
    this.track(
      target,
      relay(
        { stream: channel, congestion: this.o.congestion, eof: 'eof' },
        { stream: sock },
        {
          onFromA: this.o.touch,
          onFromB: this.o.touch,
          idleTimeoutMs: idleMs,
          onIdle: () =>
            this.o.log.info(
              { event: 'ftp-data-idle', user: this.o.user(), target, idleMs },
              'FTP data channel idle too long; closed',
            ),
        },
      ),
    );
  }

  /** Relays a reserved FTP control channel through the guard `open` returns. */
  runControl(
    channel: Channel,
    sock: Socket,
    target: string,
    open: (outputs: GuardOutputs) => { id: string; guard: FtpControlGuard },
    ftp: FtpControls,
  ): void {
    let controlId: string | undefined;
    const r = relay(
      { stream: channel, congestion: this.o.congestion, eof: 'eof' },
      { stream: sock },
      {
        onFromA: this.o.touch,
        onFromB: this.o.touch,
        makeFilter: ({ toA, toB }) => {
          const control = open({ toServer: toB, toClient: toA });
          controlId = control.id;
          return { fromA: (c) => control.guard.fromClient(c), fromB: (c) => control.guard.fromServer(c) };
        },
      },
    );
    r.closed.then(() => {
      if (controlId) ftp.closed(controlId);
    });
    this.track(target, r);
  }

  private track(target: string, r: Relay): void {
    this.relays.add(r);
    r.closed.then((stats) => {
      this.count -= 1;
      this.relays.delete(r);
      this.totals.bytesAtoB += stats.bytesAtoB;
      this.totals.bytesBtoA += stats.bytesBtoA;
      this.o.log.debug(
        { event: 'channel-close', target, bytesFromClient: stats.bytesAtoB, bytesToClient: stats.bytesBtoA },
        'channel closed',
      );
      this.o.onClosed();
    });
  }

  /** Closes every channel now; the bytes all of them carried, closed ones included. */
  destroyAll(): { bytesFromClient: number; bytesToClient: number } {
    let fromClient = this.totals.bytesAtoB;
    let toClient = this.totals.bytesBtoA;
    for (const r of [...this.relays]) {
      fromClient += r.stats.bytesAtoB;
      toClient += r.stats.bytesBtoA;
      r.destroy();
    }
    return { bytesFromClient: fromClient, bytesToClient: toClient };
  }
}

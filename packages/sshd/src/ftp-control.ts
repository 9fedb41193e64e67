/**
 * The FTP control channels of one SSH connection: a guard on each (what its replies announce, which
 * PORT/EPRT may pass), the permits those announcements make, and an audit line for every permit
 * granted or refused. The connection asks it before refusing a direct-tcpip or a remote forward.
 */
import { networkInterfaces } from 'node:os';
import { type Endpoint, FtpControlGuard, type GuardEvent } from '@ftpfwd/ftp-proxy';
import type { Logger } from 'pino';
import { FtpPermitTable, type PermitDecision } from './ftp-permits.js';
import { normalizeAddress } from './policy.js';
import type { FtpEvent, FtpPolicy } from './types.js';

export interface FtpControlsDeps {
  connectionId: string;
  log: Logger;
  policy: FtpPolicy;
  ttlMs: number;
  maxPerControl: number;
  /** The SSH user, once logged in: every audit line names it. */
  user: () => string | undefined;
  /**
   * The bind address of this connection's own remote forward on `port` (one permit-listen allowed,
   * not an FTP slot), if there is one: a PORT may name the user's own listener.
   */
  ownForward: (port: number) => string | undefined;
  emit: (event: FtpEvent) => void;
}

/** The streams a guard writes to: the FTP server (TCP socket) and the SSH client (channel). */
export interface GuardOutputs {
  toServer: (bytes: Buffer) => void;
  toClient: (bytes: Buffer) => void;
}

export interface FtpControl {
  id: string;
  guard: FtpControlGuard;
}

export class FtpControls {
  private readonly permits: FtpPermitTable;
  private seq = 0;

  constructor(private readonly deps: FtpControlsDeps) {
    this.permits = new FtpPermitTable({
      ttlMs: deps.ttlMs,
      maxPerControl: deps.maxPerControl,
      minDataPort: deps.policy.minDataPort,
    });
  }

  /** Start guarding an FTP control channel to `requestedHost`, connected as `serverAddress`. */
  open(
    requestedHost: string,
    serverAddress: string,
    ruleNamesServer: boolean,
    out: GuardOutputs,
  ): FtpControl {
    this.seq += 1;
    const id = `${this.deps.connectionId}/ftp${this.seq}`;
    const server = normalizeAddress(serverAddress || requestedHost);
    // A 227 naming another host is believed only when the operator said so, and never under a
    // wildcard rule: there the client picked the "FTP server", which could announce any address.
    const trustAnnouncedHost = this.deps.policy.trustPasvAddress && ruleNamesServer;
    this.permits.controlOpened({ id, requestedHost, serverAddress: server, trustAnnouncedHost });
    const guard = new FtpControlGuard({
      serverHost: requestedHost,
      admitActive: (command, endpoint) => this.armActive(id, command, endpoint),
      toServer: out.toServer,
      toClient: out.toClient,
      onEvent: (e) => this.onEvent(id, e),
    });
    this.deps.log.info({ event: 'ftp-control', control: id, server }, 'guarding FTP control channel');
    return { id, guard };
  }

  closed(id: string): void {
    this.permits.controlClosed(id);
  }

  /** The passive permit a direct-tcpip to host:port uses up, if there is one. */
  takePassive(host: string, port: number): PermitDecision {
    return this.permits.takePassive(host, port);
  }

  mayOpenSlot(): boolean {
    return this.permits.mayOpenSlot();
  }

  /** A slot listening on `bindAddr`: a PORT/EPRT may name it at that address (any local one for a wildcard). */
  openSlot(port: number, bindAddr: string): void {
    this.permits.openSlot(port, (host) => this.reaches(bindAddr, host));
  }

  /** Whether a connection to `host` reaches a listener bound to `bindAddr` on this machine. */
  private reaches(bindAddr: string, host: string): boolean {
    const h = normalizeAddress(host);
    if (this.deps.policy.activeAddresses.some((a) => normalizeAddress(a) === h)) return true;
    return isWildcard(bindAddr) ? localAddresses().has(h) : h === normalizeAddress(bindAddr);
  }

  closeSlot(port: number): void {
    this.permits.closeSlot(port);
  }

  hasSlot(port: number): boolean {
    return this.permits.hasSlot(port);
  }

  admitActive(port: number, peer: string): PermitDecision {
    return this.permits.admitActive(port, peer);
  }

  private armActive(controlId: string, command: 'PORT' | 'EPRT', endpoint: Endpoint): string | undefined {
    const own = this.deps.ownForward(endpoint.port);
    if (own !== undefined && this.reaches(own, endpoint.host)) {
      this.audit(controlId, command, endpoint, true, `names this connection's own remote forward on ${own}`);
      return undefined;
    }
    const d = this.permits.armActive(controlId, command, endpoint.host, endpoint.port);
    this.audit(
      controlId,
      command,
      endpoint,
      d.ok,
      d.ok ? `slot armed for the FTP server ${d.hosts[0]}` : d.reason,
    );
    return d.ok ? undefined : d.reason;
  }

  private onEvent(controlId: string, e: GuardEvent): void {
    const log = this.deps.log;
    switch (e.type) {
      case 'passive-announced': {
        const d = this.permits.addPassive(controlId, e.command, e.endpoint.host, e.endpoint.port);
        this.audit(
          controlId,
          e.command,
          e.endpoint,
          d.ok,
          d.ok ? `one channel to port ${e.endpoint.port} at ${d.hosts.join(' or ')}` : d.reason,
        );
        return;
      }
      case 'active-announced':
        return; // audited when the guard asked (armActive)
      case 'active-refused':
        log.info(
          {
            event: 'ftp-permit',
            control: controlId,
            user: this.deps.user(),
            command: e.command,
            granted: false,
            rule: e.reason,
          },
          `FTP ${e.command} taken out and answered "${e.reply}"`,
        );
        this.deps.emit({
          connection: this.deps.connectionId,
          control: controlId,
          type: e.type,
          granted: false,
          command: e.command,
          reason: e.reason,
        });
        return;
      case 'framing-ambiguous': {
        const revoked = this.permits.revoke(controlId);
        log.warn(
          {
            event: 'ftp-ambiguous',
            control: controlId,
            user: this.deps.user(),
            direction: e.direction,
            reason: e.reason,
            revoked,
          },
          'FTP control channel framed ambiguously; no more data permits from it',
        );
        this.deps.emit({
          connection: this.deps.connectionId,
          control: controlId,
          type: e.type,
          granted: false,
          reason: e.reason,
        });
        return;
      }
      case 'protocol-error':
        log.debug(
          { event: 'ftp-protocol-error', control: controlId, direction: e.direction, reason: e.reason },
          'FTP control stream did not parse',
        );
        return;
      case 'tls-started':
        log.info(
          { event: 'ftp-tls', control: controlId },
          'FTP control channel switched to TLS; no more data permits from it',
        );
        this.deps.emit({
          connection: this.deps.connectionId,
          control: controlId,
          type: e.type,
          granted: false,
        });
    }
  }

  /** One line per permit granted or refused, at info: the operator's record of what FTP opened. */
  private audit(
    controlId: string,
    command: string,
    endpoint: Endpoint,
    granted: boolean,
    rule: string,
  ): void {
    const ep = endpoint.host.includes(':')
      ? `[${endpoint.host}]:${endpoint.port}`
      : `${endpoint.host}:${endpoint.port}`;
    // The field objects stay literal in each call: tools/gen-reference.mjs documents log fields by reading them.
    if (granted)
      this.deps.log.info(
        {
          event: 'ftp-permit',
          control: controlId,
          user: this.deps.user(),
          command,
          endpoint: ep,
          granted,
          rule,
        },
        `FTP ${command} data permit granted`,
      );
    else
      this.deps.log.info(
        {
          event: 'ftp-permit',
          control: controlId,
          user: this.deps.user(),
          command,
          endpoint: ep,
          granted,
          rule,
        },
        `FTP ${command} data permit refused`,
      );
    this.deps.emit({
      connection: this.deps.connectionId,
      control: controlId,
      type: command === 'PORT' || command === 'EPRT' ? 'active-announced' : 'passive-announced',
      endpoint,
      granted,
      command,
      reason: rule,
    });
  }
}

function isWildcard(addr: string): boolean {
  return addr === '' || addr === '0.0.0.0' || addr === '::' || addr === '*';
}

/** Every address of this host's interfaces (normalised), read anew: interfaces come and go. */
function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) out.add(normalizeAddress(a.address));
  return out;
}

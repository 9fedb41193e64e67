/**
 * The FTP-aware permits of one SSH connection. Pure (clock injected); the connection feeds it what
 * the FTP control guards saw and asks it before refusing a forward.
 *
 * - Passive: a 227/229 reply the FTP server sent on a control channel permits ONE `direct-tcpip` to
 *   that data port at the control connection's host (and at the host a 227 reply named, only when
 *   the operator trusts such replies), until it expires. Ports below `minDataPort` are never
 *   permitted: a reply naming 21 or 22 would open a channel to a service on the FTP host.
 * - Active: while the SSH connection has an open FTP control channel, it may ask for a remote
 *   forward on an ephemeral port (a "slot"). A PORT/EPRT passes to the FTP server only when it names
 *   a free slot at an address where that slot listens; it then arms the slot, whose listener admits
 *   one connection, only from that control connection's FTP server address.
 * Every permit is used once, expires after `ttlMs`, and dies with its control channel — or earlier,
 * when the control channel's framing became ambiguous (revoke).
 */
import { normalizeAddress } from './policy.js';

export interface FtpPermitOptions {
  ttlMs: number;
  /** At most this many unused permits (passive + active) per control channel. */
  maxPerControl: number;
  /** Lowest data port a passive reply may have permitted. */
  minDataPort: number;
  now?: () => number;
}

export interface ControlInfo {
  id: string;
  /** The host as the client named it in the control channel's direct-tcpip. */
  requestedHost: string;
  /** The FTP server's address as seen on the TCP connection the server made. */
  serverAddress: string;
  /**
   * Whether a 227 reply may name another host than the control connection's (the operator's
   * `ftp.trustPasvAddress`). Off by default: the FTP server's reply, or whoever managed to forge
   * one, would otherwise choose the host a channel goes to.
   */
  trustAnnouncedHost: boolean;
}

type PassiveCommand = 'PASV' | 'EPSV';
type ActiveCommand = 'PORT' | 'EPRT';

interface PassivePermit {
  controlId: string;
  command: PassiveCommand;
  hosts: Set<string>;
  port: number;
  expiresAt: number;
}

interface ActiveSlot {
  port: number;
  expiresAt: number;
  /** Whether a PORT/EPRT naming `host` reaches this slot (the address it listens on). */
  acceptsHost: (host: string) => boolean;
  armed?: { controlId: string; command: ActiveCommand; peer: string };
}

export type PermitDecision =
  | { ok: true; controlId: string; command: PassiveCommand | ActiveCommand; reason: string }
  | { ok: false; reason: string };

export type GrantDecision = { ok: true; hosts: string[] } | { ok: false; reason: string };

export class FtpPermitTable {
  private readonly controls = new Map<string, ControlInfo>();
  private passive: PassivePermit[] = [];
  private readonly slots = new Map<number, ActiveSlot>();
  private readonly now: () => number;

  constructor(private readonly opts: FtpPermitOptions) {
    this.now = opts.now ?? Date.now;
  }

  controlOpened(info: ControlInfo): void {
    this.controls.set(info.id, info);
  }

  /** The control channel closed: its permits go with it. */
  controlClosed(id: string): void {
    this.revoke(id);
    this.controls.delete(id);
  }

  /** Drops what `id` permitted and has not been used; how many permits went. */
  revoke(id: string): number {
    const before = this.passive.length;
    this.passive = this.passive.filter((p) => p.controlId !== id);
    let n = before - this.passive.length;
    for (const [port, slot] of this.slots)
      if (slot.armed?.controlId === id) {
        this.slots.delete(port);
        n++;
      }
    return n;
  }

  get openControls(): number {
    return this.controls.size;
  }

  private prune(): void {
    const now = this.now();
    this.passive = this.passive.filter((p) => p.expiresAt > now);
    for (const [port, slot] of this.slots) if (slot.expiresAt <= now) this.slots.delete(port);
  }

  private countFor(controlId: string): number {
    let n = this.passive.filter((p) => p.controlId === controlId).length;
    for (const s of this.slots.values()) if (s.armed?.controlId === controlId) n++;
    return n;
  }

  /**
   * A 227/229 reply on control `controlId` announced `host:port`. Permits a direct-tcpip to that
   * port at the control's requested host or its server address (and the announced host when the
   * control trusts it), or says why not.
   */
  addPassive(controlId: string, command: PassiveCommand, announcedHost: string, port: number): GrantDecision {
    this.prune();
    const control = this.controls.get(controlId);
    if (!control) return { ok: false, reason: 'the control channel is gone' };
    if (port < this.opts.minDataPort)
      return { ok: false, reason: `port ${port} is below the lowest data port ${this.opts.minDataPort}` };
    if (this.countFor(controlId) >= this.opts.maxPerControl)
      return {
        ok: false,
        reason: `${this.opts.maxPerControl} unused permits on this control channel already`,
      };
    const candidates = [control.requestedHost, control.serverAddress];
    if (control.trustAnnouncedHost) candidates.push(announcedHost);
    const hosts = new Set(candidates.map((h) => normalizeAddress(h)));
    this.passive.push({ controlId, command, hosts, port, expiresAt: this.now() + this.opts.ttlMs });
    return { ok: true, hosts: [...hosts] };
  }

  /** Consume the passive permit for a direct-tcpip to host:port, if there is one. */
  takePassive(host: string, port: number): PermitDecision {
    this.prune();
    const h = normalizeAddress(host);
    const idx = this.passive.findIndex((p) => p.port === port && p.hosts.has(h));
    if (idx < 0) return { ok: false, reason: 'no FTP data permit for this address' };
    const [permit] = this.passive.splice(idx, 1);
    return {
      ok: true,
      controlId: permit!.controlId,
      command: permit!.command,
      reason: `FTP ${permit!.command} data port announced on ${permit!.controlId}`,
    };
  }

  /** May this connection get an ephemeral remote-forward slot for FTP active mode now? */
  mayOpenSlot(): boolean {
    this.prune();
    return this.controls.size > 0 && this.slots.size < this.opts.maxPerControl * this.controls.size;
  }

  /** Register the listener port granted for an active-mode slot, and which addresses reach it. */
  openSlot(port: number, acceptsHost: (host: string) => boolean): void {
    this.slots.set(port, { port, expiresAt: this.now() + this.opts.ttlMs, acceptsHost });
  }

  closeSlot(port: number): void {
    this.slots.delete(port);
  }

  hasSlot(port: number): boolean {
    this.prune();
    return this.slots.has(port);
  }

  /**
   * A PORT/EPRT naming host:port on control `controlId`: arm that slot for its FTP server, or say
   * why it names none of this connection's slots (then it must not reach the FTP server).
   */
  armActive(controlId: string, command: ActiveCommand, host: string, port: number): GrantDecision {
    this.prune();
    const control = this.controls.get(controlId);
    if (!control) return { ok: false, reason: 'the control channel is gone' };
    const slot = this.slots.get(port);
    if (!slot) return { ok: false, reason: `port ${port} is no FTP data slot of this SSH connection` };
    if (slot.armed) return { ok: false, reason: `slot ${port} is already named by ${slot.armed.controlId}` };
    if (!slot.acceptsHost(host)) return { ok: false, reason: `slot ${port} does not listen on ${host}` };
    const peer = normalizeAddress(control.serverAddress);
    slot.armed = { controlId, command, peer };
    slot.expiresAt = this.now() + this.opts.ttlMs;
    return { ok: true, hosts: [peer] };
  }

  /** A TCP connection from `peer` arrived on slot `port`: admit it once (and retire the slot) or not. */
  admitActive(port: number, peer: string): PermitDecision {
    this.prune();
    const slot = this.slots.get(port);
    if (!slot) return { ok: false, reason: 'no FTP active-mode slot on this port (expired or used)' };
    if (!slot.armed) return { ok: false, reason: 'no PORT/EPRT has named this port yet' };
    if (slot.armed.peer !== normalizeAddress(peer)) {
      return { ok: false, reason: `only the FTP server ${slot.armed.peer} may connect` };
    }
    this.slots.delete(port);
    return {
      ok: true,
      controlId: slot.armed.controlId,
      command: slot.armed.command,
      reason: `FTP ${slot.armed.command} data port named on ${slot.armed.controlId}`,
    };
  }
}

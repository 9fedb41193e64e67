/**
 * The FTP-aware permits of one SSH connection. Pure (clock injected); the connection feeds it what
 * the read-only FTP observers saw and asks it before refusing a forward.
 *
 * - Passive: a 227/229 reply the FTP server sent on a control channel permits ONE `direct-tcpip` to
 *   that data port at the control connection's host (and at the host a 227 reply named, when the
 *   rule names the FTP server explicitly), until it expires.
 * - Active: while the SSH connection has an open FTP control channel, it may ask for a remote
 *   forward on an ephemeral port (a "slot"). The slot's listener admits one connection, only after a
 *   PORT/EPRT naming its port has passed on a control channel, and only from that control
 *   connection's FTP server address.
 * Every permit is used once, expires after `ttlMs`, and dies with its control channel.
 */
import { normalizeAddress } from './policy.js';

export interface FtpPermitOptions {
  ttlMs: number;
  /** At most this many unused permits (passive + active) per control channel. */
  maxPerControl: number;
  now?: () => number;
}

export interface ControlInfo {
  id: string;
  /** The host as the client named it in the control channel's direct-tcpip. */
  requestedHost: string;
  /** The FTP server's address as seen on the TCP connection the server made. */
  serverAddress: string;
  /**
   * Whether a 227 reply may name another host than the control connection's. Only when the rule
   * names the FTP server itself: under a wildcard rule (`*:21/ftp`) the client picks the "FTP
   * server", and a server of its choosing could announce any internal address.
   */
  trustAnnouncedHost: boolean;
}

interface PassivePermit {
  controlId: string;
  hosts: Set<string>;
  port: number;
  expiresAt: number;
}

interface ActiveSlot {
  port: number;
  expiresAt: number;
  armed?: { controlId: string; peer: string };
}

export type PermitDecision = { ok: true; controlId: string; reason: string } | { ok: false; reason: string };

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
    this.controls.delete(id);
    this.passive = this.passive.filter((p) => p.controlId !== id);
    for (const [port, slot] of this.slots) if (slot.armed?.controlId === id) this.slots.delete(port);
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
   * control trusts it). Returns false
   * when the control is unknown or already holds `maxPerControl` unused permits.
   */
  addPassive(controlId: string, announcedHost: string, port: number): boolean {
    this.prune();
    const control = this.controls.get(controlId);
    if (!control || this.countFor(controlId) >= this.opts.maxPerControl) return false;
    const candidates = [control.requestedHost, control.serverAddress];
    if (control.trustAnnouncedHost) candidates.push(announcedHost);
    const hosts = new Set(candidates.map((h) => normalizeAddress(h)));
    this.passive.push({ controlId, hosts, port, expiresAt: this.now() + this.opts.ttlMs });
    return true;
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
      reason: `FTP passive data port announced on ${permit!.controlId}`,
    };
  }

  /** May this connection get an ephemeral remote-forward slot for FTP active mode now? */
  mayOpenSlot(): boolean {
    this.prune();
    return this.controls.size > 0 && this.slots.size < this.opts.maxPerControl * this.controls.size;
  }

  /** Register the listener port granted for an active-mode slot. */
  openSlot(port: number): void {
    this.slots.set(port, { port, expiresAt: this.now() + this.opts.ttlMs });
  }

  closeSlot(port: number): void {
    this.slots.delete(port);
  }

  hasSlot(port: number): boolean {
    this.prune();
    return this.slots.has(port);
  }

  /** A PORT/EPRT naming `port` passed on control `controlId`: arm that slot for its FTP server. */
  armActive(controlId: string, port: number): boolean {
    this.prune();
    const control = this.controls.get(controlId);
    const slot = this.slots.get(port);
    if (!control || !slot || slot.armed) return false;
    slot.armed = { controlId, peer: normalizeAddress(control.serverAddress) };
    slot.expiresAt = this.now() + this.opts.ttlMs;
    return true;
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
      reason: `FTP active data port named on ${slot.armed.controlId}`,
    };
  }
}

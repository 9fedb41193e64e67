/**
 * Per-source penalties, as OpenSSH's PerSourcePenalties (9.8+). Pure (clock injected). A source
 * netblock that misbehaves accrues penalty time; once what it has accrued reaches `min`, it is
 * refused (new connections closed at once, and its open connections' password attempts answered
 * without a check) until the penalty runs out. Penalties add up to at most `max`.
 *
 * - `authfail`: each failed password or signature check, at once (not when the connection
 *   closes: 60 connections trying 3 passwords each would otherwise all run), and a connection that
 *   ends without a login after a failed attempt.
 * - `noauth`: a connection that ends without trying to log in at all (a port scan, a banner grab).
 * - `graceExceeded`: a connection still not logged in at the end of the login grace time.
 * The table holds at most `maxSources` sources; beyond, the longest-unpenalised are forgotten.
 */
import type { AddressPatternList } from './host-patterns.js';
import { type NetBlockSize, netblockOf } from './netblock.js';

export type PenaltyKind = 'authfail' | 'noauth' | 'graceExceeded';

export interface PenaltyOptions {
  authfailMs: number;
  noauthMs: number;
  graceExceededMs: number;
  /** Accrued penalty from which the source is refused. */
  minMs: number;
  /** Most penalty a source can accrue. */
  maxMs: number;
  maxSources: number;
  netBlockSize: NetBlockSize;
  /** Sources never penalised (OpenSSH's PerSourcePenaltyExemptList). */
  exempt?: AddressPatternList;
  now?: () => number;
}

export const DEFAULT_PENALTIES: Readonly<Omit<PenaltyOptions, 'netBlockSize'>> = Object.freeze({
  authfailMs: 5_000,
  noauthMs: 1_000,
  graceExceededMs: 10_000,
  minMs: 15_000,
  maxMs: 600_000,
  maxSources: 65_536,
});

interface Penalty {
  until: number;
  /** Reached `min`: refused until `until`. */
  active: boolean;
}

export class SourcePenalties {
  /** By netblock; Map order doubles as least-recently-penalised order (re-inserted on each penalty). */
  private readonly table = new Map<string, Penalty>();
  private readonly now: () => number;

  constructor(private readonly opts: PenaltyOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Milliseconds the source of `address` is still refused for; 0 when it may connect. */
  blockedForMs(address: string): number {
    const key = netblockOf(address, this.opts.netBlockSize);
    const p = this.table.get(key);
    if (!p) return 0;
    const left = p.until - this.now();
    if (left <= 0) {
      this.table.delete(key);
      return 0;
    }
    return p.active ? left : 0;
  }

  /** Adds a penalty of `kind`; returns the refusal it started (ms), or 0 if none started now. */
  penalize(address: string, kind: PenaltyKind): number {
    const ms = this.opts[`${kind}Ms`];
    if (ms <= 0 || this.opts.exempt?.matches(address)) return 0;
    const key = netblockOf(address, this.opts.netBlockSize);
    const now = this.now();
    const old = this.table.get(key);
    const p: Penalty = old && old.until > now ? old : { until: now, active: false };
    p.until = Math.min(p.until + ms, now + this.opts.maxMs);
    this.table.delete(key);
    this.table.set(key, p);
    while (this.table.size > this.opts.maxSources)
      this.table.delete(this.table.keys().next().value as string);
    if (p.active || p.until - now < this.opts.minMs) return 0;
    p.active = true;
    return p.until - now;
  }

  /** Sources tracked right now (for metrics and tests). */
  get size(): number {
    return this.table.size;
  }
}

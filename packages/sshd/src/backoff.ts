/**
 * Per-source-address back-off after repeated authentication failures. Pure (clock injected): the
 * server asks `blockedForMs(ip)` when a connection arrives and reports failures and successes.
 * After `threshold` failures within `windowMs`, the address is refused for `baseBlockMs`, doubling
 * with each further block up to `maxBlockMs`. The table is bounded so a spray of sources cannot
 * grow it without limit (oldest entries are forgotten first).
 */
import { normalizeAddress } from './policy.js';

export interface BackoffOptions {
  threshold: number;
  windowMs: number;
  baseBlockMs: number;
  maxBlockMs: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number[];
  blocks: number;
  blockedUntil: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  threshold: 10,
  windowMs: 10 * 60_000,
  baseBlockMs: 30_000,
  maxBlockMs: 15 * 60_000,
});

export class SourceBackoff {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {
    this.now = opts.now ?? Date.now;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** Milliseconds the address is still refused for, 0 when it may connect. */
  blockedForMs(address: string): number {
    const e = this.entries.get(normalizeAddress(address));
    if (!e) return 0;
    return Math.max(0, e.blockedUntil - this.now());
  }

  /** Record one failed authentication; returns the block length started by it, or 0. */
  recordFailure(address: string): number {
    if (this.opts.threshold <= 0) return 0;
    const key = normalizeAddress(address);
    const now = this.now();
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // re-insert: Map order doubles as least-recently-used order
    } else {
      e = { failures: [], blocks: 0, blockedUntil: 0 };
    }
    this.entries.set(key, e);
    e.failures = e.failures.filter((t) => now - t < this.opts.windowMs);
    e.failures.push(now);
    let started = 0;
    if (e.failures.length >= this.opts.threshold) {
      started = Math.min(this.opts.maxBlockMs, this.opts.baseBlockMs * 2 ** e.blocks);
      e.blocks += 1;
      e.blockedUntil = now + started;
      e.failures = [];
    }
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return started;
  }

  /** A successful login forgets the address's recent failures (not a running block). */
  recordSuccess(address: string): void {
    const e = this.entries.get(normalizeAddress(address));
    if (e) {
      e.failures = [];
      e.blocks = 0;
    }
  }
}

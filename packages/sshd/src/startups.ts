/**
 * Admission of unauthenticated connections, as OpenSSH's MaxStartups and PerSourceMaxStartups do
 * it. Pure (random source injected). A connection is a "startup" from TCP accept until it logs in
 * or closes; logged-in connections are counted elsewhere (limits.maxConnections), so a flood that
 * never authenticates cannot lock out users who do.
 *
 * - `start:rate:full`: below `start` startups every connection is let in; from `start` on, a new
 *   one is dropped with probability `rate`% rising linearly to 100 % at `full` (random early drop:
 *   a flood from many sources degrades service instead of taking all of it).
 * - `perSource`: at most this many startups from one source netblock (netblock.ts); a flood from
 *   one address then holds that many slots and no more.
 * - Beyond OpenSSH: a connection that would be dropped takes instead the slot of the oldest startup
 *   that has not finished its SSH key exchange after `evictAfterMs` (a real client does in
 *   milliseconds). Connections opened from many addresses that never speak SSH then cannot hold the
 *   server full until their login grace time runs out.
 */
import { type NetBlockSize, netblockOf } from './netblock.js';

export interface MaxStartups {
  start: number;
  rate: number;
  full: number;
}

export interface StartupLimits {
  maxStartups: MaxStartups;
  /** A startup this old that has not finished key exchange gives its slot to a new connection. */
  evictAfterMs: number;
  /** Startups per source netblock; Infinity = no limit (OpenSSH's `none`). */
  perSource: number;
  netBlockSize: NetBlockSize;
}

export const DEFAULT_MAX_STARTUPS: Readonly<MaxStartups> = Object.freeze({ start: 10, rate: 30, full: 100 });

/** `10:30:100` or `10` (OpenSSH's syntax). Throws an Error saying what was expected. */
export function parseMaxStartups(text: string): MaxStartups {
  const m = /^(\d+)(?::(\d+):(\d+))?$/.exec(text.trim());
  if (!m)
    throw new Error(`expected START:RATE:FULL such as 10:30:100, or a number, got ${JSON.stringify(text)}`);
  const start = Number(m[1]);
  if (m[2] === undefined) return { start, rate: 100, full: start };
  const rate = Number(m[2]);
  const full = Number(m[3]);
  if (start < 1 || rate > 100 || full < start) {
    throw new Error(`expected START >= 1, RATE <= 100 and FULL >= START, got ${JSON.stringify(text)}`);
  }
  return { start, rate, full };
}

export type Admission =
  | {
      ok: true;
      /** It logged in or closed: the slot is free. Idempotent. */
      release: () => void;
      /** Its SSH key exchange finished: it is no longer evicted for a newcomer. */
      handshakeDone: () => void;
    }
  | { ok: false; reason: string };

interface Startup {
  source: string;
  since: number;
  handshaken: boolean;
  evict: () => void;
}

export class StartupLimiter {
  private total = 0;
  private readonly bySource = new Map<string, number>();
  /** In admission order: the first one not handshaken is the oldest to evict. */
  private readonly live = new Set<Startup>();

  constructor(
    private readonly limits: StartupLimits,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  get startups(): number {
    return this.total;
  }

  /**
   * Decide on a new connection from `address`. `evict` closes it (it must end in `release`): called
   * if it is still in key exchange when a newcomer needs its slot.
   */
  admit(address: string, evict: () => void): Admission {
    const source = netblockOf(address, this.limits.netBlockSize);
    const fromSource = this.bySource.get(source) ?? 0;
    if (fromSource >= this.limits.perSource) {
      return { ok: false, reason: `per-source-max-startups ${this.limits.perSource} reached for ${source}` };
    }
    const drop = this.dropChance();
    if (drop >= 1 || (drop > 0 && this.random() < drop)) {
      const victim = this.evictable();
      if (!victim) {
        const { start, rate, full } = this.limits.maxStartups;
        return { ok: false, reason: `max-startups ${start}:${rate}:${full} (${this.total} unauthenticated)` };
      }
      victim.evict();
      this.remove(victim); // whether or not evict() released it synchronously
    }
    const entry: Startup = { source, since: this.now(), handshaken: false, evict };
    this.total += 1;
    this.bySource.set(source, fromSource + 1);
    this.live.add(entry);
    return {
      ok: true,
      release: () => this.remove(entry),
      handshakeDone: () => {
        entry.handshaken = true;
      },
    };
  }

  /** The oldest startup still in key exchange after evictAfterMs, if any. */
  private evictable(): Startup | undefined {
    const cutoff = this.now() - this.limits.evictAfterMs;
    for (const s of this.live) {
      if (s.since > cutoff) return undefined; // admission order: the rest are younger
      if (!s.handshaken) return s;
    }
    return undefined;
  }

  private remove(entry: Startup): void {
    if (!this.live.delete(entry)) return;
    this.total -= 1;
    const n = (this.bySource.get(entry.source) ?? 1) - 1;
    if (n <= 0) this.bySource.delete(entry.source);
    else this.bySource.set(entry.source, n);
  }

  /** OpenSSH's drop_connection(): 0 below start, rate% at start, rising linearly to 1 at full. */
  private dropChance(): number {
    const { start, rate, full } = this.limits.maxStartups;
    if (this.total < start) return 0;
    if (this.total >= full) return 1;
    return (rate + ((100 - rate) * (this.total - start)) / (full - start)) / 100;
  }
}

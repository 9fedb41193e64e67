/**
 * Bounds on FTP login attempts across every session of one bridge (pure: the clock is injected).
 *
 * A bridge that checks passwords (`--sftp-login ssh` or a password file) on a LAN address is a
 * password oracle for anyone on that LAN. Per connection, a refusal is slow and three close it
 * (session.ts); across connections this gate keeps one source from guessing fast or in parallel:
 * - `perSource` checks may run at once from one address, `concurrency` in all;
 * - after `maxFailures` failures from an address it is refused for `blockMs`, doubling with each
 *   further failure up to `maxBlockMs`; a success from it clears its record.
 * With `--sftp-login ssh` this also spares the SSH server: every guess would be a login there, and
 * its own per-source penalties (OpenSSH's PerSourcePenalties) would lock out every user of the
 * gateway at once, since they all arrive from the gateway's address.
 */

export interface LoginGateOptions {
  perSource: number;
  concurrency: number;
  maxFailures: number;
  blockMs: number;
  maxBlockMs: number;
  /** A source's record is forgotten after this long without a failure. */
  forgetMs: number;
  /** Sources remembered at once; the least recently failed are forgotten first. */
  maxSources: number;
}

export const DEFAULT_LOGIN_GATE: Readonly<LoginGateOptions> = Object.freeze({
  perSource: 2,
  concurrency: 16,
  maxFailures: 5,
  blockMs: 30_000,
  maxBlockMs: 15 * 60_000,
  forgetMs: 15 * 60_000,
  maxSources: 10_000,
});

export type Admission =
  | { ok: true; done(outcome: 'ok' | 'failed' | 'error'): void }
  | { ok: false; reason: 'blocked' | 'busy-source' | 'busy'; retryAfterMs: number };

interface Record {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
}

export class LoginGate {
  private readonly records = new Map<string, Record>();
  private readonly running = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly opts: LoginGateOptions = DEFAULT_LOGIN_GATE,
    private readonly now: () => number = Date.now,
  ) {}

  /** May `source` have a password checked now? On ok, call done() exactly once with the outcome. */
  admit(source: string): Admission {
    const t = this.now();
    const rec = this.record(source, t);
    if (rec && rec.blockedUntil > t)
      return { ok: false, reason: 'blocked', retryAfterMs: rec.blockedUntil - t };
    const mine = this.running.get(source) ?? 0;
    if (mine >= this.opts.perSource) return { ok: false, reason: 'busy-source', retryAfterMs: 1000 };
    if (this.total >= this.opts.concurrency) return { ok: false, reason: 'busy', retryAfterMs: 1000 };
    this.running.set(source, mine + 1);
    this.total++;
    let finished = false;
    return {
      ok: true,
      done: (outcome) => {
        if (finished) return;
        finished = true;
        this.total--;
        const left = (this.running.get(source) ?? 1) - 1;
        if (left > 0) this.running.set(source, left);
        else this.running.delete(source);
        if (outcome === 'ok') this.records.delete(source);
        else if (outcome === 'failed') this.fail(source);
      },
    };
  }

  /** Sources with a record now (for tests and metrics). */
  get size(): number {
    return this.records.size;
  }

  private record(source: string, t: number): Record | undefined {
    const rec = this.records.get(source);
    if (rec && t - rec.lastFailure > this.opts.forgetMs && rec.blockedUntil <= t) {
      this.records.delete(source);
      return undefined;
    }
    return rec;
  }

  private fail(source: string): void {
    const t = this.now();
    const rec = this.record(source, t) ?? { failures: 0, lastFailure: t, blockedUntil: 0 };
    rec.failures++;
    rec.lastFailure = t;
    const over = rec.failures - this.opts.maxFailures;
    if (over >= 0)
      rec.blockedUntil = t + Math.min(this.opts.maxBlockMs, this.opts.blockMs * 2 ** Math.min(over, 30));
    // re-insert: Map order is then least recently failed first
    this.records.delete(source);
    this.records.set(source, rec);
    while (this.records.size > this.opts.maxSources) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
  }
}

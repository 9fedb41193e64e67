/**
 * Bounded, fair password checking. Each check is one scrypt run (32 MiB, ~50–100 ms of a core):
 * unbounded, 60 connections with 3 wrong passwords each ran 180 of them at once, the server's memory
 * grew by 100 MB and a real user's login took 3.2 s. Here:
 *
 * - at most `concurrency` checks run at once (memory: concurrency × the hash's scrypt memory);
 * - each source netblock may have at most `perSource` checks queued or running; more are answered
 *   "busy" at once, without a check;
 * - waiting checks are served round-robin across sources, and sources that logged in before first,
 *   so a flood from one source, or from many, costs a returning user at most a round;
 * - a check that could not start within `maxWaitMs` is answered "busy" (not a wrong password:
 *   nothing was checked, and it is not penalised).
 */
import { type NetBlockSize, netblockOf } from './netblock.js';

export interface PasswordCheckOptions {
  concurrency: number;
  perSource: number;
  maxWaitMs: number;
  netBlockSize: NetBlockSize;
  /** How many sources with a past login are remembered (for priority). */
  rememberedSources?: number;
}

export const DEFAULT_PASSWORD_CHECKS: Readonly<Omit<PasswordCheckOptions, 'netBlockSize'>> = Object.freeze({
  concurrency: 2,
  perSource: 2,
  maxWaitMs: 2_000,
});

export type CheckResult = 'ok' | 'wrong' | 'busy';

interface Waiting {
  run: () => Promise<boolean>;
  resolve: (r: CheckResult) => void;
  timer: NodeJS.Timeout;
}

interface SourceQueue {
  key: string;
  waiting: Waiting[];
  /** Queued plus running. */
  active: number;
}

export class PasswordChecks {
  private running = 0;
  private readonly sources = new Map<string, SourceQueue>();
  /** Sources with checks waiting, in the order they are served (round-robin: served ones go last). */
  private ring: SourceQueue[] = [];
  private readonly known = new Map<string, true>();
  private peak = 0;

  constructor(private readonly opts: PasswordCheckOptions) {}

  /** Most checks that ran at once so far (for tests and metrics). */
  get peakConcurrency(): number {
    return this.peak;
  }

  /** Checks waiting to start right now. */
  get waiting(): number {
    return this.ring.reduce((n, q) => n + q.waiting.length, 0);
  }

  /** A login from `address` succeeded: its later checks go first. */
  noteSuccess(address: string): void {
    const key = netblockOf(address, this.opts.netBlockSize);
    this.known.delete(key);
    this.known.set(key, true);
    const max = this.opts.rememberedSources ?? 10_000;
    while (this.known.size > max) this.known.delete(this.known.keys().next().value as string);
  }

  /** Runs `verify` for a password attempt from `address` when its turn comes. Never rejects. */
  check(address: string, verify: () => Promise<boolean>): Promise<CheckResult> {
    const key = netblockOf(address, this.opts.netBlockSize);
    let q = this.sources.get(key);
    if (!q) {
      q = { key, waiting: [], active: 0 };
      this.sources.set(key, q);
    }
    if (q.active >= this.opts.perSource) return Promise.resolve('busy');
    const queue = q;
    queue.active += 1;
    return new Promise<CheckResult>((resolve) => {
      const w: Waiting = {
        run: verify,
        resolve,
        timer: setTimeout(() => {
          const i = queue.waiting.indexOf(w);
          if (i < 0) return;
          queue.waiting.splice(i, 1);
          this.done(queue);
          resolve('busy');
        }, this.opts.maxWaitMs),
      };
      w.timer.unref();
      queue.waiting.push(w);
      if (queue.waiting.length === 1) this.enqueue(queue);
      this.pump();
    });
  }

  private enqueue(q: SourceQueue): void {
    // Sources that logged in before go ahead of the others (still in their own order).
    if (this.known.has(q.key)) {
      const firstUnknown = this.ring.findIndex((r) => !this.known.has(r.key));
      this.ring.splice(firstUnknown < 0 ? this.ring.length : firstUnknown, 0, q);
    } else {
      this.ring.push(q);
    }
  }

  private pump(): void {
    while (this.running < this.opts.concurrency) {
      const q = this.ring.shift();
      if (!q) return;
      const w = q.waiting.shift();
      if (!w) continue;
      if (q.waiting.length > 0) this.enqueue(q);
      clearTimeout(w.timer);
      this.running += 1;
      this.peak = Math.max(this.peak, this.running);
      w.run().then(
        (ok) => this.finish(q, w, ok ? 'ok' : 'wrong'),
        () => this.finish(q, w, 'wrong'),
      );
    }
  }

  private finish(q: SourceQueue, w: Waiting, result: CheckResult): void {
    this.running -= 1;
    this.done(q);
    w.resolve(result);
    this.pump();
  }

  private done(q: SourceQueue): void {
    q.active -= 1;
    if (q.active <= 0 && q.waiting.length === 0) {
      this.sources.delete(q.key);
      this.ring = this.ring.filter((r) => r !== q);
    }
  }
}

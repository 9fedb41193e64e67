/**
 * Young-generation GCs paced by the bytes a tunnel process moves.
 *
 * Every chunk Node reads from a socket and every SSH packet ssh2 builds is a fresh ArrayBuffer
 * whose memory lives outside V8's heap. V8 frees such buffers only when a GC finds them dead, and
 * counts them as "external memory": once that has grown 64 MiB past its level at the last full GC
 * (a constant in V8), V8 starts a full mark-compact. Moving data allocates external memory fast
 * (one buffer per read, one per packet) but few JS objects, so the cheap young-generation GC that
 * would free those buffers rarely runs on its own. Measured on a 1 GiB download through ftpfwd +
 * ftpfwd-sshd: ~60 full GCs in each process, about a quarter of their CPU spent in the collector
 * (concurrent marking, sweeping), 4.3 CPU-seconds per GiB for the pair. With a scavenge every few
 * MiB moved the buffers die young, the full GCs stop (1 instead of ~60) and the pair needs about
 * 2.5 CPU-seconds per GiB (tools/bench/README.md has the figures).
 *
 * A scavenge of a tunnel's small young generation takes ~0.1-0.3 ms; once per 4 MiB that is a few
 * milliseconds per GiB. An idle process moves nothing and collects nothing extra.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes moved between two young-generation GCs unless configured otherwise. */
export const GC_PACING_DEFAULT_BYTES = 4 * 1024 * 1024;

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let collect: GcFunction | undefined;
let every = GC_PACING_DEFAULT_BYTES;
let budget = every;
let scheduled = false;

/**
 * V8's `gc()` without starting node with `--expose-gc`: the flag is honoured by contexts created
 * after it is set, so a fresh vm context hands its `gc` over and the flag is switched off again
 * (the way Jest's --logHeapUsage does it). Undefined where the runtime refuses.
 */
function obtainGc(): GcFunction | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as GcFunction;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as GcFunction) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

export interface GcPacingOptions {
  /** Bytes moved between two young-generation GCs; 0 turns pacing off. */
  everyBytes?: number;
}

/**
 * Turns pacing on for this process (the CLIs do; a library user may). Returns whether it is on:
 * false when turned off by `everyBytes: 0` or when the runtime gives no access to its GC.
 */
export function enableGcPacing(opts: GcPacingOptions = {}): boolean {
  const bytes = opts.everyBytes ?? GC_PACING_DEFAULT_BYTES;
  if (!Number.isFinite(bytes) || bytes < 0)
    throw new RangeError(`everyBytes: expected a size >= 0, got ${bytes}`);
  if (bytes === 0) {
    collect = undefined;
    return false;
  }
  every = bytes;
  budget = bytes;
  collect ??= obtainGc();
  return collect !== undefined;
}

/** Whether pacing is on in this process. */
export function gcPacingEnabled(): boolean {
  return collect !== undefined;
}

/**
 * Called by the data paths with each chunk's size. The GC runs from setImmediate, outside the
 * stream callback, so the chunk being handled is not kept alive by the stack.
 */
export function noteBytesMoved(bytes: number): void {
  if (collect === undefined) return;
  budget -= bytes;
  if (budget > 0 || scheduled) return;
  scheduled = true;
  setImmediate(runPacedGc);
}

function runPacedGc(): void {
  scheduled = false;
  budget = every;
  collect?.({ type: 'minor' });
}

/** How the CLIs' `FTPFWD_*` switches are turned off (lower-case, trimmed). */
export const OFF_WORDS: ReadonlySet<string> = new Set(['0', 'off', 'false', 'no']);

/**
 * `FTPFWD_GC_PACING` for the CLIs: unset → the default, `0`/`off` → off, else a size in MiB.
 * Returns the option to pass to enableGcPacing, or an error message for a value it cannot read.
 */
export function gcPacingFromEnv(value: string | undefined): GcPacingOptions | string {
  if (value === undefined || value.trim() === '') return {};
  const v = value.trim().toLowerCase();
  if (OFF_WORDS.has(v)) return { everyBytes: 0 };
  const mib = Number(v);
  if (!Number.isFinite(mib) || mib <= 0)
    return `FTPFWD_GC_PACING: expected a size in MiB (e.g. 4) or "off", got ${JSON.stringify(value)}`;
  return { everyBytes: Math.round(mib * 1024 * 1024) };
}

/**
 * What the CLIs do at start: read `FTPFWD_GC_PACING` and turn pacing on (or off) as it says.
 * `unavailable`: pacing was wanted but the runtime gives no access to its GC. An error message for
 * a value that cannot be read (nothing is changed then).
 */
export function applyGcPacingEnv(
  value: string | undefined,
): 'on' | 'off' | 'unavailable' | { error: string } {
  const opts = gcPacingFromEnv(value);
  if (typeof opts === 'string') return { error: opts };
  if (enableGcPacing(opts)) return 'on';
  return opts.everyBytes === 0 ? 'off' : 'unavailable';
}

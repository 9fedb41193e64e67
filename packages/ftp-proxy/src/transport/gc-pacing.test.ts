import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyGcPacingEnv,
  enableGcPacing,
  gcPacingEnabled,
  gcPacingFromEnv,
  noteBytesMoved,
} from './gc-pacing.js';

const MiB = 1024 * 1024;

/** Counts the young-generation GCs V8 reports while `fn` runs (entries arrive asynchronously). */
async function minorGcsDuring(fn: () => Promise<void>): Promise<number> {
  let count = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (
        (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR
      )
        count++;
  });
  obs.observe({ entryTypes: ['gc'] });
  await fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return count;
}

/** 40 "transfers" of `bytes` each, one per event-loop turn, allocating next to nothing. */
async function move(bytes: number): Promise<void> {
  for (let i = 0; i < 40; i++) {
    noteBytesMoved(bytes);
    await tick();
  }
}

describe('GC pacing', () => {
  afterEach(() => {
    enableGcPacing({ everyBytes: 0 });
  });

  it('runs young-generation GCs in step with the bytes moved', async () => {
    expect(enableGcPacing({ everyBytes: MiB })).toBe(true);
    expect(gcPacingEnabled()).toBe(true);
    // 40 budgets crossed, one per turn: about 40 scavenges. V8 may fold one into another it was
    // already running (Node 24 and 26 report 39), so the margin is wide; exact counts are the bench's.
    const paced = await minorGcsDuring(() => move(MiB));
    expect(paced).toBeGreaterThanOrEqual(30);
    expect(paced).toBeLessThanOrEqual(60);
    // Half the bytes in as many turns, about half the scavenges: pacing follows the data, not the clock.
    const half = await minorGcsDuring(() => move(MiB / 2));
    expect(half).toBeGreaterThanOrEqual(0.3 * paced);
    expect(half).toBeLessThanOrEqual(0.7 * paced);
  });

  it('collects nothing extra below the budget, and nothing when off', async () => {
    enableGcPacing({ everyBytes: 64 * MiB });
    // 40 x 1 MiB stays under 64 MiB: no paced GC at all (natural ones are rare in this idle loop).
    expect(await minorGcsDuring(() => move(MiB))).toBeLessThan(10);
    expect(enableGcPacing({ everyBytes: 0 })).toBe(false);
    expect(gcPacingEnabled()).toBe(false);
    expect(await minorGcsDuring(() => move(MiB))).toBeLessThan(10);
  });

  it('schedules one GC per turn however many chunks cross the budget in it', async () => {
    enableGcPacing({ everyBytes: MiB });
    const n = await minorGcsDuring(async () => {
      for (let turn = 0; turn < 5; turn++) {
        for (let i = 0; i < 100; i++) noteBytesMoved(MiB);
        await tick();
      }
    });
    expect(n).toBeGreaterThanOrEqual(5);
    expect(n).toBeLessThan(40);
  });

  it('applies FTPFWD_GC_PACING as the CLIs do: on, off, and a bad value changes nothing', () => {
    expect(applyGcPacingEnv('2')).toBe('on');
    expect(gcPacingEnabled()).toBe(true);
    expect(applyGcPacingEnv('lots')).toEqual({
      error: 'FTPFWD_GC_PACING: expected a size in MiB (e.g. 4) or "off", got "lots"',
    });
    expect(gcPacingEnabled()).toBe(true);
    expect(applyGcPacingEnv('off')).toBe('off');
    expect(gcPacingEnabled()).toBe(false);
    expect(applyGcPacingEnv(undefined)).toBe('on');
  });

  it('reads FTPFWD_GC_PACING: default, off, MiB, and says what it expected', () => {
    expect(gcPacingFromEnv(undefined)).toEqual({});
    expect(gcPacingFromEnv(' ')).toEqual({});
    for (const off of ['0', 'off', 'OFF', 'false', 'no'])
      expect(gcPacingFromEnv(off)).toEqual({ everyBytes: 0 });
    expect(gcPacingFromEnv('8')).toEqual({ everyBytes: 8 * MiB });
    expect(gcPacingFromEnv('0.5')).toEqual({ everyBytes: MiB / 2 });
    expect(gcPacingFromEnv('lots')).toBe(
      'FTPFWD_GC_PACING: expected a size in MiB (e.g. 4) or "off", got "lots"',
    );
    expect(gcPacingFromEnv('-1')).toMatch(/expected a size in MiB/);
    expect(() => enableGcPacing({ everyBytes: -1 })).toThrow(/expected a size >= 0, got -1/);
  });
});

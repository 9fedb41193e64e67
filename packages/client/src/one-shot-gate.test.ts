import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseSequence, OneShotGate } from './one-shot-gate.js';

// A state machine over timers: fake timers decide "before" and "after" the grace, nothing is timed.
describe('OneShotGate', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a listener released before it accepted still takes its one connection within the grace', () => {
    const stop = vi.fn();
    const g = new OneShotGate(stop, 60_000, 2000);
    g.release();
    expect(g.state).toBe('grace');
    expect(stop).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1999);
    expect(g.take()).toBe(true);
    expect(g.state).toBe('accepted');
    expect(stop).toHaveBeenCalledTimes(1);
    expect(g.take()).toBe(false); // still one connection only
    vi.advanceTimersByTime(10_000);
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('closes when the grace runs out, and takes nothing after', () => {
    const stop = vi.fn();
    const g = new OneShotGate(stop, 60_000, 2000);
    g.release();
    vi.advanceTimersByTime(2000);
    expect(g.state).toBe('closed');
    expect(stop).toHaveBeenCalledTimes(1);
    expect(g.take()).toBe(false);
  });

  it('the grace replaces the idle timeout rather than adding to it', () => {
    const stop = vi.fn();
    const g = new OneShotGate(stop, 60_000, 2000);
    vi.advanceTimersByTime(59_000);
    g.release();
    vi.advanceTimersByTime(1500);
    expect(g.state).toBe('grace');
    vi.advanceTimersByTime(500);
    expect(g.state).toBe('closed');
  });

  it('a superseded release closes at once; so does a second release during the grace', () => {
    const a = vi.fn();
    const g = new OneShotGate(a, 60_000, 2000);
    g.release(true);
    expect(g.state).toBe('closed');
    expect(a).toHaveBeenCalledTimes(1);

    const b = vi.fn();
    const h = new OneShotGate(b, 60_000, 2000);
    h.release();
    h.release(); // session end after the 226: idempotent, keeps the grace
    expect(h.state).toBe('grace');
    h.release(true);
    expect(h.state).toBe('closed');
    expect(b).toHaveBeenCalledTimes(1);
  });

  it('release after accept never cuts the accepted connection', () => {
    const stop = vi.fn();
    const g = new OneShotGate(stop, 60_000, 2000);
    expect(g.take()).toBe(true);
    g.release();
    g.release(true);
    g.close();
    expect(g.state).toBe('accepted');
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('idle expiry while waiting closes', () => {
    const stop = vi.fn();
    const g = new OneShotGate(stop, 60_000, 2000);
    vi.advanceTimersByTime(60_000);
    expect(g.state).toBe('closed');
    expect(g.take()).toBe(false);
  });
});

describe('LeaseSequence', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the newest lease gets the grace; one released after a newer one was issued closes at once', () => {
    const seq = new LeaseSequence();
    const first = new OneShotGate(() => {}, 60_000, 2000);
    const releaseFirst = seq.issue(first);
    const second = new OneShotGate(() => {}, 60_000, 2000);
    const releaseSecond = seq.issue(second);
    releaseFirst(); // the engine's "superseded by a newer PASV/PORT"
    expect(first.state).toBe('closed');
    releaseSecond(); // the engine's "final reply of the transfer passed"
    expect(second.state).toBe('grace');
  });
});

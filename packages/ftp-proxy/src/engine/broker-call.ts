/**
 * Asking a broker for a data channel, bounded in time. The engine's side of the broker contract:
 * a lease that arrives after the deadline, or after the session no longer wants it, is released
 * at once, and a release() that throws costs nothing.
 */
import type { DataChannelLease } from './types.js';

/** The broker's lease, or why there is none. Never rejects. */
export async function callBroker(
  open: () => Promise<DataChannelLease>,
  timeoutMs: number,
  /** Asked once the lease came: false when it is no longer wanted (the session ended). */
  stillWanted: () => boolean,
): Promise<{ lease: DataChannelLease } | { error: string } | { unwanted: true }> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const pending = Promise.resolve().then(open);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new Error(`the broker did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const lease = await Promise.race([pending, timeout]);
    if (!stillWanted()) {
      safeRelease(lease);
      return { unwanted: true };
    }
    return { lease };
  } catch (error) {
    if (timedOut) pending.then(safeRelease, () => {});
    return { error: (error as Error)?.message ?? String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export function safeRelease(lease: DataChannelLease): void {
  try {
    lease.release();
  } catch {
    // release() must not throw; if a broker's does, the channel is gone either way.
  }
}

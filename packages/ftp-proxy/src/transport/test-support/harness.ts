/** Helpers for the transport's tests that run real ssh2 at both ends on loopback. */
import { generateKeyPairSync } from 'node:crypto';

/**
 * A throwaway host key ssh2 parses (ECDSA P-256 from node:crypto: ssh2's own ed25519 generator
 * drops a leading zero byte about one time in 200).
 */
export function testHostKey(): string {
  return generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
}

/** Polls `check` until it holds; fails naming `what` after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Cleanups run in reverse order, every one even when an earlier one throws. */
export class Scope {
  private readonly steps: (() => unknown)[] = [];
  add(fn: () => unknown): void {
    this.steps.push(fn);
  }
  async close(): Promise<void> {
    for (const fn of this.steps.splice(0).reverse()) {
      try {
        await fn();
      } catch {}
    }
  }
}

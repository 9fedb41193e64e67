/**
 * RekeyLimit on the server (limits.rekeyLimit): ftpfwd-sshd starts key exchanges itself, so a
 * client that never does (ssh2 never does by default) still gets new keys. The rules themselves are
 * tested in ftp-proxy's rekey-limit.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  echoRoundTrip,
  echoThroughSsh,
  pubLine,
  Scope,
  sha256,
  sshKeygen,
  startServer,
  tempDir,
} from './test-support/harness.js';

let scope: Scope;
let dir: string;
let userKey: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
  userKey = sshKeygen(dir, 'user');
});
afterEach(() => scope.close());

const events = (t: { logs: { lines: Record<string, unknown>[] } }, event: string) =>
  t.logs.lines.filter((l) => l.event === event).length;

describe('limits.rekeyLimit', () => {
  it("1M: the server re-keys under OpenSSH's ssh; 16 MiB through -L and back intact", async () => {
    const t = await startServer(scope, dir, {
      authorizedKeysText: pubLine(userKey),
      limits: { rekeyLimit: { bytes: 1024 * 1024 } },
    });
    // No RekeyLimit on ssh's side, and AES-GCM's own bound is 64 GiB: every key exchange after
    // the first is the server's.
    const { local, ssh } = await echoThroughSsh(scope, t, userKey);
    const { sent, got } = await echoRoundTrip(local, 16 << 20);
    expect(sha256(got)).toBe(sha256(sent));
    const started = events(t, 'rekey-start');
    const renewed = events(t, 'rekey');
    // One per MiB or two: the counts are looked at every MiB moved, and data keeps flowing
    // (queued) while each exchange runs.
    expect(started).toBeGreaterThanOrEqual(4);
    expect(renewed).toBeGreaterThanOrEqual(started - 1);
    expect(ssh.stderr().match(/SSH2_MSG_NEWKEYS received/g)?.length ?? 0).toBeGreaterThanOrEqual(renewed);
    expect(ssh.stderr()).not.toMatch(/Bad packet length|Corrupted|message authentication/i);
  });

  it('without a limit the server never starts one (AES-GCM: 64 GiB)', async () => {
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const { local } = await echoThroughSsh(scope, t, userKey);
    const { sent, got } = await echoRoundTrip(local, 8 << 20);
    expect(sha256(got)).toBe(sha256(sent));
    expect(events(t, 'rekey-start')).toBe(0);
    expect(events(t, 'rekey')).toBe(0);
  });
});

/**
 * Pooled outgoing packets (ftp-proxy's ssh-packet-pool.ts) on ssh2 as installed: the server pools
 * its connection's cipher class once a client is in, ssh2 reads those packets back, and so does
 * OpenSSH's ssh. The pool's own rules are tested in ftp-proxy with stand-ins.
 */
import { randomBytes } from 'node:crypto';
import { outgoingPacketsPooled } from '@ftpfwd/ftp-proxy/transport';
import type ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  echoRoundTrip,
  echoThroughSsh,
  pubLine,
  Scope,
  sha256,
  ssh2Client,
  sshKeygen,
  startEcho,
  startServer,
  tempDir,
  waitFor,
} from './test-support/harness.js';

/** The cipher the pool knows, asked for explicitly (it is also ssh2's and OpenSSH's first choice). */
const GCM = { algorithms: { cipher: ['aes128-gcm@openssh.com' as const] } };

let scope: Scope;
let dir: string;
let userKey: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
  userKey = sshKeygen(dir, 'user');
});
afterEach(() => scope.close());

/** `size` random bytes through a direct-tcpip channel to `echoPort` and back, written in odd pieces. */
async function channelRoundTrip(client: ssh2.Client, echoPort: number, size: number) {
  const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
    client.forwardOut('127.0.0.1', 0, '127.0.0.1', echoPort, (err, channel) =>
      err ? reject(err) : resolve(channel),
    ),
  );
  const sent = randomBytes(size);
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve) => {
    ch.on('data', (d: Buffer) => chunks.push(d));
    ch.once('close', () => resolve());
  });
  for (let p = 0, n = 1; p < size; p += n, n = (n * 7 + 13) % 90_000) ch.write(sent.subarray(p, p + n));
  ch.end();
  await done;
  return { sent, got: Buffer.concat(chunks) };
}

describe('pooled outgoing packets on ssh2 as installed', () => {
  it("the server pools its connection's AES-GCM cipher, not ssh2's class; 16 MiB cross both ways intact", async () => {
    const echo = await startEcho(scope);
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const client = await ssh2Client(scope, t, userKey, GCM);
    await waitFor(() => t.logs.find((l) => l.event === 'packet-pool'), 5_000, 'the pool line');
    expect(t.logs.find((l) => l.event === 'packet-pool')?.result).toBe('pooled');
    // The test's own ssh2 client, in the same process, keeps ssh2's packets: nothing was patched
    // for the process as a whole (an application embedding the server keeps a plain ssh2).
    expect(outgoingPacketsPooled(client)).toBe(false);
    const { sent, got } = await channelRoundTrip(client, echo, 16 << 20);
    expect(got.length).toBe(sent.length);
    expect(sha256(got)).toBe(sha256(sent));
  });

  it("OpenSSH's ssh reads the server's pooled packets: 8 MiB through -L and back, intact, across re-keys", async () => {
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const { local, ssh } = await echoThroughSsh(scope, t, userKey, [
      '-o',
      'Ciphers=aes128-gcm@openssh.com',
      // A new key exchange every MiB: ssh2 queues packets during each one and re-allocates them
      // from the new cipher's slab afterwards.
      '-o',
      'RekeyLimit=1M',
    ]);
    const { sent, got } = await echoRoundTrip(local, 8 << 20);
    expect(sha256(got)).toBe(sha256(sent));
    // The first key exchange, then at least one per MiB each way; each new cipher pooled again.
    expect(ssh.stderr().match(/SSH2_MSG_NEWKEYS received/g)?.length ?? 0).toBeGreaterThan(8);
    expect(t.logs.find((l) => l.event === 'packet-pool')?.result).toBe('pooled');
  });
});

/**
 * widenReceiveWindow against a real ssh2 server: how many bytes the server may send before the
 * client reads anything is the window the client granted; a widened channel keeps granting as it is
 * read, bytes arrive intact, and only WIDE_PER_CONNECTION channels of a connection are widened.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import ssh2, { type ClientChannel, type ServerChannel } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { WIDE_PER_CONNECTION, WIDE_WINDOW, widenReceiveWindow } from './receive-window.js';
import { Cleanup, waitUntil } from './test-support/procs.js';

const MiB = 1024 * 1024;
/**
 * What ssh2 alone lets a server send ahead of a reader that takes nothing: its 2 MiB window, topped
 * up once by 1 MiB before the channel's 2 MiB read buffer is full.
 */
const SSH2_AHEAD = 3 * MiB;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A real ssh2 server whose direct-tcpip channels are handed to the test, and a client on it. */
async function connected(): Promise<{ client: ssh2.Client; serverChannels: ServerChannel[] }> {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
  const serverChannels: ServerChannel[] = [];
  const sshd = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('tcpip', (accept) => serverChannels.push(accept()));
  });
  const sockets: Socket[] = [];
  const tcp: Server = createServer((sock) => {
    sock.on('error', () => {});
    sockets.push(sock);
    sshd.injectSocket(sock);
  });
  const port = await new Promise<number>((r) =>
    tcp.listen(0, '127.0.0.1', () => r((tcp.address() as { port: number }).port)),
  );
  cleanup.add(() => {
    for (const s of sockets) s.destroy();
    tcp.close();
  });
  const client = new ssh2.Client();
  client.on('error', () => {});
  cleanup.add(() => client.end());
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'u', hostVerifier: () => true });
  });
  return { client, serverChannels };
}

function open(client: ssh2.Client): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    client.forwardOut('127.0.0.1', 0, '127.0.0.1', 9, (err, ch) => (err ? reject(err) : resolve(ch))),
  );
}

/** Bytes the server could send into `ch` before it ran out of window (the client reads nothing). */
async function sendableUnread(server: ServerChannel, client: ClientChannel): Promise<number> {
  const received = () => client.readableLength;
  server.write(randomBytes(WIDE_WINDOW + MiB));
  let last = -1;
  // Until nothing more arrives for a while: the server has used up the window it was granted.
  while (received() !== last) {
    last = received();
    await sleep(200);
  }
  return last;
}

describe('widenReceiveWindow', () => {
  it("lets the server send 8 MiB ahead of the reader instead of ssh2's 3 MiB", async () => {
    const { client, serverChannels } = await connected();
    const plain = await open(client);
    const wide = await open(client);
    await waitUntil(() => serverChannels.length === 2, 'server channels');
    // Paused readers: what arrives stays in the channel, counted by readableLength.
    plain.pause();
    wide.pause();
    expect(widenReceiveWindow(wide)).toBe(true);
    expect(await sendableUnread(serverChannels[0]!, plain)).toBe(SSH2_AHEAD);
    expect(await sendableUnread(serverChannels[1]!, wide)).toBe(WIDE_WINDOW);
  });

  it('keeps granting window as the channel is read: 24 MiB arrive intact', async () => {
    const { client, serverChannels } = await connected();
    const ch = await open(client);
    await waitUntil(() => serverChannels.length === 1, 'server channel');
    const chunks: Buffer[] = [];
    ch.on('data', (d: Buffer) => chunks.push(d));
    expect(widenReceiveWindow(ch)).toBe(true);
    const payload = randomBytes(24 * MiB);
    serverChannels[0]!.end(payload);
    await new Promise((r) => ch.once('end', r));
    expect(sha(Buffer.concat(chunks))).toBe(sha(payload));
  });

  it(`widens at most ${WIDE_PER_CONNECTION} channels of a connection at a time`, async () => {
    const { client } = await connected();
    const channels = await Promise.all(Array.from({ length: WIDE_PER_CONNECTION + 1 }, () => open(client)));
    const results = channels.map((ch) => widenReceiveWindow(ch));
    expect(results).toEqual([...Array(WIDE_PER_CONNECTION).fill(true), false]);
    // One closes: its slot is free again.
    channels[0]!.close();
    await new Promise((r) => channels[0]!.once('close', r));
    const another = await open(client);
    expect(widenReceiveWindow(another)).toBe(true);
  });

  it('leaves anything that is not an ssh2 channel alone', () => {
    expect(widenReceiveWindow(new PassThrough())).toBe(false);
  });
});

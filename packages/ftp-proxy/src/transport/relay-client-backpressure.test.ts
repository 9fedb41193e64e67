/**
 * Memory with many uploads: when the SSH server stops reading, ftpfwd must not queue each channel's
 * whole window on its SSH socket. Real ssh2 on both ends; the relay joins local TCP connections
 * (each sending more than a window) to direct-tcpip channels of one connection, as ftpfwd's tcp and
 * FTP data forwardings do; the server's socket is paused, then resumed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import ssh2, { type ClientChannel } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_BUFFER_LIMIT, SocketCongestion, SSH_SOCKET_LIMIT } from './backpressure.js';
import { relay } from './pump.js';
import { testHostKey, waitFor } from './test-support/harness.js';

const waitUntil = (check: () => boolean, what: string) => waitFor(check, 30_000, what);

const CHANNELS = 32;
/** More than a channel's 2 MiB window plus the local cap, less than window plus ssh2's 2 MiB. */
const PER_CHANNEL = 3 * 1024 * 1024;
/** One TCP read past the point where a source is told to stop, per channel. */
const SLACK = CHANNELS * 70 * 1024;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const listen = (s: Server): Promise<number> =>
  new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch {}
  }
});

describe('pipeBoth backpressure from the SSH socket', () => {
  it('pauses local senders while the SSH socket is congested, resumes them on drain, bytes intact', async () => {
    const payload = randomBytes(PER_CHANNEL);

    // The SSH server: keeps what each direct-tcpip channel carries.
    const hostKey = testHostKey();
    const parsed = ssh2.utils.parseKey(hostKey);
    if (parsed instanceof Error) throw parsed;
    const hostPublic = parsed.getPublicSSH();
    const arrived: Promise<string>[] = [];
    let serverSock: Socket | undefined;
    const sshd = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('error', () => {});
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('tcpip', (accept) => {
        const ch = accept();
        const chunks: Buffer[] = [];
        ch.on('data', (d: Buffer) => chunks.push(d));
        arrived.push(new Promise((r) => ch.once('end', () => r(sha(Buffer.concat(chunks))))));
      });
    });
    const tcp = createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('error', () => {});
      serverSock = sock;
      sshd.injectSocket(sock);
    });
    const sshPort = await listen(tcp);
    cleanups.push(() => {
      serverSock?.destroy();
      tcp.close();
    });

    const clientSock = netConnect({ host: '127.0.0.1', port: sshPort });
    clientSock.setNoDelay(true);
    clientSock.on('error', () => {});
    const client = new ssh2.Client();
    client.on('error', () => {});
    cleanups.push(() => client.end());
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', reject);
      client.connect({
        sock: clientSock,
        username: 'u',
        hostVerifier: (key: Buffer) => key.equals(hostPublic),
      });
    });
    client.setNoDelay(true);

    // Local TCP connections (as an FTP client's upload would make), each piped into a channel.
    const sources: Socket[] = [];
    const local = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => sources.push(s));
    const localPort = await listen(local);
    cleanups.push(() => {
      for (const s of sources) s.destroy();
      local.close();
    });
    const channels: ClientChannel[] = await Promise.all(
      Array.from(
        { length: CHANNELS },
        () =>
          new Promise<ClientChannel>((resolve, reject) =>
            client.forwardOut('127.0.0.1', 0, '127.0.0.1', 9, (err, ch) => (err ? reject(err) : resolve(ch))),
          ),
      ),
    );
    // What SshLink.congestionOf gives each channel it opened: its SSH socket's congestion.
    const congestion = new SocketCongestion(clientSock);

    // The server stops reading its SSH socket: whatever the client sends now queues.
    serverSock!.pause();
    for (let i = 0; i < CHANNELS; i++) {
      const sender = netConnect({ host: '127.0.0.1', port: localPort });
      sender.on('error', () => {});
      sender.end(payload);
      cleanups.push(() => sender.destroy());
    }
    await waitUntil(() => sources.length === CHANNELS, 'local connections');
    const piped = sources.map((s, i) => relay({ stream: s }, { stream: channels[i]!, congestion }).closed);
    await waitUntil(
      () => sources.every((s) => s.isPaused() || s.readableEnded),
      'every local sender paused or read to its end',
    );

    // What a user sees as memory: bytes held in user space on the SSH socket and in each channel.
    expect(clientSock.writableLength).toBeLessThanOrEqual(SSH_SOCKET_LIMIT + SLACK);
    for (const ch of channels)
      expect(ch.writableLength).toBeLessThanOrEqual(CHANNEL_BUFFER_LIMIT + 70 * 1024);
    expect(sources.filter((s) => s.isPaused()).length).toBe(CHANNELS);
    expect(congestion.waiting).toBeGreaterThan(0);

    // The server reads again: the socket drains, every sender resumes, all bytes arrive unchanged.
    serverSock!.resume();
    await waitUntil(() => arrived.length === CHANNELS, 'server channels');
    for (const h of await Promise.all(arrived)) expect(h).toBe(sha(payload));
    expect(sources.every((s) => s.readableEnded)).toBe(true);
    expect(congestion.waiting).toBe(0);
    for (const ch of channels) ch.close();
    await Promise.all(piped);
  }, 60_000);
});

/**
 * Memory with many channels: an SSH client that stops reading must not make the server queue each
 * channel's whole window on its SSH socket. A real ssh2 server bridges TCP peers that send more than
 * a window into channels of one connection; the client's socket is paused, then resumed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import ssh2, { type ClientChannel } from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANNEL_BUFFER_LIMIT, SocketCongestion, SSH_SOCKET_LIMIT } from './backpressure.js';
import { relay } from './pump.js';
import { Scope, testHostKey, waitFor } from './test-support/harness.js';

const CHANNELS = 32;
/** More than a channel's 2 MiB window plus its local cap, less than window plus ssh2's 2 MiB. */
const PER_CHANNEL = 3 * 1024 * 1024;
/** One TCP read past the point where a source is told to stop, per channel. */
const SLACK = CHANNELS * 70 * 1024;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const listen = (s: Server): Promise<number> =>
  new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.close());

describe('relay backpressure from the SSH socket, server side (ftpfwd-sshd)', () => {
  it('pauses TCP peers while the SSH socket is congested, resumes them on drain, bytes intact', async () => {
    const payload = randomBytes(PER_CHANNEL);
    // The TCP peers: each connection gets the whole payload, then EOF.
    const peersServer = createServer((s) => {
      s.on('error', () => {});
      s.end(payload);
    });
    scope.add(() => new Promise<void>((r) => peersServer.close(() => r())));
    const peersPort = await listen(peersServer);

    const peers: Socket[] = [];
    const channels: ssh2.ServerChannel[] = [];
    let serverSock: Socket | undefined;
    let congestion: SocketCongestion | undefined;
    const hostKey = testHostKey();
    const parsed = ssh2.utils.parseKey(hostKey);
    if (parsed instanceof Error) throw parsed;
    const hostPublic = parsed.getPublicSSH();
    const sshd = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('error', () => {});
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('tcpip', (accept) => {
        const peer = netConnect({ host: '127.0.0.1', port: peersPort, allowHalfOpen: true });
        peer.setNoDelay(true);
        peer.once('connect', () => {
          const ch = accept();
          peers.push(peer);
          channels.push(ch);
          relay({ stream: ch, congestion, eof: 'eof' }, { stream: peer });
        });
      });
    });
    const tcp = createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('error', () => {});
      serverSock = sock;
      congestion = new SocketCongestion(sock);
      sshd.injectSocket(sock);
    });
    scope.add(() => {
      for (const p of peers) p.destroy();
      serverSock?.destroy();
      return new Promise<void>((r) => tcp.close(() => r()));
    });
    const sshPort = await listen(tcp);

    const clientSock = netConnect({ host: '127.0.0.1', port: sshPort });
    clientSock.setNoDelay(true);
    clientSock.on('error', () => {});
    const client = new ssh2.Client();
    client.on('error', () => {});
    scope.add(() => {
      client.end();
    });
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

    const received: Buffer[][] = [];
    const opened: ClientChannel[] = await Promise.all(
      Array.from(
        { length: CHANNELS },
        (_, i) =>
          new Promise<ClientChannel>((resolve, reject) => {
            received[i] = [];
            client.forwardOut('127.0.0.1', 0, '127.0.0.1', 9, (err, ch) => {
              if (err) return reject(err);
              ch.on('data', (d: Buffer) => received[i]!.push(d));
              resolve(ch);
            });
          }),
      ),
    );
    // The client stops reading its SSH socket: everything the server sends now queues.
    clientSock.pause();
    await waitFor(() => peers.length === CHANNELS, 15_000, 'all channels bridged');
    await waitFor(
      () => peers.every((p) => p.isPaused() || p.readableEnded),
      30_000,
      'every TCP peer paused or read to its end',
    );

    // What a user sees as memory: bytes held in user space on the SSH socket and in each channel.
    expect(serverSock!.writableLength).toBeLessThanOrEqual(SSH_SOCKET_LIMIT + SLACK);
    for (const ch of channels)
      expect(ch.writableLength).toBeLessThanOrEqual(CHANNEL_BUFFER_LIMIT + 70 * 1024);
    expect(peers.filter((p) => p.isPaused()).length).toBe(CHANNELS);
    expect(congestion!.waiting).toBeGreaterThan(0);

    // The client reads again: the socket drains, every peer resumes, all bytes arrive unchanged.
    clientSock.resume();
    await Promise.all(opened.map((ch) => new Promise<void>((r) => ch.once('end', () => r()))));
    for (const chunks of received) expect(sha(Buffer.concat(chunks))).toBe(sha(payload));
    expect(peers.every((p) => p.readableEnded)).toBe(true);
    expect(congestion!.waiting).toBe(0);
  }, 60_000);
});

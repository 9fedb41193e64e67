/**
 * The brokers' own logic on a fake link (real loopback sockets, SSH channels replaced by in-memory
 * pairs): the channel opened ahead of the data connection, the peer check, expiry, the release
 * grace, and how far an active-mode data connection got. The real-process proof is in
 * packages/e2e/src/integration (ftpfwd against ftpfwd-sshd and OpenSSH).
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { SessionContext } from '@ftpfwd/ftp-proxy';
import pino from 'pino';
import type { ClientChannel, TcpConnectionDetails } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerContext, ChannelLink } from './context.js';
import { LocalFtpBroker } from './ftp-brokers.js';
import type { RemoteConnectionHandler } from './link.js';
import { Metrics } from './metrics.js';

/** One end of an in-memory pair: what it is written, its twin reads; its end, the twin's EOF. */
class PairEnd extends Duplex {
  twin: PairEnd | undefined;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.twin?.push(chunk);
    cb();
  }
  override _final(cb: () => void): void {
    this.twin?.push(null);
    cb();
  }
}

/** Two streams joined back to back, as an SSH channel and its far end. */
function pair(): [Duplex, Duplex] {
  const a = new PairEnd();
  const b = new PairEnd();
  a.twin = b;
  b.twin = a;
  return [a, b];
}

/** A link whose channels are in-memory pairs; the far end of each is kept for the test. */
class FakeLink implements ChannelLink {
  readonly opened: { target: string; far: Duplex; channel: Duplex; closed: boolean }[] = [];
  readonly listeners = new Map<string, RemoteConnectionHandler>();
  readonly unlistened: string[] = [];
  private nextPort = 50000;
  async openDirect(_srcHost: string, _srcPort: number, host: string, port: number): Promise<ClientChannel> {
    const [channel, far] = pair();
    const entry = { target: `${host}:${port}`, far, channel, closed: false };
    // ssh2's channels close with close(); the brokers close a channel opened ahead and left unused.
    Object.assign(channel, {
      close: () => {
        entry.closed = true;
        channel.destroy();
      },
    });
    this.opened.push(entry);
    return channel as unknown as ClientChannel;
  }
  async listenRemote(bindAddr: string, port: number, handler: RemoteConnectionHandler): Promise<number> {
    const real = port || this.nextPort++;
    this.listeners.set(`${bindAddr}:${real}`, handler);
    return real;
  }
  unlistenRemote(bindAddr: string, port: number): void {
    this.unlistened.push(`${bindAddr}:${port}`);
    this.listeners.delete(`${bindAddr}:${port}`);
  }
  congestionOf(): undefined {
    return undefined;
  }
}

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

function setup(releaseGraceMs = 50) {
  const link = new FakeLink();
  const ctx: BrokerContext = {
    link,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
    ftp: { pasvTarget: 'control', releaseGraceMs },
  };
  return { link, broker: new LocalFtpBroker(ctx) };
}

const session = (client = '127.0.0.2'): SessionContext => ({
  sessionId: 's1',
  clientAddress: { host: client, port: 40000 },
  controlLocalAddress: { host: '127.0.0.1', port: 2121 },
  serverAddress: { host: '192.0.2.21', port: 21 },
});

function connectFrom(localAddress: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, localAddress });
    sockets.push(s);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('LocalFtpBroker, passive mode', () => {
  it('opens the channel to the FTP server ahead, before the FTP client connects', async () => {
    const { link, broker } = setup();
    const lease = await broker.openPassive(
      { command: 'EPSV', server: { host: '192.0.2.21', port: 30000 }, idleTimeoutMs: 5_000 },
      session(),
    );
    expect(link.opened.map((o) => o.target)).toEqual(['192.0.2.21:30000']);
    expect(lease.endpoint.host).toBe('127.0.0.1');
    const data = await connectFrom('127.0.0.2', lease.endpoint.port);
    // What the FTP server sends before the client connected waited in the channel; now it flows.
    link.opened[0]!.far.write('listing\r\n');
    const got = await new Promise<string>((r) => data.once('data', (d: Buffer) => r(d.toString())));
    expect(got).toBe('listing\r\n');
  });

  it('refuses a data connection from another address than the FTP client, and waits for the right one', async () => {
    const { broker } = setup();
    const lease = await broker.openPassive(
      { command: 'PASV', server: { host: '192.0.2.21', port: 30000 }, idleTimeoutMs: 5_000 },
      session('127.0.0.2'),
    );
    const thief = await connectFrom('127.0.0.3', lease.endpoint.port);
    await closed(thief);
    const client = await connectFrom('127.0.0.2', lease.endpoint.port);
    expect(client.destroyed).toBe(false);
  });

  it('closes an unused listener after its idle time, and discards the channel opened ahead', async () => {
    const { link, broker } = setup();
    const lease = await broker.openPassive(
      { command: 'EPSV', server: { host: '192.0.2.21', port: 30000 }, idleTimeoutMs: 50 },
      session(),
    );
    expect(link.opened[0]!.closed).toBe(false);
    await tick(100);
    await expect(connectFrom('127.0.0.2', lease.endpoint.port)).rejects.toThrow(/ECONNREFUSED/);
    expect(link.opened[0]!.closed).toBe(true);
  });

  it('keeps a released listener open for the release grace (the 226 can overtake the connection)', async () => {
    // a grace far above the 20 ms waited: a stalled event loop (test files share two cores) must
    // not let the grace run out before the connection is accepted
    const { broker } = setup(2_000);
    const lease = await broker.openPassive(
      { command: 'EPSV', server: { host: '192.0.2.21', port: 30000 }, idleTimeoutMs: 5_000 },
      session(),
    );
    lease.release();
    await tick(20);
    const late = await connectFrom('127.0.0.2', lease.endpoint.port);
    expect(late.destroyed).toBe(false);
    const { broker: b2 } = setup(30);
    const l2 = await b2.openPassive(
      { command: 'EPSV', server: { host: '192.0.2.21', port: 30001 }, idleTimeoutMs: 5_000 },
      session(),
    );
    l2.release();
    await tick(80);
    await expect(connectFrom('127.0.0.2', l2.endpoint.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('LocalFtpBroker, active mode', () => {
  it('admits only the FTP server, connects to the FTP client, and reports how far the data connection got', async () => {
    const { link, broker } = setup();
    const clientListener = createServer((s) => s.end('file bytes'));
    servers.push(clientListener);
    await new Promise<void>((r) => clientListener.listen(0, '127.0.0.2', () => r()));
    const clientPort = (clientListener.address() as { port: number }).port;
    const s = { ...session(), serverAddress: { host: '198.51.100.21', port: 21 } };
    const lease = await broker.openActive(
      { command: 'PORT', client: { host: '127.0.0.2', port: clientPort }, idleTimeoutMs: 5_000 },
      s,
    );
    expect(lease.endpoint).toEqual({ host: '127.0.0.1', port: 50000 });
    expect(lease.dataConnection?.().state).toBe('none');
    const handler = link.listeners.get('127.0.0.1:50000')!;
    const details = (srcIP: string) =>
      ({ srcIP, srcPort: 20, destIP: '127.0.0.1', destPort: 50000 }) as TcpConnectionDetails;
    let rejected = 0;
    handler(
      details('198.51.100.99'),
      () => {
        throw new Error('a stranger must not be accepted');
      },
      () => rejected++,
    );
    expect(rejected).toBe(1);
    const [channel, far] = pair();
    const got: Buffer[] = [];
    far.on('data', (d: Buffer) => got.push(d));
    handler(
      details('198.51.100.21'),
      () => channel as unknown as ClientChannel,
      () => rejected++,
    );
    expect(lease.dataConnection?.().state).toBe('connecting');
    await lease.dataConnection?.().settled;
    expect(lease.dataConnection?.().state).toBe('done');
    await new Promise<void>((r) => far.once('end', () => r()));
    expect(Buffer.concat(got).toString()).toBe('file bytes');
    expect(link.unlistened).toEqual(['127.0.0.1:50000']); // one connection per slot
  });

  it('listens on ::1 for an IPv6 FTP server, and a listener closed unused settles its progress', async () => {
    const { broker } = setup();
    const s = { ...session(), serverAddress: { host: '::1', port: 21 } };
    const lease = await broker.openActive(
      { command: 'EPRT', client: { host: '127.0.0.2', port: 45000 }, idleTimeoutMs: 30 },
      s,
    );
    expect(lease.endpoint.host).toBe('::1');
    await lease.dataConnection?.().settled; // expired without a connection: nothing to wait for
    expect(lease.dataConnection?.().state).toBe('done');
  });
});

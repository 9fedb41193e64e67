import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CountingStream, openFirstLeg } from './route.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function listen(onConn: (s: Socket) => void = (s) => s.end()): Promise<number> {
  const srv = createServer(onConn);
  servers.push(srv);
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port)));
}

const target = (port: number, host = '127.0.0.1') => ({
  host,
  port,
  user: 'u',
  label: `${host}:${port}`,
  connectTimeoutMs: 2000,
});

describe('the first leg of a route', () => {
  it('BindAddress: the server sees the connection come from it', async () => {
    let peer = '';
    const port = await listen((s) => {
      peer = s.remoteAddress ?? '';
      s.end();
    });
    const t = await openFirstLeg(target(port), { bindAddress: '127.0.0.2' });
    await new Promise((r) => t.stream.once('close', r));
    expect(peer).toBe('127.0.0.2');
    expect(t.describe).toMatch(/^TCP 127\.0\.0\.2:\d+ -> 127\.0\.0\.1:\d+$/);
  });

  it('AddressFamily excludes a literal of the other family; a refused connection says so', async () => {
    await expect(openFirstLeg(target(22, '::1'), { family: 4 })).rejects.toThrow(
      'cannot connect to ::1:22: AddressFamily inet excludes ::1',
    );
    const port = await listen();
    servers[0]?.close();
    await new Promise((r) => setTimeout(r, 20));
    await expect(openFirstLeg(target(port), {})).rejects.toThrow(
      `cannot connect to 127.0.0.1:${port}: connection refused`,
    );
  });

  it('ConnectionAttempts: tries again a second later, and says how many it tried', async () => {
    const failed: number[] = [];
    const started = Date.now();
    await expect(
      openFirstLeg(target(1), { connectionAttempts: 2 }, { onAttemptFailed: (n) => failed.push(n) }),
    ).rejects.toThrow(/connection refused \(2 attempts\)$/);
    expect(failed).toEqual([1]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('a ProxyCommand is the stream, with %h and %p expanded', async () => {
    const t = await openFirstLeg(target(2222, 'ftp.internal'), {
      proxyCommand: `${process.execPath} -e "process.stdout.write(process.argv.slice(1).join(' '))" %h %p`,
    });
    const got: Buffer[] = [];
    t.stream.on('data', (d: Buffer) => got.push(d));
    await new Promise((r) => t.stream.once('close', r));
    expect(Buffer.concat(got).toString()).toBe('ftp.internal 2222');
    expect(t.failure()).toMatch(/exited with status 0$/);
  });
});

describe('CountingStream', () => {
  it('passes bytes both ways and counts them as a socket does; ends when its inner stream ends', async () => {
    const inner = new PassThrough();
    const s = new CountingStream(inner);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(Buffer.alloc(1000, 1)); // echoed back by the PassThrough
    await new Promise((r) => setTimeout(r, 10));
    expect(s.bytesWritten).toBe(1000);
    expect(s.bytesRead).toBe(1000);
    inner.destroy();
    await new Promise((r) => s.once('close', r));
    expect(Buffer.concat(got).length).toBe(1000);
  });
});

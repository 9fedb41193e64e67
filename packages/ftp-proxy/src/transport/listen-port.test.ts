import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralPortRange, listenPort, parsePortRangeFile } from './listen-port.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
const server = (): Server => {
  const s = createServer();
  servers.push(s);
  return s;
};

describe('listenPort', () => {
  it('port 0: listens on a random port of the ephemeral range, a different one each time', async () => {
    const { lo, hi } = ephemeralPortRange();
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const s = server();
      const p = await listenPort(s, '127.0.0.1', 0);
      expect((s.address() as { port: number }).port).toBe(p);
      expect(p).toBeGreaterThanOrEqual(lo);
      expect(p).toBeLessThanOrEqual(hi);
      ports.add(p);
    }
    expect(ports.size).toBe(20);
  });

  it('an explicit port is bound as asked, and a taken one is an EADDRINUSE error', async () => {
    const a = server();
    const p = await listenPort(a, '127.0.0.1', 0);
    const b = server();
    await expect(listenPort(b, '127.0.0.1', p)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // The same server object can still listen elsewhere after the failure.
    expect(await listenPort(b, '127.0.0.1', 0)).not.toBe(p);
  });

  it('other errors are not retried: an address this host does not have', async () => {
    await expect(listenPort(server(), '192.0.2.1', 0)).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });

  it('reads the kernel range file, and refuses what is not a range', () => {
    expect(parsePortRangeFile('32768\t60999\n')).toEqual({ lo: 32768, hi: 60999 });
    expect(parsePortRangeFile('1024 65535')).toEqual({ lo: 1024, hi: 65535 });
    expect(parsePortRangeFile('')).toBeUndefined();
    expect(parsePortRangeFile('60999 32768')).toBeUndefined();
    expect(parsePortRangeFile('0 70000')).toBeUndefined();
  });
});

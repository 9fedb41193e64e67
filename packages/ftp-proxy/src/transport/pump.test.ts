import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { relay } from './pump.js';

/** A connected TCP pair on loopback: [the side we hold, the side the relay gets]. */
async function pair(servers: Server[]): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const outer = tcpConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => outer.once('connect', r));
  return [outer, await accepted];
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('relay with drainMs (FTP data channels)', () => {
  it('a client that resets the data connection mid-download: the server still writes to the end, then gets its EOF', async () => {
    const [client, clientSide] = await pair(servers);
    const [server, serverSide] = await pair(servers);
    for (const s of [client, clientSide, server, serverSide]) s.on('error', () => {});
    const r = relay({ stream: clientSide }, { stream: serverSide }, { drainMs: 3000 });
    // The server sends 16 MiB in 64 KiB writes; the client reads 256 KiB and resets.
    const chunk = Buffer.alloc(64 * 1024, 1);
    let writeError: Error | undefined;
    let written = 0;
    const serverDone = new Promise<void>((resolve) => {
      const pump = (): void => {
        while (written < 16 * 1024 * 1024) {
          written += chunk.length;
          const ok = server.write(chunk, (err) => {
            if (err) writeError ??= err;
          });
          if (!ok) {
            server.once('drain', pump);
            return;
          }
        }
        server.end(resolve);
      };
      pump();
    });
    let got = 0;
    await new Promise<void>((resolve) =>
      client.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= 256 * 1024) {
          client.resetAndDestroy();
          resolve();
        }
      }),
    );
    await serverDone;
    const eof = new Promise<boolean>((resolve) => {
      server.once('end', () => resolve(true));
      setTimeout(() => resolve(false), 4000);
    });
    server.resume();
    expect(await eof).toBe(true);
    expect(writeError).toBeUndefined();
    await r.closed;
  }, 10_000);

  it('a server that never finishes is cut after drainMs, never kept', async () => {
    const [client, clientSide] = await pair(servers);
    const [server, serverSide] = await pair(servers);
    for (const s of [client, clientSide, server, serverSide]) s.on('error', () => {});
    const r = relay({ stream: clientSide }, { stream: serverSide }, { drainMs: 300 });
    const timer = setInterval(() => server.write(Buffer.alloc(1024)), 10);
    client.resetAndDestroy();
    const t0 = Date.now();
    await r.closed;
    clearInterval(timer);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(serverSide.destroyed).toBe(true);
  });

  it('without drainMs an error on either side still ends both at once', async () => {
    const [client, clientSide] = await pair(servers);
    const [server, serverSide] = await pair(servers);
    for (const s of [client, clientSide, server, serverSide]) s.on('error', () => {});
    const r = relay({ stream: clientSide }, { stream: serverSide });
    server.write(Buffer.alloc(1024 * 1024));
    client.resetAndDestroy();
    await r.closed;
    expect(serverSide.destroyed).toBe(true);
  });
});

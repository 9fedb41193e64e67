import { createHash } from 'node:crypto';
import { createServer, connect as netConnect, type Server } from 'node:net';
import type { Cleanup } from './procs.js';

/**
 * A server that reads until the client half-closes, then answers the sha256 of what it got and
 * closes: proves bytes and half-close made it through a forwarding.
 */
export async function startShaServer(c: Cleanup): Promise<{ port: number; server: Server }> {
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    const h = createHash('sha256');
    sock.on('data', (d) => h.update(d));
    sock.on('end', () => sock.end(`${h.digest('hex')}\n`));
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  c.add(() => new Promise((r) => server.close(r)));
  const a = server.address();
  return { port: typeof a === 'object' && a ? a.port : 0, server };
}

/** Sends `payload`, half-closes, resolves what came back. */
export function shaRoundTrip(port: number, payload: Buffer, host = '127.0.0.1'): Promise<string> {
  return new Promise((res, rej) => {
    const s = netConnect({ port, host, allowHalfOpen: true });
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('end', () => {
      s.end();
      res(got.trim());
    });
    s.on('error', rej);
    s.on('connect', () => s.end(payload));
  });
}

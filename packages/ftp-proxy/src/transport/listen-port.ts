/**
 * Listening on "any free port" without asking the kernel for port 0.
 *
 * bind() to port 0 makes Linux search its ephemeral range for a port no socket is bound to, and
 * every TIME_WAIT connection left by earlier transfers counts as bound. A tunnel that opens a data
 * listener per FTP transfer leaves thousands of them: measured here with 22 000 in TIME_WAIT, a
 * port-0 listen()+close() took 0.65-0.75 ms against 0.02 ms for a random explicit port, more than
 * half of a data channel's whole set-up through ftpfwd. So, as vsftpd does for its passive ports,
 * pick a random port of the ephemeral range and bind it; on EADDRINUSE try another, and after a
 * few misses let the kernel choose after all.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';

/** Random ports tried before falling back to port 0. */
export const RANDOM_PORT_ATTEMPTS = 8;

let cachedRange: { lo: number; hi: number } | undefined;

/** Parses /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999"); undefined when unreadable. */
export function parsePortRangeFile(text: string): { lo: number; hi: number } | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65535 || lo > hi) return undefined;
  return { lo, hi };
}

/** The range the kernel draws port 0 from (Linux), or IANA's dynamic range 49152-65535. */
export function ephemeralPortRange(): { lo: number; hi: number } {
  if (!cachedRange) {
    let text = '';
    try {
      text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    } catch {
      // not Linux, or /proc not mounted
    }
    cachedRange = parsePortRangeFile(text) ?? { lo: 49152, hi: 65535 };
  }
  return cachedRange;
}

function listenOnce(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

/**
 * `server.listen` on host:port, resolving the bound port. Port 0 means any free port, found as
 * described above; other ports are bound as asked. Rejects with the listen error (EADDRINUSE for a
 * taken explicit port, EADDRNOTAVAIL, EACCES, ...).
 */
export async function listenPort(server: Server, host: string, port: number): Promise<number> {
  if (port !== 0) return listenOnce(server, host, port);
  const { lo, hi } = ephemeralPortRange();
  for (let i = 0; i < RANDOM_PORT_ATTEMPTS; i++) {
    try {
      return await listenOnce(server, host, randomInt(lo, hi + 1));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  return listenOnce(server, host, 0);
}

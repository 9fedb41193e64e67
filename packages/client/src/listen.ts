import { createServer, type Server, type Socket } from 'node:net';
import { listenPort } from '@ftpfwd/ftp-proxy/transport';
import { FtpfwdError, oneLine } from './errors.js';
import { ALL_INTERFACES } from './forward-spec.js';

/**
 * Listens on host:port (port 0: any free port, picked without the kernel's slow port-0 search, see
 * listenPort); resolves the bound port. Typed error naming the address on failure. The server's
 * address() says where it ended up (`::` may become 0.0.0.0).
 */
export async function listenOn(server: Server, host: string, port: number): Promise<number> {
  try {
    return await listenPort(server, host, port);
  } catch (e) {
    // All interfaces on a host without IPv6 (a kernel or container without it): IPv4's.
    const code = (e as NodeJS.ErrnoException).code;
    if (host === ALL_INTERFACES && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL'))
      return listenOn(server, '0.0.0.0', port);
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'EADDRINUSE'
        ? 'address already in use'
        : err.code === 'EACCES'
          ? 'permission denied'
          : err.code === 'EADDRNOTAVAIL'
            ? 'address not available on this host'
            : oneLine(err);
    throw new FtpfwdError(
      'forward-failed',
      `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${why}`,
    );
  }
}

/** The address `server` is bound to, or `fallback` when it says none. */
export function boundAddress(server: Server, fallback: string): string {
  const a = server.address();
  return typeof a === 'object' && a ? a.address : fallback;
}

export interface PortRange {
  lo: number;
  hi: number;
}

/** `LO-HI` → range; throws a usage error naming what was expected. */
export function parsePortRange(text: string): PortRange {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65535 || lo > hi)
    throw new FtpfwdError('usage', `--data-ports "${text}": expected LO-HI with 1 <= LO <= HI <= 65535`);
  return { lo, hi };
}

/**
 * A one-connection listener for a data channel: on `host`, port 0 or the first free one of `range`
 * (starting at a random offset so concurrent sessions rarely collide).
 */
export async function listenDataPort(
  host: string,
  range: PortRange | undefined,
  onConnection: (sock: Socket) => void,
): Promise<{ server: Server; port: number }> {
  if (!range) {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
    return { server, port: await listenOn(server, host, 0) };
  }
  const size = range.hi - range.lo + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = range.lo + ((start + i) % size);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
    try {
      return { server, port: await listenOn(server, host, port) };
    } catch (err) {
      server.close();
      if (!(err instanceof FtpfwdError) || !/in use|permission/.test(err.message)) throw err;
    }
  }
  throw new FtpfwdError('forward-failed', `no free port in --data-ports ${range.lo}-${range.hi} on ${host}`);
}

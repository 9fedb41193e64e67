/**
 * The SSH-transport helpers the bridge shares with the tunnel: a listener on a random port
 * (listen-port.ts), corked writes (gatherWrites) and GC pacing by bytes moved (noteBytesMoved).
 *
 * @ftpfwd/ftp-proxy exports them from its root today; its restructuring moves them to
 * `@ftpfwd/ftp-proxy/transport`. Either works here, so the bridge builds and runs on both sides of
 * that move; once it has landed, this file becomes one plain re-export from the new place.
 */
import type { Server } from 'node:net';
import type { Writable } from 'node:stream';
import * as root from '@ftpfwd/ftp-proxy';

interface Transport {
  listenPort(server: Server, host: string, port: number): Promise<number>;
  gatherWrites(w: Writable, bytes?: number): void;
  noteBytesMoved(bytes: number): void;
}

const SPLIT = '@ftpfwd/ftp-proxy/transport';

async function load(): Promise<Transport> {
  const r = root as unknown as Partial<Transport>;
  if (r.listenPort && r.gatherWrites && r.noteBytesMoved) return r as Transport;
  return (await import(SPLIT)) as Transport;
}

const t = await load();

export const listenPort: Transport['listenPort'] = t.listenPort;
export const gatherWrites: Transport['gatherWrites'] = t.gatherWrites;
export const noteBytesMoved: Transport['noteBytesMoved'] = t.noteBytesMoved;

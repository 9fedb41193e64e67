/**
 * Finds the SSH connection an ssh2 channel's packets leave by, so `feed` (from @ftpfwd/ftp-proxy)
 * can pause a channel's TCP source while that connection's socket is congested (uploads).
 */
import type { Writable } from 'node:stream';
import { SocketCongestion } from '@ftpfwd/ftp-proxy';

const bySocket = new WeakMap<Writable, SocketCongestion>();

/**
 * The congestion state of the SSH connection an ssh2 channel's packets leave by; undefined for
 * anything that is not an ssh2 channel (a TCP socket). One per SSH socket, shared by its channels.
 */
export function congestionOf(stream: unknown): SocketCongestion | undefined {
  // ssh2 keeps the connection's socket on the Client (`_sock`), which each channel holds as
  // `_client`; link.ts relies on the same field. If a future ssh2 renames it, this degrades to
  // plain per-channel backpressure (and backpressure.test.ts fails).
  const sock = (stream as { _client?: { _sock?: unknown } } | null)?._client?._sock as Writable | undefined;
  if (!sock || typeof sock.writableLength !== 'number' || typeof sock.once !== 'function') return undefined;
  let c = bySocket.get(sock);
  if (!c) {
    c = new SocketCongestion(sock);
    bySocket.set(sock, c);
  }
  return c;
}

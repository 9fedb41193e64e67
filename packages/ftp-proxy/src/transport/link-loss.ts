/**
 * A channel cut by its SSH link dying, told apart from one that finished.
 *
 * When an SSH connection's socket closes, ssh2 ends each of its channels as if the other side had
 * sent EOF. Passed on as a plain FIN, a transfer cut short would look complete to the TCP peer: an
 * FTP server would store a truncated upload as a finished one, an FTP client that does not know
 * the size would keep a truncated download. What tells the two apart is whether the channel's own
 * EOF came before the link went; ssh2 marks it before the stream's 'end', which waits until what
 * the channel holds has been read (channelEofReceived).
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { channelEofReceived } from './ssh2-internals.js';

const watchers = new WeakMap<Writable, Set<() => void>>();

/**
 * Calls `onCut` if `sshSocket` closes before `channel` has received its EOF. One 'close' listener
 * per socket, ahead of ssh2's own (which would mark every channel closed first).
 */
export function onLinkLoss(channel: Readable, sshSocket: Writable, onCut: () => void): void {
  let set = watchers.get(sshSocket);
  if (!set) {
    const fns = new Set<() => void>();
    set = fns;
    watchers.set(sshSocket, fns);
    sshSocket.prependOnceListener('close', () => {
      for (const f of [...fns]) f();
      fns.clear();
    });
  }
  const registered = set;
  const check = (): void => {
    registered.delete(check);
    if (!channelEofReceived(channel as Duplex)) onCut();
  };
  registered.add(check);
  channel.once('close', () => registered.delete(check));
}

/** Resets a TCP peer (RST), or destroys any other stream: the transfer did not finish. */
export function resetPeer(peer: Duplex): void {
  if (peer.destroyed) return;
  const tcp = peer as Duplex & { resetAndDestroy?: () => unknown };
  if (typeof tcp.resetAndDestroy === 'function') tcp.resetAndDestroy();
  else peer.destroy();
}

import { connect as netConnect, type Socket } from 'node:net';
import type { ClientChannel } from 'ssh2';

export interface ConnectThenAcceptHandlers {
  /** The connect failed; the channel is rejected right after. Count and log it here. */
  onConnectError(err: Error): void;
  /** Both ends are up: pipe them. */
  onAccepted(sock: Socket, ch: ClientChannel): void;
}

/**
 * For a connection the SSH server forwards to us (forwarded-tcpip): connect to `target` here first
 * and accept the SSH channel only once that worked. A failed connect rejects the channel, so the far
 * end fails at once instead of sending into nothing. Used by `-R` tcp forwards, `-R ftp/` control
 * connections and the FTP data channels that come back through a remote listener.
 * Returns the socket at once (callers that track their connections add it).
 */
export function connectThenAccept(
  target: { host: string; port: number },
  accept: () => ClientChannel,
  reject: () => void,
  handlers: ConnectThenAcceptHandlers,
): Socket {
  const sock = netConnect({ host: target.host, port: target.port, allowHalfOpen: true });
  sock.setNoDelay(true);
  const onConnectError = (err: Error) => {
    handlers.onConnectError(err);
    reject();
  };
  sock.once('error', onConnectError);
  sock.once('connect', () => {
    sock.off('error', onConnectError);
    // From here the pipe reports what goes wrong; an error without a listener would crash the process.
    sock.on('error', () => {});
    let ch: ClientChannel;
    try {
      ch = accept();
    } catch {
      sock.destroy();
      return;
    }
    handlers.onAccepted(sock, ch);
  });
  return sock;
}

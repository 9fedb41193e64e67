/** The FTP listener: one FtpSession per accepted control connection. */
import { createServer, isIPv4, type Socket } from 'node:net';
import { formatHostPort, normalizeAddress } from '@ftpfwd/ftp-proxy';
import { LoginGate } from './login-gate.js';
import { DEFAULT_SESSION_CONFIG, FtpSession, type SessionConfig } from './session.js';
import { listenPort } from './transport.js';
import { type SftpBridge, SftpBridgeError, type SftpBridgeOptions } from './types.js';

let counter = 0;

function check(opts: SftpBridgeOptions): void {
  const { port } = opts.listen;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new SftpBridgeError('a listen port 0-65535', String(port));
  if (opts.advertise !== undefined && !isIPv4(normalizeAddress(opts.advertise)))
    throw new SftpBridgeError('an IPv4 address to advertise in 227 replies', JSON.stringify(opts.advertise));
  const r = opts.dataPorts;
  if (r && (!Number.isInteger(r.lo) || !Number.isInteger(r.hi) || r.lo < 1024 || r.hi > 65535 || r.lo > r.hi))
    throw new SftpBridgeError('a data port range LO-HI within 1024-65535', `${r.lo}-${r.hi}`);
  if (opts.remoteDir !== undefined && opts.remoteDir === '')
    throw new SftpBridgeError('a remote directory or none', 'an empty one');
  if (opts.jail && opts.remoteDir === undefined)
    opts.logger.debug('sftp jail without remote_dir: the jail is the SFTP start directory');
}

export async function startSftpBridge(
  opts: SftpBridgeOptions,
  tuning: Partial<Omit<SessionConfig, 'opts'>> = {},
): Promise<SftpBridge> {
  check(opts);
  const config: SessionConfig = { ...DEFAULT_SESSION_CONFIG, logins: new LoginGate(), ...tuning, opts };
  const sessions = new Set<FtpSession>();
  const server = createServer((sock: Socket) => {
    sock.on('error', () => {});
    let s: FtpSession;
    try {
      s = new FtpSession(`sftp-${++counter}`, sock, config);
    } catch (err) {
      opts.logger.warn({ err: (err as Error).message }, 'cannot start an FTP session');
      sock.destroy();
      return;
    }
    sessions.add(s);
    void s.closed.then(() => sessions.delete(s));
  });
  server.on('error', (err) => opts.logger.warn({ err: err.message }, 'FTP listener error'));
  let port: number;
  try {
    port = await listenPort(server, opts.listen.host, opts.listen.port);
  } catch (err) {
    server.close();
    throw new SftpBridgeError(
      `to listen on ${opts.listen.host}:${opts.listen.port}`,
      (err as NodeJS.ErrnoException).code ?? (err as Error).message,
    );
  }
  // debug: the forwarding that runs the bridge says at info where it listens and what it serves
  opts.logger.debug(
    {
      listen: formatHostPort({ host: opts.listen.host, port }),
      jail: opts.jail,
      remoteDir: opts.remoteDir,
      login: typeof opts.login === 'object' ? 'password-file' : opts.login,
    },
    'FTP to SFTP bridge listening',
  );
  let listening = true;
  const stopListening = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    await new Promise<void>((r) => {
      server.close(() => r());
      // close() waits for every connection; the listener itself is gone at once
      setImmediate(r);
    });
  };
  return {
    listen: { host: opts.listen.host, port },
    sessions: () => sessions.size,
    stopListening,
    async close() {
      await stopListening();
      const all = [...sessions];
      for (const s of all) {
        s.reply(421, 'Service shutting down');
        s.end();
      }
      await Promise.all(all.map((s) => s.closed));
    },
  };
}

import { isIP } from 'node:net';
import { normalizeAddress } from '@ftpfwd/ftp-proxy';
import { readPasswordFile } from '@ftpfwd/ftp-proxy/cli';
import type { ForwardContext } from './context.js';
import { FtpfwdError, oneLine } from './errors.js';
import { ALL_INTERFACES, type ForwardSpec, localBindAddress } from './forward-spec.js';
import { expandPath } from './options.js';
import {
  type SftpBridge,
  SftpBridgeError,
  SftpLoginError,
  type SftpSession,
  sessionFromClient,
  startSftpBridge,
} from './sftp-bridge/index.js';
import { type ActiveForward, hostPort } from './tcp-forward.js';

/**
 * `-L sftp/[BIND:]PORT[:REMOTE_DIR]`: an FTP server on this host whose files are the SSH server's
 * SFTP subsystem (sftp-bridge/ does the FTP; this file ties it to the tunnel and its options).
 */

/** How FTP logins on an sftp/ forwarding are checked (CLI --sftp-login, config `sftpLogin`). */
export type SftpLogin = 'tunnel' | 'ssh' | { passwordFile: string };

export interface SftpForwardOptions {
  /** Default 'tunnel': the tunnel's own SSH identity, any FTP user and password (loopback only). */
  login?: SftpLogin;
  /** No path leaves REMOTE_DIR (or the SFTP start directory): CLI --sftp-jail. */
  jail?: boolean;
}

/** `--sftp-login tunnel|ssh|FILE` → SftpLogin (`~` and `%d` in FILE expanded, as IdentityFile). */
export function parseSftpLogin(text: string, home?: string): SftpLogin {
  const t = text.trim();
  if (t === 'ssh') return 'ssh';
  if (t === 'tunnel') return 'tunnel';
  if (t === '') throw new FtpfwdError('usage', '--sftp-login: expected tunnel, ssh or a password file');
  return { passwordFile: expandPath(t, home) };
}

export function formatSftpLogin(login: SftpLogin): string {
  return typeof login === 'object' ? `password file ${login.passwordFile}` : login;
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x), localhost. */
export function isLoopback(host: string): boolean {
  const h = normalizeAddress(host);
  return h === '::1' || h === 'localhost' || (isIP(h) === 4 && h.startsWith('127.'));
}

export class LocalSftpForward implements ActiveForward {
  private bridge: SftpBridge | undefined;
  listen = { host: '', port: 0 };
  private readonly login: SftpLogin;

  constructor(
    readonly spec: ForwardSpec,
    private readonly ctx: ForwardContext,
    private readonly options: SftpForwardOptions = {},
  ) {
    this.login = options.login ?? 'tunnel';
  }

  async start(): Promise<void> {
    const host = localBindAddress(this.spec, this.ctx.gatewayPorts);
    // With the tunnel's identity anybody who reaches the port works as the tunnel's SSH user: fine
    // on loopback (the FTP client runs as that user), an open door anywhere else.
    if (this.login === 'tunnel' && !isLoopback(host))
      throw new FtpfwdError(
        'usage',
        `sftp/ on ${hostPort(host, this.spec.bindPort)} with the tunnel's own SSH identity would let anyone who reaches the port use ${this.ctx.link.opts.username}'s SSH account: give --sftp-login ssh (each FTP user logs in to SSH) or --sftp-login FILE (a password file of ftpfwd-sshd passwd)`,
      );
    if (typeof this.login === 'object') await this.checkPasswordFile(this.login.passwordFile);
    const { ftp } = this.ctx;
    const start = (listenHost: string) =>
      startSftpBridge({
        listen: { host: listenHost, port: this.spec.bindPort },
        ...(this.spec.remoteDir === undefined ? {} : { remoteDir: this.spec.remoteDir }),
        jail: this.options.jail ?? false,
        login: this.login,
        openSftp: (auth) => this.openSftp(auth),
        ...(ftp.advertise === undefined ? {} : { advertise: ftp.advertise }),
        ...(ftp.dataPorts === undefined ? {} : { dataPorts: ftp.dataPorts }),
        logger: this.ctx.logger,
      });
    try {
      this.bridge = await start(host).catch((err: unknown) => {
        // All interfaces on a host without IPv6: IPv4's, as the other forwardings do.
        const noV6 = err instanceof SftpBridgeError && /EAFNOSUPPORT|EADDRNOTAVAIL/.test(err.got);
        if (host === ALL_INTERFACES && noV6) return start('0.0.0.0');
        throw err;
      });
    } catch (err) {
      if (err instanceof SftpBridgeError) throw new FtpfwdError('forward-failed', err.message);
      throw err;
    }
    this.listen = this.bridge.listen;
  }

  /**
   * A password file that cannot be read, or holds no user, would refuse every login: say so at
   * start. It is read again at each login, so users added later log in without a restart.
   */
  private async checkPasswordFile(path: string): Promise<void> {
    let file: Awaited<ReturnType<typeof readPasswordFile>>;
    try {
      file = await readPasswordFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : oneLine(err);
      throw new FtpfwdError('config', `--sftp-login ${path}: cannot read it: ${why}`);
    }
    for (const p of file.problems) this.ctx.logger.warn(`--sftp-login ${path} line ${p.line}: ${p.message}`);
    if (file.entries.size === 0)
      throw new FtpfwdError(
        'config',
        `--sftp-login ${path}: no usable user in it (add one with: ftpfwd-sshd passwd --file ${path} USER)`,
      );
  }

  /** One SFTP session per FTP login: a channel on the tunnel, or a connection of the FTP user's own. */
  private async openSftp(auth?: { user: string; password: string }): Promise<SftpSession> {
    const { link, linkWaitMs, metrics } = this.ctx;
    if (this.login === 'ssh') {
      if (!auth) throw new Error('no FTP credentials for an SSH login');
      try {
        const client = await link.connectAs(auth.user, auth.password);
        metrics.sessions.inc({ protocol: 'sftp', direction: 'local' });
        return await sessionFromClient(client, { endClient: true });
      } catch (err) {
        if (err instanceof FtpfwdError && err.code === 'auth-failed')
          throw new SftpLoginError(auth.user, 'the SSH server refused the user name or password');
        throw new Error(oneLine(err));
      }
    }
    const client = await link.waitUp(linkWaitMs);
    metrics.sessions.inc({ protocol: 'sftp', direction: 'local' });
    return sessionFromClient(client);
  }

  describe(): string {
    const dir = this.spec.remoteDir ?? '(SFTP start directory)';
    const jail = this.options.jail ? ', jailed' : '';
    return `sftp ${hostPort(this.listen.host, this.listen.port)} -> ${dir} over SFTP (logins: ${formatSftpLogin(this.login)}${jail})`;
  }

  async stopListening(): Promise<void> {
    await this.bridge?.stopListening();
  }

  openConnections(): number {
    return this.bridge?.sessions() ?? 0;
  }

  async close(): Promise<void> {
    await this.bridge?.close();
  }
}

/** The bridge's public types (re-exported from index.ts). */
import type { Logger } from 'pino';
import type { SFTPWrapper } from 'ssh2';

/** An SFTP session the bridge runs one FTP session on. */
export interface SftpSession {
  sftp: SFTPWrapper;
  /** Ends the session (the SFTP channel; and its SSH connection when it has one of its own). */
  close(): void;
  /**
   * Extensions the server announced (name → version), e.g. `posix-rename@openssh.com`. When left
   * out, the bridge reads what ssh2 recorded.
   */
  extensions?: Readonly<Record<string, string>>;
}

export interface SftpBridgeOptions {
  /** Bind address (loopback by default upstream); port 0 = any free port. */
  listen: { host: string; port: number };
  /** Start directory; undefined = the SFTP server's start directory (usually the user's home). */
  remoteDir?: string;
  /** No path may leave remoteDir (`..`, symbolic links the server resolves, absolute paths). */
  jail: boolean;
  /**
   * How FTP logins are checked:
   * - `tunnel`: any user and password (loopback; the FTP client runs as the tunnel's user);
   * - `ssh`: each login opens its own SSH connection with the FTP user and password;
   * - `{ passwordFile }`: checked against an ftpfwd-sshd scrypt password file, then the tunnel's
   *   own SSH identity is used.
   */
  login: 'tunnel' | 'ssh' | { passwordFile: string };
  /**
   * An SFTP session for one FTP login: with `auth` for `login: 'ssh'` (reject with
   * SftpLoginError when the SSH server refuses it: the FTP client gets 530), without it otherwise.
   */
  openSftp: (auth?: { user: string; password: string }) => Promise<SftpSession>;
  /** Address written into 227 replies (as --advertise of ftp/ forwardings). */
  advertise?: string;
  /** Ports passive data listeners use (as --data-ports). */
  dataPorts?: { lo: number; hi: number };
  logger: Logger;
}

export interface SftpBridge {
  /** Where the FTP server listens (the bound port when 0 was asked for). */
  listen: { host: string; port: number };
  /** FTP sessions open now. */
  sessions(): number;
  /** Accepts no new FTP sessions; those open run on. */
  stopListening(): Promise<void>;
  /** Stops listening and ends every session (421 to each FTP client, SFTP sessions closed). */
  close(): Promise<void>;
}

/** The SSH server refused the FTP user's credentials (login: 'ssh'): the FTP client gets 530. */
export class SftpLoginError extends Error {
  override readonly name = 'SftpLoginError';
  constructor(
    readonly user: string,
    readonly reason: string,
  ) {
    super(`SSH login refused for ${user}: ${reason}`);
  }
}

/** A bridge that cannot start: what was expected and what was seen. */
export class SftpBridgeError extends Error {
  override readonly name = 'SftpBridgeError';
  constructor(
    readonly expected: string,
    readonly got: string,
  ) {
    super(`sftp bridge: expected ${expected}, got ${got}`);
  }
}

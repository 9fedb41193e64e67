/**
 * Ways to get the SftpSession `openSftp` returns:
 * - `sessionFromClient`: an SFTP channel on an SSH connection that is already up (the tunnel's own,
 *   for `login: 'tunnel'` and password files): one channel per FTP session, the connection stays;
 * - `sshLoginSftp`: a new SSH connection with the FTP user's name and password (`login: 'ssh'`),
 *   closed with the FTP session; a refused login rejects with SftpLoginError.
 */
import ssh2, { type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { SftpLoginError, type SftpSession } from './types.js';

const { Client } = ssh2;
type SshClient = InstanceType<typeof Client>;

/** An SFTP channel on `client`. `endClient`: close() also ends the SSH connection. */
export function sessionFromClient(
  client: SshClient,
  opts: { endClient?: boolean } = {},
): Promise<SftpSession> {
  return new Promise((resolve, reject) => {
    try {
      client.sftp((err: Error | undefined, sftp: SFTPWrapper) => {
        if (err) {
          reject(new Error(`the SSH server refused an SFTP session: ${err.message}`));
          return;
        }
        // until the bridge listens itself: an SFTP protocol error must not go unhandled
        sftp.on('error', () => {});
        resolve({
          sftp,
          close() {
            try {
              sftp.end();
            } catch {
              // channel gone already
            }
            if (opts.endClient) client.end();
          },
        });
      });
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * A new SSH connection as `user` with `password` (password, then keyboard-interactive answering
 * every prompt with it), and an SFTP session on it. `base` carries host, port and a hostVerifier
 * (required: a bridge must not accept any host key); its username and auth settings are replaced.
 */
export function sshLoginSftp(base: ConnectConfig, user: string, password: string): Promise<SftpSession> {
  if (typeof base.hostVerifier !== 'function')
    return Promise.reject(new Error('sshLoginSftp needs a hostVerifier: every host key would be accepted'));
  return new Promise((resolve, reject) => {
    const c: SshClient = new Client();
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      c.end();
      reject(err);
    };
    c.on('error', (err: Error & { level?: string }) => {
      if (err.level === 'client-authentication')
        fail(new SftpLoginError(user, 'the SSH server refused the password'));
      else fail(new Error(`SSH connection failed: ${err.message}`));
    });
    c.on('close', () => fail(new Error('SSH connection closed during login')));
    c.on('ready', () => {
      c.setNoDelay(true);
      sessionFromClient(c, { endClient: true }).then(
        (s) => {
          settled = true;
          resolve(s);
        },
        (err: Error) => fail(err),
      );
    });
    const config: ConnectConfig = {
      readyTimeout: 30_000,
      ...base,
      username: user,
      password: undefined,
      privateKey: undefined,
      agent: undefined,
      tryKeyboard: false,
      authHandler: [
        { type: 'password', username: user, password },
        {
          type: 'keyboard-interactive',
          username: user,
          prompt: (
            _n: string,
            _i: string,
            _l: string,
            prompts: unknown[],
            finish: (answers: string[]) => void,
          ) => finish(prompts.map(() => password)),
        },
      ] as unknown as ConnectConfig['authHandler'],
    };
    try {
      c.connect(config);
    } catch (err) {
      fail(err as Error);
    }
  });
}

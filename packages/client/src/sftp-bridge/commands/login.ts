/** USER, PASS, ACCT: the three login modes of SftpBridgeOptions.login. */

import { readPasswordFile, verifyPassword } from '@ftpfwd/ftp-proxy/cli';
import type { FtpSession } from '../session.js';
import { SftpLoginError, type SftpSession } from '../types.js';
import type { CommandTable } from './spec.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function refuse(s: FtpSession, why: string): Promise<void> {
  s.loginFailures++;
  s.log.info({ session: s.id, user: s.user, reason: why }, 'FTP login refused');
  await sleep(s.config.loginFailDelayMs);
  s.reply(530, 'Login incorrect');
  s.user = undefined;
  if (s.loginFailures >= s.config.maxLoginFailures) {
    s.reply(421, 'Too many failed logins; closing control connection');
    s.end();
  }
}

const GATE_REPLIES = {
  blocked: 'Too many failed logins from your address; try again later',
  'busy-source': 'Another login from your address is being checked; try again in a moment',
  busy: 'Too many logins being checked; try again in a moment',
} as const;

async function pass(s: FtpSession, password: string): Promise<void> {
  const user = s.user;
  if (s.fs) {
    s.reply(503, 'Already logged in');
    return;
  }
  if (user === undefined) {
    s.reply(503, 'Send USER first');
    return;
  }
  const { login } = s.config.opts;
  // Any login is accepted with the tunnel's identity: there is nothing to guess.
  if (login === 'tunnel') {
    await check(s, user, password);
    return;
  }
  const gate = s.config.logins.admit(s.peer);
  if (!gate.ok) {
    s.log.warn(
      { session: s.id, user, reason: gate.reason, retry_ms: gate.retryAfterMs },
      'FTP login refused: too many attempts',
    );
    s.reply(421, GATE_REPLIES[gate.reason]);
    s.end();
    return;
  }
  let outcome: 'ok' | 'failed' | 'error' = 'error';
  try {
    outcome = await check(s, user, password);
  } finally {
    gate.done(outcome);
  }
}

/** Checks the login and opens its SFTP session; says whether the password was right. */
async function check(s: FtpSession, user: string, password: string): Promise<'ok' | 'failed' | 'error'> {
  const { login, openSftp } = s.config.opts;
  let session: SftpSession;
  if (typeof login === 'object') {
    let ok = false;
    try {
      // read at every login: a user added with `ftpfwd-sshd passwd` can log in without a restart
      const file = await readPasswordFile(login.passwordFile);
      ok = await verifyPassword(password, file.entries.get(user));
    } catch (err) {
      s.log.error(
        { session: s.id, file: login.passwordFile, err: (err as Error).message },
        'cannot read the FTP password file',
      );
    }
    if (!ok) {
      await refuse(s, 'user or password does not match the password file');
      return 'failed';
    }
  }
  try {
    session = await (login === 'ssh' ? openSftp({ user, password }) : openSftp());
  } catch (err) {
    if (err instanceof SftpLoginError) {
      await refuse(s, err.reason);
      return 'failed';
    }
    s.log.warn({ session: s.id, user, err: (err as Error)?.message }, 'cannot open an SFTP session');
    s.reply(421, `Cannot open an SFTP session: ${(err as Error)?.message ?? err}`);
    s.end();
    return 'error';
  }
  try {
    await s.adopt(session, user);
  } catch (err) {
    const dir = s.config.opts.remoteDir ?? '(the SFTP start directory)';
    s.log.warn({ session: s.id, user, dir, err: (err as Error)?.message }, 'remote directory unusable');
    try {
      session.close();
    } catch {
      // gone already
    }
    s.reply(421, `Remote directory ${dir} unusable: ${(err as Error)?.message ?? err}`);
    s.end();
    return 'ok'; // the password was right
  }
  if (!s.fs) return 'ok'; // the FTP client left meanwhile
  s.loginFailures = 0;
  s.log.info({ session: s.id, user }, 'FTP login');
  s.reply(230, 'User logged in, proceed');
  return 'ok';
}

export const LOGIN: CommandTable = {
  USER: {
    login: false,
    arg: 'required',
    help: 'USER <name>: the user to log in as',
    run(s, arg) {
      if (s.fs) {
        s.reply(503, 'Already logged in; reconnect to log in as another user');
        return;
      }
      s.user = arg;
      s.reply(331, `Password required for ${arg}`);
    },
  },
  PASS: { login: false, arg: 'optional', help: 'PASS <password>', run: pass },
  ACCT: {
    login: false,
    arg: 'optional',
    help: 'ACCT: not implemented (no accounts beyond the login)',
    run(s) {
      s.reply(502, 'ACCT not implemented');
    },
  },
};

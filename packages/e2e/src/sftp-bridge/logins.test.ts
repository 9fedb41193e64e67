/**
 * Logins and errors against OpenSSH: `login: 'ssh'` opens one SSH connection per FTP login with
 * the FTP user's own password, so two system users each get their own files and rights; a
 * password file (written by `ftpfwd-sshd passwd`) guards the tunnel's identity; and the SFTP
 * server's errors reach the FTP client as the replies it expects.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Bridge,
  baseConfig,
  bridgeModule,
  Cleanup,
  createUser,
  ftplib,
  isRoot,
  REPO,
  recordingLogger,
  run,
  type Sshd,
  sshConnect,
  startSshd,
  type TestUser,
  tempDir,
} from './support.js';

const c = new Cleanup();
let sshd: Sshd;
let mod: Awaited<ReturnType<typeof bridgeModule>>;

beforeAll(async () => {
  mod = await bridgeModule();
  sshd = await startSshd(c);
});
afterAll(() => c.run());

/** `ftpfwd-sshd passwd --file FILE USER`, the password on stdin: the file as users write it. */
async function setPassword(file: string, user: string, password: string): Promise<void> {
  const bin = join(REPO, 'node_modules/.bin/ftpfwd-sshd');
  const set = await run(bin, ['passwd', '--file', file, user], { input: `${password}\n` });
  expect(set.stderr).toBe(`password for ${user} set in ${file}\n`);
  expect(set.code).toBe(0);
}

const curl = (args: string[]) => run('curl', ['-sS', '--fail', '--max-time', '30', ...args]);

describe.runIf(isRoot())("login: 'ssh' — one SSH login per FTP login (two system users)", () => {
  let bridge: Bridge;
  let alice: TestUser;
  let bob: TestUser;
  let records: Record<string, unknown>[];

  beforeAll(async () => {
    alice = createUser(c, 'fbra');
    bob = createUser(c, 'fbrb');
    chmodSync(alice.home, 0o700);
    chmodSync(bob.home, 0o700);
    writeFileSync(join(bob.home, 'bob-only.txt'), 'for bob\n');
    execFileSync('chown', [`${bob.name}:`, join(bob.home, 'bob-only.txt')]);
    const log = recordingLogger();
    records = log.records;
    bridge = await mod.startSftpBridge({
      listen: { host: '127.0.0.1', port: 0 },
      jail: false,
      login: 'ssh',
      openSftp: (auth) => mod.sshLoginSftp(baseConfig(sshd), auth?.user ?? '', auth?.password ?? ''),
      logger: log.logger,
    });
    c.add(() => bridge.close());
  });

  it('each user lands in their own home, writes files they own, and cannot read the other’s', async () => {
    const base = `ftp://127.0.0.1:${bridge.listen.port}`;
    const up = join(tempDir(c), 'a.txt');
    writeFileSync(up, 'from alice\n');
    expect((await curl(['-u', `${alice.name}:${alice.password}`, '-T', up, `${base}/a.txt`])).code).toBe(0);
    expect(readFileSync(join(alice.home, 'a.txt'), 'utf8')).toBe('from alice\n');
    expect(statSync(join(alice.home, 'a.txt')).uid).toBe(alice.uid);

    const out = await ftplib(
      bridge.listen.port,
      `
out['pwd'] = f.pwd()
out['names'] = sorted(f.nlst())
try:
    f.retrbinary('RETR ${alice.home}/a.txt', lambda b: None)
    out['theft'] = 'read it'
except ftplib.all_errors as e:
    out['theft'] = str(e)
out['size'] = cmd('SIZE bob-only.txt')
`,
      bob.name,
      bob.password,
    );
    expect(out.pwd).toBe(bob.home);
    expect(out.names).toContain('bob-only.txt');
    expect(out.names).not.toContain('a.txt');
    expect(String(out.theft)).toMatch(/^550 .*Permission denied/);
    expect(out.size).toBe('213 8');
  });

  it('a wrong password is 530 (the SSH server refused it), and is logged once', async () => {
    const r = await curl(['-u', `${alice.name}:wrong`, `ftp://127.0.0.1:${bridge.listen.port}/`]);
    expect(r.code).toBe(67); // curl: login denied
    const refused = records.filter((x) => x.msg === 'FTP login refused' && x.user === alice.name);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.reason).toMatch(/refused the password/);
  });
});

describe('login: a password file from ftpfwd-sshd passwd, with the tunnel’s own SSH identity', () => {
  it('the right password logs in; a wrong one, or a user not in the file, is 530', async () => {
    const client = await sshConnect(c, sshd);
    const dir = tempDir(c);
    const file = join(dir, 'ftp-passwords');
    await setPassword(file, 'carol', 'carol-pw');
    const site = tempDir(c);
    writeFileSync(join(site, 'f.txt'), 'file\n');
    const bridge = await mod.startSftpBridge({
      listen: { host: '127.0.0.1', port: 0 },
      remoteDir: site,
      jail: true,
      login: { passwordFile: file },
      openSftp: () => mod.sessionFromClient(client),
      logger: recordingLogger().logger,
    });
    c.add(() => bridge.close());
    const base = `ftp://127.0.0.1:${bridge.listen.port}/f.txt`;
    const ok = await curl(['-u', 'carol:carol-pw', base]);
    expect([ok.code, ok.stdout]).toEqual([0, 'file\n']);
    expect((await curl(['-u', 'carol:nope', base])).code).toBe(67);
    expect((await curl(['-u', 'mallory:carol-pw', base])).code).toBe(67);
  });
});

describe('SFTP errors from OpenSSH as FTP replies', () => {
  it('a full file system: OpenSSH says only "Failure"; statvfs shows it full, so the client gets 552', async () => {
    const client = await sshConnect(c, sshd);
    const dir = tempDir(c);
    const m = await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    if (m.code !== 0) {
      console.warn(`skipped: cannot mount a small tmpfs here (${m.stderr.trim()})`);
      return;
    }
    c.add(() => run('umount', ['-l', dir]));
    const bridge = await mod.startSftpBridge({
      listen: { host: '127.0.0.1', port: 0 },
      remoteDir: dir,
      jail: true,
      login: 'tunnel',
      openSftp: () => mod.sessionFromClient(client),
      logger: recordingLogger().logger,
    });
    c.add(() => bridge.close());
    const big = join(tempDir(c), 'big.bin');
    // more than the socket buffers hold, so ftplib is still sending when the write fails: the
    // bridge must drain it, or ftplib gets a reset and every later reply is off by one
    writeFileSync(big, Buffer.alloc(32 * 1024 * 1024, 7));
    const out = await ftplib(
      bridge.listen.port,
      `
f.voidcmd('TYPE I')
try:
    with open(${JSON.stringify(big)}, 'rb') as src:
        out['stor'] = f.storbinary('STOR big.bin', src)
except ftplib.all_errors as e:
    out['stor'] = str(e)
out['noop'] = cmd('NOOP')
out['mkd'] = cmd('MKD /nope/deeper')
out['rmd'] = cmd('RMD /missing')
`,
    );
    expect(String(out.stor)).toMatch(/^552 /);
    expect(out.noop).toBe('200 NOOP ok');
    expect(String(out.mkd)).toMatch(/^550 /);
    expect(String(out.rmd)).toMatch(/^550 .*No such file/);
    expect(existsSync(join(dir, 'big.bin'))).toBe(true);
  });
});

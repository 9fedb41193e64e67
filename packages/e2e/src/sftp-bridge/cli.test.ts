/**
 * `ftpfwd -L sftp/…` as a user runs it: the built CLI against OpenSSH's sshd with its real SFTP
 * server, real curl and ftplib in front. The library-level tests next to this one cover every FTP
 * command; these prove the forwarding, its options and its refusals as the command line gives them.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, type Proc, startFtpfwd } from '../integration/support/procs.js';
import {
  Cleanup,
  createUser,
  freePort,
  ftplib,
  isRoot,
  REPO,
  run,
  type Sshd,
  sha256,
  sha256File,
  startSshd,
  tempDir,
} from './support.js';

const c = new Cleanup();
let sshd: Sshd;
let home: string;
let site: string;

beforeAll(async () => {
  sshd = await startSshd(c);
  home = tempDir(c, 'ftpfwd-sftpb-home-');
  // The host key as known_hosts has it: ftpfwd verifies it, as ssh would.
  const pub = readFileSync(join(sshd.dir, 'hostkey.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(home, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${pub}\n`);
  site = tempDir(c, 'ftpfwd-sftpb-site-');
  writeFileSync(join(site, 'hello.bin'), randomBytes(3 * 1024 * 1024 + 7));
});
afterAll(() => c.run());

function sshArgs(): string[] {
  return [
    '-p',
    String(sshd.port),
    '-i',
    sshd.userKey,
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${join(home, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
  ];
}

/** ftpfwd with `args` before the destination; resolves once its sftp/ forwarding listens. */
async function ftpfwd(args: string[]): Promise<Proc> {
  const p = startFtpfwd(c, [...sshArgs(), ...args, `${sshd.user}@127.0.0.1`], cleanEnv(home));
  await p.waitFor(/sftp \S+:\d+ -> .* over SFTP .* via/);
  return p;
}

const curl = (args: string[]) => run('curl', ['-sS', '--max-time', '30', ...args]);

describe('ftpfwd -L sftp/PORT:REMOTE_DIR (the tunnel’s own identity, on loopback)', () => {
  let port: number;
  let proc: Proc;

  beforeAll(async () => {
    port = await freePort();
    proc = await ftpfwd(['-L', `sftp/${port}:${site}`, '--sftp-jail']);
  });

  it('says where it listens, what it serves and how logins work', () => {
    expect(proc.output()).toContain(
      `sftp 127.0.0.1:${port} -> ${site} over SFTP (logins: tunnel, jailed) via`,
    );
  });

  it('serves downloads, uploads and resumed downloads through curl, bytes equal', async () => {
    const work = tempDir(c);
    const url = `ftp://anyone:anything@127.0.0.1:${port}`;
    const down = await curl(['-o', join(work, 'got.bin'), `${url}/hello.bin`]);
    expect(down.code, down.stderr).toBe(0);
    expect(sha256File(join(work, 'got.bin'))).toBe(sha256File(join(site, 'hello.bin')));

    const payload = randomBytes(2 * 1024 * 1024 + 3);
    writeFileSync(join(work, 'up.bin'), payload);
    const up = await curl(['--ftp-port', '127.0.0.1', '-T', join(work, 'up.bin'), `${url}/up.bin`]);
    expect(up.code, up.stderr).toBe(0);
    expect(sha256File(join(site, 'up.bin'))).toBe(sha256(payload));

    const full = readFileSync(join(site, 'hello.bin'));
    writeFileSync(join(work, 'part.bin'), full.subarray(0, 1_000_000));
    const resume = await curl(['-C', '-', '-o', join(work, 'part.bin'), `${url}/hello.bin`]);
    expect(resume.code, resume.stderr).toBe(0);
    expect(sha256File(join(work, 'part.bin'))).toBe(sha256(full));
  });

  it('keeps the FTP client inside REMOTE_DIR (--sftp-jail)', async () => {
    const out = await ftplib(
      port,
      `
out['pwd'] = f.pwd()
out['up'] = cmd('CWD ..') + ' / ' + f.pwd()
out['abs'] = cmd('SIZE /etc/passwd')
out['dotdot'] = cmd('SIZE ../../../../etc/passwd')
`,
    );
    expect(out.pwd).toBe('/');
    expect(out.up).toMatch(/^550 path leaves the jail.* \/ \/$/);
    expect(String(out.abs)).toMatch(/^550 /);
    expect(String(out.dotdot)).toMatch(/^550 /);
  });
});

describe('refusals at start', () => {
  it('-g with the tunnel’s own identity: exit 255, the reason, nothing listens', async () => {
    const port = await freePort();
    const r = await run(
      process.execPath,
      [
        join(REPO, 'packages/client/bin/ftpfwd.js'),
        ...sshArgs(),
        '-g',
        '-L',
        `sftp/${port}`,
        `${sshd.user}@127.0.0.1`,
      ],
      { env: cleanEnv(home), timeoutMs: 30_000 },
    );
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(
      new RegExp(
        `sftp/\\) would listen on :: with ${sshd.user}'s own SSH identity.*--sftp-login ssh.*--sftp-login FILE`,
      ),
    );
    const probe = await curl([`ftp://127.0.0.1:${port}/`]);
    expect(probe.code).toBe(7); // curl: could not connect
  });

  it('--sftp-login FILE that is missing or holds no user: exit 255 naming the file, nothing listens', async () => {
    const empty = join(tempDir(c), 'empty.passwd');
    writeFileSync(empty, '# nobody yet\nbroken line\n');
    for (const [file, why] of [
      [join(home, 'missing.passwd'), 'cannot read it: no such file'],
      [empty, 'no usable user in it (add one with: ftpfwd-sshd passwd --file'],
    ] as const) {
      const port = await freePort();
      const r = await run(
        process.execPath,
        [
          join(REPO, 'packages/client/bin/ftpfwd.js'),
          ...sshArgs(),
          '-o',
          'ExitOnForwardFailure=yes',
          '-g',
          '-L',
          `sftp/${port}`,
          '--sftp-login',
          file,
          `${sshd.user}@127.0.0.1`,
        ],
        { env: cleanEnv(home), timeoutMs: 30_000 },
      );
      expect(r.code, r.stderr).toBe(255);
      expect(r.stderr).toContain(`--sftp-login ${file}: ${why}`);
      expect((await curl([`ftp://127.0.0.1:${port}/`])).code).toBe(7);
    }
  });

  it('-R sftp/: exit 255 saying it is -L only', async () => {
    const r = await run(
      process.execPath,
      [
        join(REPO, 'packages/client/bin/ftpfwd.js'),
        ...sshArgs(),
        '-R',
        'sftp/2121',
        `${sshd.user}@127.0.0.1`,
      ],
      { env: cleanEnv(home), timeoutMs: 30_000 },
    );
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('-L forwarding only');
  });
});

describe.runIf(isRoot())('ftpfwd -g -L sftp/PORT --sftp-login ssh (two system users)', () => {
  it('each FTP login is its own SSH login: own home, own files, a wrong password is 530', async () => {
    const alice = createUser(c, 'fcla');
    const bob = createUser(c, 'fclb');
    chmodSync(alice.home, 0o700);
    chmodSync(bob.home, 0o700);
    writeFileSync(join(bob.home, 'bob.txt'), 'bob only\n');
    execFileSync('chown', [`${bob.name}:`, join(bob.home, 'bob.txt')]);
    const port = await freePort();
    const proc = await ftpfwd(['-g', '-L', `sftp/${port}`, '--sftp-login', 'ssh']);
    expect(proc.output()).toMatch(
      new RegExp(
        `sftp (\\[::\\]|0\\.0\\.0\\.0):${port} -> \\(SFTP start directory\\) over SFTP \\(logins: ssh\\)`,
      ),
    );

    const work = tempDir(c);
    writeFileSync(join(work, 'a.txt'), 'from alice\n');
    const up = await curl([
      '-u',
      `${alice.name}:${alice.password}`,
      '-T',
      join(work, 'a.txt'),
      `ftp://127.0.0.1:${port}/a.txt`,
    ]);
    expect(up.code, up.stderr).toBe(0);
    expect(readFileSync(join(alice.home, 'a.txt'), 'utf8')).toBe('from alice\n');

    const seen = await ftplib(
      port,
      "out['pwd'] = f.pwd()\nout['names'] = sorted(f.nlst())\n",
      bob.name,
      bob.password,
    );
    expect(seen.pwd).toBe(bob.home);
    expect(seen.names).toContain('bob.txt');
    expect(seen.names).not.toContain('a.txt');

    const wrong = await curl(['-u', `${alice.name}:not-it`, `ftp://127.0.0.1:${port}/`]);
    expect(wrong.code).toBe(67); // curl: the server denied the login
    await proc.waitFor(
      new RegExp(`FTP login refused.*user=${alice.name}.*refused the user name or password`),
    );
    expect(proc.output()).toMatch(new RegExp(`FTP login.*user=${bob.name}`));
  });
});

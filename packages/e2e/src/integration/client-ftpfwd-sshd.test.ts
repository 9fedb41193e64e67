import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shaRoundTrip, startShaServer } from './support/echo.js';
import { FtpControl } from './support/ftp-control.js';
import {
  Cleanup,
  cleanEnv,
  type FtpfwdSshd,
  freePort,
  run,
  SSHD_BIN,
  sha256,
  sha256File,
  startFtpfwd,
  startFtpfwdSshd,
  startFtpSrv,
  tempDir,
} from './support/procs.js';

/**
 * ftpfwd (the built CLI) against @ftpfwd/sshd (its CLI ftpfwd-sshd), with real ftp-srv and curl.
 * Same topology trick as the OpenSSH tests: the FTP client is 127.0.0.2, the SSH server reaches
 * ftp-srv from 127.0.0.1, and ftp-srv refuses data peers that differ from the control peer.
 */
let c: Cleanup;
let home: string;

beforeEach(() => {
  c = new Cleanup();
  home = tempDir(c);
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
});
afterEach(async () => {
  await c.run();
});

function baseArgs(s: FtpfwdSshd): string[] {
  return [
    '-p',
    String(s.port),
    '-i',
    s.userKey,
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${s.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
  ];
}

/** `ftpfwd -L ftp/` on a free local port to ftp-srv at `ftpPort`, through `sshd`; resolves once it listens. */
async function forwardFtp(sshd: FtpfwdSshd, ftpPort: number, extra: string[] = []) {
  const lport = await freePort();
  const fwd = startFtpfwd(
    c,
    [...baseArgs(sshd), ...extra, '-L', `ftp/127.0.0.1:${lport}:127.0.0.1:${ftpPort}`, 'tester@127.0.0.1'],
    cleanEnv(home),
  );
  await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
  return { lport, fwd };
}

const MODES: Record<string, string[]> = {
  epsv: [],
  pasv: ['--disable-epsv'],
  eprt: ['--ftp-port', '127.0.0.2'],
  port: ['--ftp-port', '127.0.0.2', '--disable-eprt'],
};

const curl = (args: string[]) =>
  run('curl', ['-sS', '--max-time', '30', '--interface', '127.0.0.2', ...args]);

async function allModes(port: number, root: string, file: Buffer, label: string) {
  const out = tempDir(c);
  for (const [mode, flags] of Object.entries(MODES)) {
    const down = join(out, `down-${mode}.bin`);
    const r = await curl([...flags, `ftp://127.0.0.1:${port}/file.bin`, '-o', down]);
    expect(r.code, `${label} ${mode} download: ${r.stderr}`).toBe(0);
    expect(sha256File(down), `${label} ${mode} download`).toBe(sha256(file));
    const up = await curl([...flags, '-T', join(root, 'file.bin'), `ftp://127.0.0.1:${port}/up-${mode}.bin`]);
    expect(up.code, `${label} ${mode} upload: ${up.stderr}`).toBe(0);
    expect(sha256File(join(root, `up-${mode}.bin`)), `${label} ${mode} upload`).toBe(sha256(file));
  }
  const list = await curl([`ftp://127.0.0.1:${port}/`]);
  expect(list.stdout.toString()).toContain('file.bin');
}

describe('ftpfwd against ftpfwd-sshd', () => {
  it('-L ftp/ in all four modes, with the FTP-aware permit (only announced data channels)', async () => {
    const root = tempDir(c);
    const file = randomBytes(2 * 1024 * 1024 + 5);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c, ['--permit-open', `127.0.0.1:${ftp}/ftp`]);
    const { lport, fwd } = await forwardFtp(sshd, ftp);
    await allModes(lport, root, file, '-L');
    expect(fwd.child.exitCode).toBeNull();
  });

  it('-o RekeyLimit=1M: ssh2 at both ends re-keys under a 32 MiB upload and download, bytes intact', async () => {
    const root = tempDir(c);
    const file = randomBytes(32 * 1024 * 1024 + 5);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c);
    const mport = await freePort();
    const { lport, fwd } = await forwardFtp(sshd, ftp, [
      '-o',
      'RekeyLimit=1M',
      '--metrics',
      `127.0.0.1:${mport}`,
    ]);
    const up = await curl(['-T', join(root, 'file.bin'), `ftp://127.0.0.1:${lport}/up.bin`]);
    expect(up.code, `upload: ${up.stderr}`).toBe(0);
    expect(sha256File(join(root, 'up.bin'))).toBe(sha256(file));
    const down = join(tempDir(c), 'down.bin');
    const r = await curl([`ftp://127.0.0.1:${lport}/file.bin`, '-o', down]);
    expect(r.code, `download: ${r.stderr}`).toBe(0);
    expect(sha256File(down)).toBe(sha256(file));
    const m = (await run('curl', ['-sS', `http://127.0.0.1:${mport}/metrics`])).stdout.toString();
    // About one per MiB each way; data keeps flowing (queued) while each exchange runs.
    expect(Number(/^ftpfwd_ssh_rekeys_total (\d+)/m.exec(m)?.[1])).toBeGreaterThanOrEqual(16);
    expect(fwd.output()).not.toMatch(/lost/);
    expect(fwd.child.exitCode).toBeNull();
  });

  it('-R ftp/ in all four modes', async () => {
    const root = tempDir(c);
    const file = randomBytes(1024 * 1024 + 1);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c);
    const rport = await freePort();
    const fwd = startFtpfwd(
      c,
      // No bind address: OpenSSH's default, "localhost" on the server.
      [...baseArgs(sshd), '-R', `ftp/${rport}:127.0.0.1:${ftp}`, 'tester@127.0.0.1'],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp remote .* via/);
    await allModes(rport, root, file, '-R');
  });

  it('tcp/ both directions with half-close; -R port 0 reports the allocated port', async () => {
    const echo = await startShaServer(c);
    const sshd = await startFtpfwdSshd(c);
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      [
        ...baseArgs(sshd),
        '-L',
        `tcp/${lport}:127.0.0.1:${echo.port}`,
        '-R',
        `127.0.0.1:0:127.0.0.1:${echo.port}`,
        'tester@127.0.0.1',
      ],
      cleanEnv(home),
    );
    const allocated = await fwd.waitFor(/Allocated port \d+/);
    const rport = Number(allocated.split(' ')[2]);
    await fwd.waitFor(/tcp remote .* via/);
    const payload = randomBytes(1 << 20);
    expect(await shaRoundTrip(lport, payload)).toBe(sha256(payload));
    expect(await shaRoundTrip(rport, payload)).toBe(sha256(payload));
  });

  it('sshd killed mid-session: 421 to the FTP client; after restart new sessions work', async () => {
    const root = tempDir(c);
    const file = randomBytes(128 * 1024);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c);
    const mport = await freePort();
    const { lport, fwd } = await forwardFtp(sshd, ftp, ['--metrics', `127.0.0.1:${mport}`]);
    const ctl = await FtpControl.connect(lport, '127.0.0.1', '127.0.0.2');
    c.add(() => ctl.close());
    await ctl.login();
    await sshd.stop();
    expect(await ctl.reply()).toMatch(/^421 Service not available, SSH link lost/);
    await ctl.waitClosed();
    await sshd.start();
    await fwd.waitFor(/reconnected to/, 30_000);
    const m = (await run('curl', ['-sS', `http://127.0.0.1:${mport}/metrics`])).stdout.toString();
    expect(m).toMatch(/ftpfwd_reconnects_total 1/);
    expect(m).toMatch(/ftpfwd_link_up 1/);
    const down = join(tempDir(c), 'after.bin');
    const r = await curl([`ftp://127.0.0.1:${lport}/file.bin`, '-o', down]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256File(down)).toBe(sha256(file));
  });

  it('-R forwardings are requested again after a reconnect', async () => {
    const echo = await startShaServer(c);
    const sshd = await startFtpfwdSshd(c);
    const rport = await freePort();
    const fwd = startFtpfwd(
      c,
      [...baseArgs(sshd), '-R', `127.0.0.1:${rport}:127.0.0.1:${echo.port}`, 'tester@127.0.0.1'],
      cleanEnv(home),
    );
    await fwd.waitFor(/tcp remote .* via/);
    const payload = randomBytes(50_000);
    expect(await shaRoundTrip(rport, payload)).toBe(sha256(payload));
    await sshd.stop();
    await sshd.start();
    await fwd.waitFor(/reconnected to/, 30_000);
    // The remote listener comes back once the reconnect's tcpip-forward is answered.
    let got = '';
    for (let i = 0; i < 50 && got !== sha256(payload); i++) {
      got = await shaRoundTrip(rport, payload).catch(() => '');
      if (got !== sha256(payload)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(got).toBe(sha256(payload));
  });

  it('a server that refuses remote forwards: PORT fails with a reply, the session goes on in passive mode', async () => {
    const root = tempDir(c);
    const file = randomBytes(64 * 1024);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c, ['--allow-tcp-forwarding', 'local']);
    const { lport, fwd } = await forwardFtp(sshd, ftp);
    const ctl = await FtpControl.connect(lport, '127.0.0.1', '127.0.0.2');
    c.add(() => ctl.close());
    await ctl.login();
    expect(await ctl.cmd('PORT 127,0,0,2,156,64')).toMatch(/^[45]\d\d /);
    expect(await ctl.cmd('NOOP')).toMatch(/^200 /);
    ctl.close();
    const down = join(tempDir(c), 'p.bin');
    const r = await curl([`ftp://127.0.0.1:${lport}/file.bin`, '-o', down]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256File(down)).toBe(sha256(file));
    await fwd.waitFor(/PORT data channel failed/);
  });

  it('a -R the server refuses: with ExitOnForwardFailure one line and exit 255', async () => {
    const sshd = await startFtpfwdSshd(c, ['--allow-tcp-forwarding', 'local']);
    const rport = await freePort();
    const fwd = startFtpfwd(
      c,
      [
        ...baseArgs(sshd),
        '-o',
        'ExitOnForwardFailure=yes',
        '-R',
        `ftp/127.0.0.1:${rport}:127.0.0.1:21`,
        'tester@127.0.0.1',
      ],
      cleanEnv(home),
    );
    expect(await fwd.exited).toBe(255);
    const lines = fwd.output().trim().split('\n');
    expect(lines, fwd.output()).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^ftpfwd: SSH server 127\\.0\\.0\\.1:\\d+ refused to listen on 127\\.0\\.0\\.1:${rport}`),
    );
  });

  it('password from SSH_ASKPASS against a --passwords file; a wrong one fails in one line', async () => {
    const dir = tempDir(c);
    const pwFile = join(dir, 'passwords');
    const set = await run(SSHD_BIN, ['passwd', '--file', pwFile, 'alice'], { input: 'wonderland\n' });
    expect(set.code, set.stderr).toBe(0);
    const sshd = await startFtpfwdSshd(c, ['--passwords', pwFile]);
    const askpass = (answer: string) => {
      const f = join(dir, `ask-${answer}`);
      writeFileSync(f, `#!/bin/sh\necho ${answer}\n`, { mode: 0o755 });
      return cleanEnv(home, { SSH_ASKPASS: f, SSH_ASKPASS_REQUIRE: 'force' });
    };
    const lport = await freePort();
    const common = [
      '-p',
      String(sshd.port),
      '-o',
      `UserKnownHostsFile=${sshd.knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-L',
      `127.0.0.1:${lport}:127.0.0.1:9`,
      'alice@127.0.0.1',
    ];
    const ok = startFtpfwd(c, common, askpass('wonderland'));
    await ok.waitFor(/ via 127\.0\.0\.1:/);
    await ok.kill();
    const bad = startFtpfwd(c, ['-o', 'NumberOfPasswordPrompts=1', ...common], askpass('looking-glass'));
    expect(await bad.exited).toBe(255);
    expect(bad.output().trim()).toMatch(
      /^ftpfwd: permission denied for alice@127\.0\.0\.1:\d+ \(server accepts [a-z,-]*password[a-z,-]*; tried password\)$/,
    );
  });

  it('one session sending garbage does not disturb another running a transfer', async () => {
    const root = tempDir(c);
    const file = randomBytes(1024 * 1024);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c);
    const { lport, fwd } = await forwardFtp(sshd, ftp);
    const bad = await FtpControl.connect(lport, '127.0.0.1', '127.0.0.2');
    c.add(() => bad.close());
    await bad.login();
    bad.sock.write(`${'A'.repeat(10000)}\r\nPORT 999,1,1,1,1,1\r\nEPRT |9|x|y|\r\n\u0000\u00ff\r\n`);
    const down = join(tempDir(c), 'ok.bin');
    const r = await curl([`ftp://127.0.0.1:${lport}/file.bin`, '-o', down]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256File(down)).toBe(sha256(file));
    expect(fwd.child.exitCode).toBeNull();
  });

  it('a server short of channels: FTP sessions wait for a free one instead of failing with 425', async () => {
    const root = tempDir(c);
    const file = randomBytes(256 * 1024);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const cfg = join(tempDir(c), 'sshd.yaml');
    writeFileSync(cfg, 'limits: { maxChannelsPerConnection: 16 }\n');
    const sshd = await startFtpfwdSshd(c, ['--config', cfg]);
    const { lport, fwd } = await forwardFtp(sshd, ftp);
    // 12 sessions at once need 24 channels (control + data) on one SSH connection that allows 16:
    // the data channels beyond wait for earlier transfers to end. Each transfer is held to about
    // two seconds (--limit-rate), so the sessions overlap even when a loaded machine starts the
    // curls apart.
    const out = tempDir(c);
    const runs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        curl(['--limit-rate', '128K', `ftp://127.0.0.1:${lport}/file.bin`, '-o', join(out, `${i}.bin`)]),
      ),
    );
    runs.forEach((r, i) => {
      expect(r.code, `session ${i}: ${r.stderr}`).toBe(0);
      expect(sha256File(join(out, `${i}.bin`))).toBe(sha256(file));
    });
    expect(sshd.log()).toMatch(/too many open channels|too many channels/);
    expect(fwd.output()).toMatch(/short of channels; waiting/);
  });

  it('500 concurrent FTP sessions over one SSH connection with the default limits', async () => {
    const root = tempDir(c);
    const file = randomBytes(16 * 1024);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c);
    const { lport, fwd } = await forwardFtp(sshd, ftp);
    const results = await Promise.all(Array.from({ length: 500 }, () => epsvRetr(lport, 'file.bin')));
    const failed = results.filter((r) => typeof r === 'string');
    expect(failed.slice(0, 3), `${failed.length} of 500 failed`).toEqual([]);
    for (const r of results) expect(sha256(r as Buffer)).toBe(sha256(file));
    expect(fwd.output()).not.toMatch(/short of channels/);
  }, 120_000);
});

/** One FTP session with the test's own client: log in, EPSV, RETR; the file, or why it failed. */
async function epsvRetr(port: number, name: string): Promise<Buffer | string> {
  let ftp: FtpControl | undefined;
  try {
    ftp = await FtpControl.connect(port, '127.0.0.1', '127.0.0.2');
    await ftp.login();
    const epsv = await ftp.cmd('EPSV');
    const m = /\(\|\|\|(\d+)\|\)/.exec(epsv);
    if (!m) return `EPSV: ${epsv}`;
    const data = await FtpControl.connect(Number(m[1]), '127.0.0.1', '127.0.0.2');
    const bytes = data.collect();
    const started = await ftp.cmd(`RETR ${name}`);
    if (!/^1\d\d /.test(started)) return `RETR: ${started}`;
    const body = await bytes;
    const done = await ftp.reply(60_000);
    if (!done.startsWith('226')) return `after RETR: ${done}`;
    return body;
  } catch (err) {
    return (err as Error).message;
  } finally {
    ftp?.close();
  }
}

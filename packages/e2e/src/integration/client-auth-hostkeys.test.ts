import { appendFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Cleanup,
  cleanEnv,
  FTPFWD_BIN,
  freePort,
  keygen,
  type OpenSshd,
  run,
  startFtpfwd,
  startOpenSshd,
  startProc,
  tempDir,
} from './support/procs.js';

/**
 * Host-key checking and authentication of the ftpfwd CLI against real peers: OpenSSH's sshd for
 * keys and the agent, an ssh2 server for password and keyboard-interactive (the private sshd runs
 * without PAM, so it cannot check passwords). Failures must be one clear line and exit code 255.
 */
let c: Cleanup;
let sshd: OpenSshd;
let home: string;
let lport: number;

beforeEach(async () => {
  c = new Cleanup();
  home = tempDir(c);
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  sshd = await startOpenSshd(c);
  lport = await freePort();
});
afterEach(async () => {
  await c.run();
});

function args(extra: string[], knownHosts = sshd.knownHosts): string[] {
  return [
    '-p',
    String(sshd.port),
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    ...extra,
    '-L',
    `127.0.0.1:${lport}:127.0.0.1:9`,
    `${sshd.user}@127.0.0.1`,
  ];
}

/** Runs ftpfwd until it is ready (resolves 'ready') or exits (resolves its code and last line). */
async function outcome(argv: string[], env: NodeJS.ProcessEnv) {
  const p = startFtpfwd(c, argv, env);
  const ready = p.waitFor(/ via 127\.0\.0\.1:/, 20_000).then(
    () => 'ready' as const,
    () => undefined,
  );
  const exited = p.exited.then((code) => ({ code }));
  const r = await Promise.race([ready, exited]);
  if (r === 'ready') {
    await p.kill('SIGTERM');
    return { ready: true, code: await p.exited, output: p.output() };
  }
  return { ready: false, code: r?.code, output: p.output() };
}

function oneLine(output: string): string {
  const lines = output.trim().split('\n');
  expect(lines, output).toHaveLength(1);
  return lines[0] as string;
}

describe('known_hosts', () => {
  it('an unknown host is refused in BatchMode, naming the host and its fingerprint', async () => {
    const kh = join(home, 'empty_known_hosts');
    writeFileSync(kh, '');
    const r = await outcome(args(['-i', sshd.userKey, '-o', 'BatchMode=yes'], kh), cleanEnv(home));
    expect(r.ready).toBe(false);
    expect(r.code).toBe(255);
    const fp = (await run('ssh-keygen', ['-lf', join(sshd.dir, 'hostkey.pub')])).stdout
      .toString()
      .split(' ')[1];
    const line = oneLine(r.output);
    expect(line).toContain(`[127.0.0.1]:${sshd.port}`);
    expect(line).toContain(fp);
    expect(line).toContain('BatchMode');
  });

  it('accept-new records the key, and the recorded entry is then trusted by OpenSSH ssh-keygen -F', async () => {
    const kh = join(home, '.ssh', 'known_hosts');
    const r = await outcome(
      args(['-i', sshd.userKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new'], kh),
      cleanEnv(home),
    );
    expect(r.ready, r.output).toBe(true);
    expect(r.code).toBe(0);
    const found = await run('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', kh]);
    expect(found.code).toBe(0);
    expect(readFileSync(kh, 'utf8')).toContain(sshd.hostKeyPub.split(' ')[1]);
    // Second run with StrictHostKeyChecking=yes now succeeds.
    const again = await outcome(
      args(['-i', sshd.userKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'], kh),
      cleanEnv(home),
    );
    expect(again.ready, again.output).toBe(true);
  });

  it('a changed key is refused loudly with both fingerprints, even with accept-new', async () => {
    const other = keygen(join(home, 'otherhost'));
    const kh = join(home, 'kh_changed');
    writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${other.pub.split(' ').slice(0, 2).join(' ')}\n`);
    const r = await outcome(
      args(['-i', sshd.userKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new'], kh),
      cleanEnv(home),
    );
    expect(r.code).toBe(255);
    const line = oneLine(r.output);
    expect(line).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    const fpNew = (await run('ssh-keygen', ['-lf', join(sshd.dir, 'hostkey.pub')])).stdout
      .toString()
      .split(' ')[1];
    const fpOld = (await run('ssh-keygen', ['-lf', `${other.priv}.pub`])).stdout.toString().split(' ')[1];
    expect(line).toContain(fpNew);
    expect(line).toContain(fpOld);
  });

  it('hashed entries (ssh-keygen -H) are honoured and @revoked refuses', async () => {
    const kh = join(home, 'kh_hashed');
    writeFileSync(kh, readFileSync(sshd.knownHosts));
    const h = await run('ssh-keygen', ['-H', '-f', kh]);
    expect(h.code, h.stderr).toBe(0);
    expect(readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
    const ok = await outcome(
      args(['-i', sshd.userKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'], kh),
      cleanEnv(home),
    );
    expect(ok.ready, ok.output).toBe(true);
    appendFileSync(kh, `@revoked * ${sshd.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`);
    const revoked = await outcome(args(['-i', sshd.userKey, '-o', 'BatchMode=yes'], kh), cleanEnv(home));
    expect(revoked.code).toBe(255);
    expect(oneLine(revoked.output)).toContain('@revoked');
  });
});

describe('asking on a terminal (StrictHostKeyChecking=ask under a pty from script(1))', () => {
  const underPty = (answer: string) => {
    const kh = join(home, 'tty_known_hosts');
    const cmd = [process.execPath, FTPFWD_BIN, ...args(['-i', sshd.userKey], kh)]
      .map((a) => `'${a}'`)
      .join(' ');
    const p = startProc(c, 'script', ['-qfec', cmd, '/dev/null'], cleanEnv(home), 'pipe');
    return { p, kh, answer };
  };

  it('"yes" records the key and connects', async () => {
    const { p, kh } = underPty('yes');
    await p.waitFor(/Are you sure you want to continue connecting \(yes\/no\/\[fingerprint\]\)\? /);
    p.child.stdin?.write('yes\r');
    await p.waitFor(/ via 127\.0\.0\.1:/);
    expect(readFileSync(kh, 'utf8')).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `);
  });

  it('"no" refuses with one line and exit 255', async () => {
    const { p, kh } = underPty('no');
    await p.waitFor(/Are you sure/);
    p.child.stdin?.write('no\r');
    await p.waitFor(/ftpfwd: host key verification failed: .*not confirmed/);
    expect(await p.exited).toBe(255);
    expect(() => readFileSync(kh)).toThrow();
  });
});

describe('authentication against OpenSSH', () => {
  it('a key file given with -i', async () => {
    const r = await outcome(args(['-i', sshd.userKey, '-o', 'BatchMode=yes']), cleanEnv(home));
    expect(r.ready, r.output).toBe(true);
  });

  it('ssh_config (-F) supplies the key; an unsupported DynamicForward is warned about, not silently dropped', async () => {
    const cfg = join(home, 'cfg');
    // (ProxyJump, once on this list, is followed now: client-proxyjump.test.ts.)
    writeFileSync(
      cfg,
      `Host 127.0.0.1\n  IdentityFile ${sshd.userKey}\n  DynamicForward 1080\n  ForwardAgent yes\n`,
    );
    const r = await outcome(args(['-F', cfg, '-o', 'BatchMode=yes']), cleanEnv(home));
    expect(r.ready, r.output).toBe(true);
    expect(r.output).toContain(
      'ftpfwd: warning: ssh_config options not supported by ftpfwd, ignored: DynamicForward',
    );
    expect(r.output).not.toContain('ForwardAgent');
  });

  it('a key from ~/.ssh/id_ed25519 by default', async () => {
    writeFileSync(join(home, '.ssh', 'id_ed25519'), readFileSync(sshd.userKey), { mode: 0o600 });
    const r = await outcome(args(['-o', 'BatchMode=yes']), cleanEnv(home));
    expect(r.ready, r.output).toBe(true);
  });

  it('ssh-agent (SSH_AUTH_SOCK), with no key file at all', async () => {
    const sock = join(home, 'agent.sock');
    const agent = startProc(c, 'ssh-agent', ['-D', '-a', sock]);
    await agent.waitFor(/SSH_AUTH_SOCK/);
    const add = await run('ssh-add', [sshd.userKey], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
    expect(add.code, add.stderr).toBe(0);
    const r = await outcome(args(['-o', 'BatchMode=yes']), cleanEnv(home, { SSH_AUTH_SOCK: sock }));
    expect(r.ready, r.output).toBe(true);
  });

  it('an encrypted key with its passphrase from SSH_ASKPASS; a wrong passphrase fails in one line', async () => {
    const enc = keygen(join(home, 'enc_key'), 'correct horse');
    appendFileSync(join(sshd.dir, 'authorized_keys'), `${enc.pub}\n`);
    const askpass = join(home, 'askpass.sh');
    writeFileSync(askpass, '#!/bin/sh\ncase "$1" in *passphrase*) echo "correct horse";; *) exit 1;; esac\n');
    chmodSync(askpass, 0o755);
    const env = cleanEnv(home, { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force' });
    const r = await outcome(args(['-i', enc.priv, '-o', 'StrictHostKeyChecking=yes']), env);
    expect(r.ready, r.output).toBe(true);

    const wrong = join(home, 'wrong.sh');
    writeFileSync(wrong, '#!/bin/sh\necho "battery staple"\n');
    chmodSync(wrong, 0o755);
    const bad = await outcome(
      args(['-i', enc.priv, '-o', 'StrictHostKeyChecking=yes', '-o', 'PasswordAuthentication=no']),
      cleanEnv(home, { SSH_ASKPASS: wrong, SSH_ASKPASS_REQUIRE: 'force' }),
    );
    expect(bad.code).toBe(255);
    const lines = bad.output.trim().split('\n');
    const last = lines[lines.length - 1] as string;
    expect(last).toMatch(/^ftpfwd: permission denied for .*tried .*enc_key/);
  });

  it('a key the server does not know: one line naming what was tried, exit 255', async () => {
    const stranger = keygen(join(home, 'stranger'));
    const r = await outcome(args(['-i', stranger.priv, '-o', 'BatchMode=yes']), cleanEnv(home));
    expect(r.code).toBe(255);
    const line = oneLine(r.output);
    expect(line).toMatch(/^ftpfwd: permission denied for /);
    expect(line).toContain('publickey');
    expect(line).toContain(`key ${stranger.priv}`);
  });

  it('a server that is not there: one line, exit 255', async () => {
    const dead = await freePort();
    const r = await outcome(
      ['-p', String(dead), '-o', 'BatchMode=yes', '-L', `127.0.0.1:${lport}:127.0.0.1:9`, '127.0.0.1'],
      cleanEnv(home),
    );
    expect(r.code).toBe(255);
    expect(oneLine(r.output)).toMatch(/^ftpfwd: cannot connect to 127\.0\.0\.1:\d+: connection refused$/);
  });
});

describe('password authentication (ssh2 server)', () => {
  async function passwordServer(): Promise<{ port: number; knownHosts: string }> {
    const hk = keygen(join(home, 'pw_hostkey'));
    const srv = new ssh2.Server({ hostKeys: [readFileSync(hk.priv)] }, (client) => {
      client.on('authentication', (ctx) => {
        if (ctx.method === 'password' && ctx.username === 'tester' && ctx.password === 'hunter2')
          ctx.accept();
        else if (ctx.method === 'keyboard-interactive' && ctx.username === 'kbd') {
          ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers) =>
            answers[0] === 'hunter2' ? ctx.accept() : ctx.reject(),
          );
        } else ctx.reject(ctx.username === 'kbd' ? ['keyboard-interactive'] : ['password']);
      });
      client.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    c.add(() => new Promise((r) => srv.close(() => r(undefined))));
    const a = srv.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    const knownHosts = join(home, 'pw_known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hk.pub.split(' ').slice(0, 2).join(' ')}\n`);
    return { port, knownHosts };
  }

  function askpassFile(answer: string): string {
    const p = join(home, `askpass-${answer}.sh`);
    writeFileSync(p, `#!/bin/sh\necho "${answer}"\n`);
    chmodSync(p, 0o755);
    return p;
  }

  function pwArgs(port: number, knownHosts: string, user: string): string[] {
    return [
      '-p',
      String(port),
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-L',
      `127.0.0.1:${lport}:127.0.0.1:9`,
      `${user}@127.0.0.1`,
    ];
  }

  it('password via SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force; a wrong one fails in one line', async () => {
    const s = await passwordServer();
    const ok = await outcome(
      pwArgs(s.port, s.knownHosts, 'tester'),
      cleanEnv(home, { SSH_ASKPASS: askpassFile('hunter2'), SSH_ASKPASS_REQUIRE: 'force' }),
    );
    expect(ok.ready, ok.output).toBe(true);
    const bad = await outcome(
      [...pwArgs(s.port, s.knownHosts, 'tester'), '-o', 'NumberOfPasswordPrompts=2'],
      cleanEnv(home, { SSH_ASKPASS: askpassFile('nope'), SSH_ASKPASS_REQUIRE: 'force' }),
    );
    expect(bad.code).toBe(255);
    const line = oneLine(bad.output);
    expect(line).toMatch(
      /^ftpfwd: permission denied for tester@127\.0\.0\.1:\d+ \(server accepts password; tried password, password\)$/,
    );
  });

  it('keyboard-interactive via SSH_ASKPASS', async () => {
    const s = await passwordServer();
    const ok = await outcome(
      pwArgs(s.port, s.knownHosts, 'kbd'),
      cleanEnv(home, { SSH_ASKPASS: askpassFile('hunter2'), SSH_ASKPASS_REQUIRE: 'force' }),
    );
    expect(ok.ready, ok.output).toBe(true);
  });

  it('BatchMode never asks: password-only server fails at once', async () => {
    const s = await passwordServer();
    const r = await outcome(
      [...pwArgs(s.port, s.knownHosts, 'tester'), '-o', 'BatchMode=yes'],
      cleanEnv(home, { SSH_ASKPASS: askpassFile('hunter2'), SSH_ASKPASS_REQUIRE: 'force' }),
    );
    expect(r.code).toBe(255);
    expect(oneLine(r.output)).toMatch(/^ftpfwd: permission denied/);
  });
});

describe('a server that never answers', () => {
  let connected: Promise<void>;
  async function silentServer(): Promise<number> {
    const { createServer } = await import('node:net');
    const held: import('node:net').Socket[] = [];
    let onConn!: () => void;
    connected = new Promise((r) => {
      onConn = r;
    });
    const srv = createServer((s) => {
      held.push(s);
      onConn();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    c.add(() => {
      for (const s of held) s.destroy();
      return new Promise((r) => srv.close(r));
    });
    const a = srv.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  it('ConnectTimeout bounds the wait for the SSH banner: one line, exit 255', async () => {
    const port = await silentServer();
    const r = await outcome(
      [
        '-p',
        String(port),
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=1',
        '-L',
        `127.0.0.1:${lport}:127.0.0.1:9`,
        '127.0.0.1',
      ],
      cleanEnv(home),
    );
    expect(r.code).toBe(255);
    expect(oneLine(r.output)).toBe(
      `ftpfwd: SSH server 127.0.0.1:${port} accepted the connection but did not answer within 1s`,
    );
  });

  it('SIGTERM while connecting ends ftpfwd with 0 and no message', async () => {
    const port = await silentServer();
    const p = startFtpfwd(
      c,
      ['-p', String(port), '-o', 'BatchMode=yes', '-L', `127.0.0.1:${lport}:127.0.0.1:9`, '127.0.0.1'],
      cleanEnv(home),
    );
    await connected; // ftpfwd is now waiting for the banner
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toBe('');
  });
});

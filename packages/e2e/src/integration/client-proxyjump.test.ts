import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FtpControl } from './support/ftp-control.js';
import {
  Cleanup,
  cleanEnv,
  freePort,
  keygen,
  type OpenSshd,
  run,
  sha256,
  sha256File,
  startFtpfwd,
  startFtpSrv,
  startOpenSshd,
  startProc,
  tempDir,
} from './support/procs.js';

/**
 * OpenSSH parity for enterprise networks, against real OpenSSH sshd instances on loopback: jump
 * hosts (-J and ssh_config), ProxyCommand, algorithm lists, where the connection comes from
 * (-b, -4/-6), IdentitiesOnly with an agent, and a -g gateway reached over IPv6.
 *
 * An OpenSSH sshd at LogLevel DEBUG1 logs `server_request_direct_tcpip: originator …, target HOST
 * port PORT` for every channel it opens: that is how these tests see where a connection went. The
 * FTP client uses 127.0.0.2 while the SSH server reaches ftp-srv from 127.0.0.1; ftp-srv refuses
 * data connections from another address than its control peer, so a transfer that works went
 * through the tunnel.
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

/** An ssh_config Host block for one of our sshds: its port, user, key and known_hosts. */
function hostBlock(name: string, s: OpenSshd, extra: string[] = []): string {
  return [
    `Host ${name}`,
    '  HostName 127.0.0.1',
    `  Port ${s.port}`,
    `  User ${s.user}`,
    `  IdentityFile ${s.userKey}`,
    `  UserKnownHostsFile ${s.knownHosts}`,
    '  StrictHostKeyChecking yes',
    ...extra.map((l) => `  ${l}`),
  ].join('\n');
}

function writeConfig(blocks: string[]): string {
  const path = join(home, 'ssh_config');
  writeFileSync(path, `${blocks.join('\n')}\n`);
  return path;
}

/** The channels an sshd at DEBUG1 opened, as `host:port`. */
function directTcpip(s: OpenSshd): string[] {
  return [
    ...s.log().matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target (\S+) port (\d+)/g),
  ].map((m) => `${m[1]}:${m[2]}`);
}

/** Options that point ftpfwd at one sshd directly (no ssh_config). */
function direct(s: OpenSshd): string[] {
  return [
    '-F',
    'none',
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

async function ftpRoot(size = 512 * 1024 + 7): Promise<{ root: string; file: Buffer; ftp: number }> {
  const root = tempDir(c);
  const file = randomBytes(size);
  writeFileSync(join(root, 'file.bin'), file);
  return { root, file, ftp: await startFtpSrv(c, root) };
}

const MODES: Record<string, string[]> = {
  epsv: [],
  pasv: ['--disable-epsv'],
  eprt: ['--ftp-port', '127.0.0.2'],
  port: ['--ftp-port', '127.0.0.2', '--disable-eprt'],
};

function curl(args: string[]) {
  return run('curl', ['-sS', '--max-time', '30', '--interface', '127.0.0.2', ...args]);
}

async function download(lport: number, flags: string[] = [], host = '127.0.0.1'): Promise<string> {
  const out = join(tempDir(c), 'down.bin');
  const r = await curl([...flags, `ftp://${host}:${lport}/file.bin`, '-o', out]);
  expect(r.code, r.stderr).toBe(0);
  return sha256File(out);
}

describe('ProxyJump', () => {
  it('-J jump1,jump2 from ssh_config Host blocks: control and data channels go through both hops, all four modes', async () => {
    const jump1 = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const jump2 = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const target = await startOpenSshd(c, ['LogLevel DEBUG1']);
    // Each hop is checked against its own known_hosts under its own [127.0.0.1]:port, with its own key.
    const cfg = writeConfig([
      hostBlock('jump1', jump1, ['ServerAliveInterval 5']),
      hostBlock('jump2', jump2),
      hostBlock('target', target),
    ]);
    const { root, file, ftp } = await ftpRoot();
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      [
        '-F',
        cfg,
        '-o',
        'BatchMode=yes',
        '-J',
        'jump1,jump2',
        '-L',
        `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`,
        'target',
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    expect(fwd.output()).toContain(
      `via 127.0.0.1:${target.port} (jump 127.0.0.1:${jump1.port}, 127.0.0.1:${jump2.port})`,
    );
    for (const [mode, flags] of Object.entries(MODES)) {
      expect(await download(lport, flags), `${mode} download`).toBe(sha256(file));
      const up = await curl([
        ...flags,
        '-T',
        join(root, 'file.bin'),
        `ftp://127.0.0.1:${lport}/up-${mode}.bin`,
      ]);
      expect(up.code, `${mode} upload: ${up.stderr}`).toBe(0);
      expect(sha256File(join(root, `up-${mode}.bin`)), `${mode} upload`).toBe(sha256(file));
    }
    // jump1 opened one channel, to jump2; jump2 one, to the target: every FTP session and data
    // channel rode those two, and the target opened the channels to ftp-srv itself.
    expect(directTcpip(jump1)).toEqual([`127.0.0.1:${jump2.port}`]);
    expect(directTcpip(jump2)).toEqual([`127.0.0.1:${target.port}`]);
    const atTarget = directTcpip(target);
    expect(atTarget.filter((t) => t === `127.0.0.1:${ftp}`).length).toBe(8); // one control per curl
    expect(atTarget.length).toBeGreaterThanOrEqual(8 + 4); // passive data channels too
    expect(target.log()).toMatch(/tcpip-forward/); // active mode's remote listeners: on the target
    expect(fwd.child.exitCode).toBeNull();
  });

  it('ProxyJump in the Host block of the destination, and the first hop’s own ProxyJump, as OpenSSH', async () => {
    const jump1 = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const jump2 = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const target = await startOpenSshd(c);
    const cfg = writeConfig([
      hostBlock('jump1', jump1),
      hostBlock('jump2', jump2, ['ProxyJump jump1']),
      hostBlock('target', target, ['ProxyJump jump2']),
    ]);
    const { file, ftp } = await ftpRoot();
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      ['-F', cfg, '-o', 'BatchMode=yes', '-L', `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`, 'target'],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    expect(await download(lport)).toBe(sha256(file));
    expect(directTcpip(jump1)).toEqual([`127.0.0.1:${jump2.port}`]);
    expect(directTcpip(jump2)).toEqual([`127.0.0.1:${target.port}`]);
  });

  it('a changed host key on the middle hop is refused with both fingerprints; nothing goes past it', async () => {
    const jump1 = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const jump2 = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const target = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const impostor = keygen(join(home, 'impostor'));
    writeFileSync(
      jump2.knownHosts,
      `[127.0.0.1]:${jump2.port} ${impostor.pub.split(' ').slice(0, 2).join(' ')}\n`,
    );
    const cfg = writeConfig([
      hostBlock('jump1', jump1),
      hostBlock('jump2', jump2),
      hostBlock('target', target),
    ]);
    const fwd = startFtpfwd(
      c,
      [
        '-F',
        cfg,
        '-o',
        'BatchMode=yes',
        '-J',
        'jump1,jump2',
        '-L',
        `ftp/127.0.0.1:${await freePort()}:127.0.0.1:21`,
        'target',
      ],
      cleanEnv(home),
    );
    expect(await fwd.exited).toBe(255);
    const last = fwd.output().trim().split('\n').pop() as string;
    expect(last).toMatch(
      new RegExp(
        `^ftpfwd: WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for \\[127\\.0\\.0\\.1\\]:${jump2.port}: it offered ED25519 key SHA256:\\S+, known_hosts has SHA256:\\S+ in ${jump2.knownHosts}`,
      ),
    );
    expect(directTcpip(jump1)).toEqual([`127.0.0.1:${jump2.port}`]);
    expect(directTcpip(jump2)).toEqual([]);
    // (Its log has the probe that saw it listen; no SSH client ever talked to it.)
    expect(target.log()).not.toMatch(/Remote protocol version/);
  });

  it('the jump host killed mid-session: the FTP client sees 421; after it is back the chain is rebuilt and new sessions work', async () => {
    const jump = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const target = await startOpenSshd(c);
    const cfg = writeConfig([hostBlock('jump', jump), hostBlock('target', target)]);
    const { file, ftp } = await ftpRoot();
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      [
        '-F',
        cfg,
        '-o',
        'BatchMode=yes',
        '-J',
        'jump',
        '-L',
        `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`,
        'target',
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    const ctl = await FtpControl.connect(lport, '127.0.0.1', '127.0.0.2');
    c.add(() => ctl.close());
    await ctl.login();
    await jump.stop();
    expect(await ctl.reply()).toMatch(/^421 Service not available, SSH link lost/);
    await ctl.waitClosed();
    // The reason names the hop that went.
    await fwd.waitFor(
      new RegExp(
        `SSH link to 127\\.0\\.0\\.1:${target.port} \\(jump 127\\.0\\.0\\.1:${jump.port}\\) lost: jump host 127\\.0\\.0\\.1:${jump.port}`,
      ),
    );
    await jump.start();
    await fwd.waitFor(/reconnected to/, 30_000);
    expect(await download(lport)).toBe(sha256(file));
    // The new jump process carried the new chain.
    expect(directTcpip(jump)).toEqual([`127.0.0.1:${target.port}`]);
    expect(fwd.child.exitCode).toBeNull();
  });
});

describe('ProxyCommand', () => {
  it('ssh -W %h:%p through a jump host (stderr passed through); transfers in both directions', async () => {
    const jump = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const target = await startOpenSshd(c);
    const { root, file, ftp } = await ftpRoot();
    const lport = await freePort();
    // Nested `ssh -J` ignores -o UserKnownHostsFile; ProxyCommand="ssh … -W %h:%p" does not.
    const proxy = [
      'ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes',
      `-i ${jump.userKey} -o UserKnownHostsFile=${jump.knownHosts} -o StrictHostKeyChecking=yes`,
      `-p ${jump.port} -W %h:%p ${jump.user}@127.0.0.1`,
    ].join(' ');
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-o',
        `ProxyCommand=${proxy}`,
        '-L',
        `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    expect(await download(lport)).toBe(sha256(file));
    const up = await curl(['-T', join(root, 'file.bin'), `ftp://127.0.0.1:${lport}/up.bin`]);
    expect(up.code, up.stderr).toBe(0);
    expect(sha256File(join(root, 'up.bin'))).toBe(sha256(file));
    expect(directTcpip(jump)).toEqual([`127.0.0.1:${target.port}`]);
  });

  it('the ProxyCommand dies with its jump host: the link is lost with its exit status as the reason, then started again', async () => {
    const jump = await startOpenSshd(c);
    const target = await startOpenSshd(c);
    const { file, ftp } = await ftpRoot();
    const lport = await freePort();
    const proxy = `ssh -F /dev/null -o BatchMode=yes -i ${jump.userKey} -o UserKnownHostsFile=${jump.knownHosts} -p ${jump.port} -W %h:%p ${jump.user}@127.0.0.1`;
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-o',
        `ProxyCommand=${proxy}`,
        '-L',
        `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    await jump.stop();
    await fwd.waitFor(
      /SSH link to 127\.0\.0\.1:\d+ lost: ProxyCommand "ssh .* -W 127\.0\.0\.1:\d+ .*" exited with status 255/,
    );
    await jump.start();
    await fwd.waitFor(/reconnected to/, 30_000);
    expect(await download(lport)).toBe(sha256(file));
  });

  it('nc %h %p (from 127.0.0.3, which the server sees)', async () => {
    const target = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const { file, ftp } = await ftpRoot();
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-o',
        'ProxyCommand=nc -s 127.0.0.3 %h %p',
        '-L',
        `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    expect(await download(lport, ['--disable-epsv'])).toBe(sha256(file));
    expect(target.log()).toMatch(/Connection from 127\.0\.0\.3 port \d+ on 127\.0\.0\.1 port/);
  });

  it('a ProxyCommand that exits: its stderr is shown and its exit status is the failure, in one line', async () => {
    const target = await startOpenSshd(c);
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-o',
        `ProxyCommand=sh -c 'echo "proxy: no route to %h:%p" >&2; exit 7'`,
        '-L',
        `${await freePort()}:127.0.0.1:9`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    expect(await fwd.exited).toBe(255);
    expect(fwd.output()).toContain(`proxy: no route to 127.0.0.1:${target.port}`);
    const last = fwd.output().trim().split('\n').pop() as string;
    expect(last).toBe(
      `ftpfwd: SSH connection to 127.0.0.1:${target.port} failed: ProxyCommand "sh -c 'echo "proxy: no route to 127.0.0.1:${target.port}" >&2; exit 7'" exited with status 7`,
    );
  });
});

describe('algorithm policy against OpenSSH', () => {
  it('a cipher list the server refuses fails at once with both offers, as OpenSSH words it', async () => {
    const target = await startOpenSshd(c);
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-o',
        'Ciphers=aes128-cbc,3des-cbc',
        '-L',
        `${await freePort()}:127.0.0.1:9`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    expect(await fwd.exited).toBe(255);
    const last = fwd.output().trim().split('\n').pop() as string;
    expect(last).toMatch(
      new RegExp(
        `^ftpfwd: Unable to negotiate with 127\\.0\\.0\\.1 port ${target.port}: no matching cipher found\\. Their offer: chacha20-poly1305@openssh\\.com,aes128-ctr,\\S+\\. We offered: aes128-cbc,3des-cbc`,
      ),
    );
  });

  it('a list the server accepts (^, exact, an OpenSSH-only name; in ssh_config): the connection uses it and a transfer is intact', async () => {
    const target = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const cfg = writeConfig([
      hostBlock('target', target, [
        'Ciphers ^aes256-ctr',
        'MACs hmac-sha2-512',
        'KexAlgorithms sntrup761x25519-sha512@openssh.com,ecdh-sha2-nistp256',
        'HostKeyAlgorithms ssh-ed25519',
      ]),
    ]);
    const { root, file, ftp } = await ftpRoot(2 * 1024 * 1024 + 3);
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      ['-F', cfg, '-o', 'BatchMode=yes', '-L', `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`, 'target'],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    expect(await download(lport)).toBe(sha256(file));
    const up = await curl(['-T', join(root, 'file.bin'), `ftp://127.0.0.1:${lport}/up.bin`]);
    expect(up.code, up.stderr).toBe(0);
    expect(sha256File(join(root, 'up.bin'))).toBe(sha256(file));
    expect(target.log()).toMatch(/kex: algorithm: ecdh-sha2-nistp256/);
    expect(target.log()).toMatch(/kex: client->server cipher: aes256-ctr MAC: hmac-sha2-512/);
    expect(target.log()).toMatch(/kex: host key algorithm: ssh-ed25519/);
    // The OpenSSH-only name in the list is left out, and said so.
    expect(fwd.output()).toMatch(
      /KexAlgorithms: sntrup761x25519-sha512@openssh\.com is not available in ftpfwd/,
    );
  });

  it('PubkeyAcceptedAlgorithms without ed25519 leaves the ed25519 key out', async () => {
    const target = await startOpenSshd(c);
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-o',
        'PubkeyAcceptedAlgorithms=-ssh-ed25519',
        '-L',
        `${await freePort()}:127.0.0.1:9`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    expect(await fwd.exited).toBe(255);
    expect(fwd.output()).toMatch(
      /permission denied .*tried key \S+userkey \(ssh-ed25519, not in PubkeyAcceptedAlgorithms\)/,
    );
  });
});

describe('where the connection comes from', () => {
  it('-6 reaches an sshd that listens on ::1 only; -4 to it is refused before connecting', async () => {
    const v6 = await startOpenSshd(c, [], { listenAddress: '::1' });
    const { file, ftp } = await ftpRoot();
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      [...direct(v6), '-6', '-L', `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`, `${v6.user}@::1`],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via \[::1\]:/);
    expect(await download(lport)).toBe(sha256(file));
    const four = startFtpfwd(
      c,
      [...direct(v6), '-4', '-L', `${await freePort()}:127.0.0.1:9`, `${v6.user}@::1`],
      cleanEnv(home),
    );
    expect(await four.exited).toBe(255);
    expect(four.output().trim()).toBe(
      `ftpfwd: cannot connect to [::1]:${v6.port}: AddressFamily inet excludes ::1`,
    );
  });

  it('-b 127.0.0.2: the SSH server sees the connection come from there', async () => {
    const target = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-b',
        '127.0.0.2',
        '-L',
        `${await freePort()}:127.0.0.1:9`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/tcp 127\.0\.0\.1:\d+ -> .* via/);
    expect(target.log()).toMatch(/Connection from 127\.0\.0\.2 port \d+ on 127\.0\.0\.1 port/);
  });

  it('ConnectionAttempts=10: an SSH server that comes up a moment later is reached', async () => {
    const target = await startOpenSshd(c);
    await target.stop();
    const fwd = startFtpfwd(
      c,
      [
        ...direct(target),
        '-o',
        // one attempt a second, as ssh: room for starting sshd on a loaded machine
        'ConnectionAttempts=10',
        '-o',
        'ConnectTimeout=5',
        '-L',
        `${await freePort()}:127.0.0.1:9`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/connection attempt failed; trying again/);
    await target.start();
    await fwd.waitFor(/tcp 127\.0\.0\.1:\d+ -> .* via/, 15_000);
  });
});

describe('IdentitiesOnly with an agent', () => {
  it('the agent key matching the identity file is used (no private key file needed); other agent keys are not offered', async () => {
    const target = await startOpenSshd(c, ['LogLevel DEBUG1']);
    const sock = join(home, 'agent.sock');
    const agent = startProc(c, 'ssh-agent', ['-D', '-a', sock]);
    await agent.waitFor(/SSH_AUTH_SOCK/);
    const other = keygen(join(home, 'other'));
    for (const k of [other.priv, target.userKey]) {
      const add = await run('ssh-add', [k], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      expect(add.code, add.stderr).toBe(0);
    }
    // Only the public half on disk: OpenSSH then signs with the agent's copy.
    const pubOnly = join(home, 'only.pub');
    copyFileSync(`${target.userKey}.pub`, pubOnly);
    const fwd = startFtpfwd(
      c,
      [
        '-F',
        'none',
        '-p',
        String(target.port),
        '-i',
        pubOnly,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        `UserKnownHostsFile=${target.knownHosts}`,
        '-L',
        `${await freePort()}:127.0.0.1:9`,
        `${target.user}@127.0.0.1`,
      ],
      cleanEnv(home, { SSH_AUTH_SOCK: sock }),
    );
    await fwd.waitFor(/tcp 127\.0\.0\.1:\d+ -> .* via/);
    const fp = (await run('ssh-keygen', ['-lf', `${other.priv}.pub`])).stdout
      .toString()
      .split(' ')[1] as string;
    // sshd's monitor answers the key check before it logs it: the line can follow ftpfwd's
    await vi.waitFor(() => expect(target.log()).toMatch(/Accepted publickey/), { timeout: 10_000 });
    expect(target.log()).not.toContain(fp);
  });
});

describe('a -g gateway over IPv6', () => {
  it('one listener for both families: curl over ::1 with EPSV and EPRT, and over 127.0.0.1 with PASV', async () => {
    const target = await startOpenSshd(c);
    const { root, file, ftp } = await ftpRoot();
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      [...direct(target), '-g', '-L', `ftp/${lport}:127.0.0.1:${ftp}`, `${target.user}@127.0.0.1`],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp \[::\]:\d+ -> .* via/);
    const v6 = (flags: string[], out: string) =>
      run('curl', ['-sS', '-g', '--max-time', '30', ...flags, `ftp://[::1]:${lport}/file.bin`, '-o', out]);
    const dir = tempDir(c);
    for (const [mode, flags] of Object.entries({ epsv: [], eprt: ['--ftp-port', '::1'] })) {
      const r = await v6(flags, join(dir, `${mode}.bin`));
      expect(r.code, `${mode}: ${r.stderr}`).toBe(0);
      expect(sha256File(join(dir, `${mode}.bin`)), mode).toBe(sha256(file));
    }
    const up = await run('curl', [
      '-sS',
      '-g',
      '--max-time',
      '30',
      '-T',
      join(root, 'file.bin'),
      `ftp://[::1]:${lport}/up6.bin`,
    ]);
    expect(up.code, up.stderr).toBe(0);
    expect(sha256File(join(root, 'up6.bin'))).toBe(sha256(file));
    // An IPv4 client on the same listener is told an IPv4 address in its 227.
    const ctl = await FtpControl.connect(lport, '127.0.0.1', '127.0.0.2');
    c.add(() => ctl.close());
    await ctl.login();
    expect(await ctl.cmd('PASV')).toMatch(/^227 .*\(127,0,0,1,\d+,\d+\)/);
    expect(await download(lport, ['--disable-epsv'])).toBe(sha256(file));
  });
});

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shaRoundTrip, startShaServer } from './test-support/echo.js';
import {
  Cleanup,
  cleanEnv,
  freePort,
  type OpenSshd,
  run,
  sha256,
  sha256File,
  startFtpfwd,
  startFtpSrv,
  startOpenSshd,
  tempDir,
} from './test-support/procs.js';

/**
 * ftpfwd (the built CLI) against a private OpenSSH sshd on loopback, with real ftp-srv and curl.
 * The FTP client uses 127.0.0.2 while the SSH server reaches ftp-srv from 127.0.0.1: ftp-srv refuses
 * data connections and PORT addresses that differ from its control peer, so every transfer that
 * works went through the tunnel.
 */
let c: Cleanup;
let sshd: OpenSshd;
let home: string;

beforeEach(async () => {
  c = new Cleanup();
  home = tempDir(c);
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  sshd = await startOpenSshd(c);
});
afterEach(async () => {
  await c.run();
});

function baseArgs(): string[] {
  return [
    '-p',
    String(sshd.port),
    '-i',
    sshd.userKey,
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${sshd.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
  ];
}

const MODES: Record<string, string[]> = {
  epsv: [],
  pasv: ['--disable-epsv'],
  eprt: ['--ftp-port', '127.0.0.2'],
  port: ['--ftp-port', '127.0.0.2', '--disable-eprt'],
};

async function curl(args: string[]) {
  return run('curl', ['-sS', '--max-time', '30', '--interface', '127.0.0.2', ...args]);
}

describe('tcp forwarding through OpenSSH', () => {
  it('-L and -R carry bytes both ways with half-close preserved', async () => {
    const echo = await startShaServer(c);
    const lport = await freePort();
    const rport = await freePort();
    const fwd = startFtpfwd(
      c,
      [
        ...baseArgs(),
        '-L',
        `${lport}:127.0.0.1:${echo.port}`,
        '-R',
        `tcp/127.0.0.1:${rport}:127.0.0.1:${echo.port}`,
        `${sshd.user}@127.0.0.1`,
      ],
      cleanEnv(home),
    );
    await fwd.waitFor(/tcp remote .* via/);
    const payload = randomBytes(1 << 20);
    expect(await shaRoundTrip(lport, payload)).toBe(sha256(payload));
    expect(await shaRoundTrip(rport, payload)).toBe(sha256(payload));
    expect(fwd.output()).toContain(
      `tcp 127.0.0.1:${lport} -> 127.0.0.1:${echo.port} via 127.0.0.1:${sshd.port}`,
    );
  });
});

describe('ftp forwarding through OpenSSH', () => {
  it('-L ftp/: curl downloads and uploads in EPSV, PASV, EPRT and PORT; LIST works', async () => {
    const root = tempDir(c);
    const file = randomBytes(2 * 1024 * 1024 + 17);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const lport = await freePort();
    const fwd = startFtpfwd(
      c,
      [...baseArgs(), '-L', `ftp/127.0.0.1:${lport}:127.0.0.1:${ftp}`, `${sshd.user}@127.0.0.1`],
      cleanEnv(home),
    );
    await fwd.waitFor(/ftp 127\.0\.0\.1:\d+ -> .* via/);
    const out = tempDir(c);
    for (const [mode, flags] of Object.entries(MODES)) {
      const down = join(out, `down-${mode}.bin`);
      const r = await curl([...flags, `ftp://127.0.0.1:${lport}/file.bin`, '-o', down]);
      expect(r.stderr, `${mode} download`).toBe('');
      expect(r.code, `${mode} download`).toBe(0);
      expect(sha256File(down), `${mode} download`).toBe(sha256(file));
      const up = await curl([
        ...flags,
        '-T',
        join(root, 'file.bin'),
        `ftp://127.0.0.1:${lport}/up-${mode}.bin`,
      ]);
      expect(up.code, `${mode} upload: ${up.stderr}`).toBe(0);
      expect(sha256File(join(root, `up-${mode}.bin`)), `${mode} upload`).toBe(sha256(file));
    }
    const list = await curl([`ftp://127.0.0.1:${lport}/`]);
    expect(list.code).toBe(0);
    expect(list.stdout.toString()).toContain('file.bin');
    expect(fwd.child.exitCode).toBeNull();
  });
});

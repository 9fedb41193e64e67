/**
 * The server against the real OpenSSH client (/usr/bin/ssh): forwarding both ways, refusals as
 * OpenSSH reports them, authentication by key and by password.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '@ftpfwd/ftp-proxy/cli';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SESSION_REFUSED_MESSAGE } from './connection.js';
import { parsePermitListenList, parsePermitOpenList } from './policy.js';
import {
  echoRoundTrip,
  freePort,
  pubLine,
  runSsh,
  Scope,
  sha256,
  sshKeygen,
  startEcho,
  startServer,
  tempDir,
  waitFor,
  waitForPort,
} from './test-support/harness.js';

let scope: Scope;
let dir: string;
let userKey: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
  userKey = sshKeygen(dir, 'user');
});
afterEach(() => scope.close());

describe('forwarding with OpenSSH', () => {
  it('ssh -N -L carries bytes both ways, unchanged', async () => {
    const echo = await startEcho(scope);
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const local = await freePort();
    const ssh = runSsh(
      scope,
      t,
      [
        '-N',
        '-o',
        'ExitOnForwardFailure=yes',
        '-L',
        `127.0.0.1:${local}:127.0.0.1:${echo}`,
        'anyone@127.0.0.1',
      ],
      {
        identity: userKey,
      },
    );
    await waitForPort(local);
    const { sent, got } = await echoRoundTrip(local, 512 * 1024);
    expect(sha256(got)).toBe(sha256(sent));
    expect(ssh.child.exitCode).toBeNull();
    const opened = await waitFor(() =>
      t.logs.find((l) => l.event === 'forward' && l.kind === 'direct-tcpip' && l.allowed === true),
    );
    expect(opened.target).toBe(`127.0.0.1:${echo}`);
  });

  it('ssh -N -R with a fixed port and with port 0 (the allocated port read from ssh -v)', async () => {
    const echo = await startEcho(scope);
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const fixed = await freePort();
    runSsh(
      scope,
      t,
      ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `127.0.0.1:${fixed}:127.0.0.1:${echo}`, 'u@127.0.0.1'],
      {
        identity: userKey,
      },
    );
    await waitForPort(fixed);
    const a = await echoRoundTrip(fixed, 256 * 1024);
    expect(sha256(a.got)).toBe(sha256(a.sent));

    const ssh0 = runSsh(
      scope,
      t,
      ['-v', '-N', '-o', 'ExitOnForwardFailure=yes', '-R', `127.0.0.1:0:127.0.0.1:${echo}`, 'u@127.0.0.1'],
      {
        identity: userKey,
      },
    );
    const allocated = await waitFor(
      () => /Allocated port (\d+)/.exec(ssh0.stderr())?.[1],
      15_000,
      'Allocated port',
    );
    const b = await echoRoundTrip(Number(allocated), 256 * 1024);
    expect(sha256(b.got)).toBe(sha256(b.sent));
    // The listener went where GatewayPorts=no puts it: loopback only.
    const listening = t.logs.find(
      (l) => l.event === 'forward' && l.kind === 'tcpip-forward' && l.listen === `127.0.0.1:${allocated}`,
    );
    expect(listening).toBeDefined();
  });

  it('remote listeners close when the SSH connection ends', async () => {
    const echo = await startEcho(scope);
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const fixed = await freePort();
    const ssh = runSsh(scope, t, ['-N', '-R', `127.0.0.1:${fixed}:127.0.0.1:${echo}`, 'u@127.0.0.1'], {
      identity: userKey,
    });
    await waitForPort(fixed);
    ssh.child.kill('SIGTERM');
    await ssh.exited;
    await waitFor(
      async () =>
        (await echoRoundTrip(fixed, 1).then(
          () => false,
          () => true,
        )) || undefined,
      10_000,
      'listener closed',
    );
  });

  it('a -R refused by policy makes ssh -o ExitOnForwardFailure=yes exit non-zero', async () => {
    const echo = await startEcho(scope);
    const t = await startServer(scope, dir, {
      authorizedKeysText: pubLine(userKey),
      permitListen: parsePermitListenList(['none']),
    });
    const ssh = runSsh(
      scope,
      t,
      ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `127.0.0.1:0:127.0.0.1:${echo}`, 'u@127.0.0.1'],
      {
        identity: userKey,
      },
    );
    const code = await ssh.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(ssh.stderr()).toMatch(/remote port forwarding failed/i);
    expect(
      t.logs.find((l) => l.event === 'forward' && l.allowed === false && l.rule === 'permit-listen none'),
    ).toBeDefined();
  });

  it('a -L refused by policy is "administratively prohibited"; an unreachable target is "connect failed"', async () => {
    const echo = await startEcho(scope);
    const closed = await freePort();
    const t = await startServer(scope, dir, {
      authorizedKeysText: pubLine(userKey),
      permitOpen: parsePermitOpenList([`127.0.0.1:${closed}`]),
    });
    const l1 = await freePort();
    const l2 = await freePort();
    const ssh = runSsh(
      scope,
      t,
      [
        '-N',
        '-L',
        `127.0.0.1:${l1}:127.0.0.1:${echo}`,
        '-L',
        `127.0.0.1:${l2}:127.0.0.1:${closed}`,
        'u@127.0.0.1',
      ],
      { identity: userKey },
    );
    await waitForPort(l1);
    await waitForPort(l2);
    const r1 = await echoRoundTrip(l1, 1024);
    expect(r1.got.length).toBe(0);
    await waitFor(
      () => /open failed: administratively prohibited/.test(ssh.stderr()),
      10_000,
      'prohibited message',
    );
    const r2 = await echoRoundTrip(l2, 1024);
    expect(r2.got.length).toBe(0);
    await waitFor(() => /open failed: connect failed/.test(ssh.stderr()), 10_000, 'connect failed message');
    expect(ssh.stderr()).toContain(`forwarding to 127.0.0.1:${echo} is not permitted`);
  });

  it('refuses shell and exec with a message ssh prints; ssh -N still works', async () => {
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const ssh = runSsh(scope, t, ['u@127.0.0.1', 'true'], { identity: userKey });
    expect(await ssh.exited).not.toBe(0);
    expect(ssh.stderr()).toContain(SESSION_REFUSED_MESSAGE);
  });

  it('authorized_keys options restrict the session that used the key', async () => {
    const echo = await startEcho(scope);
    const other = await startEcho(scope);
    const t = await startServer(scope, dir, {
      authorizedKeysText: `permitopen="127.0.0.1:${echo}",permitlisten="none" ${pubLine(userKey)}`,
    });
    const l1 = await freePort();
    const l2 = await freePort();
    const ssh = runSsh(
      scope,
      t,
      [
        '-N',
        '-L',
        `127.0.0.1:${l1}:127.0.0.1:${echo}`,
        '-L',
        `127.0.0.1:${l2}:127.0.0.1:${other}`,
        'u@127.0.0.1',
      ],
      {
        identity: userKey,
      },
    );
    await waitForPort(l1);
    const ok = await echoRoundTrip(l1, 4096);
    expect(sha256(ok.got)).toBe(sha256(ok.sent));
    await waitForPort(l2);
    expect((await echoRoundTrip(l2, 16)).got.length).toBe(0);
    await waitFor(() => /administratively prohibited/.test(ssh.stderr()), 10_000, 'prohibited');
    const refused = t.logs.find((l) => l.event === 'forward' && l.allowed === false);
    expect(String(refused?.rule)).toContain('permitopen= of key authorized_keys:1');

    const r = runSsh(
      scope,
      t,
      ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:0:127.0.0.1:1', 'u@127.0.0.1'],
      { identity: userKey },
    );
    expect(await r.exited).not.toBe(0);
  });
});

describe('authentication with OpenSSH', () => {
  it('a key that is not listed is refused', async () => {
    const other = sshKeygen(dir, 'other');
    const t = await startServer(scope, dir, { authorizedKeysText: pubLine(userKey) });
    const ssh = runSsh(scope, t, ['-N', 'u@127.0.0.1'], { identity: other });
    expect(await ssh.exited).toBe(255);
    expect(ssh.stderr()).toMatch(/Permission denied \(publickey\)/);
    const fail = t.logs.find((l) => l.event === 'auth' && l.ok === false);
    expect(String(fail?.reason)).toContain('not authorized');
  });

  it('from= refuses a key used from another address; ecdsa and rsa keys work', async () => {
    const ec = sshKeygen(dir, 'ec', 'ecdsa');
    const rsa = sshKeygen(dir, 'rsa', 'rsa');
    const t = await startServer(scope, dir, {
      authorizedKeysText: [`from="192.0.2.0/24" ${pubLine(userKey)}`, pubLine(ec), pubLine(rsa)].join('\n'),
    });
    const denied = runSsh(scope, t, ['-N', 'u@127.0.0.1'], { identity: userKey });
    expect(await denied.exited).toBe(255);
    expect(
      t.logs.find((l) => l.event === 'auth' && String(l.reason).includes('from="192.0.2.0/24"')),
    ).toBeDefined();
    for (const key of [ec, rsa]) {
      const ok = runSsh(scope, t, ['u@127.0.0.1', 'true'], { identity: key });
      await ok.exited;
      // Authentication succeeded: what stopped ssh is the refused session, not a denial.
      expect(ok.stderr()).toContain(SESSION_REFUSED_MESSAGE);
    }
  });

  it('password: the right one logs in, a wrong one is refused (SSH_ASKPASS, no TTY)', async () => {
    const t = await startServer(scope, dir, {
      passwords: new Map([['alice', await hashPassword('open sesame', { ln: 10, r: 8, p: 1 })]]),
    });
    const askpass = (pw: string): string => {
      const path = join(dir, `askpass-${pw.replace(/\W/g, '')}.sh`);
      writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' '${pw}'\n`);
      chmodSync(path, 0o700);
      return path;
    };
    const env = (pw: string): NodeJS.ProcessEnv => ({
      ...process.env,
      SSH_ASKPASS: askpass(pw),
      SSH_ASKPASS_REQUIRE: 'force',
      DISPLAY: ':0',
    });
    const opts = [
      '-o',
      'PreferredAuthentications=password',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'NumberOfPasswordPrompts=1',
    ];
    const good = runSsh(scope, t, [...opts, 'alice@127.0.0.1', 'true'], {
      env: env('open sesame'),
      batch: false,
    });
    await good.exited;
    expect(good.stderr()).toContain(SESSION_REFUSED_MESSAGE);
    const bad = runSsh(scope, t, [...opts, 'alice@127.0.0.1', 'true'], {
      env: env('open sesam'),
      batch: false,
    });
    expect(await bad.exited).toBe(255);
    expect(bad.stderr()).toMatch(/Permission denied/);
    const unknown = runSsh(scope, t, [...opts, 'mallory@127.0.0.1', 'true'], {
      env: env('open sesame'),
      batch: false,
    });
    expect(await unknown.exited).toBe(255);
    expect(
      t.logs.lines.filter((l) => l.event === 'auth' && l.method === 'password').map((l) => l.ok),
    ).toEqual([true, false, false]);
  });

  it('closes a connection after max auth tries, and penalises a source that keeps failing', async () => {
    const keys = [1, 2, 3].map((i) => sshKeygen(dir, `wrong${i}`));
    const t = await startServer(scope, dir, {
      authorizedKeysText: pubLine(userKey),
      limits: { maxAuthTries: 2 },
      penalties: { authfailMs: 10_000, minMs: 15_000 },
    });
    const ids = keys.flatMap((k) => ['-i', k]);
    const first = runSsh(scope, t, [...ids, '-N', 'u@127.0.0.1']);
    expect(await first.exited).toBe(255);
    expect(t.logs.find((l) => l.event === 'auth-tries-exceeded')).toBeDefined();
    const second = runSsh(scope, t, [...ids, '-N', 'u@127.0.0.1']);
    expect(await second.exited).toBe(255);
    await waitFor(() => t.logs.lines.filter((l) => l.event === 'close').length >= 2, 5_000, 'both closed');
    // Two connections from 127.0.0.1 that failed to log in (10 s of penalty each, refused from 15 s):
    // even the right key is now turned away before SSH starts.
    const blocked = runSsh(scope, t, ['-N', 'u@127.0.0.1'], { identity: userKey });
    expect(await blocked.exited).toBe(255);
    expect(
      t.logs.find((l) => l.event === 'connection-refused' && String(l.reason).includes('penalty')),
    ).toBeDefined();
  });
});

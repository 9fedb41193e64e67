import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpControl } from './support/ftp-control.js';
import {
  Cleanup,
  cleanEnv,
  type FtpfwdSshd,
  freePort,
  run,
  SSHD_BIN,
  sha256,
  startFtpfwd,
  startFtpfwdSshd,
  startFtpSrv,
  tempDir,
  waitPort,
} from './support/procs.js';

/**
 * `ftpfwd --config FILE` in the gateway form, run as the built CLI against ftpfwd-sshd and ftp-srv,
 * reloaded with SIGHUP while a download crosses the reload.
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

/** One destination entry for ftpfwd-sshd on loopback; `extra` lines are indented under it. */
function destination(name: string, s: FtpfwdSshd, extra: string[]): string {
  return [
    `  ${name}:`,
    '    destination: tester@127.0.0.1',
    `    port: ${s.port}`,
    `    identityFile: ${s.userKey}`,
    `    knownHosts: ${s.knownHosts}`,
    '    strictHostKeyChecking: "yes"',
    '    batchMode: true',
    '    sshConfig: none',
    ...extra.map((l) => `    ${l}`),
  ].join('\n');
}

/** Resolves the first bytes a server sends on host:port (an FTP greeting through the tunnel). */
function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port, host: '127.0.0.1' });
    s.setTimeout(10_000, () => {
      s.destroy();
      reject(new Error(`no banner on ${port}`));
    });
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString());
    });
    s.once('error', reject);
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** RETR over EPSV from 127.0.0.2 whose data socket reads only when told to. */
async function heldDownload(port: number, name: string) {
  const ctl = await FtpControl.connect(port, '127.0.0.1', '127.0.0.2');
  await ctl.login();
  await ctl.cmd('TYPE I');
  const epsv = await ctl.cmd('EPSV');
  const dport = Number(/\(\|\|\|(\d+)\|\)/.exec(epsv)?.[1]);
  const data = netConnect({ port: dport, host: '127.0.0.1', localAddress: '127.0.0.2' });
  await once(data, 'connect');
  const chunks: Buffer[] = [];
  let received = 0;
  let limit = 0;
  data.on('data', (d: Buffer) => {
    chunks.push(d);
    received += d.length;
    if (received >= limit) data.pause();
  });
  const ended = once(data, 'end');
  const started = await ctl.cmd(`RETR ${name}`);
  if (!/^1[25]0/.test(started)) throw new Error(`RETR: ${started}`);
  return {
    received: () => received,
    /** Reads until at least `n` bytes arrived, then stops reading. */
    async until(n: number) {
      limit = n;
      data.resume();
      for (let i = 0; i < 600 && received < n; i++) await new Promise((r) => setTimeout(r, 50));
      if (received < n) throw new Error(`only ${received} bytes arrived`);
    },
    async finish() {
      limit = Number.POSITIVE_INFINITY;
      data.resume();
      await ended;
      const reply = await ctl.reply(30_000);
      ctl.close();
      return { reply, data: Buffer.concat(chunks) };
    },
  };
}

describe('gateway config: SIGHUP reload', () => {
  it('keeps a session that stays configured transferring, closes removed forwardings, opens added ones, survives a broken file', async () => {
    const root = tempDir(c);
    const file = randomBytes(24 * 1024 * 1024 + 7);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const sshd = await startFtpfwdSshd(c);
    const [A, B, C, D, M] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const cfgDir = tempDir(c);
    const cfg = join(cfgDir, 'gateway.yaml');
    const v1 = [
      `metrics: 127.0.0.1:${M}`,
      'destinations:',
      destination('one', sshd, [
        'forwards:',
        `  - local: ftp/127.0.0.1:${A}:127.0.0.1:${ftp}`,
        '    pasvTarget: control',
        `  - local: tcp/127.0.0.1:${B}:127.0.0.1:${ftp}`,
      ]),
      destination('two', sshd, [
        'options: { ServerAliveInterval: 15 }',
        `local: ["tcp/127.0.0.1:${D}:127.0.0.1:${ftp}"]`,
      ]),
      '',
    ].join('\n');
    writeFileSync(cfg, v1);
    const fwd = startFtpfwd(c, ['--config', cfg], cleanEnv(home));
    for (const p of [A, B, D]) await waitPort(p);
    expect(await banner(B)).toMatch(/^220[ -]/);

    // Both destinations in one metrics endpoint, told apart by a label; names unchanged.
    const metrics = await (await fetch(`http://127.0.0.1:${M}/metrics`)).text();
    expect(metrics).toMatch(/^ftpfwd_link_up\{destination="one"\} 1$/m);
    expect(metrics).toMatch(/^ftpfwd_link_up\{destination="two"\} 1$/m);

    // A passive download through A, which stays configured, held half-way by not reading (TCP
    // backpressure reaches ftp-srv through the tunnel), so it certainly spans the reload.
    const dl = await heldDownload(A, 'file.bin');
    await dl.until(1024 * 1024);

    // v2: B removed, C added, two's connection settings changed (reconnect), A untouched.
    const v2 = v1
      .replace(
        `  - local: tcp/127.0.0.1:${B}:127.0.0.1:${ftp}`,
        `  - local: tcp/127.0.0.1:${C}:127.0.0.1:${ftp}`,
      )
      .replace('ServerAliveInterval: 15', 'ServerAliveInterval: 30');
    writeFileSync(cfg, v2);
    fwd.child.kill('SIGHUP');
    await fwd.waitFor(/reloaded .*: 2 forwarding\(s\) opened, 2 closed, 1 unchanged/);
    expect(dl.received()).toBeLessThan(file.length);
    expect(fwd.output()).toMatch(/destination two: connection settings changed, reconnecting/);
    expect(await refused(B)).toBe(true);
    expect(await banner(C)).toMatch(/^220[ -]/);
    expect(await banner(D)).toMatch(/^220[ -]/);

    const got = await dl.finish();
    expect(got.reply).toMatch(/^226/);
    expect(sha256(got.data)).toBe(sha256(file));

    // v3: broken. One line names key and line; everything keeps running as it was.
    writeFileSync(cfg, v2.replace('    pasvTarget: control', '    pasvTarget: sideways'));
    const before = fwd.output().length;
    fwd.child.kill('SIGHUP');
    await fwd.waitFor(/reload failed, still running the previous configuration: .*/);
    const line =
      fwd
        .output()
        .slice(before)
        .split('\n')
        .find((l) => l.includes('reload failed')) ?? '';
    expect(line).toMatch(/--config \S+ line 13: destinations\.one\.forwards\.0\.pasvTarget: /);
    expect(fwd.output().slice(before)).not.toMatch(/removed|reconnecting|reloaded|forwarding\(s\)|via/);
    expect(await refused(B)).toBe(true);
    expect(await banner(C)).toMatch(/^220[ -]/);
    expect(await banner(D)).toMatch(/^220[ -]/);
    const again = await run('curl', [
      '-sS',
      '--max-time',
      '30',
      '--interface',
      '127.0.0.2',
      `ftp://127.0.0.1:${A}/file.bin`,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(sha256(again.stdout)).toBe(sha256(file));

    expect(await fwd.kill('SIGTERM')).toBe(0);
  });
});

describe('gateway config: SIGHUP during start-up', () => {
  it('is held until start-up finished instead of ending ftpfwd (systemctl start && systemctl reload)', async () => {
    const ftp = await startFtpSrv(c, tempDir(c));
    const sshd = await startFtpfwdSshd(c);
    // A relay that holds each connection 1.5 s before passing it to the sshd makes start-up slow
    // on purpose, so the SIGHUP certainly lands while ftpfwd is still connecting.
    const relay = createServer((inbound) => {
      inbound.pause();
      setTimeout(() => {
        const outbound = netConnect({ port: sshd.port, host: '127.0.0.1' });
        inbound.pipe(outbound).pipe(inbound);
        inbound.resume();
        outbound.on('error', () => inbound.destroy());
        inbound.on('error', () => outbound.destroy());
      }, 1500);
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    c.add(() => relay.close());
    const relayPort = (relay.address() as AddressInfo).port;
    const knownHosts = join(tempDir(c), 'known_hosts');
    writeFileSync(
      knownHosts,
      readFileSync(sshd.knownHosts, 'utf8').replace(`]:${sshd.port} `, `]:${relayPort} `),
    );
    const A = await freePort();
    const cfg = join(tempDir(c), 'gateway.yaml');
    writeFileSync(
      cfg,
      [
        'destinations:',
        destination('one', { ...sshd, port: relayPort, knownHosts }, [
          `local: ["ftp/127.0.0.1:${A}:127.0.0.1:${ftp}"]`,
        ]),
        '',
      ].join('\n'),
    );
    const fwd = startFtpfwd(c, ['--config', cfg], cleanEnv(home));
    // SIGHUP as soon as the process catches it (bit 1 of SigCgt), while the relay still holds.
    // A cold start on a loaded machine can take seconds before the handler is in; the relay's
    // hold only starts once ftpfwd connects, after that, so waiting long does not weaken this.
    for (let i = 0; i < 2000 && !catchesSighup(fwd.child.pid!); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(catchesSighup(fwd.child.pid!)).toBe(true);
    expect(fwd.output()).not.toMatch(/ via /);
    fwd.child.kill('SIGHUP');
    await fwd.waitFor(/reloaded .*: 0 forwarding\(s\) opened, 0 closed, 1 unchanged/);
    expect(fwd.child.exitCode).toBeNull();
    expect(await banner(A)).toMatch(/^220[ -]/);
    expect(await fwd.kill('SIGTERM')).toBe(0);
  });
});

/** Whether a process has a handler for SIGHUP (its bit in /proc/PID/status SigCgt). */
function catchesSighup(pid: number): boolean {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^SigCgt:\s*([0-9a-f]+)$/m);
    return line ? (BigInt(`0x${line[1]}`) & 1n) === 1n : false;
  } catch {
    return false;
  }
}

describe('gateway config: connection settings per destination', () => {
  it('one destination authenticates by key, another by password from its own askpass program', async () => {
    const dir = tempDir(c);
    const pwFile = join(dir, 'passwords');
    const set = await run(SSHD_BIN, ['passwd', '--file', pwFile, 'alice'], { input: 'wonderland\n' });
    expect(set.code, set.stderr).toBe(0);
    const sshd = await startFtpfwdSshd(c, ['--passwords', pwFile]);
    const ftp = await startFtpSrv(c, tempDir(c));
    const askpass = join(dir, 'askpass');
    writeFileSync(askpass, '#!/bin/sh\necho wonderland\n', { mode: 0o755 });
    const [K, P] = [await freePort(), await freePort()];
    const cfg = join(dir, 'gateway.json');
    const entry = (extra: Record<string, unknown>) => ({
      host: '127.0.0.1',
      port: sshd.port,
      knownHosts: sshd.knownHosts,
      strictHostKeyChecking: 'yes',
      sshConfig: 'none',
      agent: false,
      ...extra,
    });
    writeFileSync(
      cfg,
      JSON.stringify(
        {
          destinations: {
            bykey: entry({
              user: 'tester',
              identityFile: sshd.userKey,
              batchMode: true,
              local: [`tcp/127.0.0.1:${K}:127.0.0.1:${ftp}`],
            }),
            bypassword: entry({
              user: 'alice',
              askpass,
              forwards: [{ local: `tcp/127.0.0.1:${P}:127.0.0.1:${ftp}` }],
            }),
          },
        },
        null,
        2,
      ),
    );
    // No SSH_ASKPASS in the environment: the program comes from the file, for that destination only.
    const fwd = startFtpfwd(c, ['--config', cfg], cleanEnv(home));
    await waitPort(K);
    await waitPort(P);
    expect(await banner(K)).toMatch(/^220[ -]/);
    expect(await banner(P)).toMatch(/^220[ -]/);
    expect(fwd.output()).toMatch(/via 127\.0\.0\.1:\d+ destination=bykey/);
    expect(fwd.output()).toMatch(/via 127\.0\.0\.1:\d+ destination=bypassword/);
    expect(await fwd.kill('SIGTERM')).toBe(0);
  });
});

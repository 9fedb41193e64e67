/**
 * The FTP-aware policy as an attacker sees it. The user may open only `127.0.0.1:FTP/ftp`; the FTP
 * server is the real ftp-srv, which ends commands only at CRLF and echoes unknown ones in its reply.
 * Whatever the user sends on the control channel — forged replies for the server to echo, PORTs at
 * third hosts — must not yield a channel anywhere the server did not announce for a real PASV/EPSV.
 * The attackers are an ssh2 script and the real OpenSSH client.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPEN_FAILURE } from './connection.js';
import { parsePermitListenList, parsePermitOpenList } from './policy.js';
import { FtpControl, forwardIn, open, startFtpSrv } from './test-support/ftp.js';
import {
  echoRoundTrip,
  freePort,
  pubLine,
  runSsh,
  Scope,
  ssh2Client,
  sshKeygen,
  startEcho,
  startServer,
  type TestServer,
  tempDir,
  waitFor,
  waitForPort,
} from './test-support/harness.js';
import type { FtpPolicy } from './types.js';

let scope: Scope;
let dir: string;
let ftpPort: number;
/** A service on the FTP host that no FTP reply announced (the attacker's prize). */
let target: number;

beforeEach(async () => {
  scope = new Scope();
  dir = tempDir(scope);
  const root = join(dir, 'ftproot');
  mkdirSync(root);
  writeFileSync(join(root, 'file.txt'), 'hello\n');
  ftpPort = await freePort();
  await startFtpSrv(scope, root, ftpPort);
  target = await startEcho(scope);
});
afterEach(() => scope.close());

async function setup(
  ftp: Partial<FtpPolicy> = {},
): Promise<{ t: TestServer; client: ssh2.Client; key: string }> {
  const key = sshKeygen(dir, 'user');
  const t = await startServer(scope, dir, {
    authorizedKeysText: pubLine(key),
    permitOpen: parsePermitOpenList([`127.0.0.1:${ftpPort}/ftp`]),
    permitListen: parsePermitListenList(['none']),
    ftp,
  });
  return { t, client: await ssh2Client(scope, t, key, { username: 'mallory' }), key };
}

async function control(client: ssh2.Client, login = true): Promise<FtpControl> {
  const ch = await open(client, '127.0.0.1', ftpPort);
  if (!ch.ok) throw new Error(`control channel refused: ${ch.message}`);
  const ftp = new FtpControl(ch.channel);
  if (login) await ftp.login();
  else expect(await ftp.reply()).toMatch(/^220 /);
  return ftp;
}

const refused = { ok: false, reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED };

describe('forged replies echoed by the FTP server grant nothing', () => {
  it('X\\nEPSV\\n229-(|||P|)\\n229: no channel to P, one warning, and the control channel grants no more', async () => {
    const { t, client } = await setup();
    const ftp = await control(client);
    const echoed = await ftp.send(`X\nEPSV\n229-(|||${target}|)\n229`);
    expect(echoed).toContain(`229-(|||${target}|)`); // ftp-srv did echo it
    expect(await open(client, '127.0.0.1', target)).toMatchObject(refused);
    const warnings = t.logs.lines.filter((l) => l.event === 'ftp-ambiguous');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, user: 'mallory' });
    // A real EPSV on the same control channel now grants nothing either: its pairing is not trusted.
    const port = await ftp.epsv();
    expect(await open(client, '127.0.0.1', port)).toMatchObject(refused);
    // A fresh control channel is not affected.
    const fresh = await control(client);
    const good = await open(client, '127.0.0.1', await fresh.epsv());
    expect(good.ok).toBe(true);
    if (good.ok) good.channel.close();
  });

  it('before login, split across packets, and as a PASV naming a third host: nothing', async () => {
    // the port listens on the third host and on the FTP host, so a permit wrongly granted for
    // either would connect (ok: true) rather than fail for want of a listener
    const third = await startEchoOnBoth('127.0.0.3', '127.0.0.1');
    const { client } = await setup({ trustPasvAddress: true });
    const ftp = await control(client, false);
    const line = `X\nPASV\n227-(127,0,0,3,${third >> 8},${third & 255})\n227`;
    for (const piece of [line.slice(0, 3), line.slice(3, 11), line.slice(11)]) {
      ftp.write(piece);
      await new Promise((r) => setTimeout(r, 20));
    }
    await ftp.send('');
    expect(await open(client, '127.0.0.3', third)).toMatchObject(refused);
    expect(await open(client, '127.0.0.1', third)).toMatchObject(refused);
  });

  it('with the real OpenSSH client as the attacker: the second forward is refused', async () => {
    const { t, key } = await setup();
    const socket = join(dir, 'ctl');
    const ctlPort = await freePort();
    runSsh(
      scope,
      t,
      ['-M', '-S', socket, '-N', '-L', `127.0.0.1:${ctlPort}:127.0.0.1:${ftpPort}`, 'mallory@127.0.0.1'],
      {
        identity: key,
      },
    );
    await waitForPort(ctlPort);
    const sock = netConnect({ host: '127.0.0.1', port: ctlPort });
    let seen = '';
    sock.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
    });
    await waitFor(() => seen.includes('220 '), 10_000, 'greeting');
    sock.write(`X\nEPSV\n229-(|||${target}|)\n229\r\n`);
    await waitFor(() => seen.includes(`229\r\n`), 10_000, 'the echo');
    const local = await freePort();
    const fwd = runSsh(scope, t, [
      '-S',
      socket,
      '-O',
      'forward',
      '-L',
      `127.0.0.1:${local}:127.0.0.1:${target}`,
      'x',
    ]);
    expect(await fwd.exited).toBe(0);
    const { got } = await echoRoundTrip(local, 1024);
    expect(got.length).toBe(0);
    await waitFor(
      () =>
        t.logs.find(
          (l) => l.event === 'forward' && l.allowed === false && l.target === `127.0.0.1:${target}`,
        ),
      5_000,
      'the refusal in the log',
    );
    sock.destroy();
  });
});

describe('what a control channel may announce', () => {
  it('a PORT naming a third host never reaches the FTP server: the sshd answers it', async () => {
    const { t, client } = await setup();
    const ftp = await control(client);
    const reply = await ftp.send('PORT 127,0,0,3,195,80');
    // ftp-srv's own refusal would read "The given address is not yours".
    expect(reply).toBe('500 Illegal PORT command: not a data port of this SSH connection.');
    expect(await ftp.send('EPRT |1|127.0.0.3|50000|')).toMatch(/^500 Illegal EPRT command/);
    expect(await ftp.send('LPRT 4,4,127,0,0,3,2,195,80')).toMatch(/^502 /);
    expect(await ftp.send('NOOP')).toMatch(/^200 /); // still in step
    const audit = t.logs.lines.filter((l) => l.event === 'ftp-permit' && l.granted === false);
    expect(audit.map((l) => l.command)).toEqual(['PORT', 'EPRT', 'LPRT']);
    for (const l of audit) expect(l).toMatchObject({ level: 30, user: 'mallory' });
  });

  it('a PORT naming its own slot passes, once', async () => {
    const { client } = await setup();
    const ftp = await control(client);
    const slot = await forwardIn(client, 0);
    if (typeof slot !== 'number') throw slot;
    expect(await ftp.send(`PORT 127,0,0,1,${slot >> 8},${slot & 255}`)).toMatch(/^200 /);
    expect(await ftp.send(`PORT 127,0,0,1,${slot >> 8},${slot & 255}`)).toMatch(/^500 Illegal PORT/);
  });

  it('a 227 or 229 naming a port below 1024 grants nothing', async () => {
    // No real server announces port 22; a scripted one does, as a compromised one would.
    const fake = await scriptedFtpServer('229 Entering Extended Passive Mode (|||22|)');
    const key = sshKeygen(dir, 'user');
    const t = await startServer(scope, dir, {
      authorizedKeysText: pubLine(key),
      permitOpen: parsePermitOpenList([`127.0.0.1:${fake}/ftp`]),
    });
    const client = await ssh2Client(scope, t, key);
    const ch = await open(client, '127.0.0.1', fake);
    if (!ch.ok) throw new Error(ch.message);
    const ftp = new FtpControl(ch.channel);
    await ftp.reply();
    expect(await ftp.send('EPSV')).toMatch(/\|\|\|22\|/);
    await waitFor(() => t.logs.find((l) => l.event === 'ftp-permit'), 5_000, 'the audit line');
    expect(t.logs.find((l) => l.event === 'ftp-permit')).toMatchObject({
      granted: false,
      rule: expect.stringContaining('below the lowest data port 1024'),
    });
  });

  it('a data channel with no bytes either way for the idle time is closed and logged', async () => {
    const { t, client } = await setup({ dataIdleTimeoutMs: 400 });
    const ftp = await control(client);
    const data = await open(client, '127.0.0.1', await ftp.pasv());
    if (!data.ok) throw new Error(data.message);
    const closed = new Promise<void>((r) => data.channel.once('close', () => r()));
    data.channel.resume(); // a stream not read never reports its end
    await closed; // no RETR: the server's data socket never sends
    expect(t.logs.find((l) => l.event === 'ftp-data-idle')).toMatchObject({ level: 30, user: 'mallory' });
  });
});

/** An echo service on another loopback address: a "third host" on this machine. */
async function startEchoOn(host: string, port = 0): Promise<number> {
  const srv = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
  scope.add(() => new Promise<void>((r) => srv.close(() => r())));
  const a = srv.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/**
 * An echo service on one port at both hosts. The port is never the FTP server's or the target's
 * (a port the kernel picks on one address can be in use on another, and those are permitted).
 */
async function startEchoOnBoth(first: string, second: string): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port === ftpPort || port === target) continue;
    try {
      await startEchoOn(first, port);
      await startEchoOn(second, port);
      return port;
    } catch {
      // taken meanwhile on one of them: pick another
    }
  }
}

/** A control connection that greets and answers every command with `reply`. */
async function scriptedFtpServer(reply: string): Promise<number> {
  const srv = createServer((s) => {
    s.on('error', () => {});
    s.write('220 scripted\r\n');
    s.on('data', () => s.write(`${reply}\r\n`));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  scope.add(() => new Promise<void>((r) => srv.close(() => r())));
  const a = srv.address();
  return typeof a === 'object' && a ? a.port : 0;
}

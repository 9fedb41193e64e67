/**
 * The FTP-aware policy against the real ftp-srv, driven by a plain ssh2 client: with only
 * `127.0.0.1:FTP/ftp` permitted, exactly the data channels the control session announced open,
 * once, before their timeout, and nothing else does.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPEN_FAILURE } from './connection.js';
import { parsePermitListenList, parsePermitOpenList } from './policy.js';
import { FtpControl, forwardIn, open, readAll, startFtpSrv } from './test-support/ftp.js';
import {
  freePort,
  pubLine,
  Scope,
  sha256,
  ssh2Client,
  sshKeygen,
  startServer,
  type TestServer,
  tempDir,
  waitFor,
} from './test-support/harness.js';

const PERMIT_TTL_MS = 1_000;

let scope: Scope;
let dir: string;
let ftpPort: number;
let payload: Buffer;

beforeEach(async () => {
  scope = new Scope();
  dir = tempDir(scope);
  const root = join(dir, 'ftproot');
  mkdirSync(root);
  payload = randomBytes(300 * 1024);
  writeFileSync(join(root, 'file.bin'), payload);
  ftpPort = await freePort();
  await startFtpSrv(scope, root, ftpPort);
});
afterEach(() => scope.close());

/** An ssh2 client logged in as the FTP user. */
const sshClient = (t: TestServer, userKey: string) => ssh2Client(scope, t, userKey, { username: 'ftpuser' });

async function setup(): Promise<{ t: TestServer; client: ssh2.Client; userKey: string }> {
  const userKey = sshKeygen(dir, 'user');
  const t = await startServer(scope, dir, {
    authorizedKeysText: pubLine(userKey),
    permitOpen: parsePermitOpenList([`127.0.0.1:${ftpPort}/ftp`]),
    permitListen: parsePermitListenList(['none']),
    limits: { ftpPermitTimeoutMs: PERMIT_TTL_MS },
  });
  return { t, client: await sshClient(t, userKey), userKey };
}

async function openControl(client: ssh2.Client): Promise<{ channel: ClientChannel; ftp: FtpControl }> {
  const control = await open(client, '127.0.0.1', ftpPort);
  if (!control.ok) throw new Error(`control channel refused: ${control.message}`);
  const ftp = new FtpControl(control.channel);
  await ftp.login();
  return { channel: control.channel, ftp };
}

describe('FTP-aware permit-open (passive)', () => {
  it('permits the announced data port once; other ports stay refused', async () => {
    const { t, client } = await setup();
    const { ftp } = await openControl(client);

    const other = await open(client, '127.0.0.1', ftpPort + 1);
    expect(other).toMatchObject({ ok: false, reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED });

    const dataPort = await ftp.pasv();
    // Announced is not the same as any port: a neighbour of the announced one is still refused.
    expect(await open(client, '127.0.0.1', dataPort + 1)).toMatchObject({
      ok: false,
      reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
    });
    const data = await open(client, '127.0.0.1', dataPort);
    if (!data.ok) throw new Error(`data channel refused: ${data.message}`);
    const received = readAll(data.channel);
    expect(await ftp.send('RETR file.bin')).toMatch(/^(150|125) /);
    expect(sha256(await received)).toBe(sha256(payload));
    expect(await ftp.reply()).toMatch(/^226 /);

    // Used once: the same port is refused now.
    expect(await open(client, '127.0.0.1', dataPort)).toMatchObject({
      ok: false,
      reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
    });
    const granted = t.logs.find((l) => l.event === 'ftp-permit' && l.granted === true);
    expect(granted?.endpoint).toBe(`127.0.0.1:${dataPort}`);
    const dataOpened = t.logs.find(
      (l) => l.event === 'forward' && l.allowed === true && String(l.rule).includes('FTP PASV data port'),
    );
    expect(dataOpened).toBeDefined();
    // Every permit and every channel it opened is audited at the default level (pino: 30 info),
    // with the user and the command that announced it.
    expect(granted).toMatchObject({ level: 30, user: 'ftpuser', command: 'PASV' });
    expect(dataOpened).toMatchObject({ level: 30, user: 'ftpuser', command: 'PASV' });
    const controlOpened = t.logs.find(
      (l) => l.event === 'forward' && l.allowed === true && l.target === `127.0.0.1:${ftpPort}`,
    );
    expect(controlOpened?.level).toBe(30);
    const refused = t.logs.lines.filter((l) => l.event === 'forward' && l.allowed === false);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const l of refused) expect(l.level).toBe(30);
  });

  it('EPSV: the 229 port is permitted at the control connection host', async () => {
    const { client } = await setup();
    const { ftp } = await openControl(client);
    const dataPort = await ftp.epsv();
    const data = await open(client, '127.0.0.1', dataPort);
    if (!data.ok) throw new Error(`data channel refused: ${data.message}`);
    const received = readAll(data.channel);
    expect(await ftp.send('RETR file.bin')).toMatch(/^(150|125) /);
    expect(sha256(await received)).toBe(sha256(payload));
    expect(await ftp.reply()).toMatch(/^226 /);
  });

  it('an unused permit expires', async () => {
    const { client } = await setup();
    const { ftp } = await openControl(client);
    const dataPort = await ftp.pasv();
    await new Promise((r) => setTimeout(r, PERMIT_TTL_MS + 300));
    expect(await open(client, '127.0.0.1', dataPort)).toMatchObject({
      ok: false,
      reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
    });
  });

  it('a permit belongs to its SSH connection: another connection cannot use it', async () => {
    const { t, client, userKey } = await setup();
    const { ftp } = await openControl(client);
    const dataPort = await ftp.pasv();
    const other = await sshClient(t, userKey);
    expect(await open(other, '127.0.0.1', dataPort)).toMatchObject({
      ok: false,
      reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
    });
    const mine = await open(client, '127.0.0.1', dataPort);
    expect(mine.ok).toBe(true);
    if (mine.ok) mine.channel.close();
  });
});

describe('FTP-aware remote forwards (active)', () => {
  it('grants an ephemeral listener only while a control channel is open; it admits the FTP server once after PORT', async () => {
    const { t, client } = await setup();
    // No FTP control channel yet: permit-listen none refuses.
    expect(await forwardIn(client, 0)).toBeInstanceOf(Error);

    const { channel, ftp } = await openControl(client);
    // Only ephemeral ports, even now.
    expect(await forwardIn(client, await freePort())).toBeInstanceOf(Error);
    const slot = await forwardIn(client, 0);
    if (typeof slot !== 'number') throw slot;

    // Before PORT names it, a connection to the slot is turned away.
    const early = await new Promise<string>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: slot });
      s.on('error', () => resolve('closed'));
      s.on('close', () => resolve('closed'));
      s.on('data', () => resolve('data'));
    });
    expect(early).toBe('closed');

    const incoming = new Promise<Buffer>((resolve, reject) => {
      client.once('tcp connection', (_info, accept) => {
        readAll(accept()).then(resolve, reject);
      });
    });
    expect(await ftp.send(`PORT 127,0,0,1,${slot >> 8},${slot & 255}`)).toMatch(/^200 /);
    expect(await ftp.send('RETR file.bin')).toMatch(/^(150|125) /);
    expect(sha256(await incoming)).toBe(sha256(payload));
    expect(await ftp.reply()).toMatch(/^226 /);
    // The slot's arming and its data channel are audited at info (30); the listener itself is debug.
    const slotLines = t.logs.lines.filter(
      (l) =>
        (l.event === 'forward' && l.allowed === true && l.kind !== 'direct-tcpip') ||
        (l.event === 'ftp-permit' && l.granted === true),
    );
    expect(slotLines.map((l) => `${l.event}/${l.kind ?? ''}`).sort()).toEqual([
      'forward/forwarded-tcpip',
      'forward/tcpip-forward',
      'ftp-permit/',
    ]);
    for (const l of slotLines) expect(l.level).toBe(l.kind === 'tcpip-forward' ? 20 : 30);
    expect(slotLines.find((l) => l.event === 'ftp-permit')).toMatchObject({
      user: 'ftpuser',
      command: 'PORT',
    });
    const refused = t.logs.lines.filter((l) => l.event === 'forward' && l.allowed === false);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const l of refused) expect(l.level).toBe(30);

    // The slot was for one connection: it no longer listens.
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = netConnect({ host: '127.0.0.1', port: slot });
          s.once('error', () => resolve(true));
          s.once('connect', () => {
            s.destroy();
            resolve(false);
          });
        }),
      5_000,
      'slot closed',
    );

    // The client cancelling a slot the server already retired is not an error.
    expect(await new Promise((r) => client.unforwardIn('127.0.0.1', slot, (err) => r(err ?? 'ok')))).toBe(
      'ok',
    );

    // With the control channel gone, no new slot.
    // (its permits go once the channel and its TCP connection to the FTP server have both closed)
    channel.close();
    await waitFor(
      async () => (await forwardIn(client, 0)) instanceof Error,
      10_000,
      'no slot without control',
    );
  });
});

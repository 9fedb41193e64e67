/**
 * The FTP-aware policy against the real ftp-srv, driven by a plain ssh2 client: with only
 * `127.0.0.1:FTP/ftp` permitted, exactly the data channels the control session announced open,
 * once, before their timeout, and nothing else does.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { FtpSrv } from 'ftp-srv';
import type ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPEN_FAILURE } from './connection.js';
import { parsePermitListenList, parsePermitOpenList } from './policy.js';
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

/** ftp-srv wants a bunyan logger; this one stays silent. */
const quietLog = {
  child() {
    return quietLog;
  },
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
};

beforeEach(async () => {
  scope = new Scope();
  dir = tempDir(scope);
  const root = join(dir, 'ftproot');
  mkdirSync(root);
  payload = randomBytes(300 * 1024);
  writeFileSync(join(root, 'file.bin'), payload);
  ftpPort = await freePort();
  const pasvBase = 40000 + Math.floor(Math.random() * 20000);
  const ftp = new FtpSrv({
    url: `ftp://127.0.0.1:${ftpPort}`,
    pasv_url: '127.0.0.1',
    pasv_min: pasvBase,
    pasv_max: pasvBase + 50,
    anonymous: true,
    log: quietLog,
  });
  ftp.on('login', (_data: unknown, resolve: (r: { root: string }) => void) => resolve({ root }));
  await ftp.listen();
  scope.add(() => ftp.close());
});
afterEach(() => scope.close());

/** An ssh2 client logged in as the FTP user. */
const sshClient = (t: TestServer, userKey: string) => ssh2Client(scope, t, userKey, { username: 'ftpuser' });

type OpenResult = { ok: true; channel: ClientChannel } | { ok: false; reason: unknown; message: string };

function open(client: ssh2.Client, host: string, port: number): Promise<OpenResult> {
  return new Promise((resolve) =>
    client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
      if (err)
        resolve({ ok: false, reason: (err as Error & { reason?: unknown }).reason, message: err.message });
      else resolve({ ok: true, channel });
    }),
  );
}

function forwardIn(client: ssh2.Client, port: number): Promise<number | Error> {
  return new Promise((resolve) => client.forwardIn('127.0.0.1', port, (err, bound) => resolve(err ?? bound)));
}

/** Reads FTP replies from a control channel; `send` writes a command and waits for its final reply. */
class FtpControl {
  private buffer = '';
  private readonly waiters: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  constructor(private readonly channel: ClientChannel) {
    channel.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      let i = this.buffer.indexOf('\r\n');
      while (i >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        // Only final reply lines ("ddd text") matter here.
        if (/^\d{3} /.test(line)) {
          const w = this.waiters.shift();
          if (w) w(line);
          else this.lines.push(line);
        }
        i = this.buffer.indexOf('\r\n');
      }
    });
  }
  reply(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no FTP reply within 10 s')), 10_000);
      this.waiters.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  }
  async send(command: string): Promise<string> {
    this.channel.write(`${command}\r\n`);
    return this.reply();
  }
  async login(): Promise<void> {
    expect(await this.reply()).toMatch(/^220 /);
    const user = await this.send('USER anonymous');
    expect(user).toMatch(/^(230|331) /);
    if (user.startsWith('331')) expect(await this.send('PASS guest')).toMatch(/^230 /);
    expect(await this.send('TYPE I')).toMatch(/^200 /);
  }
  async epsv(): Promise<number> {
    const r = await this.send('EPSV');
    const m = /\(\|\|\|(\d+)\|\)/.exec(r);
    if (!m) throw new Error(`expected a 229 reply, got ${r}`);
    return Number(m[1]);
  }
  async pasv(): Promise<number> {
    const r = await this.send('PASV');
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r);
    if (!m) throw new Error(`expected a 227 reply, got ${r}`);
    return Number(m[5]) * 256 + Number(m[6]);
  }
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

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
      (l) => l.event === 'forward' && l.allowed === true && String(l.rule).includes('FTP passive'),
    );
    expect(dataOpened).toBeDefined();
    // An operator at the default level (info) sees the control channel and every refusal, not one
    // pair of lines per data channel (pino levels: 20 debug, 30 info).
    expect(granted?.level).toBe(20);
    expect(dataOpened?.level).toBe(20);
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
    // The slot, its arming and its data channel are per transfer: debug (20); refusals info (30).
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
    for (const l of slotLines) expect(l.level).toBe(20);
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
    channel.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(await forwardIn(client, 0)).toBeInstanceOf(Error);
  });
});

/**
 * The FTP command state machine over a real loopback control connection, with an in-memory SFTP
 * server behind it (test-support/fake-sftp.ts). The same commands against OpenSSH's sftp-server with
 * real FTP clients are in packages/e2e/src/sftp-bridge.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, setPasswordLine } from '@ftpfwd/ftp-proxy/cli';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type SftpBridge, type SftpBridgeOptions, SftpLoginError, startSftpBridge } from './index.js';
import { type FakeOptions, FakeSftp } from './test-support/fake-sftp.js';
import { dataConnect, RawFtp, readAll, writeAll } from './test-support/ftp-client.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Started {
  bridge: SftpBridge;
  fakes: FakeSftp[];
  logs: Record<string, unknown>[];
  auths: ({ user: string; password: string } | undefined)[];
  ftp(): Promise<RawFtp>;
}

async function start(
  opts: Partial<SftpBridgeOptions> = {},
  setup: (f: FakeSftp) => void = () => {},
  fakeOpts: FakeOptions = {},
): Promise<Started> {
  const fakes: FakeSftp[] = [];
  const logs: Record<string, unknown>[] = [];
  const auths: Started['auths'] = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
  const bridge = await startSftpBridge(
    {
      listen: { host: '127.0.0.1', port: 0 },
      jail: false,
      login: 'tunnel',
      async openSftp(auth) {
        auths.push(auth);
        const f = new FakeSftp(fakeOpts);
        f.put('/home/u/hello.txt', 'hello\nworld\n');
        setup(f);
        fakes.push(f);
        return f.session();
      },
      logger,
      ...opts,
    },
    { loginFailDelayMs: 5, dataAcceptTimeoutMs: 2000 },
  );
  cleanups.push(() => bridge.close());
  const ftp = async () => {
    const c = await RawFtp.connect(bridge.listen.port);
    cleanups.push(() => c.close());
    return c;
  };
  return { bridge, fakes, logs, auths, ftp };
}

async function loggedIn(
  opts: Partial<SftpBridgeOptions> = {},
  setup?: (f: FakeSftp) => void,
  fo?: FakeOptions,
) {
  const s = await start(opts, setup, fo);
  const c = await s.ftp();
  await c.login();
  return { ...s, c, fake: s.fakes[0]! };
}

/** RETR/LIST/… over EPSV: the data connection's bytes and the final reply. */
async function download(
  c: RawFtp,
  command: string,
): Promise<{ data: Buffer; prelim: number; final: number; text: string }> {
  const d = await c.epsv();
  const got = readAll(d);
  const prelim = await c.cmd(command);
  if (prelim.code !== 150) {
    d.destroy();
    return { data: Buffer.alloc(0), prelim: prelim.code, final: prelim.code, text: prelim.text };
  }
  const data = await got;
  const fin = await c.next();
  return { data, prelim: prelim.code, final: fin.code, text: fin.text };
}

async function upload(c: RawFtp, command: string, data: Buffer): Promise<{ code: number; text: string }> {
  const d = await c.epsv();
  const prelim = await c.cmd(command);
  if (prelim.code !== 150) {
    d.destroy();
    return prelim;
  }
  await writeAll(d, data);
  return c.next();
}

describe('sftp bridge: session basics', () => {
  it('greets, answers SYST/FEAT/HELP/NOOP/OPTS, and 530 before login', async () => {
    const s = await start();
    const c = await s.ftp();
    expect((await c.cmd('SYST')).text).toBe('215 UNIX Type: L8');
    const feat = await c.cmd('FEAT');
    expect(feat.lines).toEqual([
      '211-Features:',
      ' EPRT',
      ' EPSV',
      ' MDTM',
      ' MFMT',
      ' MLST type*;size*;modify*;perm*;unique*;',
      ' PASV',
      ' REST STREAM',
      ' SIZE',
      ' TVFS',
      ' UTF8',
      '211 End',
    ]);
    expect((await c.cmd('HELP')).code).toBe(214);
    expect((await c.cmd('HELP RETR')).text).toMatch(/^214 RETR/);
    expect((await c.cmd('NOOP')).code).toBe(200);
    expect((await c.cmd('OPTS UTF8 ON')).code).toBe(200);
    expect((await c.cmd('PWD')).code).toBe(530);
    expect((await c.cmd('RETR x')).code).toBe(530);
    expect((await c.cmd('ACCT x')).code).toBe(502);
  });

  it('unknown commands get 502, malformed lines 500, and nothing after them is lost', async () => {
    const { c } = await loggedIn();
    c.send('XYZZY now');
    c.send('!!! not a command');
    c.send(Buffer.from(`NOOP ${'x'.repeat(5000)}\r\n`));
    c.send('AUTH TLS');
    c.send(Buffer.from('PWD\n')); // a bare LF ends a line too
    c.send('SITE EXEC rm -rf /');
    c.send('NOOP');
    const codes = [];
    for (let i = 0; i < 7; i++) codes.push((await c.next()).code);
    expect(codes).toEqual([502, 500, 500, 502, 257, 502, 200]);
  });

  it('pipelined commands are answered in order, one reply each', async () => {
    const { c } = await loggedIn();
    c.send(
      Buffer.from('TYPE I\r\nSIZE hello.txt\r\nMKD d\r\nCWD d\r\nPWD\r\nCDUP\r\nMDTM hello.txt\r\nNOOP\r\n'),
    );
    const got = [];
    for (let i = 0; i < 8; i++) got.push((await c.next()).text);
    expect(got).toEqual([
      '200 Type set to I',
      '213 12',
      '257 "/home/u/d" directory created',
      '250 Directory changed to /home/u/d',
      '257 "/home/u/d" is the current directory',
      '250 Directory changed to /home/u',
      '213 20231114221320',
      '200 NOOP ok',
    ]);
  });

  it('QUIT says goodbye and closes; the SFTP session is closed with it', async () => {
    const { c, fake, bridge } = await loggedIn();
    expect(bridge.sessions()).toBe(1);
    expect((await c.cmd('QUIT')).code).toBe(221);
    await new Promise((r) => c.sock.once('close', r));
    // the bridge's side tears down on its socket's close, which can come a turn later
    await vi.waitFor(() => expect(bridge.sessions()).toBe(0));
    expect(fake.closed).toBe(true);
  });

  it('the bridge closing tells each FTP client 421', async () => {
    const s = await start();
    const c = await s.ftp();
    await s.bridge.close();
    expect((await c.next()).code).toBe(421);
  });

  it('an SFTP protocol error is logged, never a crash; the FTP session then ends with 421', async () => {
    const { c, fake, logs } = await loggedIn();
    fake.emit('error', new Error('Invalid packet length'));
    fake.drop();
    expect((await c.next()).code).toBe(421);
    expect(logs.some((l) => l.msg === 'SFTP session error')).toBe(true);
  });

  it('an FTP client that leaves while its SFTP session is being opened leaves none open', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const made: FakeSftp[] = [];
    let opening = false;
    const s = await start({
      openSftp: async () => {
        opening = true;
        await gate;
        const f = new FakeSftp();
        made.push(f);
        return f.session();
      },
    });
    const c = await s.ftp();
    await c.cmd('USER u');
    c.send('PASS p');
    await vi.waitFor(() => expect(opening).toBe(true));
    c.close();
    await new Promise((r) => setTimeout(r, 20));
    release();
    await vi.waitFor(() => expect(s.bridge.sessions()).toBe(0));
    await vi.waitFor(() => expect(made[0]?.closed).toBe(true));
  });

  it('an SFTP session the server closes ends the FTP session with 421', async () => {
    const { c, fake } = await loggedIn();
    fake.drop();
    expect((await c.next()).code).toBe(421);
  });
});

describe('sftp bridge: logins', () => {
  it("'tunnel' takes any user and password and opens the tunnel's SFTP session without credentials", async () => {
    const s = await start();
    const c = await s.ftp();
    expect((await c.cmd('PASS x')).code).toBe(503);
    await c.login('anyone', '');
    expect(s.auths).toEqual([undefined]);
    expect((await c.cmd('USER other')).code).toBe(503);
  });

  it("'ssh' passes the FTP user and password on; a refused SSH login is 530, three are 421", async () => {
    const s = await start({
      login: 'ssh',
      openSftp: async (auth) => {
        if (auth?.password !== 'right') throw new SftpLoginError(auth?.user ?? '', 'bad password');
        return new FakeSftp().session();
      },
    });
    const c = await s.ftp();
    await c.cmd('USER alice');
    expect((await c.cmd('PASS wrong')).code).toBe(530);
    await c.login('alice', 'right');
    const d = await s.ftp();
    for (let i = 0; i < 2; i++) {
      await d.cmd('USER bob');
      expect((await d.cmd('PASS no')).code).toBe(530);
    }
    await d.cmd('USER bob');
    expect((await d.cmd('PASS no')).code).toBe(530);
    expect((await d.next()).code).toBe(421);
    expect(s.logs.filter((l) => l.msg === 'FTP login refused')).toHaveLength(4);
  });

  it('guessing from one address over new connections: after five refusals it gets 421, the SSH server is not asked', async () => {
    let asked = 0;
    const s = await start({
      login: 'ssh',
      openSftp: async (auth) => {
        asked++;
        throw new SftpLoginError(auth?.user ?? '', 'bad password');
      },
    });
    for (let i = 0; i < 5; i++) {
      const c = await s.ftp();
      await c.cmd('USER alice');
      expect((await c.cmd(`PASS guess${i}`)).code).toBe(530);
      await c.close();
    }
    const c = await s.ftp();
    await c.cmd('USER alice');
    const r = await c.cmd('PASS guess5');
    expect(r.code).toBe(421);
    expect(r.text).toMatch(/Too many failed logins from your address/);
    expect(asked).toBe(5);
    expect(s.logs.filter((l) => l.msg === 'FTP login refused: too many attempts')).toMatchObject([
      { user: 'alice', reason: 'blocked' },
    ]);
  });

  it('a password file: the right password logs in, a wrong one or an unknown user is 530', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sftp-bridge-pw-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'passwd');
    writeFileSync(file, setPasswordLine('', 'alice', await hashPassword('pw1', { ln: 10, r: 8, p: 1 })));
    const s = await start({ login: { passwordFile: file } });
    const c = await s.ftp();
    await c.cmd('USER alice');
    expect((await c.cmd('PASS nope')).code).toBe(530);
    await c.cmd('USER mallory');
    expect((await c.cmd('PASS pw1')).code).toBe(530);
    await c.login('alice', 'pw1');
    expect(s.auths).toEqual([undefined]);
  });

  it('an unusable remote directory is a clear 421 at login, not a broken session', async () => {
    const s = await start({ remoteDir: '/nope' });
    const c = await s.ftp();
    await c.cmd('USER u');
    const r = await c.cmd('PASS p');
    expect(r.code).toBe(421);
    expect(r.text).toMatch(/Remote directory \/nope unusable/);
  });
});

describe('sftp bridge: files', () => {
  it('RETR in TYPE I and TYPE A (CRLF on the wire), with REST', async () => {
    const big = randomBytes(1024 * 1024 + 5);
    const { c } = await loggedIn({}, (f) => f.put('/home/u/big.bin', big));
    await c.cmd('TYPE I');
    let r = await download(c, 'RETR big.bin');
    expect([r.prelim, r.final]).toEqual([150, 226]);
    expect(r.data.equals(big)).toBe(true);
    expect((await c.cmd('REST 1000')).code).toBe(350);
    r = await download(c, 'RETR big.bin');
    expect(r.data.equals(big.subarray(1000))).toBe(true);
    await c.cmd('TYPE A');
    r = await download(c, 'RETR hello.txt');
    expect(r.data.toString()).toBe('hello\r\nworld\r\n');
    await c.cmd('REST 7');
    r = await download(c, 'RETR hello.txt');
    expect(r.data.toString()).toBe('world\r\n');
    expect((await c.cmd('REST 999')).code).toBe(350);
    expect((await download(c, 'RETR hello.txt')).final).toBe(554);
  });

  it('SIZE in TYPE I is the file size; in TYPE A the bytes RETR would send, or a refusal past the limit', async () => {
    const { c } = await loggedIn({}, (f) => f.put('/home/u/big.txt', Buffer.alloc(65 * 1024 * 1024, 10)));
    await c.cmd('TYPE I');
    expect((await c.cmd('SIZE hello.txt')).text).toBe('213 12');
    await c.cmd('TYPE A');
    expect((await c.cmd('SIZE hello.txt')).text).toBe('213 14');
    expect((await c.cmd('SIZE big.txt')).text).toMatch(/^550 .*use TYPE I/);
    expect((await c.cmd('SIZE .')).code).toBe(550);
    expect((await c.cmd('SIZE missing')).text).toMatch(/^550 \/home\/u\/missing: No such file/);
  });

  it('STOR, APPE, REST+STOR, STOU and TYPE A uploads', async () => {
    const { c, fake } = await loggedIn();
    await c.cmd('TYPE I');
    const data = randomBytes(700_000);
    expect((await upload(c, 'STOR up.bin', data)).code).toBe(226);
    expect(fake.file('/home/u/up.bin')?.equals(data)).toBe(true);
    expect((await upload(c, 'APPE up.bin', Buffer.from('tail'))).code).toBe(226);
    expect(fake.file('/home/u/up.bin')?.subarray(-4).toString()).toBe('tail');
    await c.cmd('REST 100');
    expect((await upload(c, 'STOR up.bin', Buffer.from('X'))).code).toBe(226);
    expect(fake.file('/home/u/up.bin')?.length).toBe(101);
    const d = await c.epsv();
    const pre = await c.cmd('STOU');
    expect(pre.text).toMatch(/^150 FILE: ftpfwd\.[0-9a-f]{8}$/);
    await writeAll(d, Buffer.from('unique'));
    const fin = await c.next();
    expect(fin.code).toBe(226);
    const name = pre.text.slice('150 FILE: '.length);
    expect(fake.file(`/home/u/${name}`)?.toString()).toBe('unique');
    await c.cmd('TYPE A');
    expect((await upload(c, 'STOR t.txt', Buffer.from('a\r\nb\r\n'))).code).toBe(226);
    expect(fake.file('/home/u/t.txt')?.toString()).toBe('a\nb\n');
    await c.cmd('REST 1');
    expect((await upload(c, 'STOR t.txt', Buffer.from('x'))).code).toBe(504);
  });

  it('LIST, NLST, MLSD and MLST', async () => {
    const { c } = await loggedIn({}, (f) => {
      f.mkdirp('/home/u/sub');
      f.link('/home/u/ln', 'hello.txt');
      f.put('/home/u/.hidden', 'h');
    });
    const list = (await download(c, 'LIST -la')).data.toString();
    expect(list).toMatch(/^-rw-r--r-- +1 user +group +12 \w{3} [ \d]\d +\d{4} hello\.txt\r$/m);
    expect(list).toMatch(/^drwxr-xr-x .* sub\r$/m);
    expect(list).toMatch(/^lrwxrwxrwx .* ln -> hello\.txt\r$/m);
    expect(list).toMatch(/ \.hidden\r$/m);
    const nlst = (await download(c, 'NLST')).data.toString().split('\r\n').filter(Boolean).sort();
    expect(nlst).toEqual(['.hidden', 'hello.txt', 'ln', 'sub']);
    const one = (await download(c, 'LIST hello.txt')).data.toString();
    expect(one).toMatch(/ hello\.txt\r\n$/);
    const mlsd = (await download(c, 'MLSD')).data.toString();
    expect(mlsd).toMatch(
      /^type=file;size=12;modify=20231114221320;perm=awrdf;unique=[0-9a-f]{16}; hello\.txt\r$/m,
    );
    expect(mlsd).toMatch(/^type=dir;modify=\d{14};perm=elcmpdf;unique=[0-9a-f]{16}; sub\r$/m);
    expect(mlsd).toMatch(/^type=OS\.unix=slink:hello\.txt;.* ln\r$/m);
    expect((await download(c, 'MLSD hello.txt')).final).toBe(501);
    const mlst = await c.cmd('MLST hello.txt');
    expect(mlst.lines[0]).toBe('250-Listing /home/u/hello.txt');
    expect(mlst.lines[1]).toMatch(
      /^ type=file;size=12;modify=\d{14};perm=awrdf;unique=\w+; \/home\/u\/hello\.txt$/,
    );
    expect(mlst.lines[2]).toBe('250 End');
    expect((await c.cmd('OPTS MLST type;size;')).text).toBe('200 MLST OPTS type;size;');
    expect((await c.cmd('MLST sub')).lines[1]).toBe(' type=dir; /home/u/sub');
    expect((await c.cmd('FEAT')).lines).toContain(' MLST type*;size*;modify;perm;unique;');
    const stat = await c.cmd('STAT sub');
    expect(stat.lines).toEqual(['213-Status of /home/u/sub:', '213 End of status']);
  });

  it('DELE, MKD, RMD, RNFR/RNTO (posix-rename), MDTM, MFMT, SITE CHMOD', async () => {
    const { c, fake } = await loggedIn();
    expect((await c.cmd('MKD d')).text).toBe('257 "/home/u/d" directory created');
    expect((await c.cmd('MKD d')).text).toBe('550 /home/u/d: File exists');
    expect((await c.cmd('RNFR hello.txt')).code).toBe(350);
    expect((await c.cmd('RNTO d/h.txt')).code).toBe(250);
    expect(fake.calls).toContain('posix-rename');
    expect((await c.cmd('RMD d')).text).toBe('550 /home/u/d: Directory not empty');
    expect((await c.cmd('RNTO x')).code).toBe(503);
    expect((await c.cmd('MFMT 20200102030405 d/h.txt')).text).toBe(
      '213 Modify=20200102030405; /home/u/d/h.txt',
    );
    expect((await c.cmd('MDTM d/h.txt')).text).toBe('213 20200102030405');
    expect((await c.cmd('MFMT 2020 d/h.txt')).code).toBe(501);
    expect((await c.cmd('SITE CHMOD 600 d/h.txt')).code).toBe(200);
    expect((fake.nodes.get('/home/u/d/h.txt')?.mode ?? 0) & 0o777).toBe(0o600);
    expect((await c.cmd('SITE CHMOD abc d/h.txt')).code).toBe(501);
    expect((await c.cmd('DELE d/h.txt')).code).toBe(250);
    expect((await c.cmd('DELE d/h.txt')).text).toBe('550 /home/u/d/h.txt: No such file');
    expect((await c.cmd('RMD d')).code).toBe(250);
  });

  it('RNTO onto an existing file without posix-rename: an honest 550, both files kept', async () => {
    const { c, fake } = await loggedIn({}, (f) => f.put('/home/u/b', 'B'), { extensions: {} });
    await c.cmd('RNFR hello.txt');
    const r = await c.cmd('RNTO b');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/exists.*posix-rename/);
    expect(fake.file('/home/u/b')?.toString()).toBe('B');
    await c.cmd('RNFR hello.txt');
    expect((await c.cmd('RNTO c')).code).toBe(250);
    expect(fake.calls).toContain('rename');
  });

  it('SFTP failures: 550 with the reason, 451 for FAILURE, 552 for a full disk; one log line each', async () => {
    const { c, fake, logs } = await loggedIn({}, (f) => f.put('/home/u/ro.txt', 'x', 0o444));
    await c.cmd('TYPE I');
    expect((await c.cmd('RETR missing')).text).toBe('550 /home/u/missing: No such file');
    const denied = await upload(c, 'STOR ro.txt', Buffer.from('y'));
    expect(denied.text).toBe('550 /home/u/ro.txt: Permission denied');
    fake.failWritesAfter = { bytes: 10, code: 4, message: 'Failure' };
    const full = await upload(c, 'STOR full.bin', randomBytes(100_000));
    expect(full.code).toBe(552);
    fake.failWritesAfter = undefined;
    fake.failReadsAt = { offset: 0, code: 4, message: 'Failure' };
    const r = await download(c, 'RETR hello.txt');
    expect(r.final).toBe(451);
    const failures = logs.filter((l) => l.msg === 'SFTP request failed');
    expect(failures.map((l) => [l.command, l.reply])).toEqual([
      ['RETR', 550],
      ['STOR', 550],
      ['STOR', 552],
      ['RETR', 451],
    ]);
    expect((await c.cmd('NOOP')).code).toBe(200);
  });

  it('an upload the file system refuses lets the client finish sending, then it reads the 552', async () => {
    const { c, fake, logs } = await loggedIn();
    await c.cmd('TYPE I');
    const ok = await upload(c, 'STOR ok.bin', randomBytes(300_000));
    expect(ok.code).toBe(226);
    expect(logs.find((l) => l.msg === 'transfer complete' && l.command === 'STOR')?.bytes).toBe(300_000);
    fake.failWritesAfter = { bytes: 10, code: 4, message: 'Failure' };
    const d = await c.epsv();
    expect((await c.cmd('STOR full.bin')).code).toBe(150);
    // more than any socket buffers hold: without the drain the bridge's close resets this send
    const sent = new Promise<string>((resolve) => {
      d.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      d.end(randomBytes(48 * 1024 * 1024), () => resolve('sent'));
    });
    expect(await sent).toBe('sent');
    expect((await c.next()).code).toBe(552);
    expect((await c.cmd('NOOP')).code).toBe(200);
  });
});

describe('sftp bridge: data connections', () => {
  it('ABOR during a transfer: 426 then 226, the SFTP handle closed, the session usable after', async () => {
    const { c, fake } = await loggedIn({}, (f) => f.put('/home/u/big.bin', randomBytes(8 * 1024 * 1024)));
    await c.cmd('TYPE I');
    const d = await c.epsv();
    d.pause();
    expect((await c.cmd('RETR big.bin')).code).toBe(150);
    await new Promise((r) => setTimeout(r, 100));
    c.send('ABOR');
    expect((await c.next()).code).toBe(426);
    expect((await c.next()).code).toBe(226);
    const closes = fake.calls.filter((x) => x === 'close').length;
    const opens = fake.calls.filter((x) => x === 'open').length;
    expect(closes).toBe(opens);
    d.destroy();
    expect((await c.cmd('NOOP')).code).toBe(200);
    expect((await download(c, 'RETR hello.txt')).final).toBe(226);
    expect((await c.cmd('ABOR')).code).toBe(225);
  });

  it('STAT during a transfer answers at once with its progress; other commands wait for the 226', async () => {
    const { c, fake } = await loggedIn({}, (f) => f.put('/home/u/big.bin', randomBytes(4 * 1024 * 1024)));
    await c.cmd('TYPE I');
    const d = await c.epsv();
    const got = readAll(d);
    fake.stallReads = true;
    expect((await c.cmd('RETR big.bin')).code).toBe(150);
    c.send('NOOP');
    const stat = await c.cmd('STAT');
    expect(stat.code).toBe(211);
    expect(stat.text).toMatch(/Transferring: RETR \/home\/u\/big\.bin, \d+ bytes so far/);
    expect(c.queued()).toBe(0); // NOOP's reply has not come: it waits
    fake.release();
    expect((await got).length).toBe(4 * 1024 * 1024);
    expect((await c.next()).code).toBe(226);
    expect((await c.next()).code).toBe(200);
  });

  it("Python ftplib's urgent ABOR (ABOR\\r, its LF lost) is recognised", async () => {
    const { c } = await loggedIn({}, (f) => f.put('/home/u/big.bin', randomBytes(8 * 1024 * 1024)));
    const d = await c.epsv();
    d.pause();
    await c.cmd('RETR big.bin');
    c.send(Buffer.from('\xff\xf4\xffABOR\r', 'latin1'));
    expect((await c.next()).code).toBe(426);
    expect((await c.next()).code).toBe(226);
    c.send(Buffer.from('\nNOOP\r\n'));
    expect((await c.next()).code).toBe(200);
    d.destroy();
  });

  it('a data connection the FTP client drops mid-transfer is a 426, and the session goes on', async () => {
    const { c } = await loggedIn({}, (f) => f.put('/home/u/big.bin', randomBytes(16 * 1024 * 1024)));
    const d = await c.epsv();
    await c.cmd('RETR big.bin');
    await new Promise((r) => d.once('data', r));
    d.resetAndDestroy();
    expect((await c.next()).code).toBe(426);
    expect((await c.cmd('PWD')).code).toBe(257);
  });

  it('PASV: 227 with the address the client reached; a connection from another address is refused', async () => {
    const { c, logs } = await loggedIn();
    const r = await c.cmd('PASV');
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r.text)!;
    expect(m.slice(1, 5).join('.')).toBe('127.0.0.1');
    const port = Number(m[5]) * 256 + Number(m[6]);
    const intruder = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    intruder.on('error', () => {});
    await new Promise((res) => intruder.once('close', res));
    expect(
      logs.some((l) => l.msg === 'data connection from another address than the FTP client refused'),
    ).toBe(true);
    const d = await dataConnect(port);
    const got = readAll(d);
    expect((await c.cmd('RETR hello.txt')).code).toBe(150);
    expect((await got).toString()).toBe('hello\r\nworld\r\n');
    expect((await c.next()).code).toBe(226);
  });

  it('--advertise goes into 227; EPSV ALL then refuses PASV', async () => {
    const { c } = await loggedIn({ advertise: '203.0.113.7' });
    expect((await c.cmd('PASV')).text).toMatch(/\(203,0,113,7,\d+,\d+\)/);
    expect((await c.cmd('EPSV 2')).code).toBe(522);
    expect((await c.cmd('EPSV ALL')).code).toBe(200);
    expect((await c.cmd('PASV')).code).toBe(503);
    expect((await c.cmd('EPSV')).code).toBe(229);
  });

  it('PORT/EPRT: to the client itself and a port >= 1024 only (no FTP bounce)', async () => {
    const { c } = await loggedIn();
    expect((await c.cmd('PORT 192,0,2,1,200,10')).text).toMatch(/^500 Illegal PORT command: .*own address/);
    expect((await c.cmd('EPRT |1|127.0.0.1|21|')).text).toMatch(
      /^500 Illegal EPRT command: port 21 is below 1024/,
    );
    expect((await c.cmd('PORT 1,2,3')).code).toBe(501);
    const l = await RawFtp.activeListener();
    cleanups.push(() => l.server.close());
    expect((await c.cmd(`EPRT |1|127.0.0.1|${l.port}|`)).code).toBe(200);
    expect((await c.cmd('RETR hello.txt')).code).toBe(150);
    expect((await readAll(await l.accepted)).toString()).toBe('hello\r\nworld\r\n');
    expect((await c.next()).code).toBe(226);
  });

  it('a transfer without PASV/PORT first is 425, not a hang; an unused passive listener expires', async () => {
    const { c } = await loggedIn();
    expect((await c.cmd('RETR hello.txt')).code).toBe(425);
    await c.cmd('EPSV');
    const r = await c.cmd('RETR hello.txt');
    expect(r.code).toBe(150);
    expect((await c.next(5000)).code).toBe(425);
  });

  it('the session’s data-port range is used for passive listeners', async () => {
    const { c } = await loggedIn({ dataPorts: { lo: 41000, hi: 41009 } });
    const r = await c.cmd('EPSV');
    const port = Number(/\|(\d+)\|/.exec(r.text)?.[1]);
    expect(port).toBeGreaterThanOrEqual(41000);
    expect(port).toBeLessThanOrEqual(41009);
  });
});

describe('sftp bridge: the jail', () => {
  const jailFs = (f: FakeSftp) => {
    f.mkdirp('/srv/jail/sub');
    f.put('/srv/jail/in.txt', 'inside');
    f.put('/etc/passwd', 'root:x:0:0');
    f.link('/srv/jail/out', '/etc');
    f.link('/srv/jail/outfile', '/etc/passwd');
    f.link('/srv/jail/dangling', '/tmp/newfile');
    f.link('/srv/jail/subln', 'sub');
  };

  it('/ is the jail; .., absolute paths and links out of it are refused', async () => {
    const { c, fake } = await loggedIn({ remoteDir: '/srv/jail', jail: true }, jailFs);
    expect((await c.cmd('PWD')).text).toBe('257 "/" is the current directory');
    expect((await c.cmd('CWD ..')).text).toBe('550 path leaves the jail: ..');
    expect((await c.cmd('CDUP')).code).toBe(550);
    expect((await c.cmd('RETR ../../etc/passwd')).code).toBe(550);
    expect((await c.cmd('SIZE /etc/passwd')).code).toBe(550); // /etc/passwd inside the jail: none
    expect((await c.cmd('CWD out')).text).toBe('550 path leaves the jail: out');
    expect((await c.cmd('SIZE outfile')).text).toBe('550 path leaves the jail: outfile');
    expect((await c.cmd('MKD out/x')).code).toBe(550);
    expect((await c.cmd('DELE ../x')).code).toBe(550);
    expect((await c.cmd('RMD /')).code).toBe(550);
    expect((await upload(c, 'STOR dangling', Buffer.from('x'))).code).toBe(550);
    expect((await upload(c, 'STOR out/evil', Buffer.from('x'))).code).toBe(550);
    expect((await download(c, 'LIST out')).final).toBe(550);
    expect(fake.file('/tmp/newfile')).toBeUndefined();
    // inside is fine, links inside too, and PWD stays virtual
    expect((await c.cmd('CWD subln')).text).toBe('250 Directory changed to /sub');
    expect((await c.cmd('CWD /')).code).toBe(250);
    expect((await c.cmd('SIZE /in.txt')).text).toBe('213 6');
    expect((await c.cmd('TYPE I')).code).toBe(200);
    expect((await upload(c, 'STOR sub/new.bin', Buffer.from('n'))).code).toBe(226);
    expect(fake.file('/srv/jail/sub/new.bin')?.toString()).toBe('n');
    expect((await c.cmd('DELE out')).code).toBe(250); // removes the link, not /etc
    expect(fake.nodes.has('/etc/passwd')).toBe(true);
  });
});

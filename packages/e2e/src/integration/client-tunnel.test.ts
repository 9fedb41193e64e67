import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect, FtpfwdError } from '@ftpfwd/client';
import { createSshServer, loadHostKey, parseAuthorizedKeys, type SshServer } from '@ftpfwd/sshd';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shaRoundTrip, startShaServer } from './support/echo.js';
import { FtpControl } from './support/ftp-control.js';
import { Cleanup, keygen, run, sha256, sha256File, startFtpSrv, tempDir } from './support/procs.js';

/** The library API against an in-process @ftpfwd/sshd. */
let c: Cleanup;
let dir: string;
let server: SshServer;
let port: number;
let knownHosts: string;
let userKey: string;

beforeEach(async () => {
  c = new Cleanup();
  dir = tempDir(c);
  const host = keygen(join(dir, 'hostkey'));
  const user = keygen(join(dir, 'userkey'));
  userKey = user.priv;
  server = createSshServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    hostKeys: [loadHostKey(host.priv)],
    authorizedKeys: parseAuthorizedKeys(`${user.pub}\n`).keys,
  });
  const [addr] = await server.start();
  port = addr?.port ?? 0;
  c.add(() => server.stop(0));
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${host.pub.split(' ').slice(0, 2).join(' ')}\n`);
});
afterEach(async () => {
  await c.run();
});

const opts = () => ({
  host: '127.0.0.1',
  port,
  username: 'tester',
  identityFiles: [userKey],
  agent: false as const,
  knownHostsFiles: [knownHosts],
  globalKnownHostsFiles: [],
  strictHostKeyChecking: 'yes' as const,
  batchMode: true,
});

describe('connect() / Tunnel', () => {
  it('forwards ftp/ and tcp/ set up from code, port 0 gives a free port', async () => {
    const t = await connect(opts());
    c.add(() => t.close());
    const root = tempDir(c);
    const file = randomBytes(512 * 1024);
    writeFileSync(join(root, 'file.bin'), file);
    const ftp = await startFtpSrv(c, root);
    const f = await t.forward('-L', `ftp/127.0.0.1:0:127.0.0.1:${ftp}`);
    expect(f.listen.port).toBeGreaterThan(0);
    expect(f.describe()).toBe(`ftp 127.0.0.1:${f.listen.port} -> 127.0.0.1:${ftp}`);
    const down = join(tempDir(c), 'lib.bin');
    const r = await run('curl', [
      '-sS',
      '--interface',
      '127.0.0.2',
      `ftp://127.0.0.1:${f.listen.port}/file.bin`,
      '-o',
      down,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256File(down)).toBe(sha256(file));

    const echo = await startShaServer(c);
    const tf = await t.forward('L', `0:127.0.0.1:${echo.port}`);
    const payload = randomBytes(100_000);
    expect(await shaRoundTrip(tf.listen.port, payload)).toBe(sha256(payload));
    const metrics = await t.metrics.registry.metrics();
    expect(metrics).toMatch(/ftpfwd_sessions_total\{protocol="ftp",direction="local"\} 1/);
    await t.close();
  });

  it('rejects with typed errors: unknown host key, bad forward spec', async () => {
    await expect(connect({ ...opts(), knownHostsFiles: [join(dir, 'none')] })).rejects.toMatchObject({
      code: 'host-key-unknown',
    });
    const t = await connect(opts());
    c.add(() => t.close());
    await expect(t.forward('-L', 'nonsense')).rejects.toBeInstanceOf(FtpfwdError);
    // A port already taken: forward-failed naming the address.
    const f = await t.forward('-L', '127.0.0.1:0:127.0.0.1:9');
    await expect(t.forward('-L', `127.0.0.1:${f.listen.port}:127.0.0.1:9`)).rejects.toThrow(
      /address already in use/,
    );
    expect(readFileSync(knownHosts, 'utf8')).toContain('[127.0.0.1]');
  });
});

describe('link loss (library)', () => {
  it('while the link is down a new FTP client waits (bounded), then gets 421; the down event fires', async () => {
    const t = await connect({
      ...opts(),
      linkWaitMs: 300,
      reconnectInitialDelayMs: 100,
      reconnectMaxDelayMs: 200,
    });
    c.add(() => t.close());
    const f = await t.forward('-L', 'ftp/127.0.0.1:0:127.0.0.1:21');
    const down = new Promise((r) => t.once('down', r));
    await server.stop(0);
    await down;
    const ctl = await FtpControl.connect(f.listen.port);
    c.add(() => ctl.close());
    expect(await ctl.reply()).toBe('421 Service not available, SSH link down');
    await ctl.waitClosed();
    expect(await t.metrics.registry.getSingleMetricAsString('ftpfwd_link_up')).toMatch(/ftpfwd_link_up 0/);
  });
});

describe('passive data listeners', () => {
  function pasvPort(reply: string): number {
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(reply);
    if (!m) throw new Error(`not a 227: ${reply}`);
    return Number(m[5]) * 256 + Number(m[6]);
  }
  function tryConnect(port: number, localAddress: string): Promise<Socket | undefined> {
    return new Promise((r) => {
      const s = netConnect({ port, host: '127.0.0.1', localAddress });
      s.once('connect', () => r(s));
      s.once('error', () => r(undefined));
    });
  }

  it("accept only the FTP client's own address (data-port theft refused), then serve the client", async () => {
    const t = await connect(opts());
    c.add(() => t.close());
    const root = tempDir(c);
    writeFileSync(join(root, 'secret.txt'), 'top secret\n');
    const ftp = await startFtpSrv(c, root);
    const f = await t.forward('-L', `ftp/127.0.0.1:0:127.0.0.1:${ftp}`);
    const ctl = await FtpControl.connect(f.listen.port, '127.0.0.1', '127.0.0.2');
    c.add(() => ctl.close());
    await ctl.login();
    const port = pasvPort(await ctl.cmd('PASV'));
    // Another host on the LAN races for the data port: it is hung up on.
    const thief = await tryConnect(port, '127.0.0.3');
    if (thief) {
      const closed = await new Promise<string>((r) => {
        let got = '';
        thief.on('data', (d) => {
          got += d.toString();
        });
        thief.on('close', () => r(got));
        thief.on('error', () => {});
      });
      expect(closed).toBe('');
    }
    // The FTP client itself still gets its data.
    const data = await tryConnect(port, '127.0.0.2');
    expect(data).toBeDefined();
    const body = new Promise<string>((r) => {
      let got = '';
      data?.on('data', (d) => {
        got += d.toString();
      });
      data?.on('close', () => r(got));
    });
    expect(await ctl.cmd('RETR secret.txt')).toMatch(/^150 /);
    expect(await body).toBe('top secret\n');
    expect(await ctl.reply()).toMatch(/^226 /);
  });

  /**
   * A scripted FTP server: logs in anyone, answers PASV with a data listener of its own and hands
   * each data connection to `onData`, so a test sees when the tunnel connects it.
   */
  async function scriptedFtpServer(onData: (sock: Socket) => void): Promise<number> {
    const data = createServer((sock) => {
      sock.on('error', () => {});
      onData(sock);
    });
    await new Promise<void>((r) => data.listen(0, '127.0.0.1', r));
    const dataPort = (data.address() as AddressInfo).port;
    const ctl = createServer((sock) => {
      sock.on('error', () => {});
      sock.write('220 scripted\r\n');
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
          const verb = buf.slice(0, i).split(' ')[0]?.toUpperCase();
          buf = buf.slice(i + 2);
          if (verb === 'USER') sock.write('331 password\r\n');
          else if (verb === 'PASS') sock.write('230 in\r\n');
          else if (verb === 'PASV')
            sock.write(`227 Entering Passive Mode (127,0,0,1,${dataPort >> 8},${dataPort & 255})\r\n`);
          else sock.write('502 not here\r\n');
        }
      });
    });
    await new Promise<void>((r) => ctl.listen(0, '127.0.0.1', r));
    c.add(() => {
      ctl.close();
      data.close();
    });
    return (ctl.address() as AddressInfo).port;
  }

  it('opens the channel to the FTP server ahead of the client; an unused one closes with its listener', async () => {
    const t = await connect({ ...opts(), ftp: { dataIdleTimeoutMs: 500 } });
    c.add(() => t.close());
    const events: string[] = [];
    const closed = new Promise<void>((r) => {
      void scriptedFtpServer((sock) => {
        events.push('server side connected');
        sock.on('close', () => {
          events.push('server side closed');
          r();
        });
      }).then(async (ftp) => {
        const f = await t.forward('-L', `ftp/127.0.0.1:0:127.0.0.1:${ftp}`);
        const ctl = await FtpControl.connect(f.listen.port, '127.0.0.1', '127.0.0.2');
        c.add(() => ctl.close());
        await ctl.login();
        pasvPort(await ctl.cmd('PASV'));
        events.push('227 seen');
      });
    });
    await closed;
    // The FTP client never connected: the data connection to the server came from the channel
    // opened ahead, and it went when the listener expired.
    expect(events).toContain('server side connected');
    expect(events.at(-1)).toBe('server side closed');
  });

  it('keeps what the FTP server sent before the FTP client connected', async () => {
    const t = await connect(opts());
    c.add(() => t.close());
    const payload = randomBytes(300 * 1024);
    // A server that sends at once and hangs up (as after an early RETR), before the client is there.
    const ftp = await scriptedFtpServer((sock) => sock.end(payload));
    const f = await t.forward('-L', `ftp/127.0.0.1:0:127.0.0.1:${ftp}`);
    const ctl = await FtpControl.connect(f.listen.port, '127.0.0.1', '127.0.0.2');
    c.add(() => ctl.close());
    await ctl.login();
    const port = pasvPort(await ctl.cmd('PASV'));
    await new Promise((r) => setTimeout(r, 300));
    const data = await tryConnect(port, '127.0.0.2');
    expect(data).toBeDefined();
    const got = await new Promise<Buffer>((r) => {
      const parts: Buffer[] = [];
      data?.on('data', (d: Buffer) => parts.push(d));
      data?.on('close', () => r(Buffer.concat(parts)));
    });
    expect(sha256(got)).toBe(sha256(payload));
  });

  it('an unused listener closes after the idle timeout', async () => {
    const t = await connect({ ...opts(), ftp: { dataIdleTimeoutMs: 300 } });
    c.add(() => t.close());
    const ftp = await startFtpSrv(c, tempDir(c));
    const f = await t.forward('-L', `ftp/127.0.0.1:0:127.0.0.1:${ftp}`);
    const ctl = await FtpControl.connect(f.listen.port, '127.0.0.1', '127.0.0.2');
    c.add(() => ctl.close());
    await ctl.login();
    const port = pasvPort(await ctl.cmd('PASV'));
    let open = true;
    for (let i = 0; i < 100 && open; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const s = await tryConnect(port, '127.0.0.2');
      open = s !== undefined;
      s?.destroy();
    }
    expect(open).toBe(false);
  });
});

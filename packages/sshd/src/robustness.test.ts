/**
 * Limits and hostile clients: each misbehaving client ends only its own connection; limits refuse
 * what is beyond them and say so; GatewayPorts decides where remote listeners bind.
 */
import { createServer, connect as netConnect, type Socket } from 'node:net';
import pino from 'pino';
import type ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPEN_FAILURE } from './connection.js';
import { loadHostKey } from './host-keys.js';
import { createSshServer } from './server.js';
import {
  freePort,
  pubLine,
  Scope,
  sha256,
  ssh2Client,
  sshKeygen,
  startEcho,
  startServer,
  type TestServer,
  tempDir,
  waitFor,
} from './test-support/harness.js';
import type { SshServerOptions } from './types.js';

let scope: Scope;
let dir: string;
let userKey: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
  userKey = sshKeygen(dir, 'user');
});
afterEach(() => scope.close());

async function server(opts: Partial<SshServerOptions> = {}): Promise<TestServer> {
  return startServer(scope, dir, { authorizedKeysText: pubLine(userKey), ...opts });
}

/** An ssh2 client logged in as `u`. */
const client = (t: TestServer): Promise<ssh2.Client> => ssh2Client(scope, t, userKey, { username: 'u' });

function open(c: ssh2.Client, port: number): Promise<ClientChannel | (Error & { reason?: number })> {
  return new Promise((resolve) =>
    c.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (err, ch) => resolve(err ?? ch)),
  );
}

async function echoThrough(c: ssh2.Client, port: number): Promise<boolean> {
  const ch = await open(c, port);
  if (ch instanceof Error) return false;
  const data = Buffer.from(`ping ${Math.random()}`);
  const back = await new Promise<Buffer>((resolve) => {
    const parts: Buffer[] = [];
    ch.on('data', (d: Buffer) => {
      parts.push(d);
      if (Buffer.concat(parts).length >= data.length) resolve(Buffer.concat(parts));
    });
    ch.write(data);
  });
  ch.close();
  return sha256(back) === sha256(data);
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port });
    scope.add(() => {
      s.destroy();
    });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const closedPromise = (s: Socket): Promise<void> =>
  new Promise((resolve) => {
    if (s.destroyed) resolve();
    s.once('close', () => resolve());
    s.on('error', () => {});
  });

describe('hostile and broken clients', () => {
  it('garbage instead of SSH ends that connection only', async () => {
    const echo = await startEcho(scope);
    const t = await server();
    const good = await client(t);
    const bad = await rawSocket(t.port);
    bad.on('data', () => {});
    const closed = closedPromise(bad);
    bad.write('SSH-2.0-evil\r\n');
    bad.write(Buffer.alloc(4096, 0xff));
    await closed;
    const bad2 = await rawSocket(t.port);
    bad2.on('data', () => {});
    const closed2 = closedPromise(bad2);
    bad2.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    bad2.end();
    await closed2;
    expect(await echoThrough(good, echo)).toBe(true);
  });

  it('a client that never logs in is dropped after the login grace time', async () => {
    const t = await server({ limits: { loginGraceTimeMs: 300 } });
    const idle = await rawSocket(t.port);
    idle.on('data', () => {});
    await closedPromise(idle);
    expect(t.logs.find((l) => l.event === 'login-grace-expired')).toBeDefined();
  });

  it('unsupported requests and channel types are refused; the connection goes on', async () => {
    const echo = await startEcho(scope);
    const t = await server();
    const c = await client(t);
    const streamlocal = await new Promise<Error | undefined>((resolve) =>
      c.openssh_forwardOutStreamLocal('/tmp/nothing.sock', (err) => resolve(err ?? undefined)),
    );
    expect(streamlocal).toBeInstanceOf(Error);
    const sl = await new Promise<Error | undefined>((resolve) =>
      c.openssh_forwardInStreamLocal('/tmp/x.sock', (err) => resolve(err ?? undefined)),
    );
    expect(sl).toBeInstanceOf(Error);
    // A port it cannot bind (privileged or taken): refused, nothing else happens.
    const taken = await new Promise<Error | number>((resolve) =>
      c.forwardIn('127.0.0.1', t.port, (err, p) => resolve(err ?? p)),
    );
    expect(taken).toBeInstanceOf(Error);
    expect(await echoThrough(c, echo)).toBe(true);
  });

  it('out-of-range ports and control characters in addresses are refused, not thrown', async () => {
    const echo = await startEcho(scope);
    const t = await server();
    const c = await client(t);
    const bigPort = await new Promise<Error | undefined>((resolve) =>
      c.forwardOut('127.0.0.1', 0, '127.0.0.1', 70000, (err, ch) => {
        ch?.close();
        resolve(err ?? undefined);
      }),
    );
    expect((bigPort as Error & { reason?: number }).reason).toBe(OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED);
    const badHost = await new Promise<Error | undefined>((resolve) =>
      c.forwardOut('127.0.0.1', 0, '127.0.0.1\n', echo, (err, ch) => {
        ch?.close();
        resolve(err ?? undefined);
      }),
    );
    expect(badHost).toBeInstanceOf(Error);
    expect(await new Promise((r) => c.forwardIn('127.0.0.1', 70000, (err) => r(err)))).toBeInstanceOf(Error);
    expect(await echoThrough(c, echo)).toBe(true);
  });
});

describe('a client whose link dies', () => {
  it("resets the target's connection instead of ending it cleanly: a cut stream must not look complete", async () => {
    // What the target saw of its connection: a clean end (FIN) or a reset.
    let seen: string | undefined;
    let got = 0;
    const accepted: Socket[] = [];
    const target = createServer({ allowHalfOpen: true }, (s) => {
      accepted.push(s);
      s.on('data', (d: Buffer) => {
        got += d.length;
      });
      s.on('end', () => {
        seen ??= 'end';
      });
      s.on('error', (e: NodeJS.ErrnoException) => {
        seen ??= e.code ?? e.message;
      });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    scope.add(
      () =>
        new Promise<void>((r) => {
          for (const s of accepted) s.destroy();
          target.close(() => r());
        }),
    );
    const targetPort = (target.address() as { port: number }).port;
    const t = await server();
    // The test holds the TCP connection the client runs on, so it can cut it.
    const link = netConnect(t.port, '127.0.0.1');
    await new Promise((r) => link.once('connect', r));
    const c = await ssh2Client(scope, t, userKey, { username: 'u', sock: link });
    c.on('error', () => {});
    const ch = await open(c, targetPort);
    if (ch instanceof Error) throw ch;
    ch.on('error', () => {});
    ch.write(Buffer.alloc(64 * 1024, 7));
    await waitFor(() => (got >= 64 * 1024 ? true : undefined), 5_000);
    // The link dies: no EOF, no CHANNEL_CLOSE, the TCP connection is just gone.
    link.destroy();
    await waitFor(() => seen, 5_000);
    expect(seen).toBe('ECONNRESET');
  });
});

describe('limits', () => {
  it('max connections caps logged-in connections: the next login is refused and logged', async () => {
    const t = await server({ limits: { maxConnections: 2 } });
    const a = await client(t);
    await client(t);
    await expect(client(t)).rejects.toThrow();
    expect(
      t.logs.find((l) => l.event === 'connection-refused' && String(l.reason).includes('max-connections 2')),
    ).toBeDefined();
    // Connections that have not logged in do not count: they are MaxStartups' (preauth.test.ts).
    const idle = await rawSocket(t.port);
    idle.on('data', () => {});
    a.end();
    await waitFor(() => t.server.stats.loggedIn < 2, 5_000, 'slot freed');
    expect(await client(t)).toBeDefined();
  });

  it('max channels per connection: the next channel is refused with "resource shortage"', async () => {
    const echo = await startEcho(scope);
    const t = await server({ limits: { maxChannelsPerConnection: 2 } });
    const c = await client(t);
    const first = await open(c, echo);
    const second = await open(c, echo);
    expect(first).not.toBeInstanceOf(Error);
    expect(second).not.toBeInstanceOf(Error);
    const third = await open(c, echo);
    expect(third).toBeInstanceOf(Error);
    expect((third as Error & { reason?: number }).reason).toBe(OPEN_FAILURE.RESOURCE_SHORTAGE);
    (first as ClientChannel).close();
    await waitFor(
      async () => {
        const again = await open(c, echo);
        if (again instanceof Error) return false;
        again.close();
        return true;
      },
      5_000,
      'channel freed',
    );
  });

  it('idle timeout closes a connection with no traffic', async () => {
    const t = await server({ limits: { idleTimeoutMs: 300 } });
    const c = await client(t);
    await new Promise<void>((resolve) => c.once('close', () => resolve()));
    expect(t.logs.find((l) => l.event === 'idle-timeout')).toBeDefined();
  });

  it('allow-tcp-forwarding local refuses remote forwards; remote refuses local ones', async () => {
    const echo = await startEcho(scope);
    const t = await server({ allowTcpForwarding: 'local' });
    const c = await client(t);
    expect(await new Promise((r) => c.forwardIn('127.0.0.1', 0, (err) => r(err)))).toBeInstanceOf(Error);
    expect(await echoThrough(c, echo)).toBe(true);
    const t2 = await server({ allowTcpForwarding: 'remote' });
    const c2 = await client(t2);
    const refused = await open(c2, echo);
    expect((refused as Error & { reason?: number }).reason).toBe(OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED);
  });
});

describe('GatewayPorts', () => {
  const boundFor = async (mode: 'no' | 'yes' | 'clientspecified', addr: string): Promise<string> => {
    const t = await server({ gatewayPorts: mode });
    const c = await client(t);
    const port = await new Promise<number>((resolve, reject) =>
      c.forwardIn(addr, 0, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const line = await waitFor(() =>
      t.logs.find((l) => l.event === 'forward' && l.kind === 'tcpip-forward' && l.allowed === true),
    );
    expect(String(line.listen)).toMatch(new RegExp(`:${port}$`));
    return String(line.listen).replace(/:\d+$/, '');
  };

  // Only loopback binds here (tests listen on nothing else); the wildcard cases are unit-tested.
  it('no: loopback whatever the client asks; clientspecified: as asked', async () => {
    expect(await boundFor('no', '0.0.0.0')).toBe('127.0.0.1');
    expect(await boundFor('no', '127.0.0.2')).toBe('127.0.0.1');
    expect(await boundFor('clientspecified', '127.0.0.2')).toBe('127.0.0.2');
    expect(await boundFor('clientspecified', 'localhost')).toBe('127.0.0.1');
  });

  it('clientspecified: one port on two addresses are two forwards; cancelling one leaves the other', async () => {
    const t = await server({ gatewayPorts: 'clientspecified' });
    const c = await client(t);
    const port = await new Promise<number>((resolve, reject) =>
      c.forwardIn('127.0.0.2', 0, (err, p) => (err ? reject(err) : resolve(p))),
    );
    await new Promise<void>((resolve, reject) =>
      c.forwardIn('127.0.0.3', port, (err) => (err ? reject(err) : resolve())),
    );
    const arrivals: string[] = [];
    c.on('tcp connection', (info, accept) => {
      arrivals.push(info.destIP);
      accept().end();
    });
    const knock = (host: string): Promise<boolean> =>
      new Promise((resolve) => {
        const s = netConnect({ host, port });
        s.once('error', () => resolve(false));
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
      });
    expect(await knock('127.0.0.2')).toBe(true);
    expect(await knock('127.0.0.3')).toBe(true);
    await new Promise<void>((resolve, reject) =>
      c.unforwardIn('127.0.0.2', port, (err) => (err ? reject(err) : resolve())),
    );
    expect(await knock('127.0.0.2')).toBe(false);
    expect(await knock('127.0.0.3')).toBe(true);
    await waitFor(() => arrivals.length >= 3, 5_000, 'forwarded connections');
    expect(arrivals).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.3']);
  });
});

describe('stop during start-up', () => {
  it('stop() called while start() binds leaves no listener behind and both settle', async () => {
    const hostKeyPath = sshKeygen(dir, 'host-early');
    const ports = [await freePort(), await freePort()];
    const srv = createSshServer({
      listen: ports.map((port) => ({ host: '127.0.0.1', port })),
      hostKeys: [loadHostKey(hostKeyPath)],
      authorizedKeys: [],
      logger: pino({ level: 'silent' }),
    });
    const started = srv.start();
    const stopped = srv.stop(500);
    await Promise.all([started, stopped]);
    for (const port of ports) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port });
        s.once('connect', () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
      expect({ port, refused }).toEqual({ port, refused: true });
    }
  });
});

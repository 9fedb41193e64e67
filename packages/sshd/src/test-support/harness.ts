/**
 * Test helpers: temp dirs with OpenSSH keys, an in-process server on a free loopback port with its
 * logs captured, the real OpenSSH client, an echo server. Everything registers its own cleanup.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import ssh2 from 'ssh2';
import { parseAuthorizedKeys } from '../authorized-keys.js';
import { fingerprintOf, loadHostKey } from '../host-keys.js';
import { createSshServer, type SshServer } from '../server.js';
import type { SshServerOptions } from '../types.js';

export type Cleanup = () => void | Promise<void>;

export class Scope {
  private readonly cleanups: Cleanup[] = [];
  add(fn: Cleanup): void {
    this.cleanups.push(fn);
  }
  async close(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {}
    }
  }
}

export function tempDir(scope: Scope, prefix = 'sshd-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scope.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An OpenSSH key pair written by ssh-keygen: returns the private key path (`.pub` next to it). */
export function sshKeygen(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): string {
  const path = join(dir, name);
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', `${name}@test`, '-f', path]);
  return path;
}

export const pubLine = (keyPath: string): string => readFileSync(`${keyPath}.pub`, 'utf8').trim();

/** A writable that keeps pino's JSON lines for assertions. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    cb();
  }
  find(pred: (l: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return this.lines.find(pred);
  }
}

export interface TestServer {
  server: SshServer;
  port: number;
  hostKeyPath: string;
  knownHosts: string;
  logs: LogCapture;
}

/**
 * Start an in-process server on 127.0.0.1:0. `authorizedKeys` text is parsed as a file would be;
 * a fresh host key is made and a known_hosts file for it written.
 */
export async function startServer(
  scope: Scope,
  dir: string,
  opts: Partial<SshServerOptions> & { authorizedKeysText?: string } = {},
): Promise<TestServer> {
  const hostKeyPath = sshKeygen(dir, `host-${Math.random().toString(36).slice(2)}`);
  const logs = new LogCapture();
  const { authorizedKeysText, ...rest } = opts;
  const server = createSshServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    hostKeys: [loadHostKey(hostKeyPath)],
    authorizedKeys: authorizedKeysText ? parseAuthorizedKeys(authorizedKeysText, 'authorized_keys').keys : [],
    logger: pino({ level: 'debug' }, logs),
    penalties: { authfailMs: 0, noauthMs: 0, graceExceededMs: 0 },
    ...rest,
  });
  const [addr] = await server.start();
  scope.add(() => server.stop(500));
  const port = addr!.port;
  const knownHosts = join(dir, `known_hosts-${port}`);
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pubLine(hostKeyPath).split(' ').slice(0, 2).join(' ')}\n`);
  return { server, port, hostKeyPath, knownHosts, logs };
}

export interface SshRun {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Run the real OpenSSH client against a test server; the process is killed on cleanup. */
export function runSsh(
  scope: Scope,
  t: { port: number; knownHosts: string },
  args: string[],
  extra: { identity?: string; env?: NodeJS.ProcessEnv; batch?: boolean } = {},
): SshRun {
  const base = [
    '-p',
    String(t.port),
    '-o',
    `UserKnownHostsFile=${t.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'ConnectTimeout=10',
    '-F',
    '/dev/null',
  ];
  if (extra.batch !== false) base.push('-o', 'BatchMode=yes');
  if (extra.identity) base.push('-i', extra.identity);
  const child = spawn('ssh', [...base, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: extra.env ?? process.env,
    // A new session: no controlling terminal, so ssh asks SSH_ASKPASS instead of a TTY.
    detached: true,
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const exited = exitedWithOutput(child);
  scope.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
  return { child, stderr: () => err, exited };
}

/** Poll `check` every 50 ms until it returns a value, at most `ms`. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export function waitForPort(port: number, ms = 15_000): Promise<true> {
  return waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    ms,
    `port ${port}`,
  );
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/** An echo server on 127.0.0.1 (port 0 = free). */
export async function startEcho(scope: Scope): Promise<number> {
  const sockets = new Set<Socket>();
  const srv: Server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  scope.add(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  );
  const addr = srv.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/**
 * OpenSSH's `ssh -v -N -L` through a test server to a fresh echo server, with `options` (`-o …`)
 * before the forward; resolves once the local port listens. `ssh.stderr()` holds ssh's debug lines.
 */
export async function echoThroughSsh(
  scope: Scope,
  t: TestServer,
  userKey: string,
  options: string[] = [],
): Promise<{ local: number; ssh: SshRun }> {
  const echo = await startEcho(scope);
  const local = await freePort();
  const ssh = runSsh(
    scope,
    t,
    [
      '-v',
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      ...options,
      '-L',
      `127.0.0.1:${local}:127.0.0.1:${echo}`,
      'anyone@127.0.0.1',
    ],
    { identity: userKey },
  );
  await waitForPort(local);
  return { local, ssh };
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Send `size` random bytes to 127.0.0.1:port, half-close, and return what came back with the sent
 * bytes. Rejects only if the connection itself is refused.
 */
export function echoRoundTrip(port: number, size: number): Promise<{ sent: Buffer; got: Buffer }> {
  const sent = randomBytes(size);
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`echo via port ${port}: no complete answer within 20 s`));
    }, 20_000);
    s.on('data', (d: Buffer) => chunks.push(d));
    let connected = false;
    s.once('error', (e) => {
      clearTimeout(timer);
      // Refused before connecting: an error. Reset after connecting (a refused forward): the bytes so far.
      if (connected) resolve({ sent, got: Buffer.concat(chunks) });
      else reject(e);
    });
    s.once('end', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ sent, got: Buffer.concat(chunks) });
    });
    s.once('connect', () => {
      connected = true;
      s.end(sent);
    });
  });
}

/**
 * A plain ssh2 client logged in to a test server with `userKey`, verifying the server's host key by
 * its fingerprint; ended on cleanup.
 */
export async function ssh2Client(
  scope: Scope,
  t: TestServer,
  userKey: string,
  /** `sock`: a TCP connection to the server the test holds (to cut the link itself). */
  opts: { username?: string; algorithms?: ssh2.Algorithms; sock?: Socket } = {},
): Promise<ssh2.Client> {
  const expected = loadHostKey(t.hostKeyPath).fingerprint;
  const client = new ssh2.Client();
  scope.add(() => {
    client.end();
  });
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: t.port,
      username: opts.username ?? 'anyone',
      privateKey: readFileSync(userKey),
      hostVerifier: (key: Buffer) => fingerprintOf(key) === expected,
      ...(opts.algorithms ? { algorithms: opts.algorithms } : {}),
      ...(opts.sock ? { sock: opts.sock } : {}),
    });
  });
  client.setNoDelay(true);
  return client;
}

/**
 * Resolves with a child's exit code once its output has been read too: 'exit' can come before the
 * last bytes on its pipes, 'close' waits for them. A grandchild holding a pipe open must not hold
 * the test, so 'exit' plus two seconds settles it as well.
 */
export function exitedWithOutput(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('close', (code: number | null) => resolve(code));
    child.once('exit', (code) => setTimeout(() => resolve(code), 2000).unref());
  });
}

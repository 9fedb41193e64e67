import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../../../../..');
export const FTPFWD_BIN = join(REPO, 'packages/client/bin/ftpfwd.js');

/** Everything a test started, torn down in reverse order even when the test failed. */
export class Cleanup {
  private readonly steps: (() => unknown)[] = [];
  add(fn: () => unknown): void {
    this.steps.push(fn);
  }
  async run(): Promise<void> {
    while (this.steps.length) {
      const fn = this.steps.pop();
      try {
        await fn?.();
      } catch {
        // keep cleaning
      }
    }
  }
}

/** Polls `check` until it holds; fails naming `what` after `ms`. */
export async function waitUntil(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function tempDir(c: Cleanup, prefix = 'ftpfwd-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  c.add(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** An ephemeral port the kernel picks (only as a fallback: see stablePort). */
async function kernelPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(p));
    });
  });
}

/** A free port for a process a test starts next; below the ephemeral range (see stablePort). */
export async function freePort(): Promise<number> {
  return stablePort();
}

/**
 * A free port below the kernel's ephemeral range (32768+). Between the check and the child process's
 * listen (or while a server is restarted), any outgoing connection on the machine may take an
 * ephemeral port as its source and block that number; below the range only another test's explicit
 * choice can. 30000-31999 are ftp-srv's passive ranges here.
 */
export async function stablePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const ok = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) return port;
  }
  return kernelPort();
}

/** Waits until `proc` listens on `port`; fails at once (with its output) if it exits instead. */
export async function waitListening(proc: Proc, port: number, host = '127.0.0.1'): Promise<void> {
  const died = proc.exited.then((code) => {
    throw new Error(
      `${proc.child.spawnfile} exited (${code}) before listening on ${port}: ${proc.output().slice(-500)}`,
    );
  });
  await Promise.race([waitPort(port, host), died]);
}

export async function waitPort(port: number, host = '127.0.0.1', timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = netConnect({ port, host });
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function keygen(path: string, passphrase = ''): { priv: string; pub: string } {
  mkdirSync(dirname(path), { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'test', '-f', path]);
  return { priv: path, pub: readFileSync(`${path}.pub`, 'utf8').trim() };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

/** A spawned process with its output collected. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves when output matches `re` (or rejects when the process exits first / times out). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startProc(
  c: Cleanup,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  stdin: 'ignore' | 'pipe' = 'ignore',
): Proc {
  const child = spawn(cmd, args, { env, stdio: [stdin, 'pipe', 'pipe'] });
  child.stdin?.on('error', () => {});
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // 'exit' can come before the last bytes on the pipes; 'close' waits for them (or 'exit' plus two
  // seconds, should a grandchild hold a pipe open)
  const exited = new Promise<number | null>((r) => {
    child.once('close', (code: number | null) => r(code));
    child.once('exit', (code) => setTimeout(() => r(code), 2000).unref());
  });
  // done before the waiters look again, so that one still waiting rejects at once
  let done = false;
  exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });
  const proc: Proc = {
    child,
    output: () => out,
    exited,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((res, rej) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            finish();
            res(m[0]);
          } else if (done) {
            finish();
            rej(new Error(`${cmd} exited before ${re}: ${out.slice(-600)}`));
          }
        };
        const t = setTimeout(() => {
          finish();
          rej(new Error(`timeout waiting for ${re} from ${cmd}: ${out.slice(-600)}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(t);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (!done) {
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      return exited;
    },
  };
  c.add(() => proc.kill());
  return proc;
}

/** Runs a command to completion (curl, ssh-add, …). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('close', (code) => {
      clearTimeout(t);
      res({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** A private OpenSSH sshd on 127.0.0.1 with its own host key and authorized_keys. */
export interface OpenSshd {
  port: number;
  dir: string;
  hostKeyPub: string;
  user: string;
  /** A known_hosts file that trusts this server. */
  knownHosts: string;
  userKey: string;
  /** What the running sshd printed (-e: logs on stderr). */
  log(): string;
  /** The listener's pid (its per-connection processes are its children). */
  pid(): number | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Direct children of `pid` (from /proc), e.g. the per-connection processes of an sshd we started. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function startOpenSshd(
  c: Cleanup,
  extraConfig: string[] = [],
  opts: { listenAddress?: string } = {},
): Promise<OpenSshd> {
  const listen = opts.listenAddress ?? '127.0.0.1';
  const dir = tempDir(c, 'ftpfwd-sshd-');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const host = keygen(join(dir, 'hostkey'));
  const user = keygen(join(dir, 'userkey'));
  writeFileSync(join(dir, 'authorized_keys'), `${user.pub}\n`);
  const port = await stablePort();
  const config = [
    ...extraConfig, // first value wins in sshd_config
    `Port ${port}`,
    `ListenAddress ${listen.includes(':') ? `[${listen}]` : listen}`,
    `HostKey ${join(dir, 'hostkey')}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes',
    'LogLevel ERROR',
  ];
  writeFileSync(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[${listen}]:${port} ${host.pub.split(' ').slice(0, 2).join(' ')}\n`);
  let proc: Proc | undefined;
  const sshd: OpenSshd = {
    port,
    dir,
    hostKeyPub: host.pub,
    user: process.env.USER && process.env.USER !== '' ? process.env.USER : 'root',
    knownHosts,
    userKey: user.priv,
    async start() {
      proc = startProc(c, '/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')]);
      const p = proc;
      c.add(() => {
        if (p.child.pid) for (const pid of childPids(p.child.pid)) killQuietly(pid);
      });
      await waitListening(p, port, listen);
    },
    log: () => proc?.output() ?? '',
    pid: () => proc?.child.pid,
    async stop() {
      // Per-connection sshd processes call setsid(): kill them by parent pid, then the listener.
      if (proc?.child.pid) for (const pid of childPids(proc.child.pid)) killQuietly(pid);
      await proc?.kill('SIGKILL');
      proc = undefined;
    },
  };
  sshd.user = (await run('id', ['-un'])).stdout.toString().trim() || 'root';
  await sshd.start();
  return sshd;
}

/** ftp-srv (anonymous, writable) serving `root` on 127.0.0.1:port, in its own process. */
export async function startFtpSrv(c: Cleanup, root: string, pasvUrl = '127.0.0.1'): Promise<number> {
  const port = await freePort();
  const p = startProc(c, process.execPath, [join(here, 'ftpsrv.cjs'), root, String(port), pasvUrl]);
  await p.waitFor(/ftp-srv listening/);
  return port;
}

/** ftpfwd from bin/ (the built dist), with HOME pointed at `home` so ~/.ssh is the test's. */
export function startFtpfwd(c: Cleanup, args: string[], env: NodeJS.ProcessEnv): Proc {
  return startProc(c, process.execPath, [FTPFWD_BIN, ...args], env);
}

/** A base environment without the developer's agent, askpass or display. */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    USER: process.env.USER ?? 'root',
    ...extra,
  };
  return env;
}

/** @ftpfwd/sshd's CLI (ftpfwd-sshd) on 127.0.0.1 with its own host key and authorized_keys. */
export interface FtpfwdSshd {
  port: number;
  dir: string;
  knownHosts: string;
  userKey: string;
  log(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export const SSHD_BIN = join(REPO, 'node_modules/.bin/ftpfwd-sshd');

export async function startFtpfwdSshd(c: Cleanup, extraArgs: string[] = []): Promise<FtpfwdSshd> {
  const dir = tempDir(c, 'ftpfwd-sshd2-');
  const host = keygen(join(dir, 'hostkey'));
  const user = keygen(join(dir, 'userkey'));
  writeFileSync(join(dir, 'authorized_keys'), `${user.pub}\n`);
  const port = await stablePort();
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${host.pub.split(' ').slice(0, 2).join(' ')}\n`);
  let proc: Proc | undefined;
  const s: FtpfwdSshd = {
    port,
    dir,
    knownHosts,
    userKey: user.priv,
    log: () => proc?.output() ?? '',
    async start() {
      proc = startProc(c, SSHD_BIN, [
        '--listen',
        `127.0.0.1:${port}`,
        '--host-key',
        join(dir, 'hostkey'),
        '--authorized-keys',
        join(dir, 'authorized_keys'),
        ...extraArgs,
      ]);
      await waitListening(proc, port);
    },
    async stop() {
      await proc?.kill('SIGKILL');
      proc = undefined;
    },
  };
  await s.start();
  return s;
}

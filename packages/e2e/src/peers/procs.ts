/**
 * Process plumbing for the peer matrix: a cleanup stack, long-running programs with their output,
 * one-shot commands bounded in time, and free ports. Every process is started in its own process
 * group and stopped with its whole tree (FTP servers fork a process per session, some of which call
 * setsid), so nothing a cell started outlives it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The workspace root (the directory with tools/ and packages/), from src/peers or dist/peers. */
export const REPO = resolve(here, '../../../..');
export const TOOLS = join(REPO, 'tools', 'peers');
/** Where extracted Debian packages are kept between runs. */
export const CACHE = join(REPO, 'node_modules', '.cache', 'ftpfwd-peers');
/** The Debian python (pyftpdlib is a Debian python3 module, and ftplib should not depend on pyenv). */
export const PYTHON = '/usr/bin/python3';

/** Everything a run started, torn down in reverse order even when the run failed. */
export class Cleanup {
  private readonly steps: (() => unknown)[] = [];
  add(fn: () => unknown): () => void {
    this.steps.push(fn);
    return fn;
  }
  /** Runs one step now (if still pending) and forgets it. */
  async runOne(fn: () => unknown): Promise<void> {
    const i = this.steps.lastIndexOf(fn);
    if (i < 0) return;
    this.steps.splice(i, 1);
    try {
      await fn();
    } catch {
      // keep going
    }
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

/**
 * A fresh directory under the system temp dir, mode 0755: servers that drop privileges (vsftpd,
 * proftpd, pure-ftpd, inetutils-ftpd) cannot reach a root under mkdtemp's 0700.
 */
export function tempDir(c: Cleanup, prefix = 'ftpfwd-peers-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  c.add(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): string {
  try {
    return sha256(readFileSync(path));
  } catch {
    return 'missing';
  }
}

// ---------------------------------------------------------------- ports

async function canListen(port: number, host: string): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => res(true)));
  });
}

const handedOut = new Set<number>();

/**
 * A free port in 20000-29999: below the kernel's ephemeral range (32768+), where no outgoing
 * connection can take it between the check and the server's listen; 30000-31999 are ftp-srv's passive
 * ranges in the other tests, 12000-12999 the passive ranges of this matrix's servers.
 */
export async function freePort(hosts: string[] = ['127.0.0.1']): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (handedOut.has(port)) continue;
    let ok = true;
    for (const h of hosts) if (!(await canListen(port, h))) ok = false;
    if (ok) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port in 20000-29999');
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
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------- process trees

/** pid → parent pid for every process, from /proc. */
function parentMap(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(name));
      kids.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  return kids;
}

/** Every descendant of `pid` (children, grandchildren, …). */
export function descendants(pid: number): number[] {
  const kids = parentMap();
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop() as number;
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      todo.push(k);
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGKILLs `pid`'s process group, its descendants (also those that left the group) and itself. */
export function killTree(pid: number): void {
  const all = descendants(pid);
  signal(-pid, 'SIGKILL');
  for (const p of all) signal(p, 'SIGKILL');
  signal(pid, 'SIGKILL');
}

/** Process groups started and not yet reaped (for an interrupted run). */
const started = new Set<number>();

/** SIGKILLs every process tree this module started that is still running (on SIGINT/SIGTERM). */
export function killAllStarted(): void {
  for (const pid of started) killTree(pid);
  started.clear();
}

// ---------------------------------------------------------------- long-running programs

/** A spawned program with its output collected. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output matches `re`; rejects when the program exits first or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  exited: Promise<number | null>;
  /** SIGTERM, then after `graceMs` SIGKILL to the whole tree. */
  stop(graceMs?: number): Promise<void>;
}

export interface ProcOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep at most this many characters of output (the tail). */
  keep?: number;
}

export function startProc(c: Cleanup, cmd: string, args: string[], opts: ProcOptions = {}): Proc {
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: stop() takes the sessions it forked with it
  });
  const pid0 = child.pid;
  if (pid0 !== undefined) started.add(pid0);
  const keep = opts.keep ?? 200_000;
  let out = '';
  let done = false;
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > keep) out = out.slice(-keep);
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('error', (e) => {
    out += `\n${cmd}: ${e.message}\n`;
  });
  const exited = new Promise<number | null>((r) =>
    child.once('close', (code) => {
      done = true;
      if (pid0 !== undefined) started.delete(pid0);
      for (const l of listeners) l();
      r(code);
    }),
  );
  const proc: Proc = {
    child,
    output: () => out,
    exited,
    alive: () => !done && child.exitCode === null && child.signalCode === null,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((res, rej) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            finish();
            res(m[0]);
          } else if (done) {
            finish();
            rej(new Error(`${cmd} exited before ${re}: ${lastLines(out, 5)}`));
          }
        };
        const t = setTimeout(() => {
          finish();
          rej(new Error(`timeout waiting for ${re} from ${cmd}: ${lastLines(out, 5)}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(t);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(graceMs = 3000) {
      const pid = child.pid;
      if (pid === undefined) return;
      if (!done) {
        const tree = descendants(pid);
        signal(-pid, 'SIGTERM');
        signal(pid, 'SIGTERM');
        const t = setTimeout(() => killTree(pid), graceMs);
        await exited;
        clearTimeout(t);
        for (const p of tree) signal(p, 'SIGKILL');
      }
      // sessions that outlived their listener (setsid, re-parented) go too
      signal(-pid, 'SIGKILL');
    },
  };
  c.add(() => proc.stop());
  return proc;
}

// ---------------------------------------------------------------- one-shot commands

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Runs a command to completion, killed with its whole tree after `timeoutMs`. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {},
): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((res) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const pid0 = child.pid;
    if (pid0 !== undefined) started.add(pid0);
    const out: Buffer[] = [];
    let err = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 100_000) err = err.slice(-100_000);
    });
    const t = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killTree(child.pid);
    }, opts.timeoutMs ?? 60_000);
    child.once('error', (e) => {
      err += `${cmd}: ${e.message}\n`;
    });
    child.once('close', (code) => {
      clearTimeout(t);
      if (pid0 !== undefined) started.delete(pid0);
      // a client's leftovers (lftp forks for `&` jobs) go with it
      if (child.pid !== undefined) signal(-child.pid, 'SIGKILL');
      res({ code, stdout: Buffer.concat(out), stderr: err, timedOut, ms: Date.now() - t0 });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** The last `n` non-empty lines of `text`, joined with " | " (for one-line failure reasons). */
export function lastLines(text: string, n = 1): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-n)
    .join(' | ');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

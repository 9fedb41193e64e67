// Child processes of the bench: every one is started in its own process group and recorded, so
// cleanup() can end it together with the children it forked (vsftpd and sshd fork per session),
// on success, on failure and on SIGINT/SIGTERM alike.
import { spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { cgroupCounter } from './cpu-cgroup.mjs';

const started = new Set();
/** Short-lived commands (curl, lftp) still running: killed too if the bench stops early. */
const running = new Set();

/** Starts a long-lived helper process; its output goes to logFile. */
export function startProcess(name, cmd, args, { logFile, env, cwd } = {}) {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: env ?? process.env,
    cwd,
  });
  const proc = { name, cmd, args, logFile, child, pid: child.pid, exited: null };
  // Before it can fork a session: everything it forks is then counted with it (cpu-cgroup.mjs).
  if (child.pid)
    proc.cgroup = cgroupCounter(
      `ftpfwd-bench-${process.pid}-${started.size}-${name.replace(/[^\w-]/g, '_')}`,
      child.pid,
    );
  started.add(proc);
  child.on('exit', (code, signal) => {
    proc.exited = { code, signal };
  });
  child.on('error', (err) => {
    proc.exited = { code: null, signal: null, error: err };
  });
  return proc;
}

function signalGroups(signal) {
  for (const p of started) {
    if (p.exited || !p.pid) continue;
    try {
      process.kill(-p.pid, signal);
    } catch {
      // already gone
    }
  }
}

const finalizers = [];
/** Runs fn (synchronously) after the processes are gone, however the bench ends. */
export function onCleanup(fn) {
  finalizers.push(fn);
}

/** Ends every started process group: SIGTERM, then SIGKILL after a grace period. */
export async function cleanup(graceMs = 2000) {
  for (const child of running) child.kill('SIGKILL');
  signalGroups('SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && [...started].some((p) => !p.exited)) await sleep(50);
  signalGroups('SIGKILL');
  // Session children may outlive their group leader's exit by a moment; kill the groups once more.
  for (const p of started) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {}
  }
  if ([...started].some((p) => p.cgroup)) await sleep(100); // the killed must be gone to remove their cgroups
  for (const p of started) p.cgroup?.remove();
  started.clear();
  for (const fn of finalizers.splice(0)) {
    try {
      fn();
    } catch (err) {
      console.error(`bench: cleanup: ${err.message}`);
    }
  }
}

let hooked = false;
/** Makes sure nothing outlives the bench, whatever way it ends. */
export function installCleanupHooks() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    signalGroups('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      console.error(`bench: ${sig}, stopping everything`);
      cleanup(500).finally(() => process.exit(130));
    });
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port the kernel just handed out on host (closed again; good enough on a quiet loopback). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function portIsFree(port, host) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** Waits until host:port accepts a TCP connection, or throws naming the process and its log tail. */
export async function waitPort(port, host, proc, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (proc?.exited)
      throw new Error(`${proc.name} exited before listening on ${host}:${port}${logTail(proc)}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until)
      throw new Error(`${proc?.name ?? 'process'} did not listen on ${host}:${port}${logTail(proc)}`);
    await sleep(50);
  }
}

export function logTail(proc, lines = 5) {
  if (!proc?.logFile) return '';
  try {
    const text = readFileSync(proc.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n  ');
    return text ? `:\n  ${text}` : '';
  } catch {
    return '';
  }
}

// /proc/<pid>/stat: fields after the ")" of comm; utime=14 stime=15 cutime=16 cstime=17 (1-based).
function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

const CLK_TCK = 100; // Linux USER_HZ on every architecture Node runs on

/** pid -> ppid and CPU ticks (own + reaped children) of every process, from one pass over /proc. */
function allProcesses() {
  const all = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(d);
    if (st) all.set(Number(d), st);
  }
  return all;
}

function treeOf(root, all) {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, st] of all) if (st.ppid === tree[i]) tree.push(pid);
  return tree.filter((p) => all.has(p));
}

/** The pid and all its descendants. */
export function processTree(root) {
  return treeOf(root, allProcesses());
}

/**
 * CPU seconds used so far by a started process and all it forked: from its cgroup when it has one
 * (exact, orphans included), else from its /proc tree (treeCpuSeconds).
 */
export function processCpuSeconds(proc) {
  // No fallback once a process has a cgroup: a run's two snapshots must come from the same counter.
  return proc.cgroup ? proc.cgroup.seconds() : treeCpuSeconds(proc.pid);
}

/**
 * CPU seconds used so far by a process tree, reaped children included (cutime/cstime), so a session
 * process that exited and was reaped inside the tree keeps counting.
 */
function treeCpuSeconds(root) {
  const all = allProcesses();
  let ticks = 0;
  for (const pid of treeOf(root, all)) ticks += all.get(pid).ticks;
  return ticks / CLK_TCK;
}

/** CPU seconds of this process's reaped children (curl runs are children of the bench). */
export function reapedChildrenCpuSeconds() {
  const s = readFileSync('/proc/self/stat', 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

export function statusKb(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'latin1').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Runs a short-lived command to completion; resolves with code, stdout, stderr and wall seconds. */
export function run(cmd, args, { input, env, cwd, timeoutMs = 600000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env, cwd });
    running.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      });
    });
    child.stdin.end(input);
  });
}

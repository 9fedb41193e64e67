/**
 * The in-container agent: PID 1 of every e2e container. Runs an AgentPlan (see plan.ts) and reports
 * on stdout with E2E-* lines that the test waits for. Runs on the host's node through the read-only
 * bind mounts, so it uses only node's standard library.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AgentCommand,
  type AgentPlan,
  type AgentStep,
  type BackgroundCommand,
  decodePlan,
  MARK,
  type StepReport,
} from './plan.js';

const KEEP = 256 * 1024; // bytes of a step's output kept for its report
const children = new Set<ChildProcess>();
let stopping = false;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function ifaceOf(addr: string): string {
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if (list?.some((a) => a.family === 'IPv4' && a.address === addr)) return name;
  }
  throw new Error(`no interface holds ${addr}; interfaces: ${JSON.stringify(networkInterfaces())}`);
}

function resolve(s: string): string {
  return s.replace(/\{iface:([0-9.]+)\}/g, (_, addr: string) => ifaceOf(addr));
}

function resolveCommand<T extends AgentCommand>(c: T): T {
  const env = c.env ? Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, resolve(v)])) : undefined;
  return { ...c, argv: c.argv.map(resolve), ...(env ? { env } : {}) };
}

/** Splits a stream into lines, calling `onLine` for each; keeps the tail of the text in `keep`. */
function lines(stream: NodeJS.ReadableStream | null, onLine: (l: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
  });
}

function start(c: AgentCommand): ChildProcess {
  const [cmd, ...args] = c.argv;
  if (!cmd) throw new Error(`command ${c.name} has an empty argv`);
  const child = spawn(cmd, args, { env: { ...process.env, ...c.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function run(c: AgentStep): Promise<StepReport> {
  const startedAt = Date.now();
  return new Promise((resolve) => {
    const done = (r: Omit<StepReport, 'startedAt' | 'ms'>) =>
      resolve({ ...r, startedAt, ms: Date.now() - startedAt });
    let stdout = '';
    let stderr = '';
    let child: ChildProcess;
    try {
      child = start(c);
    } catch (e) {
      done({ name: c.name, code: null, signal: null, stdout: '', stderr: String(e) });
      return;
    }
    lines(child.stdout, (l) => {
      stdout = (stdout + l + '\n').slice(-KEEP);
    });
    lines(child.stderr, (l) => {
      stderr = (stderr + l + '\n').slice(-KEEP);
      out(`[${c.name}] ${l}`);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), c.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      stderr += String(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ name: c.name, code, signal, stdout, stderr });
    });
  });
}

function startBackground(c: BackgroundCommand): Promise<void> {
  return new Promise((ready, fail) => {
    const child = start(c);
    const re = c.ready ? new RegExp(c.ready) : undefined;
    let isReady = !re;
    const onLine = (l: string) => {
      out(`[${c.name}] ${l}`);
      if (!isReady && re?.test(l)) {
        isReady = true;
        clearTimeout(timer);
        out(`${MARK.ready}${c.name}`);
        ready();
      }
    };
    lines(child.stdout, onLine);
    lines(child.stderr, onLine);
    const timer = setTimeout(
      () =>
        fail(new Error(`${c.name}: no line matching /${c.ready}/ within ${c.readyTimeoutMs ?? 30_000} ms`)),
      c.readyTimeoutMs ?? 30_000,
    );
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(new Error(`${c.name}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      if (!stopping) out(`E2E-EXIT ${c.name} code=${code} signal=${signal}`);
      if (!isReady) {
        clearTimeout(timer);
        fail(new Error(`${c.name} exited (code ${code}, signal ${signal}) before /${c.ready}/`));
      }
    });
    if (isReady) {
      clearTimeout(timer);
      out(`${MARK.ready}${c.name}`);
      ready();
    }
  });
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  for (let i = 0; i < 50 && children.size > 0; i++) await sleep(100);
  for (const c of children) c.kill('SIGKILL');
  process.exit(code);
}

async function main(plan: AgentPlan): Promise<void> {
  for (const raw of plan.setup ?? []) {
    const c = resolveCommand(raw);
    const r = await run(c);
    if (r.stdout) for (const l of r.stdout.trimEnd().split('\n')) out(`[${c.name}] ${l}`);
    if (r.code !== 0) {
      out(`${MARK.failed}setup ${c.name} (${c.argv.join(' ')}) exited ${r.code ?? r.signal}`);
      await stopAll(2);
    }
  }
  for (const raw of plan.background ?? []) await startBackground(resolveCommand(raw));
  out(MARK.up);
  if (plan.startWhenFileExists) {
    for (let i = 0; !existsSync(plan.startWhenFileExists); i++) {
      if (i > 3000) throw new Error(`${plan.startWhenFileExists} did not appear within 300 s`);
      await sleep(100);
    }
  }
  const steps = (plan.steps ?? []).map(resolveCommand);
  const report = (r: StepReport) => out(`${MARK.step}${JSON.stringify(r)}`);
  const runStep = (s: AgentStep) => {
    out(`${MARK.start}${s.name}`);
    return run(s);
  };
  if (plan.concurrentSteps) {
    const groups = new Map<string, AgentStep[]>();
    for (const s of steps) groups.set(s.group ?? s.name, [...(groups.get(s.group ?? s.name) ?? []), s]);
    await Promise.all(
      [...groups.values()].map(async (g) => {
        for (const s of g) report(await runStep(s));
      }),
    );
  } else {
    for (const s of steps) report(await runStep(s));
  }
  out(MARK.done);
  const stayUp = plan.stayUp ?? ((plan.background?.length ?? 0) > 0 && steps.length === 0);
  if (!stayUp) await stopAll(0);
  setInterval(() => {}, 1 << 30); // stay up until SIGTERM
}

process.on('SIGTERM', () => void stopAll(0));
process.on('SIGINT', () => void stopAll(0));
const encoded = process.argv[2];
if (!encoded) {
  out(`${MARK.failed}usage: agent <base64 plan>`);
  process.exit(64);
}
main(decodePlan(encoded)).catch((e: unknown) => {
  out(`${MARK.failed}${e instanceof Error ? e.message : String(e)}`);
  void stopAll(3);
});

// What the docs tests share: the real programs, run as child processes with bounded waits, and a
// loopback ftpfwd-sshd for ftpfwd commands to connect to.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FTPFWD = join(root, 'packages/client/bin/ftpfwd.js');
export const FTPFWD_SSHD = join(root, 'packages/sshd/bin/ftpfwd-sshd.js');

/**
 * ftpfwd's own command-line resolver (what `ftpfwd` runs before connecting; like `ssh -G` without
 * the printing): dist/plan.js where the client has it, dist/cli.js before that.
 */
export async function clientPlanner() {
  const plan = join(root, 'packages/client/dist/plan.js');
  const mod = await import(existsSync(plan) ? plan : join(root, 'packages/client/dist/cli.js'));
  return mod.planFromArgs;
}

/**
 * Resolves any ftpfwd command line to `{ form, forwards }`: the gateway form (`--config` with
 * `destinations:`) where the client has it (gatewayPlanFromArgs), else the single-destination one.
 */
export async function clientGatewayPlanner() {
  const plan = join(root, 'packages/client/dist/plan.js');
  const mod = existsSync(plan) ? await import(plan) : undefined;
  const single = await clientPlanner();
  return (argv, env) => {
    if (mod?.gatewayPlanFromArgs) {
      const g = mod.gatewayPlanFromArgs(argv, env);
      return { form: g.form, forwards: g.destinations.flatMap((d) => d.forwards) };
    }
    return { form: 'single', forwards: single(argv, env).forwards };
  };
}

/** A temp dir removed by the returned cleanup (also registered for process exit). */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `ftpfwd-docs-${prefix}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  return dir;
}

/** An ed25519 key pair FILE / FILE.pub made by OpenSSH's ssh-keygen. */
export function keypair(file, comment = 'docs-test') {
  mkdirSync(dirname(file), { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

/**
 * Starts a program; resolves once `ready(stderrSoFar)` returns a truthy value, rejects when it exits
 * first or after `timeoutMs`. The returned handle's stop() sends SIGTERM and resolves the exit code.
 */
export function startUntil(cmd, args, { ready, timeoutMs = 20_000, ...opts }) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const handle = {
    child,
    get output() {
      return out;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  process.once('exit', () => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let value;
    const check = () => {
      if (value) return;
      value = ready(out);
      if (value) {
        clearTimeout(timer);
        resolve(Object.assign(handle, { ready: value }));
      }
    };
    child.stdout.on('data', (d) => {
      out += d;
      check();
    });
    child.stderr.on('data', (d) => {
      out += d;
      check();
    });
    setImmediate(check); // a ready() that needs no output
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: not ready after ${timeoutMs} ms; output:\n${out}`));
    }, timeoutMs);
    exited.then((code) => {
      if (value) return;
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')}: exited (${code}) before it was ready; output:\n${out}`));
    });
  });
}

/** ftpfwd-sshd's `listening` log line → its port. */
export function listeningPort(out) {
  const m = /"event":"listening","address":"[^"]*:(\d+)"/.exec(out);
  return m ? Number(m[1]) : undefined;
}

/**
 * A loopback ftpfwd-sshd (the real CLI) that any user name with `key` may use for any forwarding;
 * plus the known_hosts line for it (a `*` pattern: ftpfwd checks the key whatever host name the
 * documented command used).
 */
export async function loopbackServer() {
  const dir = tempDir('sshd');
  keypair(join(dir, 'hostkey'));
  keypair(join(dir, 'userkey'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'userkey.pub')));
  const hostPub = readFileSync(join(dir, 'hostkey.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `* ${hostPub}\n`);
  const server = await startUntil(
    process.execPath,
    [
      FTPFWD_SSHD,
      '--listen',
      '127.0.0.1:0',
      '--host-key',
      join(dir, 'hostkey'),
      '--authorized-keys',
      join(dir, 'authorized_keys'),
    ],
    { ready: listeningPort },
  );
  return {
    port: server.ready,
    userKey: join(dir, 'userkey'),
    knownHosts: join(dir, 'known_hosts'),
    stop: () => server.stop(),
  };
}

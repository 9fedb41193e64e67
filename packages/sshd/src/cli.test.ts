/**
 * The `ftpfwd-sshd` command as a user runs it: keygen, passwd, the automatic host key, problems in
 * authorized_keys reported, clean SIGTERM, one-line errors.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePasswordFile, verifyPassword } from '@ftpfwd/ftp-proxy/cli';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  echoRoundTrip,
  exitedWithOutput,
  freePort,
  pubLine,
  runSsh,
  Scope,
  sha256,
  sshKeygen,
  startEcho,
  tempDir,
  waitFor,
  waitForPort,
} from './test-support/harness.js';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const cliArgs = ['--import', 'tsx', join(pkgDir, 'src', 'cli.ts')];

let scope: Scope;
let dir: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
});
afterEach(() => scope.close());

interface Cli {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Cli {
  const child = spawn(process.execPath, [...cliArgs, ...args], {
    cwd: pkgDir,
    // Never the real ~/.local/state: every run gets the test's own state directory unless told.
    env: { ...process.env, XDG_STATE_HOME: join(dir, 'state-default'), ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  const exited = exitedWithOutput(child);
  scope.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, out: () => out, err: () => err, exited };
}

const fingerprintOf = (pub: string): string =>
  execFileSync('ssh-keygen', ['-lf', pub]).toString().split(' ')[1]!;

describe('ftpfwd-sshd keygen and passwd', () => {
  it('keygen writes a 0600 key and its .pub and prints the fingerprint OpenSSH shows', async () => {
    const out = join(dir, 'sub', 'host_key');
    const run = cli(['keygen', '--out', out]);
    expect(await run.exited).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(run.out()).toContain(fingerprintOf(`${out}.pub`));
    const again = cli(['keygen', '--type', 'ecdsa', '--out', out]);
    expect(await again.exited).toBe(1);
    expect(again.err()).toMatch(/exists already/);
    const ec = join(dir, 'ec_key');
    expect(await cli(['keygen', '--type', 'ecdsa', '--out', ec]).exited).toBe(0);
    expect(readFileSync(`${ec}.pub`, 'utf8')).toMatch(/^ecdsa-sha2-nistp256 /);
  });

  it('passwd reads the password from stdin when it is not a terminal and writes a 0600 file', async () => {
    const file = join(dir, 'passwords');
    expect(await cli(['passwd', '--file', file, 'alice'], { input: 'first pw\n' }).exited).toBe(0);
    expect(await cli(['passwd', '--file', file, 'bob'], { input: 'bob pw\n' }).exited).toBe(0);
    expect(await cli(['passwd', '--file', file, 'alice'], { input: 'second pw\n' }).exited).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { entries, problems } = parsePasswordFile(readFileSync(file, 'utf8'));
    expect(problems).toEqual([]);
    expect([...entries.keys()]).toEqual(['alice', 'bob']);
    expect(await verifyPassword('second pw', entries.get('alice'))).toBe(true);
    const empty = cli(['passwd', '--file', file, 'carol'], { input: '\n' });
    expect(await empty.exited).toBe(2);
    expect(empty.err()).toMatch(/empty/);
  });

  it('passwd into a directory that does not exist says so in one line, and leaves nothing behind', async () => {
    const file = join(dir, 'missing', 'passwords');
    const run = cli(['passwd', '--file', file, 'alice'], { input: 'pw\n' });
    expect(await run.exited).not.toBe(0);
    expect(run.err()).toBe(
      `ftpfwd-sshd: passwd: cannot write ${file}: no directory ${dirname(file)}; nothing changed\n`,
    );
    expect(existsSync(dirname(file))).toBe(false);
  });
});

describe('ftpfwd-sshd server', () => {
  it('creates a host key in $XDG_STATE_HOME once, prints its fingerprint, reuses it', async () => {
    const state = join(dir, 'state');
    const port = await freePort();
    const first = cli(['--listen', `127.0.0.1:${port}`], { env: { XDG_STATE_HOME: state } });
    await waitFor(() => first.err().includes('listening on'), 20_000, 'listening');
    const keyPub = join(state, 'ftpfwd-sshd', 'host_ed25519_key.pub');
    expect(existsSync(keyPub)).toBe(true);
    const fp = fingerprintOf(keyPub);
    expect(first.err()).toContain(fp);
    expect(first.err()).toContain('created a new host key');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const second = cli(['--listen', `127.0.0.1:${port}`], { env: { XDG_STATE_HOME: state } });
    await waitFor(() => second.err().includes('listening on'), 20_000, 'listening');
    expect(second.err()).toContain(fp);
    expect(second.err()).not.toContain('created a new host key');
  });

  it('reports an unknown authorized_keys option with its line number and refuses that key only', async () => {
    const good = sshKeygen(dir, 'good');
    const bad = sshKeygen(dir, 'bad');
    const hostKey = sshKeygen(dir, 'host');
    const ak = join(dir, 'authorized_keys');
    writeFileSync(ak, `# team keys\nfrobnicate,no-pty ${pubLine(bad)}\n${pubLine(good)}\n`);
    const port = await freePort();
    const srv = cli(['--listen', `127.0.0.1:${port}`, '--host-key', hostKey, '--authorized-keys', ak]);
    await waitFor(() => srv.err().includes('listening on'), 20_000, 'listening');
    expect(srv.err()).toMatch(/authorized_keys \S+ line 2: unknown option \\?"frobnicate/);
    const known = join(dir, 'known_hosts');
    writeFileSync(known, `[127.0.0.1]:${port} ${pubLine(hostKey).split(' ').slice(0, 2).join(' ')}\n`);
    const t = { port, knownHosts: known };
    const denied = runSsh(scope, t, ['-N', 'u@127.0.0.1'], { identity: bad });
    expect(await denied.exited).toBe(255);
    expect(denied.stderr()).toMatch(/Permission denied/);
    const echo = await startEcho(scope);
    const local = await freePort();
    runSsh(scope, t, ['-N', '-L', `127.0.0.1:${local}:127.0.0.1:${echo}`, 'u@127.0.0.1'], { identity: good });
    await waitForPort(local);
    const { sent, got } = await echoRoundTrip(local, 64 * 1024);
    expect(sha256(got)).toBe(sha256(sent));
  });

  it('SIGHUP re-reads authorized_keys: a key added later logs in, a key removed no longer does', async () => {
    const first = sshKeygen(dir, 'first');
    const second = sshKeygen(dir, 'second');
    const hostKey = sshKeygen(dir, 'host');
    const ak = join(dir, 'authorized_keys');
    writeFileSync(ak, `${pubLine(first)}\n`);
    const port = await freePort();
    const srv = cli(['--listen', `127.0.0.1:${port}`, '--host-key', hostKey, '--authorized-keys', ak]);
    await waitFor(() => srv.err().includes('listening on'), 20_000, 'listening');
    const known = join(dir, 'known_hosts');
    writeFileSync(known, `[127.0.0.1]:${port} ${pubLine(hostKey).split(' ').slice(0, 2).join(' ')}\n`);
    const t = { port, knownHosts: known };
    const login = async (key: string): Promise<string> => {
      const r = runSsh(scope, t, ['u@127.0.0.1', 'true'], { identity: key });
      await r.exited;
      return r.stderr();
    };
    expect(await login(second)).toMatch(/Permission denied/);
    writeFileSync(ak, `${pubLine(second)}\n`);
    srv.child.kill('SIGHUP');
    await waitFor(() => srv.err().includes('"event":"reloaded"'), 10_000, 'reloaded');
    expect(await login(second)).toContain('only forwards ports');
    expect(await login(first)).toMatch(/Permission denied/);
  });

  it('on SIGTERM stops listening, lets an open channel finish, exits 0', async () => {
    const user = sshKeygen(dir, 'user');
    const hostKey = sshKeygen(dir, 'host');
    const ak = join(dir, 'authorized_keys');
    writeFileSync(ak, `${pubLine(user)}\n`);
    const port = await freePort();
    const srv = cli(['--listen', `127.0.0.1:${port}`, '--host-key', hostKey, '--authorized-keys', ak, '-v']);
    await waitFor(() => srv.err().includes('listening on'), 20_000, 'listening');
    const known = join(dir, 'known_hosts');
    writeFileSync(known, `[127.0.0.1]:${port} ${pubLine(hostKey).split(' ').slice(0, 2).join(' ')}\n`);
    const echo = await startEcho(scope);
    const local = await freePort();
    runSsh(
      scope,
      { port, knownHosts: known },
      ['-N', '-L', `127.0.0.1:${local}:127.0.0.1:${echo}`, 'u@127.0.0.1'],
      {
        identity: user,
      },
    );
    await waitForPort(local);
    // A transfer in flight while the signal arrives still completes.
    const transfer = echoRoundTrip(local, 256 * 1024);
    await waitFor(() => srv.err().includes('direct-tcpip opened'), 10_000, 'channel open');
    srv.child.kill('SIGTERM');
    const { sent, got } = await transfer;
    expect(sha256(got)).toBe(sha256(sent));
    expect(await srv.exited).toBe(0);
    expect(srv.err()).toContain('"event":"stopped"');
  });

  it('SIGTERM sent the moment the listening line appears drains and exits 0 (repeated)', async () => {
    const hostKey = sshKeygen(dir, 'host');
    // Before the fix the handlers were installed only after start(), so this race ended the
    // process by the signal itself now and then; a bounded number of rounds, no timing assertions.
    for (let round = 0; round < 8; round++) {
      const port = await freePort();
      const srv = cli(['--listen', `127.0.0.1:${port}`, '--host-key', hostKey]);
      let sent = false;
      srv.child.stderr!.on('data', () => {
        // The cli() helper's listener ran first (registered earlier), so err() has this chunk.
        if (!sent && srv.err().includes('listening on')) {
          sent = true;
          srv.child.kill('SIGTERM');
        }
      });
      const code = await srv.exited;
      expect({ round, sent, code, signal: srv.child.signalCode }).toEqual({
        round,
        sent: true,
        code: 0,
        signal: null,
      });
      expect(srv.err()).toContain('"event":"stopped"');
    }
  });

  it('bad flags and bad config keys end with one clear line', async () => {
    const badSpec = cli(['--permit-open', 'nohost', '--listen', '127.0.0.1:0']);
    expect(await badSpec.exited).toBe(1);
    expect(badSpec.err().trim().split('\n')).toHaveLength(1);
    expect(badSpec.err()).toMatch(/^ftpfwd-sshd: permit-open: expected host:port/);
    const cfg = join(dir, 'sshd.yaml');
    writeFileSync(cfg, 'listen: 127.0.0.1:0\nlimits:\n  maxConections: 3\n');
    const badCfg = cli(['--config', cfg]);
    expect(await badCfg.exited).toBe(1);
    expect(badCfg.err()).toMatch(/sshd\.yaml line 3: limits\.maxConections: unknown key\(s\) maxConections/);
    const badChoice = cli(['--gateway-ports', 'maybe']);
    expect(await badChoice.exited).toBe(2);
    expect(badChoice.err()).toMatch(
      /argument 'maybe' is invalid. Allowed choices are no, yes, clientspecified/,
    );
    const badListen = cli(['--listen', 'nowhere']);
    expect(await badListen.exited).toBe(2);
    expect(badListen.err()).toMatch(/--listen: expected ADDR:PORT/);
  });
});

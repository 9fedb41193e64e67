/**
 * Plumbing for the FTP-to-SFTP bridge's cross-process tests: a private OpenSSH sshd on loopback
 * with its real SFTP server, an ssh2 connection to it, the bridge (packages/client/src/sftp-bridge)
 * in this process, and helpers to run the real FTP clients (curl, lftp, Python's ftplib).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2, { type ConnectConfig, type SFTPWrapper } from 'ssh2';
import {
  type Cleanup,
  childPids,
  freePort,
  keygen,
  killQuietly,
  tempDir as sharedTempDir,
  waitPort,
} from '../integration/support/procs.js';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../../../..');
/** Debian's python: ftplib should not depend on pyenv. */
export const PYTHON = '/usr/bin/python3';

// ------------------------------------------------------------------ the bridge's API, as used here

/** The slice of packages/client/src/sftp-bridge's public API these tests use. */
export interface SftpSession {
  sftp: SFTPWrapper;
  close(): void;
}
/**
 * The logger calls the bridge makes (a pino Logger has them all; the library is given one).
 * Here a recording one: every record kept for the tests to look at, nothing printed.
 */
export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  fatal(obj: object | string, msg?: string): void;
  child(bindings: object): Logger;
  level: string;
}

export interface BridgeOptions {
  listen: { host: string; port: number };
  remoteDir?: string;
  jail: boolean;
  login: 'tunnel' | 'ssh' | { passwordFile: string };
  openSftp: (auth?: { user: string; password: string }) => Promise<SftpSession>;
  advertise?: string;
  dataPorts?: { lo: number; hi: number };
  logger: Logger;
}
export interface Bridge {
  listen: { host: string; port: number };
  sessions(): number;
  stopListening(): Promise<void>;
  close(): Promise<void>;
}
interface BridgeModule {
  startSftpBridge(opts: BridgeOptions): Promise<Bridge>;
  sessionFromClient(
    client: InstanceType<typeof ssh2.Client>,
    opts?: { endClient?: boolean },
  ): Promise<SftpSession>;
  sshLoginSftp(base: ConnectConfig, user: string, password: string): Promise<SftpSession>;
}

/** The bridge module: @ftpfwd/client's own exports (its built dist), typed as these tests use it. */
export async function bridgeModule(): Promise<BridgeModule> {
  return (await import('@ftpfwd/client')) as unknown as BridgeModule;
}

// ------------------------------------------------------------------ cleanup, files, processes

// The plumbing every cross-process suite shares lives in ../integration/support/procs.ts.
export { Cleanup, freePort, sha256, sha256File } from '../integration/support/procs.js';

/** A temporary directory removed at cleanup (prefixed for the bridge's tests). */
export function tempDir(c: Cleanup, prefix = 'ftpfwd-sftpb-'): string {
  return sharedTempDir(c, prefix);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion, bounded in time; its whole process group is killed on timeout. */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((res) => {
    const child: ChildProcess = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const t = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, opts.timeoutMs ?? 60_000);
    child.once('close', (code) => {
      clearTimeout(t);
      res({ code, stdout: out, stderr: err, timedOut });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

// ------------------------------------------------------------------ OpenSSH sshd

export interface Sshd {
  port: number;
  dir: string;
  /** The private key root logs in with. */
  userKey: string;
  user: string;
  hostKey: Buffer;
  log(): string;
}

/**
 * OpenSSH's sshd on 127.0.0.1 with a private config: its own host key, root by key, other users by
 * password (no PAM: sshd checks /etc/shadow itself), and `Subsystem sftp` as given (internal-sftp
 * by default; /usr/lib/openssh/sftp-server is the same code as a separate program).
 */
export async function startSshd(
  c: Cleanup,
  subsystem = 'internal-sftp',
  extra: string[] = [],
): Promise<Sshd> {
  const dir = tempDir(c, 'ftpfwd-sftpb-sshd-');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const host = keygen(join(dir, 'hostkey'));
  const user = keygen(join(dir, 'userkey'));
  writeFileSync(join(dir, 'authorized_keys'), `${user.pub}\n`);
  const port = await freePort();
  const config = [
    ...extra,
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'hostkey')}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `Subsystem sftp ${subsystem}`,
    'Ciphers aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr',
    'LogLevel ERROR',
  ];
  writeFileSync(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const died = new Promise<never>((_, rej) =>
    proc.once('exit', (code) => rej(new Error(`sshd exited (${code}): ${out.slice(-500)}`))),
  );
  died.catch(() => {});
  c.add(() => {
    if (proc.pid) for (const pid of childPids(proc.pid)) killQuietly(pid);
    proc.kill('SIGKILL');
  });
  await Promise.race([waitPort(port), died]);
  const hostKey = Buffer.from(host.pub.split(' ')[1]!, 'base64');
  const me = execFileSync('id', ['-un']).toString().trim() || 'root';
  return { port, dir, userKey: user.priv, user: me, hostKey, log: () => out };
}

/** ssh2 settings for this sshd: its host key and nothing else is accepted. */
export function baseConfig(sshd: Sshd): ConnectConfig {
  return {
    host: '127.0.0.1',
    port: sshd.port,
    hostVerifier: (key: Buffer) => key.equals(sshd.hostKey),
    readyTimeout: 20_000,
  };
}

/** An ssh2 connection to the sshd as root with the test key (the "tunnel's" connection). */
export async function sshConnect(c: Cleanup, sshd: Sshd): Promise<InstanceType<typeof ssh2.Client>> {
  const client = new ssh2.Client();
  await new Promise<void>((res, rej) => {
    client.once('ready', () => res());
    client.once('error', rej);
    client.connect({ ...baseConfig(sshd), username: sshd.user, privateKey: readFileSync(sshd.userKey) });
  });
  client.setNoDelay(true);
  c.add(() => client.end());
  return client;
}

/** A logger that keeps every record (level as pino numbers it, msg, fields) and prints nothing. */
export function recordingLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const make = (bindings: object): Logger => {
    const at =
      (level: number) =>
      (obj: object | string, msg?: string): void => {
        if (typeof obj === 'string') records.push({ level, ...bindings, msg: obj });
        else records.push({ level, ...bindings, ...obj, msg });
      };
    return {
      trace: at(10),
      debug: at(20),
      info: at(30),
      warn: at(40),
      error: at(50),
      fatal: at(60),
      child: (more: object) => make({ ...bindings, ...more }),
      level: 'trace',
    };
  };
  return { logger: make({}), records };
}

// ------------------------------------------------------------------ system users (login: 'ssh')

export interface TestUser {
  name: string;
  password: string;
  home: string;
  uid: number;
}

/**
 * A throw-away system user with a password (root only), removed with its home afterwards. Names
 * are random so a killed run's leftovers never collide.
 */
export function createUser(c: Cleanup, prefix: string): TestUser {
  const name = `${prefix}${Math.random().toString(36).slice(2, 8)}`;
  const base = tempDir(c, 'ftpfwd-sftpb-home-');
  execFileSync('chmod', ['755', base]);
  const home = join(base, name);
  execFileSync('useradd', ['-m', '-d', home, '-s', '/bin/sh', name]);
  c.add(() => {
    try {
      execFileSync('userdel', ['-r', '-f', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  });
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  execFileSync('chpasswd', [], { input: `${name}:${password}\n` });
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  return { name, password, home, uid };
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Runs Python ftplib `code` in a logged-in session (`f`), and returns what it put in `out` (JSON).
 * `cmd(line)` in the code sends one raw command and returns its reply text, error or not.
 */
export async function ftplib(
  port: number,
  code: string,
  user = 'u',
  password = 'p',
): Promise<Record<string, unknown>> {
  const prog = `
import ftplib, hashlib, io, json, sys
f = ftplib.FTP(timeout=20)
f.connect('127.0.0.1', ${port})
f.login(${JSON.stringify(user)}, ${JSON.stringify(password)})
out = {}
def cmd(line):
    try:
        return f.sendcmd(line)
    except ftplib.all_errors as e:
        return str(e)
def stor(name, data):
    try:
        return f.storbinary('STOR ' + name, io.BytesIO(data))
    except ftplib.all_errors as e:
        return str(e)
${code}
f.quit()
print(json.dumps(out))
`;
  const r = await run(PYTHON, ['-c', prog], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`python ftplib: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/**
 * The two tunnel paths of the matrix: the workspace's built ftpfwd with `-L ftp/` through either the
 * workspace's ftpfwd-sshd or a real OpenSSH sshd, all on loopback with throwaway keys and a known_hosts
 * that trusts exactly the host key started here. (Equivalents of packages/client's test-support,
 * which e2e cannot import.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Cleanup, descendants, freePort, type Proc, REPO, startProc, waitPort } from './procs.js';
import { bracket } from './servers/types.js';

export const PATHS = ['direct', 'ftpfwd+ftpfwd-sshd', 'ftpfwd+openssh'] as const;
export type PathKind = (typeof PATHS)[number];
export type SshKind = 'ftpfwd-sshd' | 'openssh';

export const FTPFWD_JS = join(REPO, 'packages', 'client', 'bin', 'ftpfwd.js');
export const SSHD_JS = join(REPO, 'packages', 'sshd', 'bin', 'ftpfwd-sshd.js');
/** What bin/*.js run with (their shebang's flag). */
const NODE_FLAGS = ['--initial-old-space-size=64'];

/** Throws a one-line reason when the workspace is not built. */
export function checkBuilt(): void {
  for (const f of [join(REPO, 'packages/client/dist/cli.js'), join(REPO, 'packages/sshd/dist/cli.js')])
    if (!existsSync(f)) throw new Error(`${f} is missing: build the workspace first (npm run build)`);
}

export function keygen(path: string): { priv: string; pub: string } {
  mkdirSync(dirname(path), { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ftpfwd-peers', '-f', path]);
  return { priv: path, pub: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** A base environment without the developer's agent, askpass or display. */
export function cleanEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, USER: process.env.USER ?? 'root', LANG: 'C' };
}

export interface SshServer {
  kind: SshKind;
  port: number;
  /** The login name ftpfwd uses. */
  user: string;
  knownHosts: string;
  userKey: string;
  log(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

function userName(): string {
  try {
    return execFileSync('id', ['-un'], { encoding: 'utf8' }).trim() || 'root';
  } catch {
    return 'root';
  }
}

export async function startSshd(c: Cleanup, kind: SshKind, work: string): Promise<SshServer> {
  const dir = join(work, `sshd-${kind}`);
  mkdirSync(dir, { recursive: true });
  const host = keygen(join(dir, 'hostkey'));
  const user = keygen(join(dir, 'userkey'));
  writeFileSync(join(dir, 'authorized_keys'), `${user.pub}\n`);
  const port = await freePort();
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${host.pub.split(' ').slice(0, 2).join(' ')}\n`);
  let proc: Proc;
  let name = 'tester';
  if (kind === 'ftpfwd-sshd') {
    proc = startProc(c, process.execPath, [
      ...NODE_FLAGS,
      SSHD_JS,
      '--listen',
      `127.0.0.1:${port}`,
      '--host-key',
      join(dir, 'hostkey'),
      '--authorized-keys',
      join(dir, 'authorized_keys'),
    ]);
  } else {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    name = userName();
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'hostkey')}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'GatewayPorts no',
      'MaxSessions 100',
      'MaxStartups 100:30:200',
      'LogLevel ERROR',
    ];
    writeFileSync(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
    proc = startProc(c, '/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')]);
  }
  await Promise.race([
    waitPort(port, '127.0.0.1', 20_000),
    proc.exited.then(() => {
      throw new Error(`${kind} exited before listening: ${proc.output().slice(-300)}`);
    }),
  ]);
  return {
    kind,
    port,
    user: name,
    knownHosts,
    userKey: user.priv,
    log: () => proc.output(),
    alive: () => proc.alive(),
    async stop() {
      // OpenSSH's per-connection processes call setsid(): stop() takes the tree
      for (const p of proc.child.pid ? descendants(proc.child.pid) : []) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await proc.stop(1000);
    },
  };
}

export interface ForwardSpec {
  /** Listen address of ftpfwd's local listener (127.0.0.1 or ::1). */
  bind: string;
  /** The FTP server, as the SSH server reaches it. */
  host: string;
  port: number;
}

export interface Ftpfwd {
  /** ftpfwd's listening port for each ForwardSpec, in order. */
  ports: number[];
  log(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

/** `ftpfwd -L ftp/BIND:P:HOST:PORT …` through `ssh`, once every listener accepts connections. */
export async function startFtpfwd(
  c: Cleanup,
  ssh: SshServer,
  forwards: ForwardSpec[],
  work: string,
  extraArgs: string[] = [],
): Promise<Ftpfwd> {
  const home = join(work, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const ports: number[] = [];
  const specs: string[] = [];
  for (const f of forwards) {
    const p = await freePort([f.bind]);
    ports.push(p);
    specs.push('-L', `ftp/${bracket(f.bind)}:${p}:${bracket(f.host)}:${f.port}`);
  }
  const proc = startProc(
    c,
    process.execPath,
    [
      ...NODE_FLAGS,
      FTPFWD_JS,
      '-p',
      String(ssh.port),
      '-i',
      ssh.userKey,
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${ssh.knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      ...extraArgs,
      ...specs,
      `${ssh.user}@127.0.0.1`,
    ],
    { env: cleanEnv(home) },
  );
  for (let i = 0; i < ports.length; i++) {
    await Promise.race([
      waitPort(ports[i] as number, forwards[i]?.bind, 20_000),
      proc.exited.then(() => {
        throw new Error(`ftpfwd exited: ${proc.output().slice(-400)}`);
      }),
    ]);
  }
  return { ports, log: () => proc.output(), alive: () => proc.alive(), stop: () => proc.stop(2000) };
}

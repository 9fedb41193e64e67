/**
 * Building blocks for FTP-over-SSH scenarios: the commands hosts run (ftp-srv, ftpfwd-sshd, ftpfwd,
 * tcpdump), the curl steps of the four transfer modes, keys, and payload files with a marker.
 * Everything runs the workspace's real CLIs, read-only mounted at the same path as on the host.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentCommand, AgentStep, BackgroundCommand } from './agent/plan.js';
import { workspaceRoot } from './engine.js';

export const MiB = 1024 * 1024;

/** Where a CLI of the workspace lives: node_modules/.bin when npm linked it, else the package's bin/. */
export function cliPath(name: 'ftpfwd' | 'ftpfwd-sshd' | 'ftp-srv'): string {
  const ws = workspaceRoot();
  const linked = join(ws, 'node_modules', '.bin', name);
  if (existsSync(linked)) return linked;
  const direct: Record<string, string> = {
    ftpfwd: join(ws, 'packages', 'client', 'bin', 'ftpfwd.js'),
    'ftpfwd-sshd': join(ws, 'packages', 'sshd', 'bin', 'ftpfwd-sshd.js'),
    'ftp-srv': join(ws, 'node_modules', 'ftp-srv', 'bin', 'index.js'),
  };
  const p = direct[name] as string;
  if (!existsSync(p))
    throw new Error(`${name} CLI not found (${linked} or ${p}); build the workspace and run npm install`);
  return p;
}

// ---------------------------------------------------------------- payload

export interface Payload {
  /** Host path of the file. */
  path: string;
  sha256: string;
  /** 32 random bytes embedded in the file: finding them in a capture means file data crossed in clear. */
  marker: Buffer;
}

/** Writes `size` random bytes with a fresh 32-byte marker at a random offset into `dir/name`. */
export function writePayload(dir: string, name: string, size = 16 * MiB): Payload {
  const data = randomBytes(size);
  const marker = randomBytes(32);
  marker.copy(data, Math.floor(Math.random() * (size - marker.length)));
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, sha256: sha256(data), marker };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

// ---------------------------------------------------------------- keys

export interface SshKeys {
  /** Host directory holding everything below; mount it read-only at /keys. */
  dir: string;
  hostKey: '/keys/host_ed25519';
  clientKey: '/keys/id_ed25519';
  authorizedKeys: '/keys/authorized_keys';
  knownHosts: '/keys/known_hosts';
}

/**
 * An ed25519 host key and client key (OpenSSH's ssh-keygen), authorized_keys for the client key, and a
 * known_hosts naming the host key for every `[addr]:port` given.
 */
export function writeSshKeys(dir: string, servers: { address: string; port: number }[]): SshKeys {
  for (const f of ['host_ed25519', 'id_ed25519']) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `e2e-${f}`, '-f', join(dir, f)]);
  }
  const hostPub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')));
  writeFileSync(
    join(dir, 'known_hosts'),
    servers.map((s) => `[${s.address}]:${s.port} ${hostPub}\n`).join(''),
  );
  return {
    dir,
    hostKey: '/keys/host_ed25519',
    clientKey: '/keys/id_ed25519',
    authorizedKeys: '/keys/authorized_keys',
    knownHosts: '/keys/known_hosts',
  };
}

// ---------------------------------------------------------------- commands

/** ftp-srv (the real CLI), anonymous, serving /srv read-write; prints "Listening" (bunyan JSON) when up. */
export function ftpSrv(opts: {
  listen?: string;
  pasvUrl: string;
  pasvMin?: number;
  pasvMax?: number;
}): BackgroundCommand {
  return {
    name: 'ftp-srv',
    argv: [
      'node',
      cliPath('ftp-srv'),
      `ftp://${opts.listen ?? '0.0.0.0:21'}`,
      '--root',
      '/srv',
      '--pasv_url',
      opts.pasvUrl,
      '--pasv_min',
      String(opts.pasvMin ?? 30000),
      '--pasv_max',
      String(opts.pasvMax ?? 30999),
    ],
    ready: 'Listening',
  };
}

/** ftpfwd-sshd with the keys of writeSshKeys (mounted at /keys) and any extra flags. */
export function ftpfwdSshd(keys: SshKeys, extra: string[] = [], listen = '0.0.0.0:2222'): BackgroundCommand {
  return {
    name: 'sshd',
    argv: [
      'node',
      cliPath('ftpfwd-sshd'),
      '--listen',
      listen,
      '--host-key',
      keys.hostKey,
      '--authorized-keys',
      keys.authorizedKeys,
      ...extra,
    ],
    ready: SSHD_READY,
  };
}

/**
 * OpenSSH's sshd (the host's /usr/sbin/sshd) as an SSH-only server: root by the key of
 * writeSshKeys, SFTP by internal-sftp, no forwarding of any kind, so what reaches the files went
 * through SFTP. `configDir` is mounted at /config and gets the sshd_config. The scratch image has
 * no privilege-separation user or directory: the setup commands add both.
 */
export function openSshd(
  keys: SshKeys,
  configDir: string,
  port = 2222,
): { setup: AgentCommand[]; background: BackgroundCommand } {
  const config = [
    `Port ${port}`,
    'ListenAddress 0.0.0.0',
    `HostKey ${keys.hostKey}`,
    `AuthorizedKeysFile ${keys.authorizedKeys}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AllowTcpForwarding no',
    'AllowStreamLocalForwarding no',
    'PermitTunnel no',
    'X11Forwarding no',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
  ];
  writeFileSync(join(configDir, 'sshd_config'), `${config.join('\n')}\n`);
  return {
    setup: [
      {
        name: 'privsep',
        argv: [
          'sh',
          '-c',
          'grep -q "^sshd:" /etc/passwd || echo "sshd:x:104:65534::/run/sshd:/usr/sbin/nologin" >> /etc/passwd; mkdir -p /run/sshd && chmod 755 /run/sshd',
        ],
      },
    ],
    background: {
      name: 'openssh',
      argv: ['/usr/sbin/sshd', '-D', '-e', '-f', '/config/sshd_config'],
      ready: 'Server listening on 0\\.0\\.0\\.0',
    },
  };
}

/** What ftpfwd-sshd prints once it listens (issue 3: addresses and fingerprints at start-up). */
export const SSHD_READY = 'listening on';

/**
 * ftpfwd with the client key and known_hosts of writeSshKeys (mounted at /keys), strict host-key
 * checking, and the given forwardings; ready once the last forwarding's line is logged
 * (`ftp 127.0.0.1:2121 -> host:21 via server:2222`).
 */
export function ftpfwd(
  keys: SshKeys,
  opts: { server: string; port?: number; forwards: string[]; extra?: string[]; name?: string; user?: string },
): BackgroundCommand {
  const fwd = opts.forwards.flatMap((f) => (f.startsWith('-') ? [f] : ['-L', f]));
  return {
    name: opts.name ?? 'ftpfwd',
    argv: [
      'node',
      cliPath('ftpfwd'),
      '-p',
      String(opts.port ?? 2222),
      '-i',
      keys.clientKey,
      '-o',
      `UserKnownHostsFile=${keys.knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      ...fwd,
      ...(opts.extra ?? []),
      `${opts.user ?? 'e2e'}@${opts.server}`,
    ],
    ready: FTPFWD_READY,
  };
}

/** The line ftpfwd logs per forwarding once it listens (issue 4). */
export const FTPFWD_READY = ' -> .* via ';

/**
 * tcpdump writing the packets on the interface holding `address` (or `any`) to /capture/<file>, with
 * an optional BPF filter (e.g. SYN_ONLY, so a capture under load loses nothing it needs).
 */
export function tcpdump(
  file: string,
  address: string | 'any',
  opts: { name?: string; filter?: string } = {},
): BackgroundCommand {
  const iface = address === 'any' ? 'any' : `{iface:${address}}`;
  return {
    name: opts.name ?? 'tcpdump',
    // -B: a 32 MiB kernel buffer, so bursts of 16 MiB transfers are not dropped.
    argv: [
      'tcpdump',
      '-i',
      iface,
      '-nn',
      '--immediate-mode',
      '-U',
      '-B',
      '32768',
      '-Z',
      'root',
      '-s',
      '0',
      '-w',
      `/capture/${file}`,
      ...(opts.filter ? [opts.filter] : []),
    ],
    ready: 'listening on',
  };
}

/** BPF filter for connection openings only (SYN and SYN-ACK). */
export const SYN_ONLY = 'tcp[tcpflags] & tcp-syn != 0';

// ---------------------------------------------------------------- curl

export const MODES = ['epsv', 'pasv', 'eprt', 'port'] as const;
export type FtpMode = (typeof MODES)[number];

/** curl's flags for a transfer mode; active modes make curl listen on `activeAddress`. */
export function curlModeArgs(mode: FtpMode, activeAddress: string): string[] {
  switch (mode) {
    case 'epsv':
      return [];
    case 'pasv':
      // curl ignores the address of a 227 reply by default; make it use it, as many FTP clients do,
      // so the address ftpfwd writes into the rewritten reply is what gets tested.
      return ['--disable-epsv', '--no-ftp-skip-pasv-ip'];
    case 'eprt':
      return ['--ftp-port', activeAddress];
    case 'port':
      return ['--ftp-port', activeAddress, '--disable-eprt'];
  }
}

export interface CurlPlanOptions {
  /** ftp://host:port of the forwarding, as the FTP client sees it. */
  url: string;
  /** Where curl listens in active modes (the FTP client host's own address as ftpfwd sees it). */
  activeAddress: string;
  /** Container path of the file to upload. */
  upload: string;
  /** Name of the file to download (in the server's /srv). */
  download: string;
  /** Prefix of step names and uploaded/downloaded file names (unique per client). */
  tag: string;
  modes?: readonly FtpMode[];
  /** Container directory for downloads (mounted from the host). */
  outDir?: string;
}

/**
 * For each mode: download (to <outDir>/<tag>-<mode>.bin), upload (as <tag>-<mode>.up on the server)
 * and a LIST; step names `<tag>-<mode>-down|up|list`.
 */
export function curlSteps(o: CurlPlanOptions): AgentStep[] {
  const steps: AgentStep[] = [];
  const base = ['curl', '-sS', '--fail', '--connect-timeout', '20', '--max-time', '120'];
  for (const mode of o.modes ?? MODES) {
    const m = curlModeArgs(mode, o.activeAddress);
    steps.push({
      name: `${o.tag}-${mode}-down`,
      argv: [...base, ...m, '-o', `${o.outDir ?? '/out'}/${o.tag}-${mode}.bin`, `${o.url}/${o.download}`],
    });
    steps.push({
      name: `${o.tag}-${mode}-up`,
      argv: [...base, ...m, '-T', o.upload, `${o.url}/${o.tag}-${mode}.up`],
    });
    steps.push({ name: `${o.tag}-${mode}-list`, argv: [...base, ...m, `${o.url}/`] });
  }
  return steps;
}

/** A passive basic-ftp session (download, upload, list) run by dist/tools/basic-ftp-run.js. */
export function basicFtpStep(o: {
  tag: string;
  host: string;
  port: number;
  download: string;
  upload: string;
  outDir?: string;
  /** Default anonymous. */
  login?: { user: string; password: string };
}): AgentStep {
  const script = join(workspaceRoot(), 'packages', 'e2e', 'dist', 'tools', 'basic-ftp-run.js');
  return {
    name: `${o.tag}-basic-ftp`,
    ...(o.login ? { env: { FTP_USER: o.login.user, FTP_PASSWORD: o.login.password } } : {}),
    argv: [
      'node',
      script,
      o.host,
      String(o.port),
      o.download,
      `${o.outDir ?? '/out'}/${o.tag}-basic-ftp.bin`,
      o.upload,
      `${o.tag}-basic-ftp.up`,
    ],
  };
}

/**
 * Command lines: what each program and each step of a scenario runs inside its container. Programs
 * are the workspace's real CLIs (through ftp.ts, as the topology tests use them) and Debian's vsftpd
 * and OpenSSH sshd; steps are curl, lftp and basic-ftp. Pure: every address is resolved already.
 *
 * Container paths: /srv the FTP root, /up the files to upload, /out downloads, /keys the SSH keys,
 * /config the host's generated config files, /capture the captures, /lab the start signal.
 */
import { join } from 'node:path';
import type { AgentStep, BackgroundCommand } from '../agent/plan.js';
import { workspaceRoot } from '../engine.js';
import { curlModeArgs, ftpfwd, ftpfwdSshd, ftpSrv, type SshKeys } from '../ftp.js';
import type { Action, Mode } from './schema.js';

export const KEYS: SshKeys = {
  dir: '/keys',
  hostKey: '/keys/host_ed25519',
  clientKey: '/keys/id_ed25519',
  authorizedKeys: '/keys/authorized_keys',
  knownHosts: '/keys/known_hosts',
};

/** The anonymous login every FTP client uses. */
export const FTP_LOGIN = { user: 'anonymous', password: 'lab@example.org' };

/** The passwd every host gets: ftp (vsftpd's anonymous user), sshd (OpenSSH's privilege separation), e2e. */
export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  'ftp:x:100:101:ftp:/srv:/usr/sbin/nologin',
  'sshd:x:101:65534::/run/sshd:/usr/sbin/nologin',
  // ftpfwd logs in as e2e@…; OpenSSH's sshd needs the user to exist (uid 0: it reads /keys).
  'e2e:x:0:0:e2e:/root:/bin/sh',
  '',
].join('\n');
export const GROUP = ['root:x:0:', 'ftp:x:101:', 'nogroup:x:65534:', ''].join('\n');
export const FTP_UID = 100;
export const FTP_GID = 101;

export interface Listen {
  address: string;
  port: number;
}

// ---------------------------------------------------------------- programs

export function ftpSrvCommand(o: {
  name: string;
  listen: Listen;
  pasvAddress: string;
  pasv: { min: number; max: number };
}): BackgroundCommand {
  return {
    ...ftpSrv({
      listen: `${o.listen.address}:${o.listen.port}`,
      pasvUrl: o.pasvAddress,
      pasvMin: o.pasv.min,
      pasvMax: o.pasv.max,
    }),
    name: o.name,
  };
}

/** Where vsftpd logs (it cannot open a pipe once it dropped privileges); serve copies it to stdout. */
const VSFTPD_LOG = '/tmp/vsftpd.log';

/** vsftpd.conf for an anonymous server on /srv (uploads in /srv/pub), logging its protocol. */
export function vsftpdConfig(o: {
  listen: Listen;
  pasvAddress?: string | undefined;
  pasv: { min: number; max: number };
}): string {
  return [
    'listen=YES',
    'listen_ipv6=NO',
    ...(o.listen.address === '0.0.0.0' ? [] : [`listen_address=${o.listen.address}`]),
    `listen_port=${o.listen.port}`,
    'background=NO',
    'anonymous_enable=YES',
    'local_enable=NO',
    'no_anon_password=YES',
    'anon_root=/srv',
    'write_enable=YES',
    'anon_upload_enable=YES',
    'anon_mkdir_write_enable=YES',
    'anon_other_write_enable=YES',
    'anon_umask=022',
    'ftp_username=ftp',
    'nopriv_user=nobody',
    'secure_chroot_dir=/run/vsftpd-empty',
    'pasv_enable=YES',
    `pasv_min_port=${o.pasv.min}`,
    `pasv_max_port=${o.pasv.max}`,
    ...(o.pasvAddress ? [`pasv_address=${o.pasvAddress}`] : []),
    'port_enable=YES',
    'connect_from_port_20=NO',
    'seccomp_sandbox=NO',
    'syslog_enable=NO',
    'xferlog_enable=YES',
    'xferlog_std_format=NO',
    'log_ftp_protocol=YES',
    `vsftpd_log_file=${VSFTPD_LOG}`,
    'max_clients=0',
    'max_per_ip=0',
    '',
  ].join('\n');
}

/** The helper that starts a server and says "listening" once its port is (no connection made). */
export function serveScript(): string {
  return join(workspaceRoot(), 'packages', 'e2e', 'dist', 'lab', 'serve.js');
}

export function vsftpdCommand(o: { name: string; listen: Listen; config: string }): BackgroundCommand {
  return {
    name: o.name,
    argv: [
      'node',
      serveScript(),
      `${o.listen.address}:${o.listen.port}`,
      '--tail',
      VSFTPD_LOG,
      '/usr/sbin/vsftpd',
      o.config,
    ],
    ready: 'listening on',
  };
}

export function ftpfwdSshdCommand(o: {
  name: string;
  listen: Listen;
  permitOpen?: string[] | undefined;
  permitListen?: string[] | undefined;
  gatewayPorts?: string | undefined;
  allowTcpForwarding?: string | undefined;
  args?: string[] | undefined;
}): BackgroundCommand {
  const extra = [
    ...(o.permitOpen ?? []).flatMap((p) => ['--permit-open', p]),
    ...(o.permitListen ?? []).flatMap((p) => ['--permit-listen', p]),
    ...(o.gatewayPorts ? ['--gateway-ports', o.gatewayPorts] : []),
    ...(o.allowTcpForwarding ? ['--allow-tcp-forwarding', o.allowTcpForwarding] : []),
    ...(o.args ?? []),
  ];
  return { ...ftpfwdSshd(KEYS, extra, `${o.listen.address}:${o.listen.port}`), name: o.name };
}

/** sshd_config for OpenSSH's sshd: the lab's keys, forwarding allowed, `extra` lines first (first value wins). */
export function opensshConfig(o: { listen: Listen; logLevel: string; extra: string[] }): string {
  return [
    ...o.extra,
    `Port ${o.listen.port}`,
    `ListenAddress ${o.listen.address}`,
    `HostKey ${KEYS.hostKey}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    `AuthorizedKeysFile ${KEYS.authorizedKeys}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes',
    `LogLevel ${o.logLevel}`,
    '',
  ].join('\n');
}

export function opensshCommand(o: { name: string; config: string }): BackgroundCommand {
  return { name: o.name, argv: ['/usr/sbin/sshd', '-D', '-e', '-f', o.config], ready: 'Server listening on' };
}

export function ftpfwdCommand(o: {
  name: string;
  server: string;
  port: number;
  forwards: string[];
  remoteForwards: string[];
  pasvTarget?: string | undefined;
  advertise?: string | undefined;
  dataPorts?: string | undefined;
  remoteDataBind?: string | undefined;
  remoteDataAdvertise?: string | undefined;
  gateway?: boolean | undefined;
  args?: string[] | undefined;
}): BackgroundCommand {
  const extra = [
    ...o.remoteForwards.flatMap((f) => ['-R', f]),
    ...(o.pasvTarget ? ['--pasv-target', o.pasvTarget] : []),
    ...(o.advertise ? ['--advertise', o.advertise] : []),
    ...(o.dataPorts ? ['--data-ports', o.dataPorts] : []),
    ...(o.remoteDataBind ? ['--remote-data-bind', o.remoteDataBind] : []),
    ...(o.remoteDataAdvertise ? ['--remote-data-advertise', o.remoteDataAdvertise] : []),
    ...(o.gateway ? ['-g'] : []),
    ...(o.args ?? []),
  ];
  return ftpfwd(KEYS, { server: o.server, port: o.port, forwards: o.forwards, extra, name: o.name });
}

// ---------------------------------------------------------------- steps

export interface TransferCommand {
  name: string;
  /** ADDRESS:PORT the FTP client connects to. */
  host: string;
  port: number;
  /** Remote file to download/list, local file to upload, remote name of the upload. */
  download?: string | undefined;
  upload?: string | undefined;
  remoteUpload?: string | undefined;
  connectTimeoutMs: number;
  timeoutMs: number;
  activeAddress?: string | undefined;
}

const secs = (ms: number) => String(Math.max(1, Math.round(ms / 1000)));

export function curlStep(
  action: Action,
  mode: Mode,
  o: TransferCommand & { activeAddress: string },
): AgentStep {
  const url = `ftp://${o.host}:${o.port}`;
  const base = [
    'curl',
    '-sS',
    '--fail',
    '--connect-timeout',
    secs(o.connectTimeoutMs),
    '--max-time',
    secs(o.timeoutMs),
  ];
  const m = curlModeArgs(mode, o.activeAddress);
  const argv =
    action === 'download'
      ? [...base, ...m, '-o', `/out/${o.name}.bin`, `${url}/${o.download}`]
      : action === 'upload'
        ? [...base, ...m, '-T', `/up/${o.upload}`, `${url}/${o.remoteUpload}`]
        : [...base, ...m, `${url}/`];
  return { name: o.name, argv, timeoutMs: o.timeoutMs + 10_000 };
}

/** lftp quoting: double quotes, backslash escapes. */
function q(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function lftpStep(action: Action, mode: Mode, o: TransferCommand): AgentStep {
  const cmd =
    action === 'download'
      ? `get ${q(o.download ?? '')} -o ${q(`/out/${o.name}.bin`)}`
      : action === 'upload'
        ? `put ${q(`/up/${o.upload}`)} -o ${q(o.remoteUpload ?? '')}`
        : 'ls';
  const script = [
    'set cmd:fail-exit yes',
    'set ftp:ssl-allow no',
    'set net:max-retries 1',
    `set net:timeout ${secs(o.connectTimeoutMs)}`,
    'set net:reconnect-interval-base 1',
    'set xfer:clobber on',
    `set ftp:passive-mode ${mode === 'epsv' || mode === 'pasv' ? 'on' : 'off'}`,
    `set ftp:prefer-epsv ${mode === 'epsv' ? 'yes' : 'no'}`,
    ...(o.activeAddress ? [`set ftp:port-ipv4 ${o.activeAddress}`] : []),
    `open -u ${q(`${FTP_LOGIN.user},${FTP_LOGIN.password}`)} ${q(`ftp://${o.host}:${o.port}`)}`,
    cmd,
  ].join('; ');
  return { name: o.name, argv: ['lftp', '-c', script], timeoutMs: o.timeoutMs };
}

/** One passive basic-ftp session: download, upload, list (dist/tools/basic-ftp-run.js). */
export function basicFtpSession(o: TransferCommand): AgentStep {
  const script = join(workspaceRoot(), 'packages', 'e2e', 'dist', 'tools', 'basic-ftp-run.js');
  return {
    name: o.name,
    argv: [
      'node',
      script,
      o.host,
      String(o.port),
      o.download ?? '',
      `/out/${o.name}.bin`,
      `/up/${o.upload}`,
      o.remoteUpload ?? '',
    ],
    timeoutMs: o.timeoutMs,
  };
}

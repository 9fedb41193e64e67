// A private vsftpd (Debian's, which sends files with sendfile) on 127.0.0.1: its own config file,
// anonymous and writable in up/, passive ports from the range the bench reserved, no PAM involved
// (anonymous logins never reach PAM), seccomp sandbox off (it kills sessions in some sandboxes).
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processTree, startProcess, waitPort } from '../procs.mjs';

const VSFTPD = '/usr/sbin/vsftpd';
const EMPTY = '/var/run/vsftpd/empty';

export async function startVsftpd({ dir, port, pasvMin, pasvMax, name = 'vsftpd' }) {
  if (!existsSync(VSFTPD)) throw new Error(`${VSFTPD} not found: run tools/setup-machine (installs vsftpd)`);
  if (process.getuid() !== 0)
    throw new Error('vsftpd needs root (it chroots anonymous sessions); run the bench as root');
  if (!existsSync(EMPTY)) mkdirSync(EMPTY, { recursive: true, mode: 0o755 });
  const root = join(dir, 'root');
  const ftp = systemUser('ftp');
  chownSync(join(root, 'up'), ftp.uid, ftp.gid);
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=YES',
      'local_enable=NO',
      'no_anon_password=YES',
      `anon_root=${root}`,
      'write_enable=YES',
      'anon_upload_enable=YES',
      'anon_other_write_enable=YES',
      'anon_umask=022',
      'allow_writeable_chroot=YES',
      'pasv_enable=YES',
      `pasv_min_port=${pasvMin}`,
      `pasv_max_port=${pasvMax}`,
      'pasv_address=127.0.0.1',
      'port_enable=YES',
      'connect_from_port_20=NO',
      'seccomp_sandbox=NO',
      'use_sendfile=YES',
      'xferlog_enable=NO',
      'dirmessage_enable=NO',
      `secure_chroot_dir=${EMPTY}`,
      'ftp_username=ftp',
      'nopriv_user=nobody',
      'max_clients=0',
      'max_per_ip=0',
      'idle_session_timeout=600',
      'data_connection_timeout=300',
      'ftpd_banner=bench vsftpd',
      '',
    ].join('\n'),
  );
  const proc = startProcess(name, VSFTPD, [conf], { logFile: join(dir, 'logs', `${name}.log`) });
  await waitPort(port, '127.0.0.1', proc);
  // Processes before any session; each session adds two (privileged and unprivileged halves).
  proc.idleProcesses = processTree(proc.pid).length;
  return proc;
}

function systemUser(name) {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line)
    throw new Error(`no '${name}' user: vsftpd's anonymous sessions run as it (install vsftpd from Debian)`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProc, waitPort } from '../procs.js';
import { debianBinary } from './debian.js';
import { getpwnam, passiveRange, readLog, type ServerSpec, type SiteLayout } from './types.js';

let binary: string | undefined;

/**
 * vsftpd's anonymous user: `ftp` when the system has it (the vsftpd package creates it), else
 * `daemon`. vsftpd changes into that user's home before it applies anon_root, so a user whose home
 * does not exist (nobody's /nonexistent) cannot log in.
 */
function ftpUser() {
  for (const name of ['ftp', 'daemon']) {
    const e = getpwnam(name);
    if (e && existsSync(e.home)) return e;
  }
  throw new Error('vsftpd needs a system user "ftp" or "daemon" whose home directory exists');
}

export const vsftpd: ServerSpec = {
  kind: 'vsftpd',
  login:
    'anonymous (local users need PAM and a system account); uploads go to pub/, because vsftpd refuses a chroot root its anonymous user can write',
  ipv6: true,
  passive: {
    v4: passiveRange('vsftpd', 'v4').join('-'),
    v6: passiveRange('vsftpd', 'v6').join('-'),
  },
  quirks: [
    '500 OOPS: vsftpd: refusing to run with writable root inside chroot() — the anonymous root must not be writable by its user; clients work in pub/',
    'refuses a root under a 0700 directory (it drops privileges before changing into it)',
    'anonymous login fails with "500 OOPS: cannot change directory:/nonexistent" when its ftp_username has no home directory, even with anon_root set (so not nobody: ftp, else daemon)',
    'no MLSD/MLST (500 Unknown command)',
    'async_abor_enable is off by default: an ABOR sent during a transfer is read only when the transfer ends, so ftplib\'s abort() with the data connection still open hangs; closing the data connection first gives "426 Failure writing network stream." then "225 No transfer to ABOR."',
    'PORT/EPRT to an address other than the control peer is refused (port_promiscuous=NO), and passive data connections must come from the control peer (pasv_promiscuous=NO)',
    'one process per listening address: IPv6 (::1) needs its own instance with listen_ipv6=YES',
  ],
  prepare() {
    const b = debianBinary('vsftpd', 'usr/sbin/vsftpd');
    binary = b.path;
    return b.version;
  },
  layout(base: string): SiteLayout {
    const user = ftpUser();
    const pub = join(base, 'pub');
    mkdirSync(pub, { recursive: true });
    chmodSync(base, 0o755);
    chownSync(pub, user.uid, user.gid);
    chmodSync(pub, 0o755);
    return { loginRoot: base, root: pub, dir: 'pub', uid: user.uid, gid: user.gid };
  },
  async start(c, { host, layout, work }) {
    if (!binary) vsftpd.prepare();
    const v6 = host.includes(':');
    const port = await freePort([host]);
    const [lo, hi] = passiveRange('vsftpd', v6 ? 'v6' : 'v4');
    const empty = join(work, 'empty');
    mkdirSync(empty, { recursive: true, mode: 0o755 });
    const logFile = join(work, 'vsftpd.log');
    const conf = [
      v6 ? 'listen=NO' : 'listen=YES',
      v6 ? 'listen_ipv6=YES' : 'listen_ipv6=NO',
      v6 ? `listen_address6=${host}` : `listen_address=${host}`,
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=YES',
      'local_enable=NO',
      'no_anon_password=YES',
      `anon_root=${layout.loginRoot}`,
      'write_enable=YES',
      'anon_upload_enable=YES',
      'anon_mkdir_write_enable=YES',
      'anon_other_write_enable=YES',
      'anon_umask=022',
      `ftp_username=${ftpUser().name}`,
      'nopriv_user=nobody',
      `secure_chroot_dir=${empty}`,
      'pasv_enable=YES',
      `pasv_min_port=${lo}`,
      `pasv_max_port=${hi}`,
      'port_enable=YES',
      'connect_from_port_20=NO',
      'seccomp_sandbox=NO',
      'syslog_enable=NO',
      `vsftpd_log_file=${logFile}`,
      'log_ftp_protocol=YES',
      'xferlog_enable=YES',
      'xferlog_std_format=NO',
      'max_clients=0',
      'max_per_ip=0',
    ];
    const confFile = join(work, 'vsftpd.conf');
    writeFileSync(confFile, `${conf.join('\n')}\n`);
    const proc = startProc(c, binary as string, [confFile]);
    await Promise.race([
      waitPort(port, host, 10_000),
      proc.exited.then(() => {
        throw new Error(`vsftpd exited: ${proc.output().slice(-300)}`);
      }),
    ]);
    return {
      kind: 'vsftpd',
      host,
      port,
      user: 'anonymous',
      password: 'peers@example.org',
      root: layout.root,
      dir: layout.dir,
      log: () => proc.output() + readLog(logFile),
      alive: () => proc.alive(),
      stop: () => proc.stop(),
    };
  },
};

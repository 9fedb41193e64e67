import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProc, waitPort } from '../procs.js';
import { debianBinary } from './debian.js';
import {
  PASSWORD,
  passiveRange,
  readLog,
  type ServerSpec,
  type SiteLayout,
  sha512crypt,
  USER,
} from './types.js';

let binary: string | undefined;
const NOBODY = 65534;

export const proftpd: ServerSpec = {
  kind: 'proftpd',
  login: `user "${USER}" with a password from a private AuthUserFile (mod_auth_file; no PAM, no system account), chrooted to the site`,
  ipv6: true,
  passive: {
    v4: passiveRange('proftpd', 'v4').join('-'),
    v6: passiveRange('proftpd', 'v6').join('-'),
  },
  quirks: [
    'Debian links proftpd against libhiredis, libmemcached(util) and libpcre2-posix even when those modules are off: an unpacked (not installed) proftpd needs them installed (tools/setup-machine does)',
    'runs as root and switches to the virtual user (uid 65534 here); the site must be writable by it',
    'PORT/EPRT to an address other than the control peer is refused (AllowForeignAddress off by default)',
    'does not read urgent data inline: ftplib\'s abort() (ABOR with MSG_OOB) leaves "ABOR\\r" glued to the next command even without a tunnel ("500 \'ABOR NOOP\' not understood"); lftp\'s Telnet IP + Synch abort works',
    'the standalone master pauses ~0.2-0.4 s after each session ends before it accepts the next: back-to-back sessions are slow',
  ],
  prepare() {
    const b = debianBinary('proftpd-core', 'usr/sbin/proftpd');
    binary = b.path;
    return b.version;
  },
  layout(base: string): SiteLayout {
    mkdirSync(base, { recursive: true });
    chownSync(base, NOBODY, NOBODY);
    chmodSync(base, 0o755);
    return { loginRoot: base, root: base, dir: '', uid: NOBODY, gid: NOBODY };
  },
  async start(c, { host, layout, work }) {
    if (!binary) proftpd.prepare();
    const v6 = host.includes(':');
    const port = await freePort([host]);
    const [lo, hi] = passiveRange('proftpd', v6 ? 'v6' : 'v4');
    const passwd = join(work, 'passwd');
    const group = join(work, 'group');
    writeFileSync(
      passwd,
      `${USER}:${sha512crypt(PASSWORD)}:${NOBODY}:${NOBODY}::${layout.loginRoot}:/bin/sh\n`,
      {
        mode: 0o600,
      },
    );
    writeFileSync(group, `${USER}:x:${NOBODY}:\n`, { mode: 0o600 });
    const systemLog = join(work, 'system.log');
    const conf = [
      'ServerType standalone',
      'ServerName "ftpfwd peers proftpd"',
      `DefaultAddress ${host}`,
      'SocketBindTight on',
      `Port ${port}`,
      v6 ? 'UseIPv6 on' : 'UseIPv6 off',
      'User nobody',
      'Group nogroup',
      `PidFile ${join(work, 'proftpd.pid')}`,
      `ScoreboardFile ${join(work, 'scoreboard')}`,
      'DelayTable none',
      'WtmpLog off',
      'UseReverseDNS off',
      `SystemLog ${systemLog}`,
      `TransferLog ${join(work, 'xfer.log')}`,
      'AuthOrder mod_auth_file.c',
      `AuthUserFile ${passwd}`,
      `AuthGroupFile ${group}`,
      'RequireValidShell off',
      'DefaultRoot ~',
      `PassivePorts ${lo} ${hi}`,
      'AllowOverwrite on',
      'AllowStoreRestart on',
      'AllowRetrieveRestart on',
      'Umask 022',
      'MaxInstances 100',
    ];
    const confFile = join(work, 'proftpd.conf');
    writeFileSync(confFile, `${conf.join('\n')}\n`);
    const proc = startProc(c, binary as string, ['-n', '-c', confFile]);
    await Promise.race([
      waitPort(port, host, 10_000),
      proc.exited.then(() => {
        throw new Error(`proftpd exited: ${(proc.output() + readLog(systemLog)).slice(-300)}`);
      }),
    ]);
    return {
      kind: 'proftpd',
      host,
      port,
      user: USER,
      password: PASSWORD,
      root: layout.root,
      dir: layout.dir,
      log: () => proc.output() + readLog(systemLog),
      alive: () => proc.alive(),
      stop: () => proc.stop(),
    };
  },
};

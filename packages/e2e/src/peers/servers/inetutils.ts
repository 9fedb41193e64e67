import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, PYTHON, startProc, TOOLS } from '../procs.js';
import { debianBinary } from './debian.js';
import { PASSWORD, type ServerSpec, type SiteLayout, sha512crypt, USER } from './types.js';

let binary: string | undefined;
const NOBODY = 65534;

/**
 * GNU inetutils ftpd is an inetd service: tools/peers/inetd.py accepts on the port and runs one ftpd
 * per connection on the socket. ftpd authenticates only system accounts (crypt against
 * /etc/shadow), so the shim runs in a private mount namespace (`unshare -m`) where /etc/passwd,
 * /etc/shadow and /etc/group are bind-mounted from the run's own files: a user with a password
 * exists for this server only, and the machine's accounts are neither read nor changed.
 */
export const inetutilsFtpd: ServerSpec = {
  kind: 'inetutils-ftpd',
  login: `system user "${USER}" (uid 65534) with a password, from a private /etc/passwd + /etc/shadow bind-mounted in a mount namespace of its own (ftpd knows only system accounts); not chrooted`,
  ipv6: true,
  passive: { v4: 'kernel', v6: 'kernel' },
  quirks: [
    'an inetd service: needs an inetd (here a Python accept-and-run shim, tools/peers/inetd.py)',
    'no option for a passive port range: its passive ports are the kernel ephemeral ones (32768+)',
    'no chroot for real users: PWD shows the full local path; clients use relative paths',
    'no MLSD/MLST (500)',
    'the 230 reply after login is multi-line (it carries /etc/motd)',
    'logs only to syslog (there is none here): its log text is what the shim saw',
  ],
  prepare() {
    const b = debianBinary('inetutils-ftpd', 'usr/sbin/ftpd');
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
    if (!binary) inetutilsFtpd.prepare();
    const port = await freePort([host]);
    const etc = join(work, 'etc');
    mkdirSync(etc, { recursive: true });
    writeFileSync(
      join(etc, 'passwd'),
      [
        'root:x:0:0:root:/root:/bin/sh',
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
        `${USER}:x:${NOBODY}:${NOBODY}:ftpfwd peers:${layout.loginRoot}:/bin/sh`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(etc, 'shadow'),
      `root:*:19000:0:99999:7:::\n${USER}:${sha512crypt(PASSWORD)}:19000:0:99999:7:::\n`,
      {
        mode: 0o600,
      },
    );
    writeFileSync(join(etc, 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    const script = [
      'set -e',
      `mount --bind ${etc}/passwd /etc/passwd`,
      `mount --bind ${etc}/shadow /etc/shadow`,
      `mount --bind ${etc}/group /etc/group`,
      'exec "$@"',
    ].join('\n');
    const proc = startProc(c, 'unshare', [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'inetd',
      PYTHON,
      join(TOOLS, 'inetd.py'),
      host,
      String(port),
      binary as string,
    ]);
    await proc.waitFor(/inetd listening/, 10_000);
    return {
      kind: 'inetutils-ftpd',
      host,
      port,
      user: USER,
      password: PASSWORD,
      root: layout.root,
      dir: layout.dir,
      log: () => proc.output(),
      alive: () => proc.alive(),
      stop: () => proc.stop(),
    };
  },
};

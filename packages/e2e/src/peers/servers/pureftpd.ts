import { execFileSync } from 'node:child_process';
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
let purePw: string | undefined;
const NOBODY = 65534;

export const pureFtpd: ServerSpec = {
  kind: 'pure-ftpd',
  login: `virtual user "${USER}" with a password in a private PureDB (no PAM, no system account), chrooted`,
  ipv6: true,
  passive: {
    v4: passiveRange('pure-ftpd', 'v4').join('-'),
    v6: passiveRange('pure-ftpd', 'v6').join('-'),
  },
  quirks: [
    'pure-pw hashes passwords with argon2id at t=1023: each login then costs ~5 s of CPU here; the matrix writes a SHA-512 crypt hash into the passwd file itself and builds the PureDB with pure-pw mkdb',
    'logs only to syslog (there is none here): its log text is empty',
    'NLST lists "." and ".." too; MLSD reports the size of "." and ".." as "sizd="',
    'after a transfer the client stopped, its first reply is "150 0.000 seconds (measured here), …" and then "226 Since you see this ABOR must\'ve succeeded": ftplib\'s abort() raises error_proto on the 150; whether the ABOR is seen at all depends on timing (it does not read urgent data inline)',
    'sends its final 226 as soon as the data is written: when the data connection is connected late (a proxy in active mode), the 226 can reach the client first ("Ctrl conn has data while waiting for data conn"; issue 14)',
    'refuses an EPRT whose family differs from the control connection: "500 I won\'t open a connection to 127.0.0.1 (only to ::1)"',
  ],
  prepare() {
    const b = debianBinary('pure-ftpd', 'usr/sbin/pure-ftpd');
    binary = b.path;
    purePw = debianBinary('pure-ftpd', 'usr/bin/pure-pw').path;
    return b.version;
  },
  layout(base: string): SiteLayout {
    mkdirSync(base, { recursive: true });
    chownSync(base, NOBODY, NOBODY);
    chmodSync(base, 0o755);
    return { loginRoot: base, root: base, dir: '', uid: NOBODY, gid: NOBODY };
  },
  async start(c, { host, layout, work }) {
    if (!binary) pureFtpd.prepare();
    const v6 = host.includes(':');
    const port = await freePort([host]);
    const [lo, hi] = passiveRange('pure-ftpd', v6 ? 'v6' : 'v4');
    const passwd = join(work, 'pureftpd.passwd');
    const pdb = join(work, 'pureftpd.pdb');
    // user:hash:uid:gid:gecos:home (/./ marks the chroot point):then 13 empty limit fields
    writeFileSync(
      passwd,
      `${USER}:${sha512crypt(PASSWORD)}:${NOBODY}:${NOBODY}::${layout.loginRoot}/./::::::::::::\n`,
      { mode: 0o600 },
    );
    execFileSync(purePw as string, ['mkdb', pdb, '-f', passwd], { stdio: 'pipe' });
    const xfer = join(work, 'transfer.log');
    const proc = startProc(c, binary as string, [
      '-S',
      `${host},${port}`,
      '-l',
      `puredb:${pdb}`,
      '-E', // no anonymous logins
      '-A', // chroot everyone
      '-H', // no reverse DNS
      '-p',
      `${lo}:${hi}`,
      '-O',
      `clf:${xfer}`,
      '-g',
      join(work, 'pure-ftpd.pid'),
    ]);
    await Promise.race([
      waitPort(port, host, 10_000),
      proc.exited.then(() => {
        throw new Error(`pure-ftpd exited: ${proc.output().slice(-300)}`);
      }),
    ]);
    return {
      kind: 'pure-ftpd',
      host,
      port,
      user: USER,
      password: PASSWORD,
      root: layout.root,
      dir: layout.dir,
      log: () => proc.output() + readLog(xfer),
      alive: () => proc.alive(),
      stop: () => proc.stop(),
    };
  },
};

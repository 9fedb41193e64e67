import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { freePort, PYTHON, startProc } from '../procs.js';
import { PASSWORD, passiveRange, type ServerSpec, type SiteLayout, USER } from './types.js';

let version: string | undefined;

export const pyftpdlib: ServerSpec = {
  kind: 'pyftpdlib',
  login: `user "${USER}" with a password (its command line's -u/-P), write access (-w)`,
  ipv6: true,
  passive: {
    v4: passiveRange('pyftpdlib', 'v4').join('-'),
    v6: passiveRange('pyftpdlib', 'v6').join('-'),
  },
  quirks: [
    "a Debian python3 module (python3-pyftpdlib): run with /usr/bin/python3, not pyenv's python",
    'on IPv6 it answers PASV with an IPv6-form 227: "227 Entering passive mode (::1,p1,p2)."',
    'refuses PORT/EPRT to an address other than the control peer: "501 Rejected data connection to foreign address 127.0.0.1:…" (permit_foreign_addresses=False)',
    'lftp\'s abort (Telnet IP + Synch + ABOR) leaves it one reply behind ("server bug: 426 reply missed"): lftp abort fails without the tunnel too',
  ],
  prepare() {
    try {
      version = execFileSync(PYTHON, ['-c', 'import pyftpdlib; print(pyftpdlib.__ver__)'], {
        encoding: 'utf8',
        stdio: 'pipe',
      }).trim();
    } catch {
      throw new Error(`${PYTHON} has no pyftpdlib: install python3-pyftpdlib (tools/setup-machine does)`);
    }
    return version;
  },
  layout(base: string): SiteLayout {
    mkdirSync(base, { recursive: true });
    return { loginRoot: base, root: base, dir: '', uid: 0, gid: 0 };
  },
  async start(c, { host, layout }) {
    if (!version) pyftpdlib.prepare();
    const v6 = host.includes(':');
    const port = await freePort([host]);
    const [lo, hi] = passiveRange('pyftpdlib', v6 ? 'v6' : 'v4');
    const proc = startProc(c, PYTHON, [
      '-m',
      'pyftpdlib',
      '-i',
      host,
      '-p',
      String(port),
      '-w',
      '-d',
      layout.loginRoot,
      '-u',
      USER,
      '-P',
      PASSWORD,
      '-r',
      `${lo}-${hi}`,
    ]);
    await proc.waitFor(/>>> starting FTP server on/, 15_000);
    return {
      kind: 'pyftpdlib',
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

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort, REPO, startProc, TOOLS } from '../procs.js';
import { PASSWORD, passiveRange, type ServerSpec, type SiteLayout, USER } from './types.js';

let version: string | undefined;

export const ftpSrv: ServerSpec = {
  kind: 'ftp-srv',
  login: `user "${USER}" with a password (its login event)`,
  ipv6: true,
  passive: {
    v4: passiveRange('ftp-srv', 'v4').join('-'),
    v6: passiveRange('ftp-srv', 'v6').join('-'),
  },
  quirks: [
    'PASV answers 502 unless pasv_url is set',
    'data connections and PORT/EPRT addresses must match the control peer\'s IP ("Remote addresses do not match" / "The given address is not yours"): through ftpfwd the control peer is the SSH server, so only data channels that really go through the tunnel work',
    'installs SIGTERM handlers that call process.exit: run it in a child process (tools/peers/ftpsrv.cjs)',
    'no MLSD (502 Command not allowed); does not understand Telnet IP/Synch: lftp\'s abort gets "502 Command not allowed: <the IAC bytes>"',
    'REST before STOR truncates the file and writes at the offset: an upload resumed with lftp put -c leaves zeros where the first part was',
    'ends a transfer whose data connection the client closed with "551 write ECONNRESET" (not 426), then answers ABOR with 225',
  ],
  prepare() {
    const req = createRequire(join(REPO, 'packages', 'e2e', 'package.json'));
    const pkg = JSON.parse(readFileSync(req.resolve('ftp-srv/package.json'), 'utf8')) as { version: string };
    version = pkg.version;
    return version;
  },
  layout(base: string): SiteLayout {
    mkdirSync(base, { recursive: true });
    return { loginRoot: base, root: base, dir: '', uid: 0, gid: 0 };
  },
  async start(c, { host, layout }) {
    if (!version) ftpSrv.prepare();
    const port = await freePort([host]);
    const [lo, hi] = passiveRange('ftp-srv', host.includes(':') ? 'v6' : 'v4');
    const proc = startProc(c, process.execPath, [
      join(TOOLS, 'ftpsrv.cjs'),
      host,
      String(port),
      layout.loginRoot,
      USER,
      PASSWORD,
      String(lo),
      String(hi),
    ]);
    await proc.waitFor(/ftp-srv listening/, 15_000);
    return {
      kind: 'ftp-srv',
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

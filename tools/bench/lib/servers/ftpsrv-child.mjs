// ftp-srv in its own process (so its CPU is measured apart from the bench): anonymous, writable.
// Usage: node ftpsrv-child.mjs ROOT PORT PASV_MIN PASV_MAX
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [root, port, pasvMin, pasvMax, repoRoot] = process.argv.slice(2);
// ftp-srv is a dependency of the e2e package only (DESIGN.md); resolve it from there.
const require = createRequire(join(repoRoot, 'packages', 'e2e', 'package.json'));
const { FtpSrv } = require('ftp-srv');
const srv = new FtpSrv({
  url: `ftp://127.0.0.1:${port}`,
  pasv_url: '127.0.0.1',
  pasv_min: Number(pasvMin),
  pasv_max: Number(pasvMax),
  anonymous: true,
  greeting: 'bench ftp-srv',
  log: {
    trace() {},
    debug() {},
    info() {},
    warn() {},
    error() {},
    fatal() {},
    child() {
      return this;
    },
  },
});
srv.on('login', (_data, resolve) => resolve({ root }));
srv.on('client-error', () => {});
await srv.listen();

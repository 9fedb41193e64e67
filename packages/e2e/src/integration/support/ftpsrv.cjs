// ftp-srv in its own process for the integration tests: node ftpsrv.cjs ROOT PORT PASV_ADDR
// (ftp-srv installs SIGTERM handlers that call process.exit; keep it out of the test runner).
// ftp-srv is a dependency of the e2e package only (never of the shipped client); resolve it there.
const path = require('node:path');
const repo = path.resolve(__dirname, '../../../../..');
const { FtpSrv } = require(require.resolve('ftp-srv', { paths: [path.join(repo, 'packages/e2e'), repo] }));
const [root, port, pasv] = process.argv.slice(2);
const log = {
  info() {},
  debug() {},
  trace() {},
  warn() {},
  error() {},
  child() {
    return log;
  },
};
const srv = new FtpSrv({
  url: `ftp://127.0.0.1:${port}`,
  pasv_url: pasv || '127.0.0.1',
  pasv_min: 31000,
  pasv_max: 31999,
  anonymous: true,
  greeting: 'test ftp-srv',
  log,
});
srv.on('login', (_d, resolve) => resolve({ root }));
srv.listen().then(() => console.log('ftp-srv listening', port));

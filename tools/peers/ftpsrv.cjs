// ftp-srv for the peer matrix, in its own process (it installs SIGTERM handlers that call
// process.exit): node ftpsrv.cjs HOST PORT ROOT USER PASSWORD PASV_MIN PASV_MAX
// One user with a password, root ROOT, passive replies naming HOST. ftp-srv is a dependency of the
// e2e package only; resolve it there.
const path = require('node:path');
const repo = path.resolve(__dirname, '../..');
const { FtpSrv } = require(require.resolve('ftp-srv', { paths: [path.join(repo, 'packages/e2e'), repo] }));

const [host, port, root, user, password, pasvMin, pasvMax] = process.argv.slice(2);
const url = host.includes(':') ? `ftp://[${host}]:${port}` : `ftp://${host}:${port}`;
const lines = [];
const log = {
  info(...a) {
    lines.push(a);
  },
  debug() {},
  trace() {},
  warn(...a) {
    console.error('warn', JSON.stringify(a.map(String)));
  },
  error(...a) {
    console.error('error', JSON.stringify(a.map((x) => (x instanceof Error ? x.message : String(x)))));
  },
  child() {
    return log;
  },
};
const srv = new FtpSrv({
  url,
  pasv_url: host,
  pasv_min: Number(pasvMin),
  pasv_max: Number(pasvMax),
  anonymous: false,
  greeting: 'ftpfwd peers ftp-srv',
  log,
});
srv.on('login', ({ username, password: pass }, resolve, reject) => {
  if (username === user && pass === password) resolve({ root });
  else reject(new Error('bad login'));
});
srv.on('client-error', ({ context, error }) => {
  console.error('client-error', context, error?.message ?? String(error));
});
srv.listen().then(() => console.log('ftp-srv listening', host, port));

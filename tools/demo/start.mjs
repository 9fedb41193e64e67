#!/usr/bin/env node
// `npm start`: ftpfwd's main job on a built-in default, all on loopback.
// Starts ftp-srv on a sample directory, ftpfwd-sshd with throwaway keys (permitting only that FTP
// server, FTP-aware), and ftpfwd forwarding ftp/127.0.0.1:2121 through them; prints curl commands to
// try and a live status line; Ctrl-C stops everything and removes the temporary files.
//   node tools/demo/start.mjs [--port 2121] [--self-test]
// --self-test runs the printed curl commands itself (download + upload in EPSV, PASV, EPRT, PORT,
// and a listing), checks sha256, and exits 0 or 1: the quick start is tested, not just described.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const selfTest = flag('--self-test');
const wantedPort = Number(option('--port', '2121'));
const children = [];
let tmp;
let ftpServer;
let stopping = false;

function fail(message) {
  console.error(`demo: ${message}`);
  return shutdown(1);
}

async function freePort() {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port, what, child, seconds = 20) {
  for (let i = 0; i < seconds * 20; i++) {
    if (child && child.exitCode !== null)
      throw new Error(`${what} exited (code ${child.exitCode}): ${child.tail()}`);
    const ok = await new Promise((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port}${child ? `: ${child.tail()}` : ''}`);
}

/** Waits for a line in a child's output: probing the FTP port would itself open an FTP session. */
async function waitForOutput(child, text, what, seconds = 20) {
  for (let i = 0; i < seconds * 20; i++) {
    if (child.output().includes(text)) return;
    if (child.exitCode !== null) throw new Error(`${what} exited (code ${child.exitCode}): ${child.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not say "${text}": ${child.tail()}`);
}

function run(name, argv) {
  const child = spawn(bin(name), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (d) => {
    log = (log + d.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.tail = () => log.trim().split('\n').slice(-3).join(' | ');
  child.output = () => log;
  child.on('exit', (code, signal) => {
    if (!stopping) fail(`${name} stopped unexpectedly (${signal ?? `exit ${code}`}): ${child.tail()}`);
  });
  children.push(child);
  return child;
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Writes an OpenSSH key pair (private 0600 + .pub), so no ssh-keygen is needed. ftpfwd-sshd's
 * generateKeyPair, not ssh2's directly: ~0.5 % of ssh2's ed25519 pairs do not parse back.
 */
async function keyPair(path) {
  const { generateKeyPair } = await import('@ftpfwd/sshd');
  const keys = generateKeyPair('ed25519', 'ftpfwd-demo');
  writeFileSync(path, keys.private, { mode: 0o600 });
  chmodSync(path, 0o600);
  writeFileSync(`${path}.pub`, `${keys.public}\n`);
  return keys.public.trim();
}

/** Sums the samples of a Prometheus metric whose labels contain `match`. */
function metric(text, name, match = '') {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith('{') || rest.startsWith(' '))) continue;
    if (match && !rest.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

function human(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

async function status(metricsPort) {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  const text = await res.text();
  const active = metric(text, 'ftpfwd_sessions_active', 'protocol="ftp"');
  const total = metric(text, 'ftpfwd_sessions_total', 'protocol="ftp"');
  const channelsOk = metric(text, 'ftpfwd_ftp_data_channels_total', 'result="opened"');
  const channelsFailed = metric(text, 'ftpfwd_ftp_data_channels_total', 'result="failed"');
  const bytes =
    metric(text, 'ftpfwd_ftp_data_bytes_total') + metric(text, 'ftpfwd_bytes_total', 'protocol="ftp"');
  const link = metric(text, 'ftpfwd_link_up') ? 'up' : 'DOWN';
  const line = `ssh link ${link} | ftp sessions ${active} open, ${total} total | data channels ${channelsOk} ok, ${channelsFailed} failed | ${human(bytes)} through the tunnel`;
  return { line, channelsOk, channelsFailed };
}

const curl = promisify(execFile);

async function runSelfTest(port, rootDir) {
  const url = `ftp://127.0.0.1:${port}`;
  const modes = {
    EPSV: [],
    PASV: ['--disable-epsv'],
    EPRT: ['--ftp-port', '127.0.0.1'],
    PORT: ['--ftp-port', '127.0.0.1', '--disable-eprt'],
  };
  const expected = sha256(join(rootDir, 'sample-1MiB.bin'));
  const out = join(tmp, 'downloads');
  mkdirSync(out);
  for (const [mode, extra] of Object.entries(modes)) {
    const file = join(out, `${mode}.bin`);
    await curl('curl', ['-sS', '--max-time', '30', ...extra, `${url}/sample-1MiB.bin`, '-o', file]);
    if (sha256(file) !== expected) throw new Error(`${mode} download: sha256 differs`);
    await curl('curl', ['-sS', '--max-time', '30', ...extra, '-T', file, `${url}/uploads/${mode}.bin`]);
    if (sha256(join(rootDir, 'uploads', `${mode}.bin`)) !== expected)
      throw new Error(`${mode} upload: sha256 differs`);
    console.log(`ok ${mode}: download and upload of 1 MiB, sha256 equal`);
  }
  const { stdout } = await curl('curl', ['-sS', '--max-time', '30', `${url}/`]);
  if (!stdout.includes('sample-1MiB.bin')) throw new Error(`listing lacks sample-1MiB.bin: ${stdout}`);
  console.log('ok LIST: directory listing through the tunnel');
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 3000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
  try {
    await ftpServer?.close();
  } catch {}
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}

async function main() {
  for (const name of ['ftpfwd', 'ftpfwd-sshd']) {
    if (!existsSync(bin(name)))
      return fail(`${name} is not built; run 'npm ci' first (npm start builds the packages)`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'ftpfwd-demo-'));
  const ftpRoot = join(tmp, 'ftp-root');
  mkdirSync(join(ftpRoot, 'uploads'), { recursive: true });
  writeFileSync(join(ftpRoot, 'hello.txt'), 'Hello from the FTP server, through the SSH tunnel.\n');
  writeFileSync(join(ftpRoot, 'sample-1MiB.bin'), randomBytes(1024 * 1024));

  // The FTP server: ftp-srv on loopback, anonymous, writable. It demands that data connections come
  // from the control connection's address — only a forwarded data channel satisfies it here.
  const ftpPort = await freePort();
  const { FtpSrv } = await import('ftp-srv');
  const quiet = { child: () => quiet, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
  ftpServer = new FtpSrv({
    url: `ftp://127.0.0.1:${ftpPort}`,
    pasv_url: '127.0.0.1',
    pasv_min: 31000,
    pasv_max: 31999,
    anonymous: true,
    greeting: 'ftpfwd demo FTP server',
    log: quiet,
  });
  ftpServer.on('login', (_data, resolve) => resolve({ root: ftpRoot }));
  ftpServer.on('client-error', () => {});
  await ftpServer.listen();

  // The SSH server: throwaway host key; only the demo user's key; only that FTP server, FTP-aware.
  const hostKey = join(tmp, 'host_key');
  const hostPub = await keyPair(hostKey);
  const userKey = join(tmp, 'user_key');
  writeFileSync(join(tmp, 'authorized_keys'), `${await keyPair(userKey)}\n`);
  const sshPort = await freePort();
  const sshd = run('ftpfwd-sshd', [
    '--listen',
    `127.0.0.1:${sshPort}`,
    '--host-key',
    hostKey,
    '--authorized-keys',
    join(tmp, 'authorized_keys'),
    '--permit-open',
    `127.0.0.1:${ftpPort}/ftp`,
    '--permit-listen',
    'none',
  ]);
  await waitForPort(sshPort, 'ftpfwd-sshd', sshd);

  // The client: host key pinned in a private known_hosts, nothing accepted blindly.
  writeFileSync(
    join(tmp, 'known_hosts'),
    `[127.0.0.1]:${sshPort} ${hostPub.split(' ').slice(0, 2).join(' ')}\n`,
  );
  const port = wantedPort === 0 ? await freePort() : wantedPort;
  const metricsPort = await freePort();
  const client = run('ftpfwd', [
    '-p',
    String(sshPort),
    '-i',
    userKey,
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${join(tmp, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-L',
    `ftp/127.0.0.1:${port}:127.0.0.1:${ftpPort}`,
    '--metrics',
    `127.0.0.1:${metricsPort}`,
    'demo@127.0.0.1',
  ]);
  // ftpfwd says `ftp 127.0.0.1:PORT -> … via …` once the forwarding listens.
  await waitForOutput(client, `ftp 127.0.0.1:${port} ->`, 'ftpfwd');
  await waitForPort(metricsPort, 'ftpfwd metrics', client);

  if (selfTest) {
    try {
      await runSelfTest(port, ftpRoot);
      const seen = await status(metricsPort);
      console.log(`demo self-test: ${seen.line}`);
      // 4 modes x (download + upload) + 1 listing = 9 data channels, every one through the tunnel.
      if (seen.channelsOk !== 9 || seen.channelsFailed !== 0) {
        throw new Error(
          `expected 9 data channels opened and 0 failed, metrics say ${seen.channelsOk} and ${seen.channelsFailed}`,
        );
      }
      console.log('5 passed, 0 failed');
      return shutdown(0);
    } catch (error) {
      console.error(
        `demo self-test FAILED: ${error.message}\n  ftpfwd: ${client.tail()}\n  ftpfwd-sshd: ${sshd.tail()}`,
      );
      return shutdown(1);
    }
  }

  const u = `ftp://127.0.0.1:${port}`;
  console.log(`
ftpfwd demo is running — everything on loopback, temporary files in ${tmp}

  FTP client ─▶ ftpfwd 127.0.0.1:${port} ══ SSH ══▶ ftpfwd-sshd 127.0.0.1:${sshPort} ─▶ ftp-srv 127.0.0.1:${ftpPort}
  (data channels too: ftp-srv accepts them only from its control peer, so a transfer that works went through the tunnel)

Try, in another terminal:
  curl ${u}/                                              # listing
  curl ${u}/hello.txt                                     # download, passive (EPSV)
  curl --disable-epsv -o sample.bin ${u}/sample-1MiB.bin  # download, passive (PASV)
  curl --ftp-port 127.0.0.1 ${u}/hello.txt                # download, active (EPRT)
  curl --ftp-port 127.0.0.1 --disable-eprt ${u}/hello.txt # download, active (PORT)
  curl -T sample.bin ${u}/uploads/                        # upload
  curl http://127.0.0.1:${metricsPort}/metrics            # Prometheus metrics

Ctrl-C stops it.
`);
  const tty = process.stdout.isTTY;
  let last = '';
  const timer = setInterval(async () => {
    try {
      const { line } = await status(metricsPort);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else if (line !== last) console.log(line);
      last = line;
    } catch {}
  }, 1000);
  const stop = () => {
    clearInterval(timer);
    if (tty) process.stdout.write('\n');
    console.log('stopping: ftpfwd, ftpfwd-sshd, ftp-srv; removing temporary files');
    shutdown(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => fail(error.stack ?? String(error)));

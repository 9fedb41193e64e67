/**
 * Runs inside a lab container: starts a server that says nothing when it is ready (vsftpd) and prints
 * `listening on ADDR:PORT` once the kernel shows its listening socket in /proc/net/tcp — without
 * connecting to it, so the FTP server's captured peers are only the ones the scenario made.
 * With --tail FILE, copies what the server writes to FILE (vsftpd's log) to stdout as it comes.
 * Signals go to the server; exits with its code. Node's standard library only (the agent's rule).
 *
 * usage: serve ADDR:PORT [--tail FILE] COMMAND [ARG…]
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';

const argv = process.argv.slice(2);
const where = argv.shift();
const tailFile = argv[0] === '--tail' ? (argv.splice(0, 2)[1] as string) : undefined;
const [cmd, ...args] = argv;
const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(where ?? '');
if (!m || !cmd) {
  console.error('usage: serve ADDR:PORT [--tail FILE] COMMAND [ARG...]');
  process.exit(64);
}
const [, address, port] = m as unknown as [string, string, string];

/** /proc/net/tcp writes the local address as little-endian hex, then the port in hex; state 0A is LISTEN. */
function hexAddress(a: string): string {
  return a
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
}
const wanted = [`${hexAddress(address)}:${Number(port).toString(16).padStart(4, '0').toUpperCase()}`];
if (address !== '0.0.0.0')
  wanted.push(`00000000:${Number(port).toString(16).padStart(4, '0').toUpperCase()}`);

function listening(): boolean {
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  return lines.some((l) => {
    const f = l.trim().split(/\s+/);
    return f[3] === '0A' && wanted.includes(f[1] ?? '');
  });
}

let tailed = 0;
function copyTail(): void {
  if (!tailFile || !existsSync(tailFile)) return;
  const fd = openSync(tailFile, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (
      let n = readSync(fd, buf, 0, buf.length, tailed);
      n > 0;
      n = readSync(fd, buf, 0, buf.length, tailed)
    ) {
      process.stdout.write(buf.subarray(0, n));
      tailed += n;
    }
  } finally {
    closeSync(fd);
  }
}
if (tailFile) setInterval(copyTail, 200).unref();

const child = spawn(cmd, args, { stdio: 'inherit' });
for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => child.kill(s));
child.on('exit', (code, signal) => {
  copyTail();
  process.exit(code ?? (signal ? 128 : 1));
});
child.on('error', (e) => {
  console.error(`serve: ${cmd}: ${e.message}`);
  process.exit(127);
});
const timer = setInterval(() => {
  if (!listening()) return;
  clearInterval(timer);
  console.log(`listening on ${address}:${port}`);
}, 50);

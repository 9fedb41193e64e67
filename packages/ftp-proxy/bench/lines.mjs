#!/usr/bin/env node
// Throughput of the control-channel engine: control lines per second through one FtpControlSession,
// fed in 1-byte, 7-byte and 64 KiB chunks, at two input sizes to show the cost stays linear (time per
// line must not grow with the input). Prints a table and writes bench-results/ftp-proxy-lines-<date>.json.
// Usage: node bench/lines.mjs [lines=1000000]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FtpControlSession } from '../dist/index.js';

const LINES = Number(process.argv[2] ?? 1_000_000);
const context = {
  sessionId: 'bench',
  clientAddress: { host: '127.0.0.1', port: 1 },
  controlLocalAddress: { host: '127.0.0.1', port: 2 },
  serverAddress: { host: '127.0.0.1', port: 21 },
};
const broker = {
  openPassive: async () => ({ endpoint: { host: '127.0.0.1', port: 40000 }, release() {} }),
  openActive: async () => ({ endpoint: { host: '127.0.0.1', port: 40000 }, release() {} }),
};

function streams(lines) {
  const half = lines / 2;
  const commands = ['NOOP\r\n', 'CWD /pub/some/directory\r\n', 'SIZE file-0001.bin\r\n', 'TYPE I\r\n'];
  const replies = ['200 NOOP ok\r\n', '250 CWD successful\r\n', '213 1048576\r\n', '200 Type set to I\r\n'];
  const c = [];
  const s = ['220 bench\r\n'];
  for (let i = 0; i < half; i++) {
    c.push(commands[i % 4]);
    s.push(replies[i % 4]);
  }
  return { client: Buffer.from(c.join(''), 'latin1'), server: Buffer.from(s.join(''), 'latin1') };
}

function run(lines, chunkSize) {
  const { client, server } = streams(lines);
  let out = 0;
  const session = new FtpControlSession({
    broker,
    context,
    toClient: (b) => {
      out += b.length;
    },
    toServer: (b) => {
      out += b.length;
    },
  });
  const start = process.hrtime.bigint();
  // Alternate client and server chunks so replies keep pace with commands, as on a real connection.
  for (let at = 0; at < Math.max(client.length, server.length); at += chunkSize) {
    if (at < server.length) session.fromServer(server.subarray(at, at + chunkSize));
    if (at < client.length) session.fromClient(client.subarray(at, at + chunkSize));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (out !== client.length + server.length)
    throw new Error(`bytes lost: ${out} of ${client.length + server.length}`);
  return {
    lines,
    chunkSize,
    seconds,
    linesPerSecond: Math.round(lines / seconds),
    nsPerLine: Math.round((seconds * 1e9) / lines),
  };
}

const results = [];
for (const chunkSize of [1, 7, 65536]) {
  run(Math.min(LINES, 20_000), chunkSize); // warm-up
  for (const lines of [LINES / 10, LINES]) results.push(run(lines, chunkSize));
}

console.log('ftp-proxy control-line throughput (one session, commands and replies alternating)');
console.log('chunk bytes |     lines |  seconds |     lines/s | ns/line');
for (const r of results) {
  console.log(
    `${String(r.chunkSize).padStart(11)} | ${String(r.lines).padStart(9)} | ${r.seconds.toFixed(3).padStart(8)} | ${String(r.linesPerSecond).padStart(11)} | ${String(r.nsPerLine).padStart(7)}`,
  );
}
const linear = [1, 7, 65536].map((size) => {
  const [small, large] = results.filter((r) => r.chunkSize === size);
  return { chunkSize: size, nsPerLineRatio: +(large.nsPerLine / small.nsPerLine).toFixed(2) };
});
console.log(
  'linearity (ns/line at 10x input ÷ ns/line at 1x; ~1.0 is linear):',
  linear.map((l) => `${l.chunkSize}B ${l.nsPerLineRatio}`).join(', '),
);

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const outDir = join(root, 'bench-results');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `ftp-proxy-lines-${new Date().toISOString().slice(0, 10)}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ node: process.version, date: new Date().toISOString(), results, linear }, null, 2)}\n`,
);
console.log(`written: ${file}`);

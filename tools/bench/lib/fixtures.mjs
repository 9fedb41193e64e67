// The bench's private workspace: a temp dir (tmpfs when there is one, so disk writeback does not
// blur the figures) holding the FTP root with the test files, keys and config files.
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './procs.mjs';

export function makeWorkDir(base) {
  const parent = base ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const dir = mkdtempSync(join(parent, 'ftpfwd-bench-'));
  for (const d of ['root', 'root/up', 'root/small', 'root/conc', 'out', 'logs', 'keys'])
    mkdirSync(join(dir, d));
  return dir;
}

export function removeWorkDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes size pseudo-random bytes in 4 MiB blocks and returns the file's sha256. */
export function writeRandomFile(path, size) {
  const hash = createHash('sha256');
  const block = randomBytes(Math.min(size, 4 << 20));
  let left = size;
  writeFileSync(path, '');
  const chunks = [];
  while (left > 0) {
    const b = left >= block.length ? block : block.subarray(0, left);
    // Vary each block so a transfer that repeats or reorders blocks cannot pass the hash check.
    const piece = Buffer.from(b);
    piece.writeUInt32BE((size - left) / block.length, 0);
    chunks.push(piece);
    hash.update(piece);
    left -= piece.length;
    if (chunks.length === 16 || left === 0) {
      writeFileSync(path, Buffer.concat(chunks), { flag: 'a' });
      chunks.length = 0;
    }
  }
  return hash.digest('hex');
}

/** The FTP root: big.bin for throughput, small/fNNNN.bin, conc/fNNN.bin hard links, lat.bin. */
export function makeFtpRoot(dir, { size, smallCount, smallSize, concSessions, concSize }) {
  const root = join(dir, 'root');
  const files = {
    big: { name: 'big.bin', size, sha: writeRandomFile(join(root, 'big.bin'), size) },
    small: { size: smallSize, count: smallCount, sha: [] },
    conc: { size: concSize, count: concSessions },
    lat: { name: 'lat.bin', size: 4096, sha: writeRandomFile(join(root, 'lat.bin'), 4096) },
  };
  for (let i = 1; i <= smallCount; i++)
    files.small.sha.push(writeRandomFile(join(root, 'small', smallName(i)), smallSize));
  files.conc.sha = writeRandomFile(join(root, 'conc', 'src.bin'), concSize);
  for (let i = 1; i <= concSessions; i++)
    linkSync(join(root, 'conc', 'src.bin'), join(root, 'conc', concName(i)));
  return files;
}

export const smallName = (i) => `f${String(i).padStart(4, '0')}.bin`;
export const concName = (i) => `f${String(i).padStart(3, '0')}.bin`;

export function sha256File(path) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (b) => hash.update(b))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** An ed25519 key pair without passphrase, written by OpenSSH's ssh-keygen. */
export async function makeKey(path) {
  const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', path]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.trim()}`);
  return path;
}

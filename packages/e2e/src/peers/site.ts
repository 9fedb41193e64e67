/**
 * The files every server serves: a 4 MiB random file for RETR/STOR/REST/APPE, a 32 MiB one that is
 * still being sent when a client aborts, a small file for the repeated-transfer race, and a small tree
 * for mirror. The same bytes are kept on the client side to upload and compare.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from './procs.js';
import type { SiteLayout } from './servers/types.js';

export const MiB = 1024 * 1024;

export interface Fixtures {
  data: Buffer;
  dataSha: string;
  small: Buffer;
  /** Relative path → content of the mirror tree (under `tree/`). */
  tree: Record<string, Buffer>;
  bigSize: number;
}

export function makeFixtures(size = 4 * MiB): Fixtures {
  const data = randomBytes(size);
  const tree: Record<string, Buffer> = {
    'one.txt': Buffer.from('one\n'),
    'two.bin': randomBytes(70_000),
    'sub/three.bin': randomBytes(300_000),
    'sub/deeper/four.txt': Buffer.from('four\n'.repeat(1000)),
  };
  return { data, dataSha: sha256(data), small: randomBytes(1500), tree, bigSize: 32 * MiB };
}

/** Writes the fixtures into `layout.root`, readable by every server's unprivileged user. */
export function writeSite(layout: SiteLayout, fx: Fixtures, withBig: boolean): void {
  const w = (rel: string, data: Buffer) => {
    const p = join(layout.root, rel);
    writeFileSync(p, data, { mode: 0o644 });
  };
  w('data.bin', fx.data);
  w('small.bin', fx.small);
  if (withBig) w('big.bin', randomBytes(fx.bigSize));
  for (const [rel, data] of Object.entries(fx.tree)) {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++)
      mkdirSync(join(layout.root, 'tree', ...parts.slice(0, i)), { recursive: true });
    mkdirSync(join(layout.root, 'tree'), { recursive: true });
    w(join('tree', rel), data);
  }
  // uploads into tree/ are not needed, but the directories must be enterable by the server's user
  chownSync(join(layout.root, 'tree'), layout.uid, layout.gid);
}

/** Puts `data` at `rel` in the site, owned by the server's user (so APPE may extend it). */
export function seedFile(layout: SiteLayout, rel: string, data: Buffer): void {
  const p = join(layout.root, rel);
  writeFileSync(p, data, { mode: 0o644 });
  chownSync(p, layout.uid, layout.gid);
}

/** The remote path of `name` in the site, as a client logged in at the login directory names it. */
export function remote(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

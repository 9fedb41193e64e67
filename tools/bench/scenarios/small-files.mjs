// Scenario 4: many small files over ONE control connection (curl's URL globbing reuses it).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { curl, ftpUrl } from '../lib/curl.mjs';
import { sha256File, smallName } from '../lib/fixtures.mjs';
import { cpuSince, cpuSnapshot, round } from '../lib/measure.mjs';

export const smallFiles = {
  id: 'small',
  title: 'Many small files, one control connection',
  unit: 'files/s',
  better: 'higher',
  reference: 'vsftpd',
  applies: () => true,
  async measure(c, { dir, files }, run) {
    const count = Math.min(files.small.count, c.perChannelCap);
    const out = join(dir, 'out', `small-${c.id.replace(/\W+/g, '_')}-${run}`);
    mkdirSync(out);
    const last = smallName(count).slice(1, 5);
    const before = cpuSnapshot(c);
    const r = await curl(['-o', join(out, 'f#1.bin'), ftpUrl(c, `small/f[0001-${last}].bin`)], {
      what: `small files via ${c.id}`,
    });
    const cpu = await cpuSince(c, before);
    if (r.transfers.length !== count)
      throw new Error(`small files via ${c.id}: ${r.transfers.length} of ${count} done`);
    for (let i = 1; i <= count; i++) {
      const sha = await sha256File(join(out, smallName(i)));
      if (sha !== files.small.sha[i - 1])
        throw new Error(`small files via ${c.id}: ${smallName(i)} sha256 differs`);
    }
    rmSync(out, { recursive: true, force: true });
    return { value: round(count / r.wallSeconds, 1), seconds: r.wallSeconds, files: count, cpu };
  },
};

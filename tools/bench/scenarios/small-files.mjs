// Scenario 4: many small files over ONE control connection, fetched by lftp (one `mget` of named
// files: no listing, one session). curl 7.88 is not used here: on a reused FTP connection it
// sometimes waits a full second before opening the next data connection, which would swamp the
// figures.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File, smallName } from '../lib/fixtures.mjs';
import { cpuSince, cpuSnapshot, round } from '../lib/measure.mjs';
import { run } from '../lib/procs.mjs';

export const smallFiles = {
  id: 'small',
  title: 'Many small files, one control connection (lftp)',
  unit: 'files/s',
  better: 'higher',
  reference: 'vsftpd',
  applies: (c) => c.perChannel !== false,
  async measure(c, { dir, files, opts }, runNo) {
    const count = Math.min(files.small.count, c.perChannelCap);
    const tag = `small-${c.id.replace(/\W+/g, '_')}-${runNo}`;
    const out = join(dir, 'out', tag);
    mkdirSync(out);
    const names = Array.from({ length: count }, (_, i) => `small/${smallName(i + 1)}`);
    const script = join(dir, `${tag}.lftp`);
    // EPSV so the data connection goes to the control connection's host (keeps a plain -L tunnel in
    // the path); no retries, so a failure shows instead of being papered over.
    writeFileSync(
      script,
      [
        'set cmd:fail-exit yes',
        'set net:max-retries 1',
        'set net:timeout 30',
        'set ftp:passive-mode yes',
        'set ftp:prefer-epsv yes',
        'set xfer:clobber yes',
        `open -u anonymous,bench@ ftp://${c.host}:${c.port}`,
        `mget -O ${out} ${names.join(' ')}`,
        '',
      ].join('\n'),
    );
    const before = cpuSnapshot(c);
    const r = await run('lftp', ['-f', script], { timeoutMs: opts.smoke ? 60000 : 600000 });
    const cpu = await cpuSince(before, 'lftp');
    if (r.code !== 0)
      throw new Error(
        `small files via ${c.id}: lftp exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`,
      );
    for (let i = 1; i <= count; i++) {
      const sha = await sha256File(join(out, smallName(i))).catch(() => 'missing');
      if (sha !== files.small.sha[i - 1])
        throw new Error(
          `small files via ${c.id}: ${smallName(i)} is ${sha === 'missing' ? 'missing' : 'different'}`,
        );
    }
    rmSync(out, { recursive: true, force: true });
    return { value: round(count / r.seconds, 1), seconds: r.seconds, files: count, cpu };
  },
};

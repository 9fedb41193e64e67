// Scenario 5: N FTP sessions at once, each its own curl process fetching its own same-size file;
// aggregate MB/s, and the tunnel processes' memory. (One `curl --parallel` would be lighter, but
// curl 7.88 leaves some of 100 parallel FTP transfers hanging even against vsftpd directly.)
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { curl, ftpUrl } from '../lib/curl.mjs';
import { concName, sha256File } from '../lib/fixtures.mjs';
import { cpuSince, cpuSnapshot, perGiB, round } from '../lib/measure.mjs';
import { processTree, statusKb } from '../lib/procs.mjs';

const TUNNEL_ROLES = ['ftpfwd', 'ftpfwd-sshd', 'ssh', 'sshd'];

function rssMB(pid, field) {
  let kb = 0;
  for (const p of processTree(pid)) kb += statusKb(p, field);
  return kb / 1024;
}

export const concurrency = {
  id: 'concurrency',
  title: 'Concurrent sessions',
  unit: 'MB/s',
  better: 'higher',
  reference: 'vsftpd',
  // A plain -L tunnel would need every passive port of the range forwarded (see stack.mjs).
  applies: (c) => c.concurrent,
  async measure(c, { dir, files }, run) {
    const { count, size } = files.conc;
    const out = join(dir, 'out', `conc-${c.id.replace(/\W+/g, '_')}-${run}`);
    mkdirSync(out);
    const tunnel = c.procs.filter((p) => TUNNEL_ROLES.includes(p.role));
    const server = c.procs.find((p) => p.role === 'vsftpd' || p.role === 'ftp-srv');
    const peak = Object.fromEntries(tunnel.map((p) => [p.role, 0]));
    let peakSessions = 0;
    // vsftpd runs two processes per session: count them to confirm the sessions really overlapped.
    const sample = () => {
      for (const p of tunnel) peak[p.role] = Math.max(peak[p.role], rssMB(p.proc.pid, 'VmRSS'));
      if (server.role === 'vsftpd')
        peakSessions = Math.max(
          peakSessions,
          (processTree(server.proc.pid).length - server.proc.idleProcesses) / 2,
        );
    };
    const timer = setInterval(sample, 100);
    const before = cpuSnapshot(c);
    const t0 = process.hrtime.bigint();
    let results;
    try {
      results = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          curl(['-o', join(out, concName(i + 1)), ftpUrl(c, `conc/${concName(i + 1)}`)], {
            what: `session ${i + 1} of ${count} via ${c.id}`,
          }),
        ),
      );
    } finally {
      clearInterval(timer);
    }
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = await cpuSince(before);
    if (results.length !== count) throw new Error(`sessions via ${c.id}: ${results.length} of ${count} done`);
    for (let i = 1; i <= count; i++) {
      const sha = await sha256File(join(out, concName(i)));
      if (sha !== files.conc.sha) throw new Error(`sessions via ${c.id}: ${concName(i)} sha256 differs`);
    }
    rmSync(out, { recursive: true, force: true });
    const bytes = count * size;
    // VmHWM: the true peak over the process's life so far (sampling can miss a short spike).
    const hwm = Object.fromEntries(tunnel.map((p) => [p.role, round(rssMB(p.proc.pid, 'VmHWM'), 1)]));
    return {
      value: round(bytes / wallSeconds / 1e6, 1),
      seconds: wallSeconds,
      bytes,
      sessions: count,
      peakSessionsSeen: server.role === 'vsftpd' ? peakSessions : undefined,
      peakRssMB: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, round(v, 1)])),
      hwmRssMB: hwm,
      cpu,
      cpuPerGiB: perGiB(cpu, bytes),
    };
  },
};

// Scenario 6: data-channel set-up latency, PASV sent -> first data byte, over many transfers on
// one control connection; p50 and p99. The file is 4 KiB, so the time is the set-up, not the bytes.
import { createHash } from 'node:crypto';
import { FtpClient } from '../lib/ftp-client.mjs';
import { cpuSince, cpuSnapshot, round } from '../lib/measure.mjs';
import { percentile } from '../lib/stats.mjs';

export const latency = {
  id: 'latency',
  title: 'Data-channel set-up latency (PASV sent -> first byte)',
  unit: 'ms p50',
  better: 'lower',
  reference: 'vsftpd',
  applies: (c) => c.perChannel !== false,
  async measure(c, { files, opts }) {
    const client = await FtpClient.connect(c.host, c.port);
    const times = [];
    const before = cpuSnapshot(c);
    let cpu;
    try {
      await client.login();
      const n = Math.min(opts.latency, c.perChannelCap);
      for (let i = 0; i < n; i++) {
        const { ms, data } = await client.timedRetr(files.lat.name);
        const sha = createHash('sha256').update(data).digest('hex');
        if (sha !== files.lat.sha) throw new Error(`latency via ${c.id}: transfer ${i + 1} sha256 differs`);
        times.push(ms);
      }
      cpu = await cpuSince(before, 'bench client');
    } finally {
      await client.quit();
    }
    times.sort((a, b) => a - b);
    return {
      value: round(percentile(times, 50), 3),
      p50: round(percentile(times, 50), 3),
      p99: round(percentile(times, 99), 3),
      max: round(times.at(-1), 3),
      transfers: times.length,
      cpu,
    };
  },
};

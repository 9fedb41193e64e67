// Facts about the machine a result came from, recorded next to every figure.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { cgroupKind } from './cpu-cgroup.mjs';
import { run } from './procs.mjs';

async function firstLine(cmd, args) {
  try {
    const r = await run(cmd, args);
    return (r.stdout || r.stderr).trim().split('\n')[0];
  } catch {
    return 'unknown';
  }
}

export async function machineFacts() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    aesNi: /\baes\b/.test(cpuinfo),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    curl: await firstLine('curl', ['--version']),
    openssh: await firstLine('ssh', ['-V']),
    // `dpkg-query -W vsftpd` prints "vsftpd<TAB>version".
    vsftpd: (await firstLine('dpkg-query', ['-W', 'vsftpd'])).replace(/\s+/, ' '),
    // How each server's CPU is counted: exactly from a cgroup, or from /proc trees, which miss
    // session processes re-parented to init (vsftpd's, most often).
    cpuAccounting: cgroupKind() ?? '/proc trees (reaped children only)',
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

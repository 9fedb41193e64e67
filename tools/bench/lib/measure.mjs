// CPU accounting around one measured run: every contender process with all it forked (its cgroup,
// or its /proc tree with reaped children where cgroups cannot be made), plus the FTP clients the
// bench ran (its own reaped children).
import { processCpuSeconds, reapedChildrenCpuSeconds, sleep } from './procs.mjs';

export function cpuSnapshot(contender) {
  const procs = {};
  for (const { role, proc } of contender.procs) procs[role] = processCpuSeconds(proc);
  return { contender, procs, clients: reapedChildrenCpuSeconds() };
}

/**
 * CPU seconds per role since `before`. vsftpd and sshd sessions end just after the client does;
 * give them a moment to exit and be reaped so their last ticks are counted.
 */
export async function cpuSince(before, clientRole = 'curl') {
  const clients = reapedChildrenCpuSeconds() - before.clients;
  await sleep(150);
  const now = cpuSnapshot(before.contender);
  const cpu = { [clientRole]: round(clients) };
  for (const role of Object.keys(before.procs)) cpu[role] = round(now.procs[role] - before.procs[role]);
  return cpu;
}

export function perGiB(cpu, bytes) {
  const out = {};
  for (const [role, s] of Object.entries(cpu)) out[role] = round(s / (bytes / 2 ** 30));
  return out;
}

export const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

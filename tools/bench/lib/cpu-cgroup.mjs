// Exact CPU time of a process and of everything it forks, orphans included: one cgroup per
// long-lived process the bench starts, read from the kernel's own per-cgroup counter.
//
// Why: /proc trees (procs.mjs) lose a child that is re-parented to init before its parent reaps it,
// and vsftpd's per-session worker often is: its CPU never reached any cutime and the vsftpd column
// read 0.00. A cgroup counts every process ever in it, whoever reaps it.
//
// cgroup v1 (a `cpuacct` hierarchy: cpuacct.usage, ns) or v2 (cpu.stat usage_usec, kept in every
// cgroup whether or not a controller is enabled). Creating one needs root and a writable hierarchy;
// where that fails (a container, an unprivileged user) cgroupCounter returns undefined and the bench
// falls back to /proc trees, saying so in its machine facts.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The mounts of /proc/self/mounts that hold CPU time: [{ kind: 'v1' | 'v2', dir }]. */
export function cpuHierarchies(mountsText) {
  const found = [];
  for (const line of mountsText.split('\n')) {
    const [, dir, type, options = ''] = line.split(' ');
    if (type === 'cgroup' && options.split(',').includes('cpuacct')) found.push({ kind: 'v1', dir });
    else if (type === 'cgroup2') found.push({ kind: 'v2', dir });
  }
  // v1 first: on a hybrid machine the v2 hierarchy may hold no processes of ours to count.
  return found.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'v1' ? -1 : 1));
}

/** CPU seconds from a cgroup's counter file, as its kind writes it. */
export function parseCpuSeconds(kind, text) {
  if (kind === 'v1') return Number(text.trim()) / 1e9;
  const m = /^usage_usec (\d+)$/m.exec(text);
  if (!m) throw new Error(`cpu.stat without usage_usec: ${JSON.stringify(text.slice(0, 80))}`);
  return Number(m[1]) / 1e6;
}

let hierarchies;
function mounts() {
  if (!hierarchies) {
    try {
      hierarchies = cpuHierarchies(readFileSync('/proc/self/mounts', 'utf8'));
    } catch {
      hierarchies = [];
    }
  }
  return hierarchies;
}

const KIND_NAMES = { v1: 'cgroup v1 cpuacct', v2: 'cgroup v2 cpu.stat' };

/** How cgroupCounter will count here ('cgroup v1 cpuacct', …), or undefined: a cgroup made and removed. */
export function cgroupKind() {
  for (const { kind, dir } of mounts()) {
    const path = join(dir, `ftpfwd-bench-probe-${process.pid}`);
    try {
      mkdirSync(path);
      rmdirSync(path);
      return KIND_NAMES[kind];
    } catch {}
  }
  return undefined;
}

/**
 * Moves `pid` into a new cgroup `name` at the top of the first hierarchy that takes it. Call it right
 * after spawning, before the process forks: only what it forks from then on is counted with it.
 * Returns undefined when no hierarchy can be used here.
 */
export function cgroupCounter(name, pid) {
  for (const { kind, dir } of mounts()) {
    const path = join(dir, name);
    try {
      mkdirSync(path);
    } catch {
      continue;
    }
    try {
      writeFileSync(join(path, 'cgroup.procs'), String(pid));
      const file = join(path, kind === 'v1' ? 'cpuacct.usage' : 'cpu.stat');
      parseCpuSeconds(kind, readFileSync(file, 'utf8'));
      return {
        kind: KIND_NAMES[kind],
        seconds: () => parseCpuSeconds(kind, readFileSync(file, 'utf8')),
        /** Once its processes are gone; false while one is left (an occupied cgroup cannot go). */
        remove: () => {
          try {
            rmdirSync(path);
            return true;
          } catch {
            return false;
          }
        },
      };
    } catch {
      try {
        rmdirSync(path);
      } catch {}
    }
  }
  return undefined;
}

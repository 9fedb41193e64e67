// The bench's cgroup CPU counter: the parsers on the texts the kernel writes, and on this machine (when
// it lets us make a cgroup) a process that forks a worker and exits before it: the orphaned worker's
// CPU, which /proc trees lose (the bench's vsftpd column read 0.00 that way), must be counted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { cgroupCounter, cgroupKind, cpuHierarchies, parseCpuSeconds } from './cpu-cgroup.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

it('finds cpuacct (alone or with cpu) and cgroup2 mounts in /proc/self/mounts, v1 first', () => {
  const mounts = [
    'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0',
    'cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0',
    'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0',
    'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
  ].join('\n');
  assert.deepEqual(cpuHierarchies(mounts), [
    { kind: 'v1', dir: '/sys/fs/cgroup/cpu,cpuacct' },
    { kind: 'v2', dir: '/sys/fs/cgroup/unified' },
  ]);
  assert.deepEqual(cpuHierarchies('cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n'), []);
});

it('reads cpuacct.usage (ns) and cpu.stat usage_usec as seconds; a cpu.stat without it is an error', () => {
  assert.equal(parseCpuSeconds('v1', '151325966\n'), 0.151325966);
  assert.equal(parseCpuSeconds('v2', 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n'), 2.5);
  assert.throws(() => parseCpuSeconds('v2', 'nr_periods 0\n'), /usage_usec/);
});

it("counts the CPU of a worker orphaned by its parent's exit", {
  skip: cgroupKind() ? false : 'no cgroup hierarchy this user may write to',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cgroup-test-'));
  const done = join(dir, 'done');
  // Waits for a line before forking, so the move into the cgroup comes first; then leaves a busy
  // worker behind and exits: the worker is re-parented to init.
  const parent = spawn('sh', [
    '-c',
    `read go; (i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; touch '${done}') & exit 0`,
  ]);
  const counter = cgroupCounter(`ftpfwd-bench-test-${process.pid}`, parent.pid);
  assert.ok(counter, 'cgroupKind() said a cgroup can be made here');
  try {
    const exited = new Promise((r) => parent.once('exit', r));
    parent.stdin.end('go\n');
    await exited;
    for (let i = 0; i < 600 && !existsSync(done); i++) await sleep(50);
    assert.ok(existsSync(done), 'the worker finished within 30 s');
    // The worker's 300 000 shell iterations take ~0.2 s of CPU here; its parent only forked.
    assert.ok(counter.seconds() > 0.05, `counted ${counter.seconds()} s`);
  } finally {
    for (let i = 0; i < 100 && !counter.remove(); i++) await sleep(20);
    rmSync(dir, { recursive: true, force: true });
  }
});

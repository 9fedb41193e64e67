#!/usr/bin/env node
// ftpfwd side-by-side benchmark (issue 6). Starts everything itself on loopback: a private vsftpd,
// ftp-srv, a private OpenSSH sshd with `ssh -L`, ftpfwd-sshd and ftpfwd; runs each scenario
// --runs times alternating contenders; prints medians and target verdicts; writes
// <out>/<date>.json and <out>/<date>.svg. `--smoke` is the CI version: tiny sizes, bytes checked.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions, USAGE } from './lib/args.mjs';
import { curl, ftpUrl, setCurlMaxSeconds } from './lib/curl.mjs';
import { makeFtpRoot, makeWorkDir, removeWorkDir, sha256File } from './lib/fixtures.mjs';
import { FtpClient } from './lib/ftp-client.mjs';
import { machineFacts } from './lib/machine.mjs';
import { cleanup, installCleanupHooks, logTail, onCleanup } from './lib/procs.mjs';
import { judgeTargets, scenarioTable, targetLines } from './lib/report.mjs';
import { assertNativeCrypto, ftpfwdBins } from './lib/servers/ftpfwd.mjs';
import { startStack } from './lib/stack.mjs';
import { median, medianResult } from './lib/stats.mjs';
import { chartSvg } from './lib/svg.mjs';
import { concurrency } from './scenarios/concurrency.mjs';
import { latency } from './scenarios/latency.mjs';
import { sftpBridge } from './scenarios/sftp-bridge.mjs';
import { smallFiles } from './scenarios/small-files.mjs';
import { active, download, upload, warmBulk } from './scenarios/throughput.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCENARIOS = { download, upload, active, small: smallFiles, concurrency, latency };
// Scenarios that move bulk data: before them, each contender gets an unmeasured warm-up transfer.
const BULK = new Set(['download', 'upload', 'active', 'concurrency']);
const SLOW_MS = 20;
const SLOW_CAP = 100;
const mib = (n) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 0)} MiB`;

function assertAlive(contenders) {
  for (const c of contenders)
    for (const { proc } of c.procs)
      if (proc.exited) throw new Error(`${proc.name} (${c.id}) exited during the bench${logTail(proc)}`);
}

/**
 * One tiny download per contender before measuring, so a broken stack fails here, named; then a
 * few timed set-ups. Contenders whose median set-up exceeds SLOW_MS (those that stall ~40 ms per data channel (Nagle + delayed ACK in OpenSSH's
 * forwarding-only connections and in ftp-srv; a busy machine pushes a fast one to ~10 ms) would need minutes for 1000 files or set-ups, so they
 * get SLOW_CAP of them instead: rates and percentiles stay comparable, the bench stays short.
 */
async function warmUp(contenders, dir, files, setups) {
  for (const c of contenders) {
    const out = join(dir, 'out', `warm-${c.id.replace(/\W+/g, '_')}`);
    await curl(['-o', out, ftpUrl(c, files.lat.name)], { what: `warm-up via ${c.id}`, timeoutMs: 30000 });
    if ((await sha256File(out)) !== files.lat.sha) throw new Error(`warm-up via ${c.id}: bytes differ`);
    const client = await FtpClient.connect(c.host, c.port);
    const times = [];
    const cycles = [];
    try {
      await client.login();
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        times.push((await client.timedRetr(files.lat.name)).ms);
        cycles.push(performance.now() - t0);
      }
    } finally {
      await client.quit();
    }
    c.probeMs = median(times);
    // The whole transfer too (to the 226): with ftpfwd opening the data channel ahead, OpenSSH's
    // sshd no longer stalls the set-up but still stalls the end of each small transfer.
    const cycleMs = median(cycles);
    c.perChannelCap = Math.max(c.probeMs, cycleMs) > SLOW_MS ? SLOW_CAP : Number.POSITIVE_INFINITY;
    // Then `setups` more, unmeasured, through the fast ones: the first few hundred set-ups through
    // a fresh Node process are ~15 % slower than later ones (V8 optimising the per-transfer code).
    if (c.perChannelCap === Number.POSITIVE_INFINITY) await warmSetups(c, files, setups);
    console.log(
      `  warm-up     ${c.id.padEnd(16)} ok, data-channel set-up ~${c.probeMs.toFixed(2)} ms, whole transfer ~${cycleMs.toFixed(2)} ms`,
    );
  }
}

async function warmSetups(c, files, n) {
  const client = await FtpClient.connect(c.host, c.port);
  try {
    await client.login();
    for (let i = 0; i < n; i++) await client.timedRetr(files.lat.name);
  } finally {
    await client.quit();
  }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) return console.log(USAGE);
  installCleanupHooks();
  if (opts.smoke) setCurlMaxSeconds(60);
  // ssh2 without its binding is ~20x slower: refuse to produce misleading figures.
  const cipher = await assertNativeCrypto(REPO);
  if (opts.profile) mkdirSync(resolve(opts.profile), { recursive: true });
  const bins = ftpfwdBins(REPO, opts.profile && resolve(opts.profile));
  if (opts.contenders.some((id) => id.startsWith('ftpfwd')) && bins.missing.length)
    throw new Error(
      `not found: ${bins.missing.join(', ')}: build first (npx nx run-many -t build) or pick --contenders`,
    );
  const machine = { ...(await machineFacts()), cipher };
  console.log(
    `ftpfwd bench${opts.smoke ? ' (smoke)' : ''}: ${machine.nproc} cores, ${machine.cpu}, node ${machine.node}, ` +
      `CPU counted from ${machine.cpuAccounting}`,
  );
  const dir = makeWorkDir();
  let ok = false;
  // Runs on success, failure and Ctrl-C alike, once every process is gone.
  onCleanup(() => {
    if (opts.keep) console.error(`bench: work dir kept: ${dir} (logs in logs/)`);
    else if (!ok) {
      // Keep what explains the failure (logs, configs), not the gigabytes of test files.
      removeWorkDir(join(dir, 'root'));
      removeWorkDir(join(dir, 'out'));
      console.error(`bench: logs and configs kept in ${dir}`);
    } else removeWorkDir(dir);
  });
  try {
    console.log(`preparing files in ${dir} (${mib(opts.size)} big file)`);
    const files = makeFtpRoot(dir, {
      size: opts.size,
      smallCount: opts.smallFiles,
      smallSize: opts.smallSize,
      concSessions: opts.sessions,
      concSize: opts.sessionSize,
    });
    const contenders = await startStack({
      dir,
      repoRoot: REPO,
      bins,
      wanted: opts.contenders,
      pasvCount: Math.max(64, opts.sessions * 4),
    });
    const labels = Object.fromEntries(contenders.map((c) => [c.id, c.label]));
    await warmUp(contenders, dir, files, opts.smoke ? 10 : 300);
    const ctx = { dir, files, opts };
    if (opts.scenarios.some((s) => BULK.has(s)))
      for (const c of contenders) {
        const t0 = performance.now();
        await warmBulk(c, ctx);
        console.log(
          `  warm-up     ${c.id.padEnd(16)} bulk: one download and one upload in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
      }
    const runsBy = {};
    const medians = {};
    const lines = [];
    let sftpRuns;
    for (const name of opts.scenarios) {
      if (name === sftpBridge.id) {
        // Its own stack (OpenSSH's sftp-server behind, OpenSSH's sftp beside), the same big file.
        const r = await sftpBridge.run(ctx);
        lines.push(...r.lines);
        sftpRuns = r.runs;
        continue;
      }
      const sc = SCENARIOS[name];
      const list = contenders.filter((c) => sc.applies(c));
      runsBy[name] = Object.fromEntries(list.map((c) => [c.id, []]));
      for (let run = 1; run <= opts.runs; run++) {
        // Rotate the order each run so no contender always goes first (caches, CPU frequency).
        const order = list.map((_, i) => list[(i + run - 1) % list.length]);
        for (const c of order) {
          const r = await sc.measure(c, ctx, run);
          assertAlive(contenders);
          runsBy[name][c.id].push(r);
          console.log(`  ${name.padEnd(11)} run ${run}  ${c.id.padEnd(16)} ${r.value} ${sc.unit}`);
        }
      }
      medians[name] = Object.fromEntries(
        Object.entries(runsBy[name]).map(([id, rs]) => [id, medianResult(rs)]),
      );
      lines.push(...scenarioTable(sc, medians[name], labels, opts.runs));
    }
    const targets = opts.smoke ? [] : judgeTargets(medians, runsBy);
    console.log(
      [
        `\nResults: ${machine.nproc} cores (${machine.cpu}), node ${machine.node}, big file ${mib(opts.size)}, ` +
          `${opts.smallFiles} x ${opts.smallSize} B small files, ${opts.sessions} sessions x ${mib(opts.sessionSize)}, ` +
          `${opts.latency} set-ups; MB = 10^6 bytes`,
        ...lines,
        ...(targets.length ? targetLines(targets) : []),
      ].join('\n'),
    );
    if (opts.out) {
      const outDir = resolve(REPO, opts.out);
      mkdirSync(outDir, { recursive: true });
      const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\..*/, '');
      const base = join(outDir, `bench-${stamp}`);
      const record = {
        date: new Date().toISOString(),
        machine,
        options: opts,
        contenders: labels,
        medians,
        targets,
        runs: runsBy,
        ...(sftpRuns ? { sftpBridge: sftpRuns } : {}),
      };
      writeFileSync(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
      const panels = opts.scenarios
        .filter((n) => SCENARIOS[n])
        .map((n) => ({ ...SCENARIOS[n], medians: medians[n] }));
      writeFileSync(
        `${base}.svg`,
        chartSvg({
          title: 'ftpfwd side-by-side benchmark (medians)',
          subtitle: `${record.date.slice(0, 16)}Z · ${machine.nproc} cores ${machine.cpu} · node ${machine.node} · ${mib(opts.size)} · ${opts.runs} runs`,
          panels,
          labels,
        }),
      );
      console.log(`\nwrote ${base}.json and ${base}.svg`);
    }
    if (opts.smoke)
      console.log(
        '\nsmoke: every scenario ran end to end through every contender; sha256 of all bytes matched',
      );
    ok = true;
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench: FAILED: ${err.message}`);
    cleanup().finally(() => process.exit(1));
  },
);

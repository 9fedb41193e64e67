// FTP in front, SFTP behind (issue 17): one big file down and up through ftpfwd's FTP-to-SFTP
// bridge, and side by side in the same run through OpenSSH's own sftp client, both from the same
// OpenSSH sshd with its real sftp-server. Target: the bridge at >= 1.0x of OpenSSH's sftp.
//
//   node tools/bench/scenarios/sftp-bridge.mjs [--size 1G] [--runs 3] [--modes download,upload]
//                                              [--smoke] [--keep]
//
// or from bench.mjs as the `sftp-bridge` scenario (see `sftpBridge.run`). The contenders:
//
// - `bridge`: curl (EPSV) → `ftpfwd -L sftp/127.0.0.1:PORT:ROOT --sftp-jail` (the CLI, started
//   as a user starts it, its SSH connection up before the clock starts) → sshd → sftp-server;
// - `openssh-sftp`: `sftp -b` → sshd → sftp-server, over an `ssh -M` master connection set up
//   before the clock starts, as the bridge's SSH connection is (no handshake in either figure).
//
// CPU per GiB for every process on each path: the bridge (its SSH client included), the ssh
// master, sshd (its session processes and sftp-server included: one cgroup), curl and sftp.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseSize } from '../lib/args.mjs';
import { curl } from '../lib/curl.mjs';
import { makeKey, makeWorkDir, removeWorkDir, sha256File, writeRandomFile } from '../lib/fixtures.mjs';
import { cpuSince, cpuSnapshot, perGiB, round } from '../lib/measure.mjs';
import {
  cleanup,
  freePort,
  installCleanupHooks,
  logTail,
  run,
  startProcess,
  waitPort,
} from '../lib/procs.mjs';
import { ftpfwdBins } from '../lib/servers/ftpfwd.mjs';
import { CIPHER, sshUser } from '../lib/servers/openssh.mjs';
import { medianResult } from '../lib/stats.mjs';

const HERE = fileURLToPath(import.meta.url);
const REPO = resolve(HERE, '..', '..', '..', '..');

// ------------------------------------------------------------------ the stack

async function startStack(dir, root, profileDir) {
  const bins = ftpfwdBins(REPO, profileDir);
  if (bins.missing.length)
    throw new Error(`${bins.missing.join(', ')} not found: run npm ci and build first`);
  const keys = join(dir, 'keys-sftp');
  mkdirSync(keys, { recursive: true });
  const userKey = await makeKey(join(keys, 'user'));
  const hostKey = await makeKey(join(keys, 'host'));
  writeFileSync(join(keys, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  const sshPort = await freePort();
  const conf = join(dir, 'sshd_config_sftp');
  writeFileSync(
    conf,
    [
      `Port ${sshPort}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      `AuthorizedKeysFile ${join(keys, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `Ciphers ${CIPHER}`,
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      'UseDNS no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  const sshd = startProcess('sshd (sftp)', '/usr/sbin/sshd', ['-D', '-e', '-f', conf], {
    logFile: join(dir, 'logs', 'sshd-sftp.log'),
  });
  await waitPort(sshPort, '127.0.0.1', sshd);
  const knownHosts = join(keys, 'known_hosts');
  const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${type} ${key}\n`);

  const listenPort = await freePort();
  const bridge = startProcess(
    'ftpfwd -L sftp/',
    process.execPath,
    [
      ...bins.clientNodeArgs,
      bins.client,
      '-p',
      String(sshPort),
      '-i',
      userKey,
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-L',
      `sftp/127.0.0.1:${listenPort}:${root}`,
      '--sftp-jail',
      `${sshUser()}@127.0.0.1`,
    ],
    { logFile: join(dir, 'logs', 'sftp-bridge.log') },
  );
  await waitPort(listenPort, '127.0.0.1', bridge);

  const control = join(keys, 'ctl');
  const common = [
    '-F',
    '/dev/null',
    '-i',
    userKey,
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `Ciphers=${CIPHER}`,
    '-o',
    `ControlPath=${control}`,
  ];
  // ssh takes the port as -p, sftp as -P
  const sshOpts = ['-p', String(sshPort), ...common];
  const master = startProcess(
    'ssh master',
    '/usr/bin/ssh',
    [...sshOpts, '-M', '-N', `${sshUser()}@127.0.0.1`],
    {
      logFile: join(dir, 'logs', 'ssh-master.log'),
    },
  );
  for (let i = 0; ; i++) {
    const r = await run('/usr/bin/ssh', [...sshOpts, '-O', 'check', `${sshUser()}@127.0.0.1`]);
    if (r.code === 0) break;
    if (master.exited || i > 100) throw new Error(`ssh master connection did not come up${logTail(master)}`);
    await new Promise((r2) => setTimeout(r2, 50));
  }
  const sftpArgs = ['-P', String(sshPort), ...common];
  return {
    bridge: {
      id: 'bridge',
      label: 'ftpfwd FTP→SFTP bridge (curl)',
      port: listenPort,
      procs: [
        { role: 'bridge', proc: bridge },
        { role: 'sshd', proc: sshd },
      ],
    },
    sftp: {
      id: 'openssh-sftp',
      label: 'OpenSSH sftp -b (reference)',
      args: sftpArgs,
      procs: [
        { role: 'ssh', proc: master },
        { role: 'sshd', proc: sshd },
      ],
    },
  };
}

// ------------------------------------------------------------------ one transfer

async function viaBridge(c, mode, big, name, out, root) {
  const url = (p) => `ftp://u:p@127.0.0.1:${c.port}/${p}`;
  const args = mode === 'upload' ? ['-T', big, url(`up/${name}`)] : ['-o', out, url('big.bin')];
  const r = await curl(args, { what: `${mode} via the sftp bridge` });
  return { seconds: r.transfers[0].seconds, got: mode === 'upload' ? join(root, 'up', name) : out };
}

async function viaSftp(c, mode, big, name, out, root) {
  const batch =
    mode === 'upload' ? `put ${big} ${join(root, 'up', name)}\n` : `get ${join(root, 'big.bin')} ${out}\n`;
  const r = await run('/usr/bin/sftp', ['-q', '-b', '-', ...c.args, `${sshUser()}@127.0.0.1`], {
    input: batch,
  });
  if (r.code !== 0) throw new Error(`sftp ${mode} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return { seconds: r.seconds, got: mode === 'upload' ? join(root, 'up', name) : out };
}

async function measure(c, mode, ctx, runNo) {
  const { dir, root, big } = ctx;
  const name = `sftpb-${mode}-${c.id}-${runNo}.bin`;
  const out = join(dir, 'out', name);
  const before = cpuSnapshot(c);
  const r = await (c.id === 'bridge' ? viaBridge : viaSftp)(c, mode, join(root, big.name), name, out, root);
  const cpu = await cpuSince(before, c.id === 'bridge' ? 'curl' : 'sftp');
  const sha = await sha256File(r.got);
  rmSync(r.got, { force: true });
  if (sha !== big.sha) throw new Error(`${mode} via ${c.id}: sha256 ${sha} != ${big.sha}`);
  return {
    value: round(big.size / r.seconds / 1e6, 1),
    seconds: r.seconds,
    cpu,
    cpuPerGiB: perGiB(cpu, big.size),
  };
}

// ------------------------------------------------------------------ the scenario

const cpuText = (per) =>
  Object.entries(per)
    .map(([role, s]) => `${role} ${s.toFixed(2)}`)
    .join(' · ');

/**
 * Runs the side-by-side comparison and returns the table's lines. `ctx` as bench.mjs passes it
 * ({ dir, files, opts }): the big file in dir/root, opts.runs and opts.smoke.
 */
async function runScenario({ dir, files, opts }) {
  const root = join(dir, 'root');
  const big = files.big;
  const stack = await startStack(dir, root, opts.profile);
  const contenders = [stack.bridge, stack.sftp];
  const ctx = { dir, root, big };
  // one unmeasured download and upload each: a fresh node process is slowest on its first GiB
  const modes = opts.sftpModes ?? ['download', 'upload'];
  for (const c of contenders) for (const mode of modes) await measure(c, mode, ctx, 0);
  const runs = { download: { bridge: [], 'openssh-sftp': [] }, upload: { bridge: [], 'openssh-sftp': [] } };
  for (let i = 1; i <= opts.runs; i++)
    for (const mode of modes) {
      const order = i % 2 ? contenders : [...contenders].reverse();
      for (const c of order) {
        const r = await measure(c, mode, ctx, i);
        runs[mode][c.id].push(r);
        console.log(
          `  sftp-bridge ${mode.padEnd(8)} run ${i}  ${c.id.padEnd(13)} ${r.value} MB/s  CPU s/GiB: ${cpuText(r.cpuPerGiB)}`,
        );
      }
    }
  const lines = [];
  const verdicts = [];
  for (const mode of modes) {
    const med = Object.fromEntries(Object.entries(runs[mode]).map(([id, rs]) => [id, medianResult(rs)]));
    const ref = med['openssh-sftp'].value;
    lines.push(
      `\nFTP→SFTP bridge, ${mode} of ${(big.size / 2 ** 20).toFixed(0)} MiB  [median of ${opts.runs}; ratio vs OpenSSH sftp]`,
    );
    for (const c of contenders) {
      const m = med[c.id];
      lines.push(
        `  ${c.label.padEnd(34)} ${String(m.value).padStart(8)} MB/s  ${(m.value / ref).toFixed(2)}x  CPU s/GiB: ${cpuText(m.cpuPerGiB)}`,
      );
    }
    const ratios = runs[mode].bridge.map((r, k) => r.value / runs[mode]['openssh-sftp'][k].value);
    const ratio = med.bridge.value / ref;
    verdicts.push(
      `  ${opts.smoke ? 'n/a ' : ratio >= 1 ? 'MET ' : 'MISS'}  ${`${mode} bridge / OpenSSH sftp`.padEnd(36)} ${ratio.toFixed(3)}  (>= 1.0)` +
        (ratios.length > 1
          ? `  run by run ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}`
          : ''),
    );
  }
  lines.push('\nTargets (issue 17)', ...verdicts);
  return { lines, runs };
}

/** For bench.mjs: `if (name === 'sftp-bridge') { lines.push(...(await sftpBridge.run(ctx)).lines); continue; }` */
export const sftpBridge = {
  id: 'sftp-bridge',
  title: 'FTP→SFTP bridge vs OpenSSH sftp (download, upload)',
  run: runScenario,
};

// ------------------------------------------------------------------ standalone

async function standalone(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      runs: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      modes: { type: 'string' },
    },
  });
  const opts = {
    smoke: values.smoke,
    runs: Number(values.runs ?? (values.smoke ? 1 : 3)),
    size: parseSize(values.size ?? (values.smoke ? '1M' : '1G')),
    sftpModes: values.modes ? values.modes.split(',') : undefined,
  };
  installCleanupHooks();
  const dir = makeWorkDir();
  try {
    console.log(`preparing ${(opts.size / 2 ** 20).toFixed(0)} MiB in ${dir}`);
    const files = {
      big: {
        name: 'big.bin',
        size: opts.size,
        sha: writeRandomFile(join(dir, 'root', 'big.bin'), opts.size),
      },
    };
    const r = await runScenario({ dir, files, opts });
    console.log(r.lines.join('\n'));
  } finally {
    await cleanup();
    if (values.keep) console.error(`kept ${dir}`);
    else removeWorkDir(dir);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === HERE)
  standalone(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
      console.error(`sftp-bridge bench: FAILED: ${err.message}`);
      cleanup().finally(() => process.exit(1));
    },
  );

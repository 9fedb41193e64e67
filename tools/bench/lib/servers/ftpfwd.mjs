// The contenders under test: ftpfwd-sshd (our SSH server) and ftpfwd (our client, -L ftp/),
// started from the workspace's linked CLIs exactly as a user would (see issues 3 and 4).
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeFlagsOf } from '../../../node-flags.mjs';
import { startProcess, waitPort } from '../procs.mjs';
import { CIPHER, sshUser } from './openssh.mjs';

/**
 * The CLIs under test; BENCH_FTPFWD / BENCH_FTPFWD_SSHD point at other builds (a patched copy).
 * With profileDir, both run with --cpu-prof and write .cpuprofile files there when they exit.
 */
export function ftpfwdBins(repoRoot, profileDir) {
  const override = { ftpfwd: process.env.BENCH_FTPFWD, 'ftpfwd-sshd': process.env.BENCH_FTPFWD_SSHD };
  const bin = (name) => override[name] || join(repoRoot, 'node_modules', '.bin', name);
  // Run through node, so readable is enough (an experiment's copy need not be executable).
  const missing = ['ftpfwd', 'ftpfwd-sshd'].filter((n) => {
    try {
      accessSync(bin(n), constants.R_OK);
      return false;
    } catch {
      return true;
    }
  });
  // --cpu-prof is refused in NODE_OPTIONS: run the bin scripts through node with the flags, and
  // with the flags of each bin's #! line, as an installed CLI runs.
  // BENCH_NODE_ARGS: extra node flags for both CLIs, e.g. `--require ./experiment.cjs`.
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const common = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...extra];
  // An experiment's copy (BENCH_FTPFWD…) may have a plain `#!/usr/bin/env node` line: no flags then.
  const shebangFlags = (name) => {
    if (missing.includes(name)) return [];
    try {
      return nodeFlagsOf(bin(name));
    } catch (err) {
      if (override[name]) return [];
      throw err;
    }
  };
  const nodeArgs = (name) => [...shebangFlags(name), ...common];
  return {
    client: bin('ftpfwd'),
    sshd: bin('ftpfwd-sshd'),
    missing: missing.map(bin),
    clientNodeArgs: nodeArgs('ftpfwd'),
    sshdNodeArgs: nodeArgs('ftpfwd-sshd'),
  };
}

/**
 * ssh2 falls back to per-packet node:crypto without its native binding: a bench run like that
 * would measure the wrong thing, so refuse it. Asked through ftp-proxy's door to ssh2's internals
 * (its built dist), which resolves the ssh2 both CLIs load.
 */
export async function assertNativeCrypto(repoRoot) {
  const door = join(repoRoot, 'packages', 'ftp-proxy', 'dist', 'transport', 'index.js');
  const { ssh2NativeCrypto, ssh2AlgorithmCatalog } = await import(pathToFileURL(door).href);
  if (!ssh2NativeCrypto())
    throw new Error(
      "ssh2's native crypto binding is not loaded: reinstall with npm_config_nodedir=<this Node's headers> (npm ci) so ssh2 builds lib/protocol/crypto/build/Release/sshcrypto.node",
    );
  // Neither CLI sets its own cipher list, so ssh2's first default is what ftpfwd + ftpfwd-sshd
  // negotiate; it must be the cipher OpenSSH is pinned to here, or the comparison is unfair.
  const cipher = ssh2AlgorithmCatalog().cipher.defaults[0];
  if (cipher !== CIPHER)
    throw new Error(
      `ssh2 prefers ${cipher}, not ${CIPHER}: cpu-features did not load or the CPU lacks AES-NI`,
    );
  return cipher;
}

// ftpfwd-sshd allows 256 channels per connection by default: a control and a data channel each for
// 128 FTP sessions. The concurrency scenario runs 100+ sessions over one SSH connection, as OpenSSH
// allows, and a data channel opened ahead can briefly overlap the one before it: leave headroom.
const SSHD_CONFIG = { limits: { maxChannelsPerConnection: 1024 } };

export async function startFtpfwdSshd({ dir, bins, port, hostKey, authorizedKeys }) {
  const config = join(dir, 'ftpfwd-sshd.json');
  writeFileSync(config, JSON.stringify(SSHD_CONFIG));
  const proc = startProcess(
    'ftpfwd-sshd',
    process.execPath,
    [
      ...bins.sshdNodeArgs,
      bins.sshd,
      '--listen',
      `127.0.0.1:${port}`,
      '--host-key',
      hostKey,
      '--authorized-keys',
      authorizedKeys,
      '--config',
      config,
    ],
    { logFile: join(dir, 'logs', 'ftpfwd-sshd.log') },
  );
  await waitPort(port, '127.0.0.1', proc);
  return proc;
}

export async function startFtpfwd({ dir, bins, name, sshPort, key, knownHosts, listenPort, ftpPort }) {
  const proc = startProcess(
    name,
    process.execPath,
    [
      ...bins.clientNodeArgs,
      bins.client,
      '-p',
      String(sshPort),
      '-i',
      key,
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-L',
      `ftp/127.0.0.1:${listenPort}:127.0.0.1:${ftpPort}`,
      `${sshUser()}@127.0.0.1`,
    ],
    { logFile: join(dir, 'logs', `${name.replace(/[^\w.-]+/g, '_')}.log`) },
  );
  await waitPort(listenPort, '127.0.0.1', proc);
  return proc;
}

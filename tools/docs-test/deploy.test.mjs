// deploy/: the systemd units pass systemd-analyze (verify, and a security exposure of at most 2.0),
// their ExecStart command lines work with the example configs, both programs reload on the units'
// ExecReload signal (ftpfwd with the example configs, pointed at a loopback ftpfwd-sshd), ftpfwd-sshd
// keeps its automatic host key where the unit's XDG_STATE_HOME says, and the container build is
// proven with podman (deploy/container/prove-local.sh).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { nodeFlagsOf } from '../node-flags.mjs';
import {
  clientPlanner,
  FTPFWD,
  FTPFWD_SSHD,
  keypair,
  listeningPort,
  loopbackServer,
  root,
  startUntil,
  tempDir,
} from './harness.mjs';

const planFromArgs = await clientPlanner();
const client = await import(join(root, 'packages/client/dist/index.js'));
const UNITS = ['ftpfwd', 'ftpfwd-sshd'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A copy of an example ftpfwd config (either form) that runs here: every destination at the
 * loopback server with its key and known_hosts, every listener on 127.0.0.1 port 0, metrics on
 * port 0. Everything else (FTP options, SSH options, log format) stays as the example has it.
 */
function liveConfig(example, server, dir) {
  const cfg = YAML.parse(readFileSync(example, 'utf8'));
  const zero = (dir, text) => {
    const spec = client.parseForwardSpec(dir, text);
    const bindAddress = dir === 'L' ? '127.0.0.1' : spec.bindAddress;
    return client.formatForwardSpec({ ...spec, bindAddress, bindPort: 0 }).replace(/^-[LR] /, '');
  };
  const point = (d, single) => {
    for (const k of ['destination', 'host', 'user', 'port', 'askpass', 'agent', 'identityFile', 'knownHosts'])
      delete d[k];
    Object.assign(
      d,
      single
        ? { destination: `docs@127.0.0.1`, port: server.port, identityFile: server.userKey }
        : {
            host: '127.0.0.1',
            port: server.port,
            user: 'docs',
            agent: false,
            identityFile: server.userKey,
            knownHosts: server.knownHosts,
          },
    );
    if (single) d.options = { ...d.options, UserKnownHostsFile: server.knownHosts };
    if (d.local) d.local = [d.local].flat().map((f) => zero('L', f));
    if (d.remote) d.remote = [d.remote].flat().map((f) => zero('R', f));
    for (const f of d.forwards ?? []) {
      if (f.local) f.local = zero('L', f.local);
      if (f.remote) f.remote = zero('R', f.remote);
    }
  };
  if (cfg.destinations) for (const d of Object.values(cfg.destinations)) point(d, false);
  else point(cfg, true);
  if (cfg.metrics) cfg.metrics = '127.0.0.1:0';
  const live = join(dir, 'ftpfwd.yaml');
  writeFileSync(live, YAML.stringify(cfg));
  return live;
}

/** Whether process `pid` has a handler for SIGHUP (Linux: bit 0 of SigCgt in /proc/PID/status). */
function catchesHup(pid) {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
}

/**
 * Runs ftpfwd as the unit's ExecStart does, with `example` (made live) as /etc/ftpfwd/ftpfwd.yaml;
 * once every forwarding is up, sends the unit's reload signal and expects the summary that nothing
 * changed, then a clean exit 0 on SIGTERM.
 */
async function reloadsUnchanged(example, forwardings) {
  const [exec] = directive(unit('ftpfwd'), 'ExecStart');
  const [, ...args] = exec.split(/\s+/);
  const dir = tempDir('reload-ftpfwd');
  const server = await loopbackServer();
  try {
    const live = liveConfig(example, server, dir);
    const argv = args.map((a) => (a === '/etc/ftpfwd/ftpfwd.yaml' ? live : a));
    assert.ok(argv.includes(live), `ExecStart does not read /etc/ftpfwd/ftpfwd.yaml: ${exec}`);
    const run = await startUntil(process.execPath, [FTPFWD, ...argv], {
      env: { ...process.env, HOME: dir, USER: 'ftpfwd' },
      ready: (out) => (out.match(/"msg":"(?:ftp|tcp)[^"]* via [^"]*"/g) ?? []).length >= forwardings,
    });
    try {
      // ftpfwd installs its SIGHUP handler only once every destination has started, a moment after
      // the forwarding lines; a SIGHUP before that ends it by the default action. So wait until the
      // process catches SIGHUP (Linux: bit 0 of SigCgt), bounded.
      for (let i = 0; i < 200 && !catchesHup(run.child.pid); i++) await sleep(25);
      assert.ok(catchesHup(run.child.pid), `ftpfwd never installed its SIGHUP handler:\n${run.output}`);
      run.child.kill('SIGHUP');
      const summary = `reloaded ${live}: 0 forwarding(s) opened, 0 closed, ${forwardings} unchanged`;
      for (let i = 0; i < 200 && !run.output.includes(summary); i++) await sleep(50);
      assert.ok(run.output.includes(summary), `expected "${summary}" in:\n${run.output}`);
      // Still running after the reload (SIGHUP's default action would have ended it).
      await sleep(200);
      assert.equal(run.child.exitCode, null, run.output);
      assert.equal(run.child.signalCode, null, run.output);
    } finally {
      assert.equal(await run.stop(), 0, run.output);
    }
  } finally {
    await server.stop();
  }
}

function unit(name) {
  return readFileSync(join(root, 'deploy/systemd', `${name}.service`), 'utf8');
}
function directive(text, key) {
  return [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);
}

describe('systemd units', () => {
  it('pass systemd-analyze verify (with the ExecStart programs installed where the units say)', () => {
    const dir = tempDir('units');
    // The units name /opt/ftpfwd; verify checks the programs exist, so point them at this workspace.
    const bin = join(dir, 'opt/ftpfwd/node_modules/.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(FTPFWD, join(bin, 'ftpfwd'));
    symlinkSync(FTPFWD_SSHD, join(bin, 'ftpfwd-sshd'));
    const files = UNITS.map((u) => {
      const f = join(dir, `${u}.service`);
      writeFileSync(f, unit(u).replaceAll('/opt/ftpfwd/', `${dir}/opt/ftpfwd/`));
      return f;
    });
    const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
    assert.ok(!r.error, `systemd-analyze: ${r.error?.message} (Debian package "systemd")`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'systemd-analyze verify warned');
  });

  for (const u of UNITS) {
    it(`${u}.service: systemd-analyze security exposure at most 2.0`, () => {
      const r = spawnSync(
        'systemd-analyze',
        ['security', '--offline=true', join(root, 'deploy/systemd', `${u}.service`)],
        {
          encoding: 'utf8',
        },
      );
      const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout);
      assert.ok(m, r.stdout + r.stderr);
      assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}:\n${r.stdout}`);
    });
  }

  it('both units run as their own user, with no capabilities and a state directory', () => {
    for (const u of UNITS) {
      const text = unit(u);
      assert.deepEqual(directive(text, 'User'), [u]);
      assert.deepEqual(directive(text, 'CapabilityBoundingSet'), ['']);
      assert.deepEqual(directive(text, 'StateDirectory'), [u]);
      assert.deepEqual(directive(text, 'NoNewPrivileges'), ['yes']);
      assert.deepEqual(directive(text, 'ProtectSystem'), ['strict']);
      const sysusers = readFileSync(join(root, 'deploy/systemd/sysusers-ftpfwd.conf'), 'utf8');
      assert.match(sysusers, new RegExp(`^u ${u} `, 'm'));
    }
  });

  it('ftpfwd.service: ExecStart parses with the example config (deploy/ftpfwd.yaml)', () => {
    const [exec] = directive(unit('ftpfwd'), 'ExecStart');
    const [program, ...args] = exec.split(/\s+/);
    assert.equal(program, '/opt/ftpfwd/node_modules/.bin/ftpfwd');
    const dir = tempDir('unit-ftpfwd');
    const plan = planFromArgs(
      args.map((a) => (a === '/etc/ftpfwd/ftpfwd.yaml' ? join(root, 'deploy/ftpfwd.yaml') : a)),
      { HOME: dir, USER: 'ftpfwd' },
    );
    assert.equal(plan.host, 'bastion.example.com');
    assert.equal(plan.forwards.length, 1);
    assert.deepEqual(plan.metrics, { host: '127.0.0.1', port: 9464 });
  });

  it('ftpfwd.service: ExecReload sends SIGHUP, and ftpfwd reloads deploy/ftpfwd.yaml on it and keeps running', async () => {
    assert.deepEqual(directive(unit('ftpfwd'), 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
    await reloadsUnchanged(join(root, 'deploy/ftpfwd.yaml'), 1);
  });

  it('ftpfwd.service with the gateway-form example (deploy/ftpfwd-gateway.yaml): every forwarding up, SIGHUP reloads', async () => {
    await reloadsUnchanged(join(root, 'deploy/ftpfwd-gateway.yaml'), 2);
  });

  it('ftpfwd-sshd.service: ExecStart runs with the example config, the host key lands in $XDG_STATE_HOME/ftpfwd-sshd, SIGHUP reloads', async () => {
    const text = unit('ftpfwd-sshd');
    const [exec] = directive(text, 'ExecStart');
    const [program, ...args] = exec.split(/\s+/);
    assert.equal(program, '/opt/ftpfwd/node_modules/.bin/ftpfwd-sshd');
    assert.deepEqual(directive(text, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.ok(directive(text, 'Environment').includes('XDG_STATE_HOME=/var/lib'));
    const dir = tempDir('unit-sshd');
    mkdirSync(join(dir, 'etc'));
    copyFileSync(join(root, 'deploy/ftpfwd-sshd.yaml'), join(dir, 'etc/ftpfwd-sshd.yaml'));
    writeFileSync(join(dir, 'etc/authorized_keys'), `${keypair(join(dir, 'user'))}\n`);
    const live = args.map((a) =>
      a === '/etc/ftpfwd-sshd/ftpfwd-sshd.yaml' ? join(dir, 'etc/ftpfwd-sshd.yaml') : a,
    );
    const run = await startUntil(process.execPath, [FTPFWD_SSHD, ...live, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, XDG_STATE_HOME: join(dir, 'state'), HOME: dir },
      ready: listeningPort,
    });
    try {
      assert.ok(existsSync(join(dir, 'state/ftpfwd-sshd/host_ed25519_key')), run.output);
      // Serving (and past start-up, so its signal handlers are in place).
      await new Promise((resolve, reject) => {
        const s = connect(run.ready, '127.0.0.1');
        s.once('data', (d) => {
          s.destroy();
          String(d).startsWith('SSH-2.0-') ? resolve() : reject(new Error(String(d)));
        });
        s.once('error', reject);
      });
      run.child.kill('SIGHUP');
      for (let i = 0; i < 100 && !run.output.includes('"event":"reloaded"'); i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.match(run.output, /"event":"reloaded"/);
    } finally {
      assert.equal(await run.stop(), 0, run.output);
    }
  });
});

describe('systemd units under a real systemd', () => {
  it('deploy/systemd/prove-systemd.sh: both services run hardened as their own users, reload and stop through systemctl', () => {
    assert.equal(process.getuid?.(), 0, 'prove-systemd.sh needs root (podman --privileged, nsenter)');
    const r = spawnSync('bash', [join(root, 'deploy/systemd/prove-systemd.sh')], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /prove-systemd: OK/);
  });
});

describe('container build', () => {
  it("runs each CLI with the node flags of its bin script's #! line", () => {
    const containerfile = readFileSync(join(root, 'deploy/container/Containerfile'), 'utf8');
    for (const bin of [FTPFWD, FTPFWD_SSHD]) {
      const flags = nodeFlagsOf(bin);
      assert.ok(flags.length > 0, `${bin}: no node flags on its #! line`);
      const inImage = `/opt/ftpfwd/node_modules/@ftpfwd/${bin.includes('/sshd/') ? 'sshd' : 'client'}/bin/${basename(bin)}`;
      const entry = containerfile.split('\n').find((l) => l.startsWith('ENTRYPOINT') && l.includes(inImage));
      assert.ok(entry, `Containerfile: no ENTRYPOINT runs ${inImage}`);
      assert.deepEqual(JSON.parse(entry.slice('ENTRYPOINT'.length)), ['node', ...flags, inImage]);
    }
  });

  it('the bin scripts start node with those flags when run directly (env -S)', () => {
    const dir = tempDir();
    const probe = join(dir, 'print-exec-argv.cjs');
    writeFileSync(probe, "process.stderr.write('execArgv=' + JSON.stringify(process.execArgv) + '\\n');\n");
    for (const bin of [FTPFWD, FTPFWD_SSHD]) {
      const r = spawnSync(bin, ['--help'], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: `--require=${probe}` },
      });
      assert.equal(r.status, 0, `${bin} --help: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`execArgv=${escapeRegExp(JSON.stringify(nodeFlagsOf(bin)))}`));
    }
  });

  it('deploy/container/prove-local.sh: both images build with podman and run non-root, healthy only while the SSH link is up', () => {
    assert.equal(process.getuid?.(), 0, 'prove-local.sh needs root (podman, chown of the mounted files)');
    const r = spawnSync('bash', [join(root, 'deploy/container/prove-local.sh')], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /prove-local: OK/);
  });
});

describe('example configs', () => {
  it('deploy/ftpfwd.yaml names only keys the schema knows (parsed above through ExecStart)', async () => {
    const { readConfigFile } = await import(join(root, 'packages/client/dist/config-file.js'));
    assert.equal(readConfigFile(join(root, 'deploy/ftpfwd.yaml')).dataPorts, '40000-40099');
  });
  it('deploy/ftpfwd-gateway.yaml is the gateway form, validated by the client’s loadConfig and GatewayConfigSchema', () => {
    const file = join(root, 'deploy/ftpfwd-gateway.yaml');
    const loaded = client.loadConfig(file);
    assert.equal(loaded.form, 'gateway');
    assert.deepEqual(Object.keys(loaded.file.destinations), ['bastion', 'partner']);
    const parsed = client.GatewayConfigSchema.safeParse(YAML.parse(readFileSync(file, 'utf8')));
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    const ranges = Object.values(parsed.data.destinations).flatMap((d) => d.forwards.map((f) => f.dataPorts));
    assert.deepEqual(ranges, ['40000-40099', '40100-40199']);
  });
  it('deploy/ftpfwd-sshd.yaml validates against the server’s schema', async () => {
    const { loadConfigFile } = await import(join(root, 'packages/sshd/dist/index.js'));
    assert.deepEqual(loadConfigFile(join(root, 'deploy/ftpfwd-sshd.yaml')).permitOpen, [
      'ftp.internal:21/ftp',
    ]);
  });
});

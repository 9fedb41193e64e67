// Every shell command in the README, docs/, the packages' READMEs and deploy/ is either exercised here
// or named with the reason it is not (and where else it is covered). For each ```sh block:
//
//   ftpfwd …        parsed by the real CLI's parser (planFromArgs, what `ftpfwd` runs first), then run
//                   for real against a loopback ftpfwd-sshd: the documented options and forwardings,
//                   with the destination pointed at 127.0.0.1 (-o HostName, which wins over the rest)
//                   and listening ports set to 0; it must set up every forwarding and exit 0 on SIGTERM.
//   ftpfwd-sshd …   run for real: `keygen`/`passwd` as written, the server with --listen 127.0.0.1:0;
//                   it must listen and stop with exit 0.
//   cp, mkdir, cat > FILE <<EOF   run in the block's sandbox (HOME and cwd are temp dirs; absolute
//                   paths are mapped into it), so the commands after them find their files.
//   the client README's "Try it on one machine" block runs whole, as written, with bash.
//
// Anything else must appear in NOT_RUN with a reason, or the test fails: a new command in the docs
// gets a decision.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import {
  clientGatewayPlanner,
  FTPFWD,
  FTPFWD_SSHD,
  keypair,
  listeningPort,
  loopbackServer,
  root,
  startUntil,
  tempDir,
} from './harness.mjs';
import { programOf, shBlocks, simpleCommands, yamlBlocks } from './shell-blocks.mjs';

const planFromArgs = await clientGatewayPlanner();
const { parseForwardSpec, formatForwardSpec } = await import(join(root, 'packages/client/dist/index.js'));

const DOC_FILES = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(root, 'packages'))
    .map((p) => `packages/${p}/README.md`)
    .filter((f) => existsSync(join(root, f))),
  ...readdirSync(join(root, 'deploy'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `deploy/${f}`),
];

const SYSTEM_SETUP =
  'system setup as root (writes /etc, /usr/lib, /opt); deploy.test.mjs checks the files it installs';
const NOT_RUN = {
  npm: 'the repository’s own scripts: CI runs `npm ci`, `npm run lint` and `npm test` (which runs the demo’s self-test for `npm start`, and every suite)',
  nx: 'runs a test suite: part of `npm test`',
  vitest: 'runs a package’s test suite: part of `npm test`',
  'ftpfwd-lab':
    'runs scenario files in containers: packages/e2e runs every example through it (src/topologies/*.test.ts) and its CLI with real containers (src/lab/cli.test.ts)',
  curl: 'an FTP client talking to a forwarding whose FTP server is not here; the same curl modes (EPSV, PASV, EPRT, upload) run against real ftp-srv in packages/client tests and in the try-it block here',
  ssh: 'OpenSSH against a remote gateway; `ssh -N -L`/`-R` against ftpfwd-sshd run in packages/sshd/src/openssh.test.ts',
  docker:
    'no Docker engine here; the same Containerfile is built and run with podman by deploy/container/prove-local.sh (deploy.test.mjs)',
  node: 'the health check against a running gateway; deploy/container/prove-local.sh runs it against live containers',
  sh: 'deploy/install-app.sh as root into /opt; deploy/container/prove-local.sh runs it into a temp dir',
  install: SYSTEM_SETUP,
  'systemd-sysusers': SYSTEM_SETUP,
  chgrp: SYSTEM_SETUP,
  chmod: SYSTEM_SETUP,
  'ssh-keygen': 'writes a key into /etc as root; ssh-keygen itself is OpenSSH’s',
  systemctl:
    'needs systemd as PID 1 (not on this machine); the units pass systemd-analyze verify in deploy.test.mjs',
  journalctl: 'needs systemd as PID 1 (not on this machine)',
  grep: 'filters journalctl output',
  cd: 'shell built-in (changes directory for the vitest run after it)',
};
/** Commands run in the block's sandbox when all their paths are relative or under ~. */
const PREP = new Set(['cp', 'mkdir']);
/** Blocks that run whole with bash, and what their stdout must be. */
const WHOLE = [{ file: 'packages/client/README.md', marker: 'npx ftp-srv', stdout: 'hello\nhello\n' }];

/** Example configs standing in for the paths the docs install them at. */
const INSTALLED = {
  '/etc/ftpfwd/ftpfwd.yaml': 'deploy/ftpfwd.yaml',
  '/etc/ftpfwd-sshd/ftpfwd-sshd.yaml': 'deploy/ftpfwd-sshd.yaml',
};

let server;
before(async () => {
  server = await loopbackServer();
});
after(async () => {
  await server?.stop();
});

/** Per block: a HOME with a key pair and authorized_keys, a cwd, and where absolute paths went. */
function sandbox() {
  const dir = tempDir('block');
  const home = join(dir, 'home');
  const cwd = join(dir, 'cwd');
  mkdirSync(cwd, { recursive: true });
  const pub = keypair(join(home, '.ssh', 'id_ed25519'));
  writeFileSync(join(home, '.ssh', 'authorized_keys'), `${pub}\n`);
  // Blocks that use ./authorized_keys without making it presume one in the current directory.
  writeFileSync(join(cwd, 'authorized_keys'), `${pub}\n`);
  const files = new Map();
  for (const [installed, example] of Object.entries(INSTALLED)) {
    const to = join(dir, 'abs', installed);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(root, example), to);
    files.set(installed, to);
  }
  // deploy/ftpfwd-sshd.yaml names authorized_keys next to itself.
  writeFileSync(join(dir, 'abs', 'etc', 'ftpfwd-sshd', 'authorized_keys'), `${pub}\n`);
  const env = { ...process.env, HOME: home, USER: 'docs', XDG_STATE_HOME: join(dir, 'state') };
  const map = (a) => {
    if (files.has(a)) return files.get(a);
    // Per-instance configs (docs/scaling.md: /etc/ftpfwd/$(POD_NAME).yaml) stand for the example.
    if (/^\/etc\/ftpfwd\/[\w.-]+\.ya?ml$/.test(a)) return files.get('/etc/ftpfwd/ftpfwd.yaml');
    if (a.startsWith('~/')) return join(home, a.slice(2));
    return a;
  };
  const place = (path) => {
    const to = path.startsWith('/') ? join(dir, 'abs', path) : join(cwd, map(path));
    mkdirSync(dirname(to), { recursive: true });
    files.set(path, to);
    return to;
  };
  return { dir, home, cwd, env, map, place };
}

/** A gateway-form config with every destination at the loopback server and every port 0. */
function liveGatewayConfig(cfg, sb) {
  const zero = (dir, spec) => specText({ ...parseForwardSpec(dir, spec), bindPort: 0 });
  for (const d of Object.values(cfg.destinations)) {
    for (const k of ['destination', 'host', 'user', 'port', 'askpass', 'agent', 'identityFile', 'knownHosts'])
      delete d[k];
    Object.assign(d, {
      host: '127.0.0.1',
      port: server.port,
      user: 'docs',
      agent: false,
      identityFile: server.userKey,
      knownHosts: server.knownHosts,
      strictHostKeyChecking: 'yes',
      batchMode: true,
      sshConfig: 'none',
    });
    if (d.local) d.local = d.local.map((f) => zero('L', f));
    if (d.remote) d.remote = d.remote.map((f) => zero('R', f));
    for (const f of d.forwards ?? []) {
      if (f.local) f.local = zero('L', f.local);
      if (f.remote) f.remote = zero('R', f.remote);
    }
  }
  if (cfg.metrics) cfg.metrics = '127.0.0.1:0';
  const live = join(sb.dir, 'live-gateway.yaml');
  writeFileSync(live, YAML.stringify(cfg));
  return live;
}

/** formatForwardSpec gives `-L ftp/…` (for logs); the argument is what follows `-L `. */
const specText = (spec) => formatForwardSpec(spec).replace(/^-[LR] /, '');

/** The documented ftpfwd arguments, made to run here: loopback server, port 0 listeners. */
function liveFtpfwdArgs(args, sb) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = () => args[++i];
    if (a === '-L' || a === '-R') {
      const spec = parseForwardSpec(a.slice(1), next());
      out.push(a, specText({ ...spec, bindPort: 0 }));
    } else if (a === '-p') {
      next();
      out.push('-p', String(server.port));
    } else if (a === '--metrics') {
      next();
      out.push('--metrics', '127.0.0.1:0');
    } else if (a === '--config') {
      const file = sb.map(next());
      const cfg = YAML.parse(readFileSync(file, 'utf8'));
      if (cfg.destinations) {
        // Gateway form: per-destination flags would be ambiguous, so the file itself points every
        // destination at the loopback server.
        out.push('--config', liveGatewayConfig(cfg, sb));
        continue;
      }
      const zero = (dir, list) =>
        [list].flat().map((s) => specText({ ...parseForwardSpec(dir, s), bindPort: 0 }));
      if (cfg.local) cfg.local = zero('L', cfg.local);
      if (cfg.remote) cfg.remote = zero('R', cfg.remote);
      if (cfg.metrics) cfg.metrics = '127.0.0.1:0';
      if (cfg.port) cfg.port = server.port;
      const live = join(sb.dir, 'live-config.yaml');
      writeFileSync(live, YAML.stringify(cfg));
      out.push('--config', live);
    } else {
      out.push(a.startsWith('-') ? a : sb.map(a));
    }
  }
  if (
    out.includes('--config') &&
    YAML.parse(readFileSync(out[out.indexOf('--config') + 1], 'utf8')).destinations
  )
    return [...out, '--log-format', 'json'];
  // Given first, these win: OpenSSH (and ftpfwd) keep the first value of each option.
  return [
    '-o',
    'HostName=127.0.0.1',
    '-o',
    `Port=${server.port}`,
    '-i',
    server.userKey,
    '-o',
    `UserKnownHostsFile=${server.knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '--log-format',
    'json',
    ...out,
  ];
}

async function checkFtpfwd(args, sb) {
  const mapped = args.map((a) => (a.startsWith('-') ? a : sb.map(a)));
  const plan = planFromArgs(mapped, sb.env);
  assert.ok(plan.forwards.length > 0, 'no forwarding');
  const live = liveFtpfwdArgs(args, sb);
  const want = planFromArgs(live, sb.env).forwards.length;
  const run = await startUntil(process.execPath, [FTPFWD, ...live], {
    env: sb.env,
    cwd: sb.cwd,
    ready: (out) => (out.match(/"msg":"(?:ftp|tcp|sftp)[^"]* via [^"]*"/g) ?? []).length >= want,
  });
  assert.equal(await run.stop(), 0, `ftpfwd did not exit 0 on SIGTERM:\n${run.output}`);
}

async function checkSshd(args, sb) {
  const mapped = args.map((a) => (a.startsWith('-') ? a : sb.map(a)));
  if (mapped[0] === 'keygen' || mapped[0] === 'passwd') {
    execFileSync(process.execPath, [FTPFWD_SSHD, ...mapped], {
      cwd: sb.cwd,
      env: sb.env,
      input: 'docs-secret\n',
    });
    return;
  }
  const live = [];
  for (let i = 0; i < mapped.length; i++) {
    if (mapped[i] === '--listen') i++;
    else live.push(mapped[i]);
  }
  live.push('--listen', '127.0.0.1:0');
  const run = await startUntil(process.execPath, [FTPFWD_SSHD, ...live], {
    env: sb.env,
    cwd: sb.cwd,
    ready: listeningPort,
  });
  // It serves: the SSH identification line comes. (Also, ftpfwd-sshd installs its SIGTERM handler only
  // after start-up; a SIGTERM right after the `listening` line would find the default action.)
  assert.match(await banner(run.ready), /^SSH-2\.0-/);
  const code = await run.stop();
  assert.equal(code, 0, `ftpfwd-sshd did not exit 0 on SIGTERM:\n${run.output}`);
  assert.match(run.output, /"event":"stopped"/);
}

function banner(port) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setTimeout(10_000, () => sock.destroy(new Error('no SSH banner within 10 s')));
    sock.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) {
        sock.destroy();
        resolve(got.split('\r\n')[0]);
      }
    });
    sock.on('error', reject);
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Runs a block with bash in its own process group; kills the group afterwards whatever happened. */
async function runWhole(text) {
  // The block uses fixed ports, as a reader would; another test on this machine may hold one for a
  // moment, so wait for them (bounded) before calling them taken.
  for (const port of [2100, 2121, 2222]) {
    let free = false;
    for (let i = 0; i < 60 && !free; i++) {
      free = await portFree(port);
      if (!free) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(free, `port ${port} is in use: the try-it block needs it (stop the demo?)`);
  }
  const child = spawn('bash', ['-c', text], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 60_000);
  const code = await new Promise((r) => child.once('exit', (c, s) => r(c ?? s)));
  clearTimeout(timer);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {}
  return { code, stdout, stderr };
}

/** Values for the `$(VAR)` that Kubernetes expands in args (docs/scaling.md), from the downward API. */
const K8S_VARS = { HOST_IP: '198.51.100.11', POD_NAME: 'ftpfwd-0' };

/** Every `args:` list of strings in a parsed YAML document. */
function argLists(node, out = []) {
  if (Array.isArray(node)) for (const n of node) argLists(n, out);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === 'args' && Array.isArray(v) && v.every((x) => typeof x === 'string')) out.push(v);
      else argLists(v, out);
    }
  return out;
}

// Kubernetes snippets: valid YAML, and the container args are ftpfwd command lines that run.
for (const file of DOC_FILES) {
  const blocks = yamlBlocks(join(root, file));
  if (!blocks.length) continue;
  describe(`${file} (yaml)`, () => {
    for (const block of blocks) {
      const sb = sandbox();
      it(`block at line ${block.line} is YAML`, () => {
        YAML.parse(block.text);
      });
      if (file === 'packages/sshd/README.md')
        it(`block at line ${block.line} is a valid ftpfwd-sshd config`, async () => {
          const { parseConfig } = await import(join(root, 'packages/sshd/dist/index.js'));
          parseConfig(YAML.parse(block.text), `${file} line ${block.line}`);
        });
      for (const args of argLists(YAML.parse(block.text)))
        it(`block at line ${block.line}: ftpfwd ${args.join(' ')}`, () =>
          checkFtpfwd(
            args.map((a) =>
              a.replace(/\$\((\w+)\)/g, (_, v) => K8S_VARS[v] ?? assert.fail(`no value for $(${v})`)),
            ),
            sb,
          ));
    }
  });
}

for (const file of DOC_FILES) {
  const blocks = shBlocks(join(root, file));
  if (!blocks.length) continue;
  describe(file, () => {
    for (const block of blocks) {
      const whole = WHOLE.find((w) => w.file === file && block.text.includes(w.marker));
      describe(`block at line ${block.line}`, () => {
        if (whole) {
          it('runs as written (bash), every command in it', async () => {
            const r = await runWhole(block.text);
            // ftp-srv logs JSON lines on stdout; the rest is what the reader sees.
            const seen = r.stdout
              .split('\n')
              .filter((l) => !l.startsWith('{'))
              .join('\n');
            assert.equal(seen, whole.stdout, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
          });
          return;
        }
        const sb = sandbox();
        for (const cmd of simpleCommands(block.text)) {
          const [prog, at] = programOf(cmd.words);
          const args = cmd.words.slice(at);
          const name = `line ${block.line + cmd.line}: ${cmd.text}`;
          if (prog === 'ftpfwd') it(name, () => checkFtpfwd(args, sb));
          else if (prog === 'ftpfwd-sshd') it(name, () => checkSshd(args, sb));
          else if (cmd.heredoc !== undefined && cmd.redirect && prog === 'cat')
            it(name, () => writeFileSync(sb.place(cmd.redirect), cmd.heredoc));
          else if (PREP.has(prog) && cmd.words[0] !== 'sudo' && !args.some((a) => a.startsWith('/')))
            it(name, () => execFileSync(prog, args.map(sb.map), { cwd: sb.cwd, env: sb.env }));
          else
            it(`${name} — not run`, (t) => {
              assert.ok(
                NOT_RUN[prog],
                `no test and no reason for "${prog}": run it here or add it to NOT_RUN`,
              );
              t.diagnostic(NOT_RUN[prog]);
            });
        }
      });
    }
  });
}

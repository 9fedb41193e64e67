// docs/scaling.md, layout 1, for real on loopback: two ftpfwd instances behind HAProxy (mode tcp,
// round robin per connection), both advertising the balancer's address 127.0.0.1, each with its own
// --data-ports range that the balancer forwards to it alone. EPSV and PASV downloads through the
// balancer arrive intact, and both instances served some. Then "what breaks if advertise is wrong":
// login works, the transfer does not.
//
//   curl ──▶ HAProxy 127.0.0.1:ctl ──round robin──▶ ftpfwd A 127.0.0.2 / ftpfwd B 127.0.0.3
//        ──▶ HAProxy 127.0.0.1:rangeA ──▶ A          ──ssh──▶ ftpfwd-sshd ──▶ ftp-srv
//        ──▶ HAProxy 127.0.0.1:rangeB ──▶ B
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FTPFWD, loopbackServer, root, startUntil, tempDir } from './harness.mjs';

const FTP_SRV = join(root, 'node_modules/.bin/ftp-srv');
const RANGE = 8;

function free(port, host) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** `count` consecutive ports free on every host, none of them in `taken`. */
async function freeRange(count, hosts, taken) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const lo = 20000 + Math.floor(Math.random() * 30000);
    const ports = Array.from({ length: count }, (_, i) => lo + i);
    if (ports.some((p) => taken.has(p))) continue;
    let ok = true;
    for (const p of ports) for (const h of hosts) ok &&= await free(p, h);
    if (ok) {
      for (const p of ports) taken.add(p);
      return { lo, hi: lo + count - 1 };
    }
  }
  throw new Error(`no ${count} free consecutive ports on ${hosts.join(', ')}`);
}

function curl(args) {
  const r = spawnSync('curl', ['-sS', '--max-time', '20', ...args], { maxBuffer: 1 << 26 });
  return { code: r.status, body: r.stdout, err: String(r.stderr) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha = (b) => createHash('sha256').update(b).digest('hex');

describe('docs/scaling.md layout 1: two instances behind HAProxy, one address, a port range each', () => {
  const dir = tempDir('scaling');
  const payload = randomBytes(3 << 20);
  const taken = new Set();
  let server;
  let ftp;
  let lb;
  const inst = {};
  let ctlPort;

  before(async () => {
    const haproxy = spawnSync('haproxy', ['-v']);
    assert.ok(!haproxy.error, 'haproxy is needed (Debian package "haproxy"; tools/setup-machine)');
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'payload.bin'), payload);
    server = await loopbackServer();
    const ftpPort = (await freeRange(1, ['127.0.0.1'], taken)).lo;
    const pasv = await freeRange(RANGE, ['127.0.0.1'], taken);
    ftp = await startUntil(
      FTP_SRV,
      [
        `ftp://127.0.0.1:${ftpPort}`,
        '--root',
        join(dir, 'root'),
        '--pasv_url',
        '127.0.0.1',
        '--pasv_min',
        String(pasv.lo),
        '--pasv_max',
        String(pasv.hi),
      ],
      { ready: (out) => out.includes('Listening') },
    );
    for (const [name, addr] of [
      ['a', '127.0.0.2'],
      ['b', '127.0.0.3'],
    ]) {
      const range = await freeRange(RANGE, ['127.0.0.1', addr], taken);
      const run = await startUntil(
        process.execPath,
        [
          FTPFWD,
          '-p',
          String(server.port),
          '-i',
          server.userKey,
          '-o',
          `UserKnownHostsFile=${server.knownHosts}`,
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=yes',
          '-F',
          'none',
          '-L',
          `ftp/${addr}:0:127.0.0.1:${ftpPort}`,
          '--advertise',
          '127.0.0.1',
          '--data-ports',
          `${range.lo}-${range.hi}`,
          '--metrics',
          `${addr}:0`,
          'gw@127.0.0.1',
        ],
        { env: { ...process.env, HOME: dir }, ready: (out) => /ftp [\d.]+:(\d+) -> .* via/.exec(out)?.[1] },
      );
      const metrics = Number(/metrics on http:\/\/[\d.]+:(\d+)\//.exec(run.output)[1]);
      inst[name] = { addr, range, run, metrics, port: Number(run.ready) };
    }
    ctlPort = (await freeRange(1, ['127.0.0.1'], taken)).lo;
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend ftp_control
  bind 127.0.0.1:${ctlPort}
  default_backend ftpfwd_all
backend ftpfwd_all
  balance roundrobin
  option httpchk GET /metrics
  http-check expect rstring \\nftpfwd_link_up(\\{[^}]*\\})?\\ 1\\n
  http-check expect ! rstring \\nftpfwd_link_up(\\{[^}]*\\})?\\ 0\\n
  default-server inter 500ms fall 2 rise 1
  server a ${inst.a.addr}:${inst.a.port} check port ${inst.a.metrics}
  server b ${inst.b.addr}:${inst.b.port} check port ${inst.b.metrics}
${['a', 'b']
  .map(
    (n) => `frontend data_${n}
  bind 127.0.0.1:${inst[n].range.lo}-${inst[n].range.hi}
  default_backend data_${n}
backend data_${n}
  server ${n} ${inst[n].addr}
`,
  )
  .join('')}`,
    );
    execFileSync('haproxy', ['-c', '-q', '-f', cfg]);
    lb = await startUntil('haproxy', ['-db', '-f', cfg], { ready: () => true });
    // Bounded wait until the balancer accepts on a data port (a connection there reaches no listener
    // and is closed: nothing else happens).
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await new Promise((resolve) => {
        const s = connect(inst.a.range.lo, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => setTimeout(() => resolve(false), 50));
      });
    }
    assert.ok(up, `haproxy did not listen:\n${lb.output}`);
  });

  after(async () => {
    await lb?.stop();
    for (const i of Object.values(inst)) await i.run.stop();
    await ftp?.stop();
    await server?.stop();
  });

  it('EPSV and PASV downloads through the balancer arrive intact, and both instances served some', async () => {
    const url = `ftp://127.0.0.1:${ctlPort}/payload.bin`;
    for (const mode of [
      [],
      ['--disable-epsv', '--no-ftp-skip-pasv-ip'],
      [],
      ['--disable-epsv', '--no-ftp-skip-pasv-ip'],
    ]) {
      const r = curl([...mode, url]);
      assert.equal(r.code, 0, `curl ${mode.join(' ')}: ${r.err}`);
      assert.equal(sha(r.body), sha(payload), `curl ${mode.join(' ')}: wrong bytes`);
    }
    // Each session's summary line comes when its control connection has closed: wait (bounded).
    const served = (i) =>
      (i.run.output.match(/ftp session closed .*data_opened=1 data_failed=0/g) ?? []).length;
    for (let n = 0; n < 100 && Object.values(inst).some((i) => served(i) < 1); n++) await sleep(50);
    for (const [name, i] of Object.entries(inst))
      assert.ok(served(i) >= 1, `instance ${name} served no transfer:\n${i.run.output}`);
  });

  it('a wrong --advertise: the control connection works (login, SIZE), every transfer fails', async () => {
    const range = await freeRange(RANGE, ['127.0.0.1'], taken);
    const wrong = await startUntil(
      process.execPath,
      [
        FTPFWD,
        '-p',
        String(server.port),
        '-i',
        server.userKey,
        '-o',
        `UserKnownHostsFile=${server.knownHosts}`,
        '-o',
        'BatchMode=yes',
        '-F',
        'none',
        '-L',
        `ftp/127.0.0.1:0:127.0.0.1:${/ftp:\/\/127\.0\.0\.1:(\d+)/.exec(ftp.child.spawnargs.join(' '))[1]}`,
        '--advertise',
        '127.0.0.9', // nothing of ours listens there
        '--data-ports',
        `${range.lo}-${range.hi}`,
        'gw@127.0.0.1',
      ],
      { env: { ...process.env, HOME: dir }, ready: (out) => /ftp [\d.]+:(\d+) -> .* via/.exec(out)?.[1] },
    );
    try {
      const url = `ftp://127.0.0.1:${wrong.ready}/payload.bin`;
      // The control connection alone: the file's size comes back.
      const head = curl(['-I', url]);
      assert.equal(head.code, 0, head.err);
      assert.match(String(head.body), new RegExp(`Content-Length: ${payload.length}`));
      // A transfer: the client is told 127.0.0.9 and cannot connect.
      const r = curl(['--disable-epsv', '--no-ftp-skip-pasv-ip', '--connect-timeout', '3', url]);
      assert.notEqual(r.code, 0, 'the transfer worked although the advertised address is wrong');
      assert.equal(r.body.length, 0);
    } finally {
      assert.equal(await wrong.stop(), 0);
    }
  });

  it('the balancer health check (docs/scaling.md) takes instances out when their SSH link is down', async () => {
    // The check must not be fooled by the HELP line ("# HELP ftpfwd_link_up 1 while …").
    const down = () => (lb.output.match(/Server ftpfwd_all\/[ab] is DOWN/g) ?? []).length;
    await sleep(1500); // three check intervals: a check that fails would have marked them down by now
    assert.equal(down(), 0, `haproxy marked an instance DOWN while its link was up:\n${lb.output}`);
    await server.stop();
    const downAfter = () => (lb.output.match(/Server ftpfwd_all\/[ab] is DOWN/g) ?? []).length;
    for (let n = 0; n < 200 && downAfter() < 2; n++) await sleep(50);
    assert.equal(downAfter(), 2, `haproxy did not mark both instances DOWN:\n${lb.output}`);
  });
});

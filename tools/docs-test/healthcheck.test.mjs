// deploy/container/healthcheck.mjs reads the metrics text as ftpfwd serves it: one unlabelled
// ftpfwd_link_up series today, one per destination (destination="…") in the gateway form. The real
// link going down and up is checked against live containers in deploy/container/prove-local.sh.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { promisify } from 'node:util';
import { root } from './harness.mjs';

const HELP = '# HELP ftpfwd_link_up 1 while the SSH connection is up\n# TYPE ftpfwd_link_up gauge\n';
let body = '';
let server;
before(async () => {
  server = createServer((_req, res) => res.end(body)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
});
after(() => server.close());

async function check(text) {
  body = text;
  const url = `http://127.0.0.1:${server.address().port}/metrics`;
  try {
    const r = await promisify(execFile)(process.execPath, [
      join(root, 'deploy/container/healthcheck.mjs'),
      'ftpfwd',
      url,
    ]);
    return { code: 0, line: r.stdout.trim() };
  } catch (err) {
    return { code: err.code, line: err.stdout.trim() };
  }
}

const cases = [
  ['one link, up', `${HELP}ftpfwd_link_up 1\n`, 0],
  ['one link, down (the HELP line says "1 while" and must not count)', `${HELP}ftpfwd_link_up 0\n`, 1],
  ['no series at all', HELP, 1],
  [
    'gateway form, all up',
    `${HELP}ftpfwd_link_up{destination="a"} 1\nftpfwd_link_up{destination="b"} 1\n`,
    0,
  ],
  [
    'gateway form, one down',
    `${HELP}ftpfwd_link_up{destination="a"} 1\nftpfwd_link_up{destination="b"} 0\n`,
    1,
  ],
];
for (const [name, text, want] of cases)
  it(`ftpfwd health: ${name} → exit ${want}`, async () => {
    const r = await check(text);
    assert.equal(r.code, want, r.line);
    assert.match(r.line, want === 0 ? /^healthy: / : /^unhealthy: /);
  });

it('ftpfwd-sshd health: nothing listening → exit 1 with the reason', async () => {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const r = await promisify(execFile)(process.execPath, [
    join(root, 'deploy/container/healthcheck.mjs'),
    'ftpfwd-sshd',
    `127.0.0.1:${port}`,
  ]).then(
    () => ({ code: 0 }),
    (err) => ({ code: err.code, line: err.stdout }),
  );
  assert.equal(r.code, 1);
  assert.match(r.line, /ECONNREFUSED/);
});

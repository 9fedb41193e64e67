#!/usr/bin/env node
// Health check for the ftpfwd and ftpfwd-sshd containers (and anything else: it needs only node).
// Exit 0 = healthy, 1 = not; one line on stdout says why (container engines keep it in the health log).
//
//   healthcheck.mjs ftpfwd [URL]            default http://127.0.0.1:9464/metrics
//     healthy when ftpfwd's metrics endpoint (--metrics ADDR:PORT) reports `ftpfwd_link_up 1` for
//     every SSH destination, i.e. its SSH connections are up now (during a reconnect it is 0).
//   healthcheck.mjs ftpfwd-sshd [HOST:PORT] default 127.0.0.1:2222
//     healthy when a TCP connection gets the server's `SSH-2.0-` identification line.
import { request } from 'node:http';
import { connect } from 'node:net';

const TIMEOUT_MS = 5000;

function finish(ok, why) {
  process.stdout.write(`${ok ? 'healthy' : 'unhealthy'}: ${why}\n`);
  process.exit(ok ? 0 : 1);
}

function checkFtpfwd(url) {
  const req = request(url, { timeout: TIMEOUT_MS }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => {
      body += d;
    });
    res.on('end', () => {
      if (res.statusCode !== 200) return finish(false, `${url} answered HTTP ${res.statusCode}`);
      // One series per SSH destination (labelled in the gateway form): healthy when every one is up.
      const series = [...body.matchAll(/^ftpfwd_link_up(\{[^}]*\})? (\S+)$/gm)];
      if (!series.length) return finish(false, `${url} has no ftpfwd_link_up metric`);
      const down = series.filter((m) => Number(m[2]) !== 1);
      const text = (list) => list.map((m) => `ftpfwd_link_up${m[1] ?? ''} ${m[2]}`).join(', ');
      finish(down.length === 0, text(down.length ? down : series));
    });
  });
  req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
  req.on('error', (err) => finish(false, `${url}: ${err.message}`));
  req.end();
}

function checkSshd(target) {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(target);
  if (!m) finish(false, `expected HOST:PORT, got ${JSON.stringify(target)}`);
  const sock = connect({ host: m[1], port: Number(m[2]) });
  let seen = '';
  sock.setTimeout(TIMEOUT_MS, () => sock.destroy(new Error(`no SSH banner within ${TIMEOUT_MS} ms`)));
  sock.setEncoding('latin1');
  sock.on('data', (d) => {
    seen += d;
    // RFC 4253 4.2: the server may send other lines before its identification line.
    for (const line of seen.split('\r\n').slice(0, -1)) {
      if (line.startsWith('SSH-2.0-')) {
        sock.destroy();
        finish(true, line);
      }
    }
    if (seen.length > 8192) sock.destroy(new Error('no SSH-2.0- line in the first 8 KiB'));
  });
  sock.on('error', (err) => finish(false, `${target}: ${err.message}`));
  sock.on('close', () => finish(false, `${target} closed without an SSH-2.0- line`));
}

const [what, arg] = process.argv.slice(2);
if (what === 'ftpfwd') checkFtpfwd(arg ?? 'http://127.0.0.1:9464/metrics');
else if (what === 'ftpfwd-sshd') checkSshd(arg ?? '127.0.0.1:2222');
else finish(false, 'usage: healthcheck.mjs ftpfwd [URL] | ftpfwd-sshd [HOST:PORT]');

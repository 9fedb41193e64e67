/**
 * Topology 7, least privilege: ftpfwd-sshd permits only 127.0.0.1:21/ftp. It reads the FTP control
 * stream to permit exactly the data channels each session announces, so transfers work in every mode,
 * while a plain tcp/ forward to another port of the same host (a live HTTP server) is refused.
 */
import { describe, expect, it } from 'vitest';
import { MODES } from '../ftp.js';
import { useTopology } from '../suite.js';
import { expectMode } from '../test-support/checks.js';
import { check, clientHost, clientSteps, keysFor, runFiles, serverHost } from '../test-support/scenario.js';

const HTTP = `require('http').createServer((q, s) => s.end('secret\\n')).listen(8080, '127.0.0.1', () => console.log('http listening'));`;

describe('topology 7: least privilege (sshd permits only 127.0.0.1:21/ftp)', () => {
  const topo = useTopology('least-privilege', async (t) => {
    const net = await t.network('net');
    const bAddr = net.subnet.host(20);
    const files = runFiles(t, ['a']);
    const keys = keysFor(t, [bAddr]);
    const b = await serverHost(t, {
      name: 'b',
      networks: [net],
      addresses: [bAddr],
      keys,
      files,
      sshdArgs: ['--permit-open', '127.0.0.1:21/ftp'],
      extra: [{ name: 'http', argv: ['node', '-e', HTTP], ready: 'http listening' }],
    });
    const a = await clientHost(t, {
      name: 'a',
      networks: [net],
      keys,
      files,
      ftpfwd: [
        { server: bAddr, forwards: ['ftp/127.0.0.1:2121:127.0.0.1:21'] },
        { server: bAddr, forwards: ['tcp/127.0.0.1:8081:127.0.0.1:8080'] },
      ],
      steps: [
        ...clientSteps(files, { tag: 'a', host: '127.0.0.1', port: 2121, activeAddress: '127.0.0.1' }),
        { name: 'tcp-other-port', argv: ['curl', '-sS', '--max-time', '20', 'http://127.0.0.1:8081/'] },
      ],
    });
    return { a, b, steps: await a.steps(), files };
  });

  it.each(MODES)('%s: download, upload and LIST with curl, sha256 equal', (mode) => {
    const { steps, files } = topo();
    expectMode(steps, mode, check(files, 'a'));
  });

  it('a passive basic-ftp session works', () => {
    const { steps, files } = topo();
    expectMode(steps, 'basic-ftp', check(files, 'a'));
  });

  it('a tcp/ forward to another port of the FTP host is refused by the sshd', async () => {
    const { steps, a, b } = topo();
    const r = steps.get('tcp-other-port');
    expect(r?.code, `curl through the refused forward: ${r?.stdout}${r?.stderr}`).not.toBe(0);
    expect(r?.stdout).not.toContain('secret');
    // What the user sees: ftpfwd reports the sshd's refusal for that forward.
    expect(a.logs()).toMatch(/\[ftpfwd2\].*127\.0\.0\.1:8080.*not permitted/);
    // And the sshd logged the refusal (its log may reach us a moment after curl ended: wait, bounded).
    await b.waitForLog(/^\[sshd\].*8080.*(refus|prohibit|denied|not permitted|"allowed":false)/i, 10_000);
  });
});

/**
 * Topology 6, the server announces a bad address: ftp-srv's pasv_url is 192.0.2.1, an address nothing
 * routes to. With the default --pasv-target control, ftpfwd sends passive data to the host of the
 * control connection and everything works; with --pasv-target reply it follows the 227 reply, and the
 * PASV transfer fails with the bad address named in ftpfwd's log.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODES } from '../ftp.js';
import { useTopology } from '../suite.js';
import { expectMode } from '../test-support/checks.js';
import { check, clientHost, clientSteps, keysFor, runFiles, serverHost } from '../test-support/scenario.js';

const BAD = '192.0.2.1';

describe('topology 6: server announces a bad PASV address (pasv_url 192.0.2.1)', () => {
  const topo = useTopology('bad-pasv-address', async (t) => {
    const net = await t.network('net');
    const bAddr = net.subnet.host(20);
    const files = runFiles(t, ['a']);
    const keys = keysFor(t, [bAddr]);
    // The sshd reaches ftp-srv on B's network address, not loopback: ftp-srv answers loopback peers
    // with their own address instead of pasv_url, which would hide the bad address.
    await serverHost(t, {
      name: 'b',
      networks: [net],
      addresses: [bAddr],
      keys,
      files,
      ftp: { listen: '0.0.0.0:21', pasvUrl: BAD },
      sshdArgs: ['--gateway-ports', 'clientspecified'],
    });
    const a = await clientHost(t, {
      name: 'a',
      networks: [net],
      keys,
      files,
      ftpfwd: [
        // Active data must come from the control peer's address too (ftp-srv checks), hence B's address.
        {
          server: bAddr,
          forwards: [`ftp/127.0.0.1:2121:${bAddr}:21`],
          extra: ['--remote-data-bind', bAddr, '--remote-data-advertise', bAddr],
        },
        { server: bAddr, forwards: [`ftp/127.0.0.1:2122:${bAddr}:21`], extra: ['--pasv-target', 'reply'] },
      ],
      steps: [
        ...clientSteps(files, { tag: 'a', host: '127.0.0.1', port: 2121, activeAddress: '127.0.0.1' }),
        {
          name: 'reply-pasv-down',
          argv: [
            'curl',
            '-sS',
            '--fail',
            '--disable-epsv',
            '--connect-timeout',
            '10',
            '--max-time',
            '40',
            '-o',
            '/out/reply-pasv.bin',
            'ftp://127.0.0.1:2122/a-payload.bin',
          ],
        },
      ],
    });
    return { a, files, steps: await a.steps() };
  });

  it.each(MODES)('--pasv-target control (default), %s: download, upload and LIST, sha256 equal', (mode) => {
    const { steps, files } = topo();
    expectMode(steps, mode, check(files, 'a'));
  });

  it('--pasv-target control: a passive basic-ftp session works', () => {
    const { steps, files } = topo();
    expectMode(steps, 'basic-ftp', check(files, 'a'));
  });

  it('--pasv-target reply: the PASV download fails, and ftpfwd names the bad address', async () => {
    const { steps, files, a } = topo();
    const r = steps.get('reply-pasv-down');
    expect(r?.code, 'curl should fail').not.toBe(0);
    expect(existsSync(join(files.outDir, 'reply-pasv.bin')) && r?.code === 0).toBe(false);
    // ftpfwd may log the failure a moment after curl gave up: wait for it (bounded).
    const line = await a.waitForLog(/^\[ftpfwd2\].*192\.0\.2\.1/, 10_000);
    expect(line).toContain(BAD);
  });
});

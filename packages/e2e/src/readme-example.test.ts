// The example of README.md's "Testing forwarding scenarios", kept here so it is known to work.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ftpfwd,
  ftpfwdSshd,
  ftpSrv,
  sha256File,
  tcpConnections,
  useTopology,
  writePayload,
  writeSshKeys,
} from './index.js';

describe('my office', () => {
  const run = useTopology('office', async (t) => {
    const wan = await t.network('wan');
    const lan = await t.network('lan');
    const gw = await t.natGateway({ name: 'gw', lan, wan, captureWan: true });
    const server = wan.subnet.host(20);
    const keys = writeSshKeys(t.dir('keys'), [{ address: server, port: 2222 }]);
    const file = writePayload(t.dir('srv'), 'report.bin');
    const keyMount = { source: keys.dir, target: '/keys', readOnly: true };
    await t.host({
      name: 'server',
      networks: [wan],
      addresses: [server],
      mounts: [keyMount, { source: t.dir('srv'), target: '/srv' }],
      plan: { background: [ftpSrv({ listen: '127.0.0.1:21', pasvUrl: '127.0.0.1' }), ftpfwdSshd(keys)] },
    });
    const laptop = await t.host({
      name: 'laptop',
      networks: [lan],
      defaultVia: gw.lanAddress,
      mounts: [keyMount, { source: t.dir('out'), target: '/out' }],
      plan: {
        background: [ftpfwd(keys, { server, forwards: ['ftp/127.0.0.1:2121:127.0.0.1:21'] })],
        steps: [
          {
            name: 'get',
            argv: ['curl', '-sS', '--fail', '-o', '/out/report.bin', 'ftp://127.0.0.1:2121/report.bin'],
          },
        ],
      },
    });
    return { out: t.dir('out'), gw, server, file, steps: await laptop.steps() };
  });

  it('downloads intact, and only SSH leaves the office', async () => {
    const { out, gw, server, file, steps } = run();
    expect(steps.get('get')?.code).toBe(0);
    expect(sha256File(join(out, 'report.bin'))).toBe(file.sha256);
    const conns = tcpConnections(await gw.wanPackets());
    expect(conns.every((c) => c.dst === server && c.dport === 2222)).toBe(true);
  });
});

/**
 * Topology 2, client behind NAT: A (FTP client + ftpfwd) on a LAN behind a MASQUERADE gateway; B
 * (ftpfwd-sshd + ftp-srv) on the WAN. On the gateway's WAN side only SSH may appear, and no byte of
 * the files in clear.
 */
import { describe, it } from 'vitest';
import { MODES } from '../ftp.js';
import { useTopology } from '../suite.js';
import { expectFtpServerView, expectMode, expectOnlySsh } from '../test-support/checks.js';
import {
  check,
  clientHost,
  clientSteps,
  hostPackets,
  keysFor,
  markers,
  runFiles,
  SSH_PORT,
  serverHost,
} from '../test-support/scenario.js';

describe('topology 2: client behind NAT (A on a LAN behind a NAT gateway, B on the WAN)', () => {
  const topo = useTopology('client-behind-nat', async (t) => {
    const wan = await t.network('wan');
    const lan = await t.network('lan');
    const gw = await t.natGateway({ name: 'gw', lan, wan, captureWan: true });
    const bAddr = wan.subnet.host(20);
    const files = runFiles(t, ['a']);
    const keys = keysFor(t, [bAddr]);
    const b = await serverHost(t, {
      name: 'b',
      networks: [wan],
      addresses: [bAddr],
      keys,
      files,
      capture: true,
    });
    const a = await clientHost(t, {
      name: 'a',
      networks: [lan],
      defaultVia: gw.lanAddress,
      keys,
      files,
      ftpfwd: [{ server: bAddr, forwards: ['ftp/127.0.0.1:2121:127.0.0.1:21'] }],
      steps: clientSteps(files, { tag: 'a', host: '127.0.0.1', port: 2121, activeAddress: '127.0.0.1' }),
    });
    return { t, b, gw, bAddr, files, steps: await a.steps() };
  });

  it.each(MODES)('%s: download, upload and LIST with curl, sha256 equal', (mode) => {
    const { steps, files } = topo();
    expectMode(steps, mode, check(files, 'a'));
  });

  it('a passive basic-ftp session works', () => {
    const { steps, files } = topo();
    expectMode(steps, 'basic-ftp', check(files, 'a'));
  });

  it("the gateway's WAN side carries only SSH, and no file marker in clear", async () => {
    const { gw, bAddr, files } = topo();
    expectOnlySsh(await gw.wanPackets(), { address: bAddr, port: SSH_PORT }, markers(files));
  });

  it("ftp-srv's view: every control and data connection comes from the sshd (its host's loopback)", async () => {
    const { t, b } = topo();
    expectFtpServerView(await hostPackets(t, b), '127.0.0.1');
  });
});

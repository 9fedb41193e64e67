/**
 * Topology 5, gateway: ftpfwd on LAN host G listens on its LAN address; FTP clients on two other LAN
 * hosts use it (passive data listeners on the address they reached, active connections from G to
 * them). G itself reaches the SSH server through a NAT gateway; on the NAT's WAN side only SSH.
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
  mounts,
  runFiles,
  SSH_PORT,
  serverHost,
} from '../test-support/scenario.js';

const CLIENTS = ['c1', 'c2'];

describe('topology 5: gateway (ftpfwd on a LAN host serves FTP clients on two other LAN hosts, behind NAT)', () => {
  const topo = useTopology('gateway', async (t) => {
    const wan = await t.network('wan');
    const lan = await t.network('lan');
    const gw = await t.natGateway({ name: 'nat', lan, wan, captureWan: true });
    const bAddr = wan.subnet.host(20);
    const gAddr = lan.subnet.host(20);
    const files = runFiles(t, CLIENTS);
    const keys = keysFor(t, [bAddr]);
    const b = await serverHost(t, {
      name: 'b',
      networks: [wan],
      addresses: [bAddr],
      keys,
      files,
      capture: true,
    });
    await clientHost(t, {
      name: 'g',
      networks: [lan],
      addresses: [gAddr],
      defaultVia: gw.lanAddress,
      keys,
      files,
      ftpfwd: [{ server: bAddr, forwards: [`ftp/${gAddr}:2121:127.0.0.1:21`] }],
    });
    const clients = [];
    for (const [i, tag] of CLIENTS.entries()) {
      const addr = lan.subnet.host(21 + i);
      // FTP clients only: no ftpfwd, no route off the LAN.
      clients.push(
        await t.host({
          name: tag,
          networks: [lan],
          addresses: [addr],
          mounts: mounts.client(files),
          plan: { steps: clientSteps(files, { tag, host: gAddr, port: 2121, activeAddress: addr }) },
        }),
      );
    }
    const steps = new Map();
    for (const c of clients) for (const [k, v] of await c.steps()) steps.set(k, v);
    return { t, b, gw, bAddr, files, steps };
  });

  for (const tag of CLIENTS) {
    it.each(MODES)(`${tag} %s: download, upload and LIST with curl, sha256 equal`, (mode) => {
      const { steps, files } = topo();
      expectMode(steps, mode, check(files, tag));
    });
    it(`${tag}: a passive basic-ftp session works`, () => {
      const { steps, files } = topo();
      expectMode(steps, 'basic-ftp', check(files, tag));
    });
  }

  it("the NAT's WAN side carries only SSH, and no file marker in clear", async () => {
    const { gw, bAddr, files } = topo();
    expectOnlySsh(await gw.wanPackets(), { address: bAddr, port: SSH_PORT }, markers(files));
  });

  it("ftp-srv's view: every control and data connection comes from the sshd (its host's loopback)", async () => {
    const { t, b } = topo();
    expectFtpServerView(await hostPackets(t, b), '127.0.0.1');
  });
});

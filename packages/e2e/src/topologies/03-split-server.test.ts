/**
 * Topology 3, split server: ftpfwd-sshd on B, ftp-srv on C in B's private network, A on the WAN.
 * Passive works as is; active works with --remote-data-bind/--remote-data-advertise set to B's private
 * address and the sshd's gateway ports on. ftp-srv sees every control and data connection come from B.
 */
import { describe, expect, it } from 'vitest';
import { ftpSrv, MODES, SYN_ONLY, tcpdump } from '../ftp.js';
import { tcpConnections } from '../pcap.js';
import { useTopology } from '../suite.js';
import { expectMode } from '../test-support/checks.js';
import {
  check,
  clientHost,
  clientSteps,
  hostPackets,
  keysFor,
  mounts,
  runFiles,
  serverHost,
} from '../test-support/scenario.js';

describe('topology 3: split server (B: sshd, C: ftp-srv in B private network)', () => {
  const topo = useTopology('split-server', async (t) => {
    const wan = await t.network('wan');
    const priv = await t.network('private');
    const bWan = wan.subnet.host(20);
    const bPriv = priv.subnet.host(20);
    const cAddr = priv.subnet.host(30);
    const files = runFiles(t, ['a']);
    const keys = keysFor(t, [bWan]);
    const c = await t.host({
      name: 'c',
      networks: [priv],
      addresses: [cAddr],
      capAdd: ['NET_RAW', 'NET_ADMIN'],
      mounts: [mounts.srv(files), mounts.capture(t)],
      plan: {
        background: [
          tcpdump('c.pcap', 'any', { filter: SYN_ONLY }),
          ftpSrv({ listen: '0.0.0.0:21', pasvUrl: cAddr }),
        ],
      },
    });
    await serverHost(t, {
      name: 'b',
      networks: [wan, priv],
      addresses: [bWan, bPriv],
      keys,
      files,
      ftp: false,
      sshdArgs: ['--gateway-ports', 'clientspecified'],
    });
    const a = await clientHost(t, {
      name: 'a',
      networks: [wan],
      keys,
      files,
      ftpfwd: [
        {
          server: bWan,
          forwards: [`ftp/127.0.0.1:2121:${cAddr}:21`],
          extra: ['--remote-data-bind', bPriv, '--remote-data-advertise', bPriv],
        },
      ],
      steps: clientSteps(files, { tag: 'a', host: '127.0.0.1', port: 2121, activeAddress: '127.0.0.1' }),
    });
    return { t, c, bPriv, cAddr, files, steps: await a.steps() };
  });

  it.each(MODES)('%s: download, upload and LIST with curl, sha256 equal', (mode) => {
    const { steps, files } = topo();
    expectMode(steps, mode, check(files, 'a'));
  });

  it('a passive basic-ftp session works', () => {
    const { steps, files } = topo();
    expectMode(steps, 'basic-ftp', check(files, 'a'));
  });

  it("ftp-srv's view: every control and data connection is between C and B's private address", async () => {
    const { t, c, bPriv, cAddr } = topo();
    const conns = tcpConnections(await hostPackets(t, c));
    expect(conns.length).toBeGreaterThan(0);
    const peers = conns.map((x) => (x.src === cAddr ? x.dst : x.src));
    expect(new Set(peers)).toEqual(new Set([bPriv]));
    // Active data connections are opened by ftp-srv towards B's remote data listeners.
    expect(conns.some((x) => x.src === cAddr && x.dst === bPriv)).toBe(true);
    expect(conns.some((x) => x.src === bPriv && x.dport === 21)).toBe(true);
  });
});

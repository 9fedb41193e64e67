/**
 * Topology 4, many users behind one NAT: three FTP client hosts behind one NAT gateway, each through
 * its own ftpfwd, plus three FTP sessions through one shared ftpfwd on a fourth host. Every session
 * has its own files; all transfers run at once. Every file must arrive intact (so no session saw
 * another's data), every user's SSH connection leaves the NAT on its own port, and every data channel
 * reaching ftp-srv is a connection of its own.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODES } from '../ftp.js';
import { tcpConnections } from '../pcap.js';
import { useTopology } from '../suite.js';
import { expectMode, expectOnlySsh } from '../test-support/checks.js';
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

const OWN = ['a1', 'a2', 'a3'];
const SHARED = ['s1', 's2', 's3'];
const FWD = ['ftp/127.0.0.1:2121:127.0.0.1:21'];

describe('topology 4: many users behind one NAT (3 hosts with own ftpfwd + 3 sessions through one shared ftpfwd)', () => {
  const topo = useTopology('many-users-nat', async (t) => {
    const wan = await t.network('wan');
    const lan = await t.network('lan');
    const gw = await t.natGateway({ name: 'gw', lan, wan, captureWan: true });
    const bAddr = wan.subnet.host(20);
    const files = runFiles(t, [...OWN, ...SHARED]);
    const keys = keysFor(t, [bAddr]);
    const shared = t.dir('shared');
    const sharedMount = { source: shared, target: '/shared', readOnly: true };
    const b = await serverHost(t, {
      name: 'b',
      networks: [wan],
      addresses: [bAddr],
      keys,
      files,
      capture: true,
    });
    const hosts = [];
    for (const tag of OWN) {
      hosts.push(
        await clientHost(t, {
          name: tag,
          networks: [lan],
          defaultVia: gw.lanAddress,
          keys,
          files,
          ftpfwd: [{ server: bAddr, forwards: FWD }],
          steps: clientSteps(files, { tag, host: '127.0.0.1', port: 2121, activeAddress: '127.0.0.1' }),
          startWhenFileExists: '/shared/go',
          extraMounts: [sharedMount],
        }),
      );
    }
    hosts.push(
      await clientHost(t, {
        name: 's',
        networks: [lan],
        defaultVia: gw.lanAddress,
        keys,
        files,
        ftpfwd: [{ server: bAddr, forwards: FWD }],
        steps: SHARED.flatMap((tag) =>
          clientSteps(files, { tag, host: '127.0.0.1', port: 2121, activeAddress: '127.0.0.1', group: tag }),
        ),
        concurrentSteps: true,
        startWhenFileExists: '/shared/go',
        extraMounts: [sharedMount],
      }),
    );
    // Every host is up with its ftpfwd listening: start all transfers at once.
    writeFileSync(join(shared, 'go'), '');
    const steps = new Map();
    for (const h of hosts) for (const [k, v] of await h.steps()) steps.set(k, v);
    return { t, gw, b, bAddr, files, steps };
  });

  for (const tag of [...OWN, ...SHARED]) {
    it.each(MODES)(`${tag} %s: download, upload and LIST with curl, sha256 equal`, (mode) => {
      const { steps, files } = topo();
      expectMode(steps, mode, check(files, tag));
    });
    it(`${tag}: a passive basic-ftp session works`, () => {
      const { steps, files } = topo();
      expectMode(steps, 'basic-ftp', check(files, tag));
    });
  }

  it("the NAT's WAN side carries only SSH, one connection per ftpfwd on its own port, no marker", async () => {
    const { gw, bAddr, files } = topo();
    const packets = await gw.wanPackets();
    expectOnlySsh(packets, { address: bAddr, port: SSH_PORT }, markers(files));
    const ssh = tcpConnections(packets);
    expect(ssh.every((c) => c.src === gw.wanAddress)).toBe(true);
    expect(ssh.length).toBeGreaterThanOrEqual(4);
    expect(new Set(ssh.map((c) => c.sport)).size).toBe(ssh.length);
  });

  it('every passive data channel reaching ftp-srv is its own connection, from the sshd', async () => {
    const { t, b } = topo();
    const data = tcpConnections(await hostPackets(t, b)).filter((c) => c.dport >= 30000 && c.dport <= 30999);
    // 6 sessions x (EPSV and PASV: download, upload, LIST) + 6 basic-ftp sessions x 3 transfers.
    expect(data.length).toBeGreaterThanOrEqual(6 * 6 + 6 * 3);
    expect(data.every((c) => c.src === '127.0.0.1')).toBe(true);
    expect(new Set(data.map((c) => `${c.sport}>${c.dport}`)).size).toBe(data.length);
  });
});

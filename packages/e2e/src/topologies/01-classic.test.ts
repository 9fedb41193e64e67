/**
 * Topology 1, classic: FTP client + ftpfwd on host A; ftpfwd-sshd + ftp-srv (on its loopback) on
 * host B; one network. The seed's "end-to-end" deployment: both modes work and only SSH crosses.
 */
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

describe('topology 1: classic (A: client + ftpfwd, B: sshd + ftp-srv, one network)', () => {
  const topo = useTopology('classic', async (t) => {
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
      capture: true,
    });
    const a = await clientHost(t, {
      name: 'a',
      networks: [net],
      keys,
      files,
      ftpfwd: [{ server: bAddr, forwards: ['ftp/127.0.0.1:2121:127.0.0.1:21'] }],
      steps: clientSteps(files, { tag: 'a', host: '127.0.0.1', port: 2121, activeAddress: '127.0.0.1' }),
    });
    return { t, net, a, b, bAddr, files, steps: await a.steps() };
  });

  it.each(MODES)('%s: download, upload and LIST with curl, sha256 equal', (mode) => {
    const { steps, files } = topo();
    expectMode(steps, mode, check(files, 'a'));
  });

  it('a passive basic-ftp session works', () => {
    const { steps, files } = topo();
    expectMode(steps, 'basic-ftp', check(files, 'a'));
  });

  it('the link carries only SSH (no file marker in clear); ftp-srv sees only loopback peers', async () => {
    const { t, b, bAddr, files } = topo();
    const packets = await hostPackets(t, b);
    const onLink = packets.filter((p) => p.src !== '127.0.0.1' && p.dst !== '127.0.0.1');
    expectOnlySsh(onLink, { address: bAddr, port: SSH_PORT }, markers(files));
    const toFtp = tcpConnections(packets).filter(
      (c) => c.dport === 21 || (c.dport >= 30000 && c.dport <= 30999),
    );
    expect(toFtp.length).toBeGreaterThan(0);
    expect(toFtp.every((c) => c.src === '127.0.0.1')).toBe(true);
  });
});

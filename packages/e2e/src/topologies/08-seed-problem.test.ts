/**
 * Topology 8, the seed's problem, shown: the same transfers through a plain tcp/ forward of port 21.
 * Only the control connection is tunnelled; data channels go around the tunnel: they fail, or cross
 * the WAN in clear. Next to it, in the same topology, an ftp/ forward moves its files with every data
 * channel inside SSH. The NAT's WAN capture tells the two apart.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { curlModeArgs, MODES, sha256File } from '../ftp.js';
import { streamsContaining, type TcpPacket, tcpConnections, tcpStreams } from '../pcap.js';
import { useTopology } from '../suite.js';
import { expectMode } from '../test-support/checks.js';
import {
  check,
  clientHost,
  clientSteps,
  keysFor,
  runFiles,
  SSH_PORT,
  serverHost,
} from '../test-support/scenario.js';

describe("topology 8: the seed's problem (plain tcp/ forward of port 21 vs ftp/), behind NAT", () => {
  const topo = useTopology('seed-problem', async (t) => {
    const wan = await t.network('wan');
    const lan = await t.network('lan');
    const gw = await t.natGateway({ name: 'gw', lan, wan, captureWan: true });
    const bAddr = wan.subnet.host(20);
    const files = runFiles(t, ['f', 't']);
    const keys = keysFor(t, [bAddr]);
    // ftp-srv listens on all interfaces and announces its WAN address, as a public FTP server does.
    await serverHost(t, {
      name: 'b',
      networks: [wan],
      addresses: [bAddr],
      keys,
      files,
      ftp: { listen: '0.0.0.0:21', pasvUrl: bAddr },
    });
    // In PASV mode curl uses the 227 reply's address (curlModeArgs), as many FTP clients do: through a
    // plain forward that address sends it straight to the server, around the tunnel.
    const plain = MODES.map((mode) => ({
      name: `t-${mode}-down`,
      argv: [
        'curl',
        '-sS',
        '--fail',
        '--connect-timeout',
        '10',
        '--max-time',
        '30',
        ...curlModeArgs(mode, '127.0.0.1'),
        '-o',
        `/out/t-${mode}.bin`,
        'ftp://127.0.0.1:2121/t-payload.bin',
      ],
    }));
    const a = await clientHost(t, {
      name: 'a',
      networks: [lan],
      defaultVia: gw.lanAddress,
      keys,
      files,
      ftpfwd: [
        // The plain forward targets B's public address, as a user forwarding "the FTP server" would;
        // ftp-srv then announces that address in 227 replies (to loopback peers it announces loopback).
        { server: bAddr, forwards: [`tcp/127.0.0.1:2121:${bAddr}:21`] },
        { server: bAddr, forwards: ['ftp/127.0.0.1:2122:127.0.0.1:21'] },
      ],
      steps: [
        ...clientSteps(files, { tag: 'f', host: '127.0.0.1', port: 2122, activeAddress: '127.0.0.1' }),
        ...plain,
      ],
    });
    const steps = await a.steps();
    const packets: TcpPacket[] = await gw.wanPackets();
    return { gw, bAddr, files, steps, packets, streams: tcpStreams(packets) };
  });

  it.each(MODES)('ftp/ %s: download, upload and LIST work', (mode) => {
    const { steps, files } = topo();
    expectMode(steps, mode, check(files, 'f'));
  });

  it('ftp/: a passive basic-ftp session works', () => {
    const { steps, files } = topo();
    expectMode(steps, 'basic-ftp', check(files, 'f'));
  });

  it.each(MODES)(
    'tcp/ %s: the data channel does not go through the tunnel (fails, or crosses the WAN in clear)',
    (mode) => {
      const { steps, files, streams } = topo();
      const r = steps.get(`t-${mode}-down`);
      expect(r).toBeDefined();
      const out = join(files.outDir, `t-${mode}.bin`);
      const t = files.clients.get('t');
      const delivered = r?.code === 0 && existsSync(out) && sha256File(out) === t?.download.sha256;
      if (delivered) {
        // It worked only by going around the tunnel: the file's marker is on the WAN in clear.
        expect(streamsContaining(streams, t?.download.marker as Buffer).length).toBeGreaterThan(0);
      } else {
        expect(r?.code).not.toBe(0);
      }
    },
  );

  it('tcp/ PASV: the data connection went around the tunnel, straight across the WAN to the FTP server', () => {
    const { packets, bAddr, gw } = topo();
    const around = tcpConnections(packets).filter((c) => !(c.dst === bAddr && c.dport === SSH_PORT));
    expect(around.length).toBeGreaterThan(0);
    expect(
      around.every((c) => c.src === gw.wanAddress && c.dst === bAddr && c.dport >= 30000 && c.dport <= 30999),
    ).toBe(true);
  });

  it("ftp/: none of its files' bytes crossed the WAN in clear", () => {
    const { packets, files } = topo();
    const f = files.clients.get('f');
    for (const m of [f?.download.marker, f?.upload.marker])
      expect(streamsContaining(packets, m as Buffer)).toEqual([]);
  });
});

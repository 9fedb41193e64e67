/** What crossed each link, and the checks on it, from hand-made packets: no containers needed. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StepReport } from '../agent/plan.js';
import { sha256 } from '../ftp.js';
import type { TcpPacket } from '../pcap.js';
import { Ipv4Subnet } from '../subnet.js';
import { checkAll, type RunFiles } from './checks.js';
import { analyseLinks, type Captures } from './links.js';
import { loadScenario } from './load.js';
import { planScenario, standInSubnets } from './plan.js';

const s = loadScenario(join(import.meta.dirname, '..', '..', 'examples', '02-client-behind-nat.yaml'));
const plan = planScenario(s, standInSubnets(s, Ipv4Subnet.parse), new Map());
const gw = plan.gateways[0] as (typeof plan.gateways)[0];
const b = plan.hosts.find((h) => h.name === 'b')?.networks[0]?.address as string;
const a = plan.hosts.find((h) => h.name === 'a')?.networks[0]?.address as string;

let seq = 1000;
function conn(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  payload = Buffer.alloc(0),
): TcpPacket[] {
  const syn = { src, dst, sport, dport, syn: true, ack: false, seq: seq++, payload: Buffer.alloc(0) };
  const data = payload.length
    ? [{ src, dst, sport, dport, syn: false, ack: true, seq: syn.seq + 1, payload }]
    : [];
  return [syn, ...data];
}

const download = Buffer.from('a'.repeat(64));
const upload = Buffer.from('u'.repeat(64));
const marker = Buffer.from('MARKER-OF-A-0123456789abcdef0123');

function captures(leak: boolean): Captures {
  return {
    gateways: new Map([
      [
        'gw',
        [
          ...conn(gw.wanAddress, 40000, b, 2222, Buffer.from('SSH-2.0-x encrypted')),
          ...(leak
            ? conn(
                gw.wanAddress,
                40001,
                b,
                30001,
                Buffer.concat([Buffer.from('xx'), marker, Buffer.from('yy')]),
              )
            : []),
        ],
      ],
    ]),
    hosts: new Map([
      [
        'b',
        [
          ...conn(gw.wanAddress, 40000, b, 2222),
          ...conn('127.0.0.1', 50000, '127.0.0.1', 21),
          ...conn('127.0.0.1', 50001, '127.0.0.1', 30002),
          // ftp-srv's active data connection to the sshd's remote listener: FTP data (a control pair).
          ...conn('127.0.0.1', 50002, '127.0.0.1', 41000),
          // b to its own WAN address never leaves b: its loopback, not its wan link.
          ...conn(b, 50003, b, 2222),
        ],
      ],
      ['a', [...conn(a, 45000, b, 2222), ...conn('127.0.0.1', 46000, '127.0.0.1', 2121)]],
    ]),
  };
}

describe('links', () => {
  it('classifies every connection of every captured link; markers only where captured in full', () => {
    const links = analyseLinks(plan, captures(false), new Map([['a', [marker]]]));
    const by = (id: string) => links.find((l) => l.id === id);
    expect(links.map((l) => l.id)).toEqual(['gw.lan', 'gw.wan', 'b.wan', 'b.lo', 'a.lan', 'a.lo']);
    expect(by('gw.lan')?.capture).toBe('none');
    expect(by('gw.wan')).toMatchObject({ capture: 'full', markers: [] });
    expect(by('gw.wan')?.classes.ssh).toEqual({ connections: 1, bytes: 19 });
    expect(by('b.wan')?.connections.map((c) => c.kind)).toEqual(['ssh']);
    expect(by('b.wan')?.markers).toBeUndefined();
    expect(by('b.lo')?.connections.map((c) => `${c.dport}:${c.kind}`)).toEqual([
      '21:ftp-control',
      '30002:ftp-data',
      '41000:ftp-data',
      '2222:ssh',
    ]);
    // a's ftp/ forward listener: FTP control in clear on a's loopback.
    expect(by('a.lo')?.connections.map((c) => c.kind)).toEqual(['ftp-control']);
    expect(by('a.lan')?.connections.map((c) => c.kind)).toEqual(['ssh']);
  });

  it('finds a marker in the bytes of a connection, and the checks name it', () => {
    const links = analyseLinks(plan, captures(true), new Map([['a', [marker]]]));
    const wan = links.find((l) => l.id === 'gw.wan');
    // ftp-srv listens on b's loopback only: a connection to b's WAN address is not FTP to it.
    expect(wan?.markers).toEqual([{ name: 'a', kinds: ['other'] }]);
    expect(wan?.connections[1]).toMatchObject({ kind: 'other', markers: ['a'] });
    const results = checkAll({
      plan,
      reports: new Map(),
      links,
      hostConnections: () => undefined,
      logs: new Map(),
      files: noFiles,
    });
    const onlySsh = results.find((r) => r.title === 'only SSH crosses gw.wan');
    expect(onlySsh).toMatchObject({ ok: false, links: ['gw.wan'] });
    expect(onlySsh?.message).toMatch(
      /1 connection\(s\) other than ssh crossed gw\.wan, e\.g\. .*:40001 → .*:30001 \(other\)/,
    );
  });

  it('checks steps: exit, sha256 of both copies, and says why one failed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-checks-'));
    writeFileSync(join(dir, 'a-epsv-down.bin'), download);
    writeFileSync(join(dir, 'a-epsv-up.up'), Buffer.from('not the upload'));
    const files: RunFiles = {
      out: (_h, n) => join(dir, n),
      srv: (_h, n) => join(dir, n),
      payload: () => ({
        download: { path: '', sha256: sha256(download), marker },
        upload: { path: '', sha256: sha256(upload), marker },
      }),
    };
    const report = (name: string, code: number, stdout = '', stderr = ''): [string, StepReport] => [
      name,
      { name, code, signal: null, stdout, stderr, startedAt: 0, ms: 120 },
    ];
    const reports = new Map([
      report('a-epsv-down', 0),
      report('a-epsv-up', 0),
      report('a-epsv-list', 0, '-rw-r--r-- 1 a-payload.bin\n'),
      report('a-pasv-down', 28, '', 'curl: (28) Connection timed out after 20001 milliseconds\n'),
    ]);
    const links = analyseLinks(plan, captures(false), new Map([['a', [marker]]]));
    const hostConnections = (h: string) =>
      analyseLinks(plan, captures(false), new Map())
        .filter((l) => l.node === h)
        .flatMap((l) => l.connections);
    const r = new Map(
      checkAll({ plan, reports, links, hostConnections, logs: new Map(), files }).map((x) => [x.id, x]),
    );
    expect(r.get('step:a-epsv-down')).toMatchObject({ ok: true, message: 'exit 0 in 0.12 s, sha256 intact' });
    expect(r.get('step:a-epsv-up')?.message).toMatch(
      /^sha256 of the upload on b is [0-9a-f]{12}…, expected [0-9a-f]{12}…$/,
    );
    expect(r.get('step:a-epsv-list')?.ok).toBe(true);
    expect(r.get('step:a-pasv-down')?.message).toBe(
      'exit 28: curl: (28) Connection timed out after 20001 milliseconds',
    );
    expect(r.get('step:a-port-down')?.message).toMatch(/^did not run/);
    expect(r.get('expect:2')).toMatchObject({
      ok: true,
      message: '1 control and 1 passive data connection(s), all from 127.0.0.1',
    });
  });
});

const noFiles: RunFiles = { out: () => '/nonexistent', srv: () => '/nonexistent', payload: () => undefined };

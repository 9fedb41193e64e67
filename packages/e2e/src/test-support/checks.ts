/** Assertions shared by the topology tests: what a user would check after a transfer. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { StepReport } from '../agent/plan.js';
import { type FtpMode, type Payload, sha256File } from '../ftp.js';
import {
  streamsContaining,
  type TcpConnection,
  type TcpPacket,
  tcpConnections,
  tcpStreams,
} from '../pcap.js';

export interface TransferCheck {
  tag: string;
  /** Host directory mounted at /out in the FTP client host. */
  outDir: string;
  /** Host directory mounted at /srv in the FTP server host. */
  srvDir: string;
  /** The file the client downloaded, and the one it uploaded. */
  download: Payload;
  upload: Payload;
}

function stepOk(steps: Map<string, StepReport>, name: string): StepReport {
  const r = steps.get(name);
  expect(r, `step ${name} did not run`).toBeDefined();
  expect(r?.code, `${name} failed: ${r?.stderr}`).toBe(0);
  return r as StepReport;
}

/** Download, upload and LIST of one mode (curl steps of curlSteps) went through with equal sha256. */
export function expectMode(
  steps: Map<string, StepReport>,
  mode: FtpMode | 'basic-ftp',
  c: TransferCheck,
): void {
  if (mode === 'basic-ftp') {
    const r = stepOk(steps, `${c.tag}-basic-ftp`);
    expect(r.stdout).toContain(c.download.path.split('/').pop());
  } else {
    stepOk(steps, `${c.tag}-${mode}-down`);
    stepOk(steps, `${c.tag}-${mode}-up`);
    const list = stepOk(steps, `${c.tag}-${mode}-list`);
    expect(list.stdout).toContain(c.download.path.split('/').pop());
  }
  const down = join(c.outDir, `${c.tag}-${mode}.bin`);
  const up = join(c.srvDir, mode === 'basic-ftp' ? `${c.tag}-basic-ftp.up` : `${c.tag}-${mode}.up`);
  expect(existsSync(down), `${down} missing`).toBe(true);
  expect(sha256File(down), `sha256 of ${c.tag} ${mode} download`).toBe(c.download.sha256);
  expect(existsSync(up), `${up} missing`).toBe(true);
  expect(sha256File(up), `sha256 of ${c.tag} ${mode} upload`).toBe(c.upload.sha256);
}

/** A capture shows TCP connections only to `ssh` (address and port), and none of the markers. */
export function expectOnlySsh(
  packets: TcpPacket[],
  ssh: { address: string; port: number },
  markers: Buffer[],
): void {
  const conns = tcpConnections(packets);
  expect(conns.length, 'the capture saw no TCP connection at all').toBeGreaterThan(0);
  const other = conns.filter((c) => c.dst !== ssh.address || c.dport !== ssh.port);
  expect(other, 'connections other than SSH crossed the link').toEqual([]);
  const streams = tcpStreams(packets);
  for (const m of markers) {
    expect(streamsContaining(streams, m), 'a file marker crossed the link in clear').toEqual([]);
  }
}

/**
 * ftp-srv's view (a SYN capture on its host): every connection to or from its control port or passive
 * range has `peer` on the other end. Returns those connections.
 */
export function expectFtpServerView(
  packets: TcpPacket[],
  peer: string,
  pasv = { min: 30000, max: 30999 },
): TcpConnection[] {
  const ftp = (port: number) => port === 21 || (port >= pasv.min && port <= pasv.max);
  const conns = tcpConnections(packets).filter((c) => ftp(c.dport));
  expect(conns.length, 'no connection to ftp-srv in the capture').toBeGreaterThan(0);
  expect(
    conns.filter((c) => c.src !== peer),
    `connections to ftp-srv from somewhere other than ${peer}`,
  ).toEqual([]);
  return conns;
}

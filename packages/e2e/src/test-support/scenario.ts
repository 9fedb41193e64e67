/** Pieces the topology tests share: the files of a run and the usual hosts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentStep, BackgroundCommand } from '../agent/plan.js';
import {
  basicFtpStep,
  curlSteps,
  type FtpMode,
  ftpfwd,
  ftpfwdSshd,
  ftpSrv,
  MODES,
  type Payload,
  type SshKeys,
  SYN_ONLY,
  tcpdump,
  writePayload,
  writeSshKeys,
} from '../ftp.js';
import { readPcapTcp, type TcpPacket } from '../pcap.js';
import type { Host, Mount, Topology, TopologyNetwork } from '../topology.js';
import type { TransferCheck } from './checks.js';

export const SSH_PORT = 2222;

export interface RunFiles {
  srvDir: string;
  upDir: string;
  outDir: string;
  /** Per client tag: the file it downloads (in /srv) and the one it uploads (in /up). */
  clients: Map<string, { download: Payload; upload: Payload }>;
}

/** Payloads for each client tag: its own download file and its own upload file, each with a marker. */
export function runFiles(t: Topology, tags: string[]): RunFiles {
  const srvDir = t.dir('srv');
  const upDir = t.dir('up');
  const outDir = t.dir('out');
  const clients = new Map(
    tags.map((tag) => [
      tag,
      {
        download: writePayload(srvDir, `${tag}-payload.bin`),
        upload: writePayload(upDir, `${tag}-upload.bin`),
      },
    ]),
  );
  return { srvDir, upDir, outDir, clients };
}

export function check(files: RunFiles, tag: string): TransferCheck {
  const c = files.clients.get(tag);
  if (!c) throw new Error(`no files for client ${tag}`);
  return { tag, outDir: files.outDir, srvDir: files.srvDir, download: c.download, upload: c.upload };
}

export function markers(files: RunFiles): Buffer[] {
  return [...files.clients.values()].flatMap((c) => [c.download.marker, c.upload.marker]);
}

export function keysFor(t: Topology, servers: string[]): SshKeys {
  return writeSshKeys(
    t.dir('keys'),
    servers.map((address) => ({ address, port: SSH_PORT })),
  );
}

export const mounts = {
  keys: (k: SshKeys): Mount => ({ source: k.dir, target: '/keys', readOnly: true }),
  srv: (f: RunFiles): Mount => ({ source: f.srvDir, target: '/srv' }),
  client: (f: RunFiles): Mount[] => [
    { source: f.upDir, target: '/up', readOnly: true },
    { source: f.outDir, target: '/out' },
  ],
  capture: (t: Topology): Mount => ({ source: t.captureDir, target: '/capture' }),
};

/** The FTP client side of a tag: curl in the given modes, then (optionally) one basic-ftp session. */
export function clientSteps(
  files: RunFiles,
  o: {
    tag: string;
    host: string;
    port: number;
    activeAddress: string;
    modes?: readonly FtpMode[];
    basicFtp?: boolean;
    group?: string;
  },
): AgentStep[] {
  const c = files.clients.get(o.tag);
  if (!c) throw new Error(`no files for client ${o.tag}`);
  const download = c.download.path.split('/').pop() as string;
  const upload = `/up/${c.upload.path.split('/').pop()}`;
  const steps = curlSteps({
    url: `ftp://${o.host}:${o.port}`,
    activeAddress: o.activeAddress,
    upload,
    download,
    tag: o.tag,
    modes: o.modes ?? MODES,
  });
  if (o.basicFtp ?? true)
    steps.push(basicFtpStep({ tag: o.tag, host: o.host, port: o.port, download, upload }));
  return o.group ? steps.map((s) => ({ ...s, group: o.group })) : steps;
}

/** A host with ftpfwd-sshd (and, unless `ftp` is false, ftp-srv on 127.0.0.1:21 behind it). */
export async function serverHost(
  t: Topology,
  o: {
    name: string;
    networks: TopologyNetwork[];
    addresses?: (string | undefined)[];
    keys: SshKeys;
    files: RunFiles;
    sshdArgs?: string[];
    ftp?: false | { listen?: string; pasvUrl?: string };
    /** Capture connection openings on every interface of the host (tcpdump -i any, SYNs only) into /capture/<name>.pcap. */
    capture?: boolean;
    defaultVia?: string;
    extra?: BackgroundCommand[];
  },
): Promise<Host> {
  const background: BackgroundCommand[] = [];
  if (o.capture) background.push(tcpdump(`${o.name}.pcap`, 'any', { filter: SYN_ONLY }));
  if (o.ftp !== false)
    background.push(
      ftpSrv({ listen: o.ftp?.listen ?? '127.0.0.1:21', pasvUrl: o.ftp?.pasvUrl ?? '127.0.0.1' }),
    );
  background.push(...(o.extra ?? []));
  background.push(ftpfwdSshd(o.keys, o.sshdArgs ?? [], `0.0.0.0:${SSH_PORT}`));
  return t.host({
    name: o.name,
    networks: o.networks,
    ...(o.addresses ? { addresses: o.addresses } : {}),
    ...(o.defaultVia ? { defaultVia: o.defaultVia } : {}),
    capAdd: o.capture ? ['NET_RAW', 'NET_ADMIN'] : [],
    mounts: [mounts.keys(o.keys), mounts.srv(o.files), mounts.capture(t)],
    plan: { background },
  });
}

/** A host running ftpfwd (and its FTP clients' steps, if any). */
export async function clientHost(
  t: Topology,
  o: {
    name: string;
    networks: TopologyNetwork[];
    addresses?: (string | undefined)[];
    keys: SshKeys;
    files: RunFiles;
    ftpfwd: { server: string; forwards: string[]; extra?: string[] }[];
    steps?: AgentStep[];
    concurrentSteps?: boolean;
    startWhenFileExists?: string;
    defaultVia?: string;
    extraMounts?: Mount[];
  },
): Promise<Host> {
  return t.host({
    name: o.name,
    networks: o.networks,
    ...(o.addresses ? { addresses: o.addresses } : {}),
    ...(o.defaultVia ? { defaultVia: o.defaultVia } : {}),
    mounts: [mounts.keys(o.keys), ...mounts.client(o.files), ...(o.extraMounts ?? [])],
    plan: {
      background: o.ftpfwd.map((f, i) =>
        ftpfwd(o.keys, { ...f, port: SSH_PORT, name: o.ftpfwd.length > 1 ? `ftpfwd${i + 1}` : 'ftpfwd' }),
      ),
      ...(o.steps ? { steps: o.steps } : {}),
      ...(o.concurrentSteps ? { concurrentSteps: true } : {}),
      ...(o.startWhenFileExists ? { startWhenFileExists: o.startWhenFileExists } : {}),
    },
  });
}

/** Stops a host that captured with serverHost({capture}) and returns its packets. */
export async function hostPackets(t: Topology, host: Host): Promise<TcpPacket[]> {
  await host.stop();
  return readPcapTcp(readFileSync(join(t.captureDir, `${host.name}.pcap`)));
}

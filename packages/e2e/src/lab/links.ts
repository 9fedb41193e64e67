/**
 * What crossed each link, from the captures: every TCP connection on it, classified as SSH (to an
 * SSH server of the scenario), FTP control (to an FTP server or an ftpfwd ftp/ listener), FTP data
 * (to a passive port range, or between two addresses that also had a control connection) or other;
 * with full captures also the bytes and which payload or text markers were seen in clear. Pure.
 *
 * Links: GATEWAY.WAN (the gateway's full WAN capture), HOST.NETWORK (the host's packets to or from
 * its address there) and HOST.lo (its loopback), from the host's capture on every interface.
 */
import { type TcpConnection, type TcpPacket, tcpConnections, tcpStreams } from '../pcap.js';
import type { HostPlan, ScenarioPlan } from './plan.js';
import type { TrafficClass } from './schema.js';

export type CaptureKind = 'full' | 'connections' | 'none';

export interface ConnectionInfo extends TcpConnection {
  kind: TrafficClass;
  /** Payload bytes both ways (full captures). */
  bytes?: number;
  /** Markers found in its bytes (full captures). */
  markers?: string[];
}

export interface LinkSummary {
  id: string;
  /** The host or gateway on this side of the link. */
  node: string;
  /** A network name, or lo. */
  network: string;
  capture: CaptureKind;
  connections: ConnectionInfo[];
  classes: Record<TrafficClass, { connections: number; bytes?: number }>;
  /** Markers seen in clear on the link and in which kind of traffic; undefined when not looked for. */
  markers?: { name: string; kinds: TrafficClass[] }[];
}

export interface Captures {
  /** Host captures (every interface), by host name. */
  hosts: Map<string, TcpPacket[]>;
  /** Gateway WAN captures, by gateway name. */
  gateways: Map<string, TcpPacket[]>;
}

/** Each marker's byte strings: a payload's two markers (download, upload), a text marker's text. */
export type Markers = Map<string, Buffer[]>;

const loopback = (a: string) => a.startsWith('127.');

/** The links of a plan, captured or not, in drawing order: gateways' sides, then hosts'. */
export function linkIds(
  plan: ScenarioPlan,
): { id: string; node: string; network: string; capture: CaptureKind }[] {
  const out: { id: string; node: string; network: string; capture: CaptureKind }[] = [];
  for (const g of plan.gateways) {
    out.push({ id: `${g.name}.${g.lan}`, node: g.name, network: g.lan, capture: 'none' });
    out.push({ id: `${g.name}.${g.wan}`, node: g.name, network: g.wan, capture: 'full' });
  }
  for (const h of plan.hosts) {
    const capture: CaptureKind = h.capture === 'off' ? 'none' : h.capture;
    for (const n of h.networks)
      out.push({ id: `${h.name}.${n.network}`, node: h.name, network: n.network, capture });
    if (capture !== 'none') out.push({ id: `${h.name}.lo`, node: h.name, network: 'lo', capture });
  }
  return out;
}

export function analyseLinks(plan: ScenarioPlan, captures: Captures, markers: Markers): LinkSummary[] {
  const owner = ownerOf(plan);
  const streamsOf = new Map<string, Map<string, Buffer>>();
  const streams = (key: string, packets: TcpPacket[]) => {
    let s = streamsOf.get(key);
    if (!s) {
      s = tcpStreams(packets);
      streamsOf.set(key, s);
    }
    return s;
  };
  return linkIds(plan).map((l) => {
    let packets: TcpPacket[] | undefined;
    const local = l.node;
    if (l.capture === 'none') packets = undefined;
    else if (plan.gateways.some((g) => g.name === l.node)) packets = captures.gateways.get(l.node);
    else {
      const all = captures.hosts.get(l.node);
      const host = plan.hosts.find((h) => h.name === l.node);
      const address = host?.networks.find((n) => n.network === l.network)?.address;
      // A connection between two of the host's own addresses never leaves it: its loopback.
      const own = new Set(host?.networks.map((n) => n.address));
      const inside = (p: TcpPacket) =>
        (loopback(p.src) || own.has(p.src)) && (loopback(p.dst) || own.has(p.dst));
      packets =
        l.network === 'lo'
          ? all?.filter(inside)
          : all?.filter((p) => (p.src === address || p.dst === address) && !inside(p));
    }
    const empty = emptyClasses();
    if (!packets) return { ...l, capture: 'none', connections: [], classes: empty };
    const conns = tcpConnections(packets);
    const control = new Set<string>();
    const kinds = conns.map((c) => classify(c, owner, local));
    conns.forEach((c, i) => {
      if (kinds[i] === 'ftp-control') control.add(pair(c.src, c.dst));
    });
    const full = l.capture === 'full';
    const s = full ? streams(l.node, packets) : undefined;
    const infos: ConnectionInfo[] = conns.map((c, i) => {
      let kind = kinds[i] as TrafficClass;
      if (kind === 'other' && control.has(pair(c.src, c.dst))) kind = 'ftp-data';
      const info: ConnectionInfo = { ...c, kind };
      if (s) {
        const fwd = s.get(`${c.src}:${c.sport}>${c.dst}:${c.dport}`);
        const rev = s.get(`${c.dst}:${c.dport}>${c.src}:${c.sport}`);
        info.bytes = (fwd?.length ?? 0) + (rev?.length ?? 0);
        info.markers = [...markers]
          .filter(([, bufs]) => bufs.some((b) => fwd?.includes(b) || rev?.includes(b)))
          .map(([n]) => n);
      }
      return info;
    });
    const classes = emptyClasses();
    for (const c of infos) {
      const k = classes[c.kind];
      k.connections++;
      if (full) k.bytes = (k.bytes ?? 0) + (c.bytes ?? 0);
    }
    const out: LinkSummary = { ...l, connections: infos, classes };
    if (full && s) {
      // Also markers in segments whose connection opened before the capture (no SYN seen).
      const seen = new Map<string, Set<TrafficClass>>();
      for (const c of infos)
        for (const m of c.markers ?? []) seen.set(m, (seen.get(m) ?? new Set()).add(c.kind));
      for (const [name, bufs] of markers) {
        if (seen.has(name)) continue;
        if ([...s.values()].some((data) => bufs.some((b) => data.includes(b))))
          seen.set(name, new Set(['other']));
      }
      out.markers = [...seen].map(([name, k]) => ({ name, kinds: [...k] }));
    }
    return out;
  });
}

/** Every connection a host's capture saw, all interfaces. */
export function hostConnections(captures: Captures, host: string): TcpConnection[] {
  return tcpConnections(captures.hosts.get(host) ?? []);
}

function emptyClasses(): LinkSummary['classes'] {
  return {
    ssh: { connections: 0 },
    'ftp-control': { connections: 0 },
    'ftp-data': { connections: 0 },
    other: { connections: 0 },
  };
}

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Which host an address belongs to (loopback: the host of the capture). */
function ownerOf(plan: ScenarioPlan): (address: string, local: string) => HostPlan | undefined {
  const by = new Map<string, HostPlan>();
  for (const h of plan.hosts) for (const n of h.networks) by.set(n.address, h);
  return (address, local) => (loopback(address) ? plan.hosts.find((h) => h.name === local) : by.get(address));
}

function listensOn(l: { address: string; port: number }, address: string, port: number): boolean {
  if (l.port !== port) return false;
  return l.address === '0.0.0.0' || l.address === address || (loopback(l.address) && loopback(address));
}

function classify(
  c: TcpConnection,
  owner: (address: string, local: string) => HostPlan | undefined,
  local: string,
): TrafficClass {
  const dst = owner(c.dst, local);
  if (!dst) return 'other';
  for (const p of dst.programs) {
    if (!p.listen) continue;
    if (!listensOn(p.listen, c.dst, c.dport)) continue;
    if (p.kind === 'ftpfwd-sshd' || p.kind === 'openssh-sshd') return 'ssh';
    if (p.kind === 'ftp-srv' || p.kind === 'vsftpd') return 'ftp-control';
  }
  for (const p of dst.programs) {
    for (const l of p.listeners ?? []) if (l.ftp && listensOn(l, c.dst, c.dport)) return 'ftp-control';
    if (p.pasv && p.listen && c.dport >= p.pasv.min && c.dport <= p.pasv.max) {
      const addr = p.listen.address;
      if (addr === '0.0.0.0' || addr === c.dst || (loopback(addr) && loopback(c.dst))) return 'ftp-data';
    }
  }
  return 'other';
}

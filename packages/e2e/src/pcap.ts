/**
 * A small reader for the classic pcap files tcpdump writes (-w), enough to check what crossed a link:
 * which TCP connections were opened, and whether some bytes appear in any TCP stream. Pure.
 */

export interface TcpPacket {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  syn: boolean;
  ack: boolean;
  seq: number;
  payload: Buffer;
}

export class PcapFormatError extends Error {
  override name = 'PcapFormatError';
}

const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_LINUX_SLL = 113;
const LINK_LINUX_SLL2 = 276;

/** Parses a pcap file; returns its IPv4 TCP packets (everything else is skipped). */
export function readPcapTcp(file: Buffer): TcpPacket[] {
  if (file.length < 24)
    throw new PcapFormatError(`expected a pcap file (24-byte header), got ${file.length} bytes`);
  const magic = file.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new PcapFormatError(`expected pcap magic a1b2c3d4, got ${magic.toString(16)}`);
  const u32 = (o: number) => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linktype = u32(20) & 0xffff;
  const packets: TcpPacket[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const caplen = u32(off + 8);
    const start = off + 16;
    off = start + caplen;
    if (off > file.length) break; // a capture cut short while writing: ignore the partial record
    const frame = file.subarray(start, start + caplen);
    const ip = ipPayload(frame, linktype);
    if (ip) {
      const p = parseIpv4Tcp(ip);
      if (p) packets.push(p);
    }
  }
  return packets;
}

function ipPayload(frame: Buffer, linktype: number): Buffer | undefined {
  let etherType: number;
  let off: number;
  switch (linktype) {
    case LINK_ETHERNET:
      if (frame.length < 14) return undefined;
      etherType = frame.readUInt16BE(12);
      off = 14;
      if (etherType === 0x8100 && frame.length >= 18) {
        etherType = frame.readUInt16BE(16);
        off = 18;
      }
      break;
    case LINK_LINUX_SLL:
      if (frame.length < 16) return undefined;
      etherType = frame.readUInt16BE(14);
      off = 16;
      break;
    case LINK_LINUX_SLL2:
      if (frame.length < 20) return undefined;
      etherType = frame.readUInt16BE(0);
      off = 20;
      break;
    case LINK_RAW:
      return frame;
    default:
      throw new PcapFormatError(
        `unsupported pcap link type ${linktype} (expected Ethernet, raw IP or Linux cooked)`,
      );
  }
  return etherType === 0x0800 ? frame.subarray(off) : undefined;
}

function parseIpv4Tcp(ip: Buffer): TcpPacket | undefined {
  if (ip.length < 20 || ip[0] === undefined || ip[0] >> 4 !== 4) return undefined;
  const ihl = (ip[0] & 0x0f) * 4;
  const total = Math.min(ip.readUInt16BE(2), ip.length);
  if (ip[9] !== 6 || total < ihl + 20) return undefined;
  const tcp = ip.subarray(ihl, total);
  const dataOff = ((tcp[12] ?? 0) >> 4) * 4;
  const flags = tcp[13] ?? 0;
  return {
    src: Array.from(ip.subarray(12, 16)).join('.'),
    dst: Array.from(ip.subarray(16, 20)).join('.'),
    sport: tcp.readUInt16BE(0),
    dport: tcp.readUInt16BE(2),
    syn: (flags & 0x02) !== 0,
    ack: (flags & 0x10) !== 0,
    seq: tcp.readUInt32BE(4),
    payload: tcp.subarray(dataOff),
  };
}

export interface TcpConnection {
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

/** Connections opened in the capture: every SYN without ACK, once per 4-tuple. */
export function tcpConnections(packets: TcpPacket[]): TcpConnection[] {
  const seen = new Map<string, TcpConnection>();
  for (const p of packets) {
    if (!p.syn || p.ack) continue;
    const key = `${p.src}:${p.sport}>${p.dst}:${p.dport}`;
    if (!seen.has(key)) seen.set(key, { src: p.src, sport: p.sport, dst: p.dst, dport: p.dport });
  }
  return [...seen.values()];
}

/**
 * Each direction of each TCP connection, its payload put back in sequence order (duplicates and
 * retransmissions dropped), so bytes split across segments are found too.
 */
export function tcpStreams(packets: TcpPacket[]): Map<string, Buffer> {
  const flows = new Map<string, TcpPacket[]>();
  for (const p of packets) {
    if (p.payload.length === 0) continue;
    const key = `${p.src}:${p.sport}>${p.dst}:${p.dport}`;
    const list = flows.get(key) ?? [];
    list.push(p);
    flows.set(key, list);
  }
  const streams = new Map<string, Buffer>();
  for (const [key, list] of flows) {
    const first = list[0];
    if (!first) continue;
    const base = first.seq;
    // Signed offsets from the first segment seen (sequence numbers wrap at 2^32; segments may come
    // out of order, so earlier bytes have negative offsets).
    const segs = list
      .map((p) => ({ off: ((p.seq - base + 2 ** 31 + 2 ** 32) % 2 ** 32) - 2 ** 31, data: p.payload }))
      .sort((a, b) => a.off - b.off);
    const parts: Buffer[] = [];
    let next = segs[0]?.off ?? 0;
    for (const s of segs) {
      if (s.off + s.data.length <= next) continue;
      const skip = Math.max(0, next - s.off);
      parts.push(s.data.subarray(skip));
      next = s.off + s.data.length;
    }
    streams.set(key, Buffer.concat(parts));
  }
  return streams;
}

/** The streams (keys as in tcpStreams) whose bytes contain `needle`. */
export function streamsContaining(packets: TcpPacket[] | Map<string, Buffer>, needle: Buffer): string[] {
  const streams = packets instanceof Map ? packets : tcpStreams(packets);
  return [...streams].filter(([, data]) => data.includes(needle)).map(([k]) => k);
}

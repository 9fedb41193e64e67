import { describe, expect, it } from 'vitest';
import { readPcapTcp, streamsContaining, tcpConnections } from './pcap.js';

/** Writes an Ethernet pcap with the given IPv4 TCP segments (what tcpdump -w produces). */
function pcap(
  segments: {
    src: string;
    dst: string;
    sport: number;
    dport: number;
    flags: number;
    seq: number;
    data: Buffer;
  }[],
): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const records = segments.map((s) => {
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(s.sport, 0);
    tcp.writeUInt16BE(s.dport, 2);
    tcp.writeUInt32BE(s.seq % 2 ** 32, 4);
    tcp[12] = 5 << 4;
    tcp[13] = s.flags;
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 20 + s.data.length, 2);
    ip[9] = 6;
    Buffer.from(s.src.split('.').map(Number)).copy(ip, 12);
    Buffer.from(s.dst.split('.').map(Number)).copy(ip, 16);
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const frame = Buffer.concat([eth, ip, tcp, s.data]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  });
  return Buffer.concat([header, ...records]);
}

describe('pcap reader', () => {
  const a = { src: '198.51.100.10', dst: '203.0.113.20', sport: 40000, dport: 22 };

  it('lists connections opened (SYN without ACK), once each', () => {
    const file = pcap([
      { ...a, flags: 0x02, seq: 1, data: Buffer.alloc(0) },
      { ...a, flags: 0x02, seq: 1, data: Buffer.alloc(0) },
      { src: a.dst, dst: a.src, sport: a.dport, dport: a.sport, flags: 0x12, seq: 9, data: Buffer.alloc(0) },
    ]);
    expect(tcpConnections(readPcapTcp(file))).toEqual([a]);
  });

  it('finds bytes split across out-of-order and retransmitted segments', () => {
    const marker = Buffer.from('0123456789abcdef0123456789abcdef');
    const data = Buffer.concat([Buffer.from('xx'), marker, Buffer.from('yy')]);
    const file = pcap([
      { ...a, flags: 0x18, seq: 4294967290 + 20, data: data.subarray(20) },
      { ...a, flags: 0x18, seq: 4294967290, data: data.subarray(0, 20) },
      { ...a, flags: 0x18, seq: 4294967290 + 10, data: data.subarray(10, 25) },
    ]);
    expect(streamsContaining(readPcapTcp(file), marker)).toEqual([`${a.src}:${a.sport}>${a.dst}:${a.dport}`]);
    expect(streamsContaining(readPcapTcp(file), Buffer.from('not there'))).toEqual([]);
  });

  it('refuses what is not a pcap file, saying what it saw', () => {
    expect(() => readPcapTcp(Buffer.alloc(30, 1))).toThrow(/expected pcap magic/);
  });
});

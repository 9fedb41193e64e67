// The pool's own rules, on stand-ins for ssh2's cipher classes. That ssh2's real cipher is pooled,
// and that ssh2 and OpenSSH peers read the packets, is tested with ssh2 itself:
// packages/sshd/src/packet-pool.test.ts (and the start-up probe, ssh2-internals.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { applyPacketPoolEnv, gcmPacketLayout, PACKET_SLAB_BYTES, packetPoolEnabled } from './packet-pool.js';
import { poolOutgoingPackets as poolWith } from './ssh2-internals.js';

const poolOutgoingPackets = (conn: unknown) => poolWith(conn, packetPoolEnabled());

/** ssh2 1.17's AES-GCM allocPacket, as the pool must reproduce it. */
function stockAlloc(payloadLen: number): Buffer {
  let pktLen = 4 + 1 + payloadLen;
  let padLen = 16 - ((pktLen - 4) & 15);
  if (padLen < 4) padLen += 16;
  pktLen += padLen;
  const packet = Buffer.alloc(pktLen + 16);
  packet.writeUInt32BE(pktLen - 4, 0);
  packet[4] = padLen;
  return packet;
}

/** An ssh2 connection stand-in with a fresh cipher class. */
function knownConnection() {
  // The class name is what the pool recognises.
  class AESGCMCipherBinding {
    allocPacket(payloadLen: number): Buffer {
      return stockAlloc(payloadLen);
    }
  }
  return { _protocol: { _cipher: new AESGCMCipherBinding() as { allocPacket(n: number): Buffer } } };
}

const DATA_PAYLOAD = 1 + 4 + 4 + 32768; // CHANNEL_DATA header + one full 32 KiB chunk

afterEach(() => {
  applyPacketPoolEnv(undefined);
});

describe('AES-GCM packet layout', () => {
  it('pads to a multiple of 16 after the length field, with 4 to 19 bytes of padding (RFC 4253 §6, RFC 5647 §7.2)', () => {
    for (let n = 0; n < 200; n++) {
      const { packetLength, padLength } = gcmPacketLayout(n);
      expect(padLength).toBeGreaterThanOrEqual(4);
      expect(padLength).toBeLessThan(20);
      expect((packetLength - 4) % 16, `payload ${n}`).toBe(0);
      expect(packetLength).toBe(4 + 1 + n + padLength);
    }
  });
});

describe('pooled outgoing packets', () => {
  it("pools the connection's own cipher once; packets are adjacent slices of a 256 KiB slab with the stock header", () => {
    const conn = knownConnection();
    expect(poolOutgoingPackets(conn)).toBe('pooled');
    expect(poolOutgoingPackets(conn)).toBe('already-pooled');
    const a = conn._protocol._cipher.allocPacket(DATA_PAYLOAD);
    const b = conn._protocol._cipher.allocPacket(DATA_PAYLOAD);
    expect(a.buffer.byteLength).toBe(PACKET_SLAB_BYTES);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.length);
    expect(b.byteOffset - (a.byteOffset + a.length)).toBeLessThan(8);
    const stock = stockAlloc(DATA_PAYLOAD);
    expect(a.length).toBe(stock.length);
    expect(a.subarray(0, 5)).toEqual(stock.subarray(0, 5));
  });

  it('starts a new slab when a packet does not fit, and never hands a region out twice', () => {
    const conn = knownConnection();
    poolOutgoingPackets(conn);
    const packets = Array.from({ length: 20 }, () => conn._protocol._cipher.allocPacket(DATA_PAYLOAD));
    const slabs = new Set(packets.map((p) => p.buffer));
    expect(slabs.size).toBe(Math.ceil(20 / Math.floor(PACKET_SLAB_BYTES / (DATA_PAYLOAD + 32))));
    for (const slab of slabs) {
      const inSlab = packets.filter((p) => p.buffer === slab).sort((x, y) => x.byteOffset - y.byteOffset);
      for (let i = 1; i < inSlab.length; i++) {
        const prev = inSlab[i - 1] as Buffer;
        expect((inSlab[i] as Buffer).byteOffset).toBeGreaterThanOrEqual(prev.byteOffset + prev.length);
      }
    }
  });

  it("changes only the connection's cipher, never the class; a slab per connection; big packets apart", () => {
    const one = knownConnection();
    poolOutgoingPackets(one);
    const proto = Object.getPrototypeOf(one._protocol._cipher) as { allocPacket: unknown };
    const Cls = proto.constructor as new () => { allocPacket(n: number): Buffer };
    const unpooled = new Cls();
    expect(unpooled.allocPacket).toBe(proto.allocPacket); // another connection of the application
    const other = { _protocol: { _cipher: new Cls() } };
    expect(poolOutgoingPackets(other)).toBe('pooled');
    expect(one._protocol._cipher.allocPacket(100).buffer).not.toBe(
      other._protocol._cipher.allocPacket(100).buffer,
    );
    const big = one._protocol._cipher.allocPacket(PACKET_SLAB_BYTES);
    expect(big.length).toBe(gcmPacketLayout(PACKET_SLAB_BYTES).packetLength + 16);
    expect(big.buffer).not.toBe(one._protocol._cipher.allocPacket(100).buffer);
  });

  it('fills padding with fresh random bytes each time, across refills of the random pool', () => {
    const conn = knownConnection();
    poolOutgoingPackets(conn);
    const pads = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const p = conn._protocol._cipher.allocPacket(15); // 16 bytes of padding each: 32 000 in all
      expect(p[4]).toBe(16);
      pads.add(p.subarray(20, 36).toString('hex'));
    }
    expect(pads.size).toBe(2000);
  });

  it('leaves a class alone whose layout differs from what the pool would write', () => {
    // The class name is what the pool recognises.
    class AESGCMCipherBinding {
      allocPacket(payloadLen: number): Buffer {
        return stockAlloc(payloadLen + 16); // a different padding rule
      }
    }
    const conn = { _protocol: { _cipher: new AESGCMCipherBinding() } };
    const before = conn._protocol._cipher.allocPacket;
    expect(poolOutgoingPackets(conn)).toBe('layout-differs');
    expect(conn._protocol._cipher.allocPacket).toBe(before);
  });

  it('leaves other ciphers, and a missing connection, alone', () => {
    class ChaChaPolyCipherBinding {
      allocPacket(payloadLen: number): Buffer {
        return stockAlloc(payloadLen);
      }
    }
    expect(poolOutgoingPackets({ _protocol: { _cipher: new ChaChaPolyCipherBinding() } })).toBe(
      'unknown-cipher',
    );
    expect(poolOutgoingPackets(undefined)).toBe('unknown-cipher');
    expect(poolOutgoingPackets({})).toBe('unknown-cipher');
  });

  it('FTPFWD_PACKET_POOL=off leaves ssh2 as it is; a value it cannot read is an error', () => {
    expect(applyPacketPoolEnv('off')).toBe('off');
    const conn = knownConnection();
    const before = conn._protocol._cipher.allocPacket;
    expect(poolOutgoingPackets(conn)).toBe('off');
    expect(conn._protocol._cipher.allocPacket).toBe(before);
    expect(applyPacketPoolEnv('maybe')).toEqual({
      error: 'FTPFWD_PACKET_POOL: expected "on" or "off", got "maybe"',
    });
    expect(applyPacketPoolEnv(' ON ')).toBe('on');
    expect(poolOutgoingPackets(conn)).toBe('pooled');
  });
});

/**
 * Outgoing SSH packets carved from a per-connection slab, with padding from a pooled CSPRNG.
 *
 * ssh2 builds each outgoing packet in a Buffer of its own and fills its 4-19 padding bytes with
 * one `randomFillSync` call. Moving a GiB means 32 768 packets of 32 KiB, so 32 768 of each: a
 * malloc and free, a new ArrayBuffer with its backing-store registration and later its sweep, and
 * an OpenSSL RNG call with its lock and fork check (a getpid). perf put them at roughly a tenth of
 * the encrypting process's CPU. OpenSSH does neither: it reuses its output buffer and draws padding
 * from `arc4random_buf`, a buffered CSPRNG.
 *
 * Here a connection's packets are consecutive slices of a 256 KiB slab (a new slab when one is used
 * up, never a region handed out twice: a slice may still sit in the socket's write queue), and
 * padding bytes come from a 4 KiB buffer of `randomFillSync` output (the same CSPRNG, drawn 4 KiB
 * at a time; each byte is used once). The slab is per connection so that one congested connection
 * pins no more than its own queued packets plus one slab.
 *
 * ssh2 keeps its ciphers private: ssh2-internals.ts puts pooledAllocPacket on a connection's own
 * cipher object, only for the cipher it knows (AES-GCM through ssh2's native binding, the one
 * ftpfwd prefers), and only after sameLayout found ssh2's packets laid out the same for a range of
 * sizes; any difference (a new ssh2 release) leaves ssh2 as it is. tools/bench/README.md has the
 * measurements.
 */
import { randomFillSync } from 'node:crypto';
import { OFF_WORDS } from './gc-pacing.js';

/** Bytes per slab: seven 32 KiB data packets. */
export const PACKET_SLAB_BYTES = 256 * 1024;

/** Only packets up to this size come from the slab; bigger ones get their own Buffer as before. */
const MAX_SLAB_PACKET = PACKET_SLAB_BYTES / 4;

/** The AES-GCM authentication tag that follows each packet (ssh2 encrypts in place around it). */
const GCM_TAG_BYTES = 16;

const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.allocUnsafeSlow(RANDOM_POOL_BYTES);
let randomPos = RANDOM_POOL_BYTES;

export type PacketPoolResult = 'pooled' | 'already-pooled' | 'off' | 'unknown-cipher' | 'layout-differs';

let enabled = true;

/**
 * `FTPFWD_PACKET_POOL` for the CLIs: unset or `on` → pool (the default), `off`/`0` → leave ssh2 as
 * it is (to compare, or should a peer ever disagree). An error message for anything else.
 */
export function applyPacketPoolEnv(value: string | undefined): 'on' | 'off' | { error: string } {
  const v = value?.trim().toLowerCase() ?? '';
  if (v === '' || v === 'on' || v === '1' || v === 'true' || v === 'yes') enabled = true;
  else if (OFF_WORDS.has(v)) enabled = false;
  else return { error: `FTPFWD_PACKET_POOL: expected "on" or "off", got ${JSON.stringify(value)}` };
  return enabled ? 'on' : 'off';
}

/** SSH binary packet layout (RFC 4253 §6) for AES-GCM: the length field is not padded over. */
export function gcmPacketLayout(payloadLen: number): { packetLength: number; padLength: number } {
  let pktLen = 4 + 1 + payloadLen;
  let padLen = 16 - ((pktLen - 4) & 15);
  if (padLen < 4) padLen += 16;
  pktLen += padLen;
  return { packetLength: pktLen, padLength: padLen };
}

/** `n` bytes of CSPRNG output, each handed out once. */
function takeRandom(target: Buffer, offset: number, n: number): void {
  if (randomPos + n > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPos = 0;
  }
  randomPool.copy(target, offset, randomPos, randomPos + n);
  randomPos += n;
}

/**
 * An allocPacket for one cipher object (one call per object): its packets are consecutive slices of a slab of its own
 * (a new slab when one is used up), their padding drawn from the shared pool.
 */
export function pooledAllocPacket(): (payloadLen: number) => Buffer {
  let slab: Buffer | undefined;
  let pos = 0;
  return (payloadLen: number): Buffer => {
    const { packetLength, padLength } = gcmPacketLayout(payloadLen);
    const size = packetLength + GCM_TAG_BYTES;
    let packet: Buffer;
    if (size > MAX_SLAB_PACKET) {
      packet = Buffer.allocUnsafe(size);
    } else {
      // 8-byte steps keep every packet aligned the way malloc would have.
      const step = (size + 7) & ~7;
      if (slab === undefined || pos + step > slab.length) {
        slab = Buffer.allocUnsafeSlow(PACKET_SLAB_BYTES);
        pos = 0;
      }
      packet = slab.subarray(pos, pos + size);
      pos += step;
    }
    packet.writeUInt32BE(packetLength - 4, 0);
    packet[4] = padLength;
    takeRandom(packet, 5 + payloadLen, padLength);
    return packet;
  };
}

/** Whether ssh2's own allocPacket (`original`) lays packets out as pooledAllocPacket does, for many sizes. */
export function sameLayout(original: (payloadLen: number) => Buffer): boolean {
  for (let n = 0; n <= 48; n++) if (!sameFor(n)) return false;
  return [255, 1024, 32768 + 9, 32768 + 13, 35000].every(sameFor);
  function sameFor(n: number): boolean {
    const theirs = original(n);
    const { packetLength, padLength } = gcmPacketLayout(n);
    return (
      theirs.length === packetLength + GCM_TAG_BYTES &&
      theirs.readUInt32BE(0) === packetLength - 4 &&
      theirs[4] === padLength
    );
  }
}

/** Whether FTPFWD_PACKET_POOL left pooling on (the default). */
export function packetPoolEnabled(): boolean {
  return enabled;
}

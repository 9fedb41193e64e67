import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  defaultRekeyBytes,
  enforceRekeyLimit,
  parseRekeyLimit,
  parseTime,
  REKEY_CHECK_BYTES,
  type RekeyLimit,
  rekeyReason,
} from './rekey-limit.js';

describe('parseRekeyLimit (OpenSSH RekeyLimit syntax)', () => {
  it('reads bytes with K/M/G suffixes, "default", and an optional time or "none"', () => {
    expect(parseRekeyLimit('default none')).toEqual({});
    expect(parseRekeyLimit('default')).toEqual({});
    expect(parseRekeyLimit('1G')).toEqual({ bytes: 2 ** 30 });
    expect(parseRekeyLimit('512m 1h')).toEqual({ bytes: 512 * 2 ** 20, seconds: 3600 });
    expect(parseRekeyLimit('  4096   90 ')).toEqual({ bytes: 4096, seconds: 90 });
    expect(parseRekeyLimit('Default 1h30m')).toEqual({ seconds: 5400 });
    expect(parseRekeyLimit('100K NONE')).toEqual({ bytes: 102_400 });
  });

  it('refuses what OpenSSH refuses, saying what was expected and what came', () => {
    expect(() => parseRekeyLimit('')).toThrow(/expected BYTES \[SECONDS\].*got ""/);
    expect(() => parseRekeyLimit('1G 1h extra')).toThrow(/got "1G 1h extra"/);
    expect(() => parseRekeyLimit('1T')).toThrow(/byte count .* got "1T"/);
    expect(() => parseRekeyLimit('-1')).toThrow(/got "-1"/);
    expect(() => parseRekeyLimit('8')).toThrow(/at least 16/);
    expect(() => parseRekeyLimit('1G soon')).toThrow(/time such as .* got "soon"/);
    expect(() => parseRekeyLimit('1G 0')).toThrow(/more than 0/);
    expect(() => parseRekeyLimit('99999999999999999G')).toThrow(/byte count/);
  });

  it('reads OpenSSH TIME FORMATS', () => {
    expect(parseTime('600')).toBe(600);
    expect(parseTime('10m')).toBe(600);
    expect(parseTime('1h30m')).toBe(5400);
    expect(parseTime('1w2d')).toBe(9 * 86400);
    expect(parseTime('1.5h')).toBeUndefined();
    expect(parseTime('h')).toBeUndefined();
  });
});

describe('when keys are due', () => {
  it("uses the cipher's bound as OpenSSH does: 64 GiB for AES, 1 GiB for 8-byte blocks", () => {
    expect(defaultRekeyBytes('aes128-gcm@openssh.com')).toBe(64 * 2 ** 30);
    expect(defaultRekeyBytes('aes256-ctr')).toBe(64 * 2 ** 30);
    expect(defaultRekeyBytes('chacha20-poly1305@openssh.com')).toBe(2 ** 30);
    expect(defaultRekeyBytes('3des-cbc')).toBe(2 ** 30);
  });

  it('each direction on its own, the smaller of the limit and the bound, time only when set', () => {
    const aes = defaultRekeyBytes('aes128-gcm@openssh.com');
    const idle = { bytesIn: 0, bytesOut: 0, elapsedMs: 10 * 86400_000 };
    expect(rekeyReason(idle, {}, aes)).toBeUndefined();
    expect(rekeyReason({ ...idle, bytesIn: aes }, {}, aes)).toMatch(/received/);
    expect(rekeyReason({ ...idle, bytesOut: 2 ** 20 }, { bytes: 2 ** 20 }, aes)).toMatch(
      /1048576 bytes sent/,
    );
    expect(
      rekeyReason({ ...idle, bytesOut: 2 ** 20 - 1, bytesIn: 2 ** 20 - 1 }, { bytes: 2 ** 20 }, aes),
    ).toBe(undefined);
    // A limit above the cipher's bound does not lift it.
    expect(rekeyReason({ ...idle, bytesIn: 2 ** 30 }, { bytes: 2 ** 40 }, 2 ** 30)).toMatch(/received/);
    expect(rekeyReason({ bytesIn: 0, bytesOut: 0, elapsedMs: 3_600_000 }, { seconds: 3600 }, aes)).toMatch(
      /3600 s since/,
    );
    expect(rekeyReason({ bytesIn: 0, bytesOut: 0, elapsedMs: 3_599_999 }, { seconds: 3600 }, aes)).toBe(
      undefined,
    );
  });
});

/** A stand-in SSH socket: byte counters and 'data' events, as net.Socket has them. */
class FakeSocket extends EventEmitter {
  bytesRead = 0;
  bytesWritten = 0;
  destroyed = false;
  move(inBytes: number, outBytes: number): void {
    this.bytesRead += inBytes;
    this.bytesWritten += outBytes;
    this.emit('data', Buffer.alloc(0));
  }
}

/** enforceRekeyLimit on a stand-in socket and connection; `asked` collects each re-key's reason. */
function watched(limit: RekeyLimit, cipher = 'aes128-gcm') {
  const sock = new FakeSocket();
  const conn = new EventEmitter();
  const asked: string[] = [];
  enforceRekeyLimit(conn, sock as unknown as Socket, limit, cipher, (reason) => asked.push(reason));
  return { sock, conn, asked };
}

describe('enforceRekeyLimit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks for one re-key when a direction passes the limit, and counts again from the next exchange', () => {
    const { sock, conn, asked } = watched({ bytes: 4 * REKEY_CHECK_BYTES });
    for (let i = 0; i < 3; i++) sock.move(0, REKEY_CHECK_BYTES);
    expect(asked).toEqual([]);
    sock.move(0, REKEY_CHECK_BYTES);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/sent since the last key exchange/);
    // While the exchange runs, no second request.
    for (let i = 0; i < 8; i++) sock.move(REKEY_CHECK_BYTES, REKEY_CHECK_BYTES);
    expect(asked).toHaveLength(1);
    conn.emit('handshake', { cs: { cipher: 'aes128-gcm' }, sc: { cipher: 'aes128-gcm' } });
    for (let i = 0; i < 3; i++) sock.move(REKEY_CHECK_BYTES, 0);
    expect(asked).toHaveLength(1);
    sock.move(REKEY_CHECK_BYTES, 0);
    expect(asked).toHaveLength(2);
    expect(asked[1]).toMatch(/received/);
  });

  it('re-keys on time alone, the timer starting again at each exchange; stops when the connection closes', () => {
    vi.useFakeTimers();
    const { sock, conn, asked } = watched({ seconds: 60 });
    vi.advanceTimersByTime(59_000);
    expect(asked).toHaveLength(0);
    vi.advanceTimersByTime(1_000);
    expect(asked).toHaveLength(1);
    vi.advanceTimersByTime(30_000);
    conn.emit('handshake', { cs: { cipher: 'aes128-gcm' } });
    vi.advanceTimersByTime(59_000);
    expect(asked).toHaveLength(1);
    vi.advanceTimersByTime(1_000);
    expect(asked).toHaveLength(2);
    conn.emit('handshake', { cs: { cipher: 'aes128-gcm' } });
    conn.emit('close');
    vi.advanceTimersByTime(120_000);
    expect(asked).toHaveLength(2);
    expect(sock.listenerCount('data')).toBe(0);
  });

  it('a timer that fires before the wall clock says the time is up looks again, and then re-keys', () => {
    vi.useFakeTimers();
    const { asked } = watched({ seconds: 60 });
    vi.setSystemTime(Date.now() - 5); // the wall clock lags the timers by 5 ms
    vi.advanceTimersByTime(60_000);
    expect(asked).toHaveLength(0);
    vi.advanceTimersByTime(10);
    expect(asked).toHaveLength(1);
  });

  it("takes the cipher's bound from each exchange: chacha20 after 1 GiB with no limit set", () => {
    const { sock, conn, asked } = watched({}, 'aes128-gcm@openssh.com');
    sock.move(2 ** 30, 0);
    expect(asked).toHaveLength(0);
    conn.emit('handshake', { cs: { cipher: 'chacha20-poly1305@openssh.com' } });
    sock.move(2 ** 30, 0);
    expect(asked).toHaveLength(1);
  });
});

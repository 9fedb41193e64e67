import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FtpObserver, type ObserverEvent } from './observer.js';

function observe(steps: Array<['c' | 's', string]>) {
  const events: ObserverEvent[] = [];
  const obs = new FtpObserver({ serverHost: '192.0.2.21', onEvent: (e) => events.push(e) });
  for (const [who, text] of steps) {
    const bytes = Buffer.from(text, 'latin1');
    if (who === 'c') obs.fromClient(bytes);
    else obs.fromServer(bytes);
  }
  return events;
}

describe('FtpObserver', () => {
  it('reports the endpoints of 227 and 229 replies to PASV/EPSV, and PORT/EPRT commands', () => {
    const events = observe([
      ['s', '220 hi\r\n'],
      ['c', 'PASV\r\n'],
      ['s', '227 PASV OK (192,0,2,21,117,48)\r\n'],
      ['c', 'EPSV\r\n'],
      ['s', '229 Entering Extended Passive Mode (|||30001|)\r\n'],
      ['c', 'PORT 127,0,0,1,195,80\r\n'],
      ['s', '200 ok\r\n'],
      ['c', 'EPRT |1|127.0.0.1|50001|\r\n'],
      ['s', '200 ok\r\n'],
    ]);
    expect(events).toEqual([
      { type: 'passive-announced', command: 'PASV', endpoint: { host: '192.0.2.21', port: 30000 } },
      { type: 'passive-announced', command: 'EPSV', endpoint: { host: '192.0.2.21', port: 30001 } },
      { type: 'active-announced', command: 'PORT', endpoint: { host: '127.0.0.1', port: 50000 } },
      { type: 'active-announced', command: 'EPRT', endpoint: { host: '127.0.0.1', port: 50001 } },
    ]);
  });

  it('ignores a 227 nobody asked for, and keeps pairing after a malformed PORT', () => {
    const events = observe([
      ['s', '220 hi\r\n'],
      ['c', 'NOOP\r\n'],
      ['s', '227 (192,0,2,9,4,1)\r\n'],
      ['c', 'PORT 1,2,3\r\n'],
      ['s', '501 bad\r\n'],
      ['c', 'PASV\r\n'],
      ['s', '227 (192,0,2,9,4,2)\r\n'],
    ]);
    expect(events.filter((e) => e.type === 'passive-announced')).toEqual([
      { type: 'passive-announced', command: 'PASV', endpoint: { host: '192.0.2.9', port: 1026 } },
    ]);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'protocol-error', direction: 'fromClient' }),
    );
  });

  it('stops after AUTH TLS is accepted', () => {
    const events = observe([
      ['s', '220 hi\r\n'],
      ['c', 'AUTH TLS\r\n'],
      ['s', '234 go\r\n'],
      ['c', 'PASV\r\n'],
      ['s', '227 (192,0,2,9,4,2)\r\n'],
    ]);
    expect(events).toEqual([{ type: 'tls-started' }]);
  });

  it('never throws on random bytes (seeded fuzz)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 200 })), { maxLength: 30 }),
        (steps) => {
          const obs = new FtpObserver({ serverHost: 'h', onEvent: () => {}, maxLineLength: 64 });
          for (const [c, b] of steps) c ? obs.fromClient(Buffer.from(b)) : obs.fromServer(Buffer.from(b));
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});

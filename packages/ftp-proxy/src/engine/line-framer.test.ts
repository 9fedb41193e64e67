import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineFramer, lineTerminator, lineText } from './line-framer.js';

function frame(chunks: Buffer[], max = 4096) {
  const framer = new LineFramer(max);
  const lines: Buffer[] = [];
  const overflows: number[] = [];
  for (const c of chunks)
    framer.push(
      c,
      (l) => lines.push(Buffer.from(l)),
      (n) => overflows.push(n),
    );
  return { lines, overflows, framer };
}

describe('LineFramer', () => {
  it('splits on CRLF and on a bare LF, keeping terminators', () => {
    const { lines } = frame([Buffer.from('USER a\r\nPASS b\nNOOP\r\n')]);
    expect(lines.map((l) => l.toString())).toEqual(['USER a\r\n', 'PASS b\n', 'NOOP\r\n']);
    expect(lineText(lines[0]!)).toBe('USER a');
    expect(lineTerminator(lines[0]!)).toBe('\r\n');
    expect(lineTerminator(lines[1]!)).toBe('\n');
  });
  it('keeps a partial line until its end arrives, byte by byte', () => {
    const bytes = Buffer.from('RETR caf\xe9\xff.txt\r\n', 'latin1');
    const { lines, framer } = frame([...bytes].map((b) => Buffer.from([b])));
    expect(Buffer.concat(lines).equals(bytes)).toBe(true);
    expect(framer.bufferedBytes).toBe(0);
  });
  it('reports an overlong line once and drops it up to the next LF, never buffering more than the limit', () => {
    const framer = new LineFramer(16);
    const lines: string[] = [];
    const overflows: number[] = [];
    for (let i = 0; i < 100; i++) {
      framer.push(
        Buffer.alloc(10, 0x41),
        (l) => lines.push(l.toString()),
        (n) => overflows.push(n),
      );
      expect(framer.bufferedBytes).toBeLessThanOrEqual(17);
    }
    framer.push(
      Buffer.from('tail\r\nNOOP\r\n'),
      (l) => lines.push(l.toString()),
      (n) => overflows.push(n),
    );
    expect(overflows).toHaveLength(1);
    expect(lines).toEqual(['NOOP\r\n']);
  });
  it('accepts a line of exactly the limit and refuses one byte more', () => {
    expect(frame([Buffer.from(`${'a'.repeat(16)}\r\n`)], 16).lines).toHaveLength(1);
    expect(frame([Buffer.from(`${'a'.repeat(17)}\r\n`)], 16).overflows).toHaveLength(1);
  });
  it('any chunking yields the same lines (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }),
        (parts, sizes) => {
          const input = Buffer.concat(parts.map((p) => Buffer.concat([Buffer.from(p), Buffer.from('\r\n')])));
          const whole = frame([input], 100).lines;
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < input.length; i++) {
            const n = sizes[i % sizes.length]!;
            chunks.push(input.subarray(at, at + n));
            at += n;
          }
          expect(frame(chunks, 100).lines).toEqual(whole);
        },
      ),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandFramer, type CommandTerminator } from './command-framer.js';

function frame(chunks: string[], max = 4096) {
  const framer = new CommandFramer(max);
  const lines: [string, CommandTerminator][] = [];
  const overflows: number[] = [];
  for (const c of chunks)
    framer.push(
      Buffer.from(c, 'latin1'),
      (content, t) => lines.push([content.toString('latin1'), t]),
      (n) => overflows.push(n),
    );
  return { lines, overflows, framer };
}

describe('CommandFramer', () => {
  it('ends a line at CRLF, at a bare LF, and at a CR not followed by LF', () => {
    expect(frame(['USER a\r\nPASS b\nABOR\rNOOP\r\n']).lines).toEqual([
      ['USER a', 'crlf'],
      ['PASS b', 'lf'],
      ['ABOR', 'cr'],
      ['NOOP', 'crlf'],
    ]);
  });

  it('ends a line at a CR that is the last byte seen, and takes an LF right after as part of it', () => {
    const { lines, framer } = frame(['ABOR\r']);
    expect(lines).toEqual([['ABOR', 'cr']]);
    framer.push(
      Buffer.from('\nNOOP\r\n'),
      (c, t) => lines.push([c.toString(), t]),
      () => {},
    );
    expect(lines).toEqual([
      ['ABOR', 'cr'],
      ['NOOP', 'crlf'],
    ]);
  });

  it('any chunking gives the same lines, none of them holding a CR or LF (property)', () => {
    const text = fc.stringMatching(/^[A-Za-z \r\n\x00\xff]{0,80}$/);
    fc.assert(
      fc.property(
        text,
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 6 }),
        (s, sizes) => {
          const whole = frame([s]).lines.map(([c]) => c);
          const pieces: string[] = [];
          for (let at = 0, i = 0; at < s.length; i++) {
            const n = sizes[i % sizes.length]!;
            pieces.push(s.slice(at, at + n));
            at += n;
          }
          const chunked = frame(pieces).lines.map(([c]) => c);
          // A CR at the end of a chunk ends its line early; the LF after it then ends no second line.
          expect(chunked).toEqual(whole);
          for (const line of chunked) expect(line).not.toMatch(/[\r\n]/);
        },
      ),
      { numRuns: 500, seed: 13 },
    );
  });

  it('reports an overlong line once and drops it, buffering no more than the limit', () => {
    const { lines, overflows, framer } = frame([`${'x'.repeat(50)}`, `${'y'.repeat(50)}\r\nNOOP\r\n`], 16);
    expect(overflows).toHaveLength(1);
    expect(lines).toEqual([['NOOP', 'crlf']]);
    expect(framer.bufferedBytes).toBe(0);
  });
});

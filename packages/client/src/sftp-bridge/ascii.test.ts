import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FromNetAscii, netAsciiLength, ToNetAscii } from './ascii.js';

/** Runs a converter over `input` cut at `cuts`. */
function chunked(conv: { push(b: Buffer): Buffer; end?(): Buffer }, input: Buffer, cuts: number[]): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < input.length)].sort((a, b) => a - b)) {
    out.push(conv.push(input.subarray(at, c)));
    at = c;
  }
  out.push(conv.push(input.subarray(at)));
  if (conv.end) out.push(conv.end());
  return Buffer.concat(out);
}

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a.map((x) => [10, 13, 65][x % 3]!)));
const cuts = fc.array(fc.nat({ max: 300 }), { maxLength: 10 });

describe('TYPE A conversion', () => {
  it('to the network: bare LF becomes CRLF, an existing CRLF stays', () => {
    expect(new ToNetAscii().push(Buffer.from('a\nb\r\nc\n')).toString()).toBe('a\r\nb\r\nc\r\n');
    expect(new ToNetAscii().push(Buffer.from('no line end')).toString()).toBe('no line end');
  });

  it('from the network: CRLF becomes LF, a lone CR stays, a CR at the very end stays', () => {
    const c = new FromNetAscii();
    expect(Buffer.concat([c.push(Buffer.from('a\r\nb\rc\r')), c.end()]).toString()).toBe('a\nb\rc\r');
  });

  it('a CRLF split across chunks is still one line end (both directions)', () => {
    const to = new ToNetAscii();
    expect(Buffer.concat([to.push(Buffer.from('a\r')), to.push(Buffer.from('\nb\n'))]).toString()).toBe(
      'a\r\nb\r\n',
    );
    const from = new FromNetAscii();
    expect(
      Buffer.concat([from.push(Buffer.from('a\r')), from.push(Buffer.from('\nb')), from.end()]).toString(),
    ).toBe('a\nb');
  });

  it('property: the result does not depend on where the chunks are cut', () => {
    fc.assert(
      fc.property(bytes, cuts, (input, cs) => {
        expect(chunked(new ToNetAscii(), input, cs)).toEqual(chunked(new ToNetAscii(), input, []));
        expect(chunked(new FromNetAscii(), input, cs)).toEqual(chunked(new FromNetAscii(), input, []));
      }),
    );
  });

  it('property: a Unix text file (no CR) comes back unchanged after a round trip', () => {
    fc.assert(
      fc.property(bytes, cuts, (raw, cs) => {
        const text = Buffer.from(raw.filter((b) => b !== 13));
        const net = chunked(new ToNetAscii(), text, cs);
        expect(chunked(new FromNetAscii(), net, cs)).toEqual(text);
      }),
    );
  });

  it('property: netAsciiLength counts what ToNetAscii produces', () => {
    fc.assert(
      fc.property(bytes, cuts, (input, cs) => {
        let prev = false;
        let n = 0;
        let at = 0;
        for (const c of [...cs.filter((x) => x > 0 && x < input.length)]
          .sort((a, b) => a - b)
          .concat(input.length)) {
          const part = input.subarray(at, c);
          n += netAsciiLength(part, prev);
          if (part.length) prev = part[part.length - 1] === 13;
          at = c;
        }
        expect(n).toBe(new ToNetAscii().push(input).length);
      }),
    );
  });
});

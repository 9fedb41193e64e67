import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { restoreLostDm, stripTelnet } from './telnet.js';

describe('Telnet sequences', () => {
  it('strips commands, keeps IAC IAC as one 0xFF, and drops only the IAC of a Synch whose DM was lost', () => {
    expect(stripTelnet('\xff\xf4\xff\xf2ABOR')).toBe('ABOR');
    expect(stripTelnet('\xff\xf4\xffABOR')).toBe('ABOR');
    expect(stripTelnet('RETR a\xff\xffb')).toBe('RETR a\xffb');
    expect(stripTelnet('\xff\xfb\x01NOOP')).toBe('NOOP');
  });
  it('puts back a lost DM and changes nothing else', () => {
    expect(restoreLostDm('\xff\xf4\xffABOR')).toBe('\xff\xf4\xff\xf2ABOR');
    expect(restoreLostDm('\xff\xf4\xff\xf2ABOR')).toBe('\xff\xf4\xff\xf2ABOR');
    expect(restoreLostDm('RETR a\xff\xffb')).toBe('RETR a\xff\xffb');
    expect(restoreLostDm('ABOR\xff')).toBe('ABOR\xff\xf2');
  });
  it('a restored line strips to what the original strips to (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z \xff\xf2\xf4]{0,30}$/), (s) => {
        expect(stripTelnet(restoreLostDm(s))).toBe(stripTelnet(s));
        expect(restoreLostDm(restoreLostDm(s))).toBe(restoreLostDm(s));
      }),
      { numRuns: 500, seed: 3 },
    );
  });
});

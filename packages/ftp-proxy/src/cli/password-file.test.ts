import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatPasswordHash,
  hashPassword,
  parsePasswordFile,
  parsePasswordHash,
  setPasswordLine,
  verifyPassword,
} from './password-file.js';

// Cheap parameters keep the suite fast; the default cost is covered once below.
const FAST = { ln: 10, r: 8, p: 1 };

describe('password hashes', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const h = await hashPassword('correct horse', FAST);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct hors', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('round-trips through its text form, and works with the default cost', async () => {
    const h = await hashPassword('s3cret');
    const text = formatPasswordHash(h);
    expect(text).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(await verifyPassword('s3cret', parsePasswordHash(text))).toBe(true);
  });

  it('an unknown user (no stored hash) is refused after the same work', async () => {
    expect(await verifyPassword('anything', undefined)).toBe(false);
  });

  it('refuses malformed hashes with what was expected', () => {
    expect(() => parsePasswordHash('plaintext')).toThrow(/expected \$scrypt\$ln=N,r=R,p=P\$salt\$hash/);
    expect(() =>
      parsePasswordHash('$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA'),
    ).toThrow(/out of range/);
  });
});

describe('password file', () => {
  it('reads users, reports bad lines by number and keeps the first of duplicates', async () => {
    const a = formatPasswordHash(await hashPassword('a', FAST));
    const b = formatPasswordHash(await hashPassword('b', FAST));
    const text = [
      '# users',
      `alice:${a}`,
      '',
      'bob:plain',
      `carol:${b}`,
      `alice:${b}`,
      'no colon',
      'bad user:x',
    ].join('\n');
    const { entries, problems } = parsePasswordFile(text);
    expect([...entries.keys()]).toEqual(['alice', 'carol']);
    expect(await verifyPassword('a', entries.get('alice'))).toBe(true);
    expect(problems.map((p) => p.line)).toEqual([4, 6, 7, 8]);
    expect(problems[1]!.message).toContain('appears twice');
  });

  it('setPasswordLine replaces the user line in place and keeps everything else', async () => {
    const h1 = await hashPassword('one', FAST);
    const h2 = await hashPassword('two', FAST);
    let text = setPasswordLine('', 'alice', h1);
    text = setPasswordLine(`# comment\n${text}`, 'bob', h1);
    text = setPasswordLine(text, 'alice', h2);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('# comment');
    expect(lines[1]).toBe(`alice:${formatPasswordHash(h2)}`);
    expect(lines[2]).toBe(`bob:${formatPasswordHash(h1)}`);
    expect(parsePasswordFile(text).problems).toEqual([]);
  });

  it('never throws on any text, and reads back every user it wrote (property)', async () => {
    const h = await hashPassword('x', FAST);
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const r = parsePasswordFile(text);
        expect(r.entries.size + r.problems.length).toBeLessThanOrEqual(text.split(/\r?\n/).length);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9._][A-Za-z0-9._@-]{0,20}$/), { maxLength: 8 }),
        (users) => {
          let text = '';
          for (const u of users) text = setPasswordLine(text, u, h);
          const { entries, problems } = parsePasswordFile(text);
          expect(problems).toEqual([]);
          expect([...entries.keys()].sort()).toEqual([...users].sort());
        },
      ),
      { numRuns: 200 },
    );
  });
});

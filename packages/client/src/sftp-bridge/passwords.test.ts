import { hashPassword, setPasswordLine } from '@ftpfwd/sshd';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePasswordFile, verifyLogin } from './passwords.js';

describe('FTP logins against an ftpfwd-sshd password file', () => {
  it('accepts the right password for a user written by ftpfwd-sshd, refuses others', async () => {
    const params = { ln: 10, r: 8, p: 1 };
    let text = setPasswordLine('# users\n', 'alice', await hashPassword('s3cret', params));
    text = setPasswordLine(text, 'bob', await hashPassword('other', params));
    const file = parsePasswordFile(text);
    expect(file.problems).toEqual([]);
    expect(await verifyLogin(file, 'alice', 's3cret')).toBe(true);
    expect(await verifyLogin(file, 'alice', 'other')).toBe(false);
    expect(await verifyLogin(file, 'bob', 'other')).toBe(true);
    expect(await verifyLogin(file, 'nobody', 's3cret')).toBe(false);
  });

  it('property: any text parses without throwing; each non-comment line is an entry or a problem', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constant('# c'), fc.constant(''))), (lines) => {
        const f = parsePasswordFile(lines.join('\n'));
        const meaningful = lines.filter(
          (l) => l.trim() !== '' && !l.trim().startsWith('#') && !/[\r\n]/.test(l),
        );
        expect(f.entries.size + f.problems.length).toBeGreaterThanOrEqual(Math.min(1, meaningful.length));
      }),
    );
  });

  it('names the lines it cannot read', () => {
    const file = parsePasswordFile(
      'ok:$scrypt$ln=99,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA\nbad line\n\n# c\n',
    );
    expect(file.entries.size).toBe(0);
    expect(file.problems).toEqual([
      'line 1: scrypt parameters out of range (ln 10-20, r 1-32, p 1-16)',
      'line 2: expected user:$scrypt$…',
    ]);
  });
});

import fc from 'fast-check';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { parseAuthorizedKeys, splitOptions } from './authorized-keys.js';
import { generateKeyPair } from './host-keys.js';
import { matchPermitListen, matchPermitOpen } from './policy.js';

// Pairs checked to parse back: ssh2 alone makes a malformed ed25519 pair ~0.5 % of the time.
const ed = generateKeyPair('ed25519', 'alice@laptop').public.trim();
const ec = generateKeyPair('ecdsa', 'bob').public.trim();
const rsa = generateKeyPair('rsa', 'carol').public.trim();
const bare = (line: string): string => line.split(' ').slice(0, 2).join(' ');

describe('parseAuthorizedKeys', () => {
  it('reads ed25519, ecdsa and rsa keys, skipping blanks and comments', () => {
    const text = `# keys\n\n${ed}\n   \n${ec}\r\n${bare(rsa)}\n`;
    const { keys, problems } = parseAuthorizedKeys(text, 'ak');
    expect(problems).toEqual([]);
    expect(keys.map((k) => [k.line, k.type, k.comment])).toEqual([
      [3, 'ssh-ed25519', 'alice@laptop'],
      [5, 'ecdsa-sha2-nistp256', 'bob'],
      [6, 'ssh-rsa', ''],
    ]);
    expect(
      keys[0]!.blob.equals(
        ssh2.utils.parseKey(ed) instanceof Error
          ? Buffer.alloc(0)
          : (ssh2.utils.parseKey(ed) as ssh2.ParsedKey).getPublicSSH(),
      ),
    ).toBe(true);
    expect(keys.every((k) => k.restrictions.noPortForwarding === false)).toBe(true);
  });

  it('honours from=, permitopen=, permitlisten=, no-port-forwarding, restrict and expiry-time', () => {
    const text = [
      `from="127.0.0.1,!10.0.0.1,192.0.2.0/24",permitopen="ftp.example:21",permitopen="[::1]:8080",permitlisten="localhost:9000" ${ed}`,
      `no-port-forwarding ${ec}`,
      `restrict,port-forwarding,permitlisten="*" ${bare(rsa)}`,
      `restrict,expiry-time="20300101Z" ${ed}`,
    ].join('\n');
    const { keys, problems } = parseAuthorizedKeys(text);
    expect(problems).toEqual([]);
    const [a, b, c, d] = keys.map((k) => k.restrictions);
    expect(a!.from!.matches('127.0.0.1')).toBe(true);
    expect(a!.from!.matches('::ffff:127.0.0.1')).toBe(true);
    expect(a!.from!.matches('192.0.2.77')).toBe(true);
    expect(a!.from!.matches('10.0.0.1')).toBe(false);
    expect(a!.from!.matches('198.51.100.1')).toBe(false);
    expect(matchPermitOpen(a!.permitOpen!, 'ftp.example', 21)).toBeDefined();
    expect(matchPermitOpen(a!.permitOpen!, 'ftp.example', 22)).toBeUndefined();
    expect(matchPermitOpen(a!.permitOpen!, '::1', 8080)).toBeDefined();
    expect(matchPermitListen(a!.permitListen!, 'localhost', 9000)).toBeDefined();
    expect(a!.noPortForwarding).toBe(false);
    expect(b!.noPortForwarding).toBe(true);
    expect(c!.noPortForwarding).toBe(false);
    expect(matchPermitListen(c!.permitListen!, '127.0.0.1', 0)).toBeDefined();
    expect(d!.noPortForwarding).toBe(true);
    expect(d!.expiresAt!.toISOString()).toBe('2030-01-01T00:00:00.000Z');
  });

  it('accepts session-only options (they have nothing to restrict here) and quoted values with commas', () => {
    const { keys, problems } = parseAuthorizedKeys(
      `no-pty,no-agent-forwarding,no-X11-forwarding,command="echo \\"a, b\\"",environment="A=1" ${ed}`,
    );
    expect(problems).toEqual([]);
    expect(keys).toHaveLength(1);
  });

  it('refuses lines it cannot honour and says which line and why', () => {
    const text = [
      `${ed}`, // 1 ok
      `frobnicate ${ec}`, // 2 unknown option
      `permitopen="nohost" ${ed}`, // 3 bad permitopen
      `from="10.0.0.0/99" ${ed}`, // 4 bad CIDR
      `cert-authority ${ed}`, // 5 unsupported
      `command="unterminated ${ed}`, // 6 quote
      'ssh-dss AAAAB3NzaC1kc3MAAACBAP', // 7 unsupported type
      'ssh-ed25519 !!!notbase64', // 8 bad data
      `ssh-rsa ${ed.split(' ')[1]}`, // 9 type mismatch
      `from="host.example.com" ${ed}`, // 10 host name (no DNS)
      `no-port-forwarding="x" ${ed}`, // 11 value on flag
      '# fine', // 12
    ].join('\n');
    const { keys, problems } = parseAuthorizedKeys(text, 'ak');
    expect(keys.map((k) => k.line)).toEqual([1]);
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(problems[0]!.message).toContain('unknown option "frobnicate"');
    expect(problems[1]!.message).toContain('permit-open');
    expect(problems[2]!.message).toContain('CIDR');
    expect(problems[3]!.message).toContain('cert-authority');
    expect(problems[4]!.message).toContain('closing double quote');
    expect(problems[5]!.message).toContain('ssh-dss is not supported');
    expect(problems[6]!.message).toContain('base64');
    expect(problems[7]!.message).toMatch(/ssh-rsa/);
    expect(problems[8]!.message).toContain('no host names');
    expect(problems[9]!.message).toContain('takes no value');
  });

  it('never throws, whatever the text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const r = parseAuthorizedKeys(text);
        expect(r.keys.length + r.problems.length).toBeLessThanOrEqual(text.split(/\r?\n/).length);
      }),
      { numRuns: 300 },
    );
  });

  it('reads back any quoted option value and any comment (property)', () => {
    const printable = fc.string({ minLength: 0, maxLength: 40 }).filter((s) => !/[\r\n\\]/.test(s));
    fc.assert(
      fc.property(printable, fc.stringMatching(/^[!-~]{1,20}$/), (value, comment) => {
        const line = `command="${value.replace(/"/g, '\\"')}" ${bare(ed)} ${comment}`;
        const { options, rest } = splitOptions(line);
        expect(options).toEqual([{ name: 'command', value }]);
        const { keys, problems } = parseAuthorizedKeys(line);
        expect(problems).toEqual([]);
        expect(keys[0]!.comment).toBe(comment);
        expect(rest.startsWith('ssh-ed25519 ')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

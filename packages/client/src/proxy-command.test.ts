import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FtpfwdError } from './errors.js';
import { expandProxyTokens, proxyArgv, splitCommand, startProxyCommand } from './proxy-command.js';

const tokens = { host: 'ftp.internal', port: 2222, user: 'alice', originalHost: 'ftp' };

describe('ProxyCommand tokens', () => {
  it('expands %h %p %r %n and %%, as OpenSSH', () => {
    expect(expandProxyTokens('ssh -W %h:%p -l %r bastion # %n 100%%', tokens)).toBe(
      'ssh -W ftp.internal:2222 -l alice bastion # ftp 100%',
    );
    expect(expandProxyTokens('nc %h %p', { ...tokens, host: '::1' })).toBe('nc ::1 2222');
  });
  it.each([
    ['nc %h %x', /unknown token %x/],
    ['nc %h %', /unknown token % at the end/],
    ['nc %C', /unknown token %C/],
  ])('refuses %j naming the token', (cmd, why) => {
    expect(() => expandProxyTokens(cmd, tokens)).toThrow(why);
    expect(() => expandProxyTokens(cmd, tokens)).toThrow(FtpfwdError);
  });
  it('leaves text without % alone and never expands twice (property)', () => {
    const plain = fc.string().filter((s) => !s.includes('%'));
    fc.assert(
      fc.property(
        plain,
        plain,
        fc.string().filter((s) => !s.includes('%')),
        (a, b, host) => {
          expect(expandProxyTokens(a, tokens)).toBe(a);
          // A host that itself looks like a token stays as it is.
          const t = { ...tokens, host: `${host}%p` };
          expect(expandProxyTokens(`${a}%h${b}`, t)).toBe(`${a}${host}%p${b}`);
          expect(expandProxyTokens(`${a}%%h${b}`, t)).toBe(`${a}%h${b}`);
        },
      ),
    );
  });
});

describe('running without a shell', () => {
  it('splits plain commands and quoted words itself', () => {
    expect(splitCommand('ssh -o "UserKnownHostsFile=/a b" -W 127.0.0.1:22 jump')).toEqual([
      'ssh',
      '-o',
      'UserKnownHostsFile=/a b',
      '-W',
      '127.0.0.1:22',
      'jump',
    ]);
    expect(splitCommand("nc  -X connect -x 'proxy:3128' host 22")).toEqual([
      'nc',
      '-X',
      'connect',
      '-x',
      'proxy:3128',
      'host',
      '22',
    ]);
    expect(splitCommand("a '' b")).toEqual(['a', '', 'b']);
  });
  it.each([
    'nc $HOST 22',
    'ssh bastion nc h 22 | tee log',
    'corkscrew proxy 3128 h 22 ~/.ssh/auth',
    'FOO=1 nc h 22',
    'nc h 22; echo',
    'nc "unbalanced',
    'nc h\\ 22',
    'nc "$x"',
    'nc [::1] 22',
    '',
  ])('hands %j to the shell', (cmd) => {
    expect(splitCommand(cmd)).toBeUndefined();
    expect(proxyArgv(cmd, '/bin/sh')).toEqual(['/bin/sh', '-c', `exec ${cmd}`]);
  });
  it('a split argv, joined back with quotes, splits to the same argv (property)', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_.:@%+=,/-]{1,12}$/);
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            word,
            word.map((w) => `${w} ${w}`),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        (ws) => {
          fc.pre(!/^[A-Za-z_][A-Za-z0-9_]*=/.test(ws[0] as string));
          const text = ws.map((w) => (w.includes(' ') ? `'${w}'` : w)).join(' ');
          expect(splitCommand(text)).toEqual(ws);
        },
      ),
    );
  });
});

describe('the ProxyCommand stream', () => {
  it('carries bytes both ways, counts them, and ends with the exit status as its reason', async () => {
    // Echoes what it reads, then exits 3 once its input ends.
    const s = startProxyCommand(
      `${process.execPath} -e "process.stdin.pipe(process.stdout); process.stdin.on('end', () => process.exitCode = 3)"`,
      tokens,
    );
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(Buffer.from('hello %h'));
    s.end();
    await new Promise((r) => s.once('close', r));
    expect(Buffer.concat(got).toString()).toBe('hello %h');
    expect(s.bytesWritten).toBe(8);
    expect(s.bytesRead).toBe(8);
    expect(s.exitReason()).toMatch(/ProxyCommand ".*" exited with status 3$/);
  });
  it('a program that is not there is reported as such', async () => {
    const s = startProxyCommand('/nonexistent/proxy %h %p', tokens);
    s.on('data', () => {});
    await new Promise((r) => s.once('close', r));
    expect(s.exitReason()).toBe(
      'ProxyCommand "/nonexistent/proxy ftp.internal 2222" could not be run: program not found',
    );
  });
  it('a shell command runs through $SHELL -c exec', async () => {
    const s = startProxyCommand('echo %r@%h:%p | cat', tokens);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    await new Promise((r) => s.once('close', r));
    expect(Buffer.concat(got).toString()).toBe('alice@ftp.internal:2222\n');
    expect(s.exitReason()).toMatch(/exited with status 0/);
  });
});

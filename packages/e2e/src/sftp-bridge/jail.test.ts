/**
 * --sftp-jail against OpenSSH's real SFTP server: `..`, absolute paths and symbolic links that the
 * server resolves to somewhere outside are all refused, and nothing outside is read, written or
 * changed. Links that stay inside work.
 */
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Bridge,
  bridgeModule,
  Cleanup,
  ftplib,
  recordingLogger,
  sshConnect,
  startSshd,
  tempDir,
} from './support.js';

const c = new Cleanup();
let bridge: Bridge;
let jail: string;
let outside: string;
let records: Record<string, unknown>[];

beforeAll(async () => {
  const mod = await bridgeModule();
  const sshd = await startSshd(c);
  const client = await sshConnect(c, sshd);
  const base = tempDir(c, 'ftpfwd-sftpb-jail-');
  jail = join(base, 'jail');
  outside = join(base, 'outside');
  mkdirSync(join(jail, 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(jail, 'in.txt'), 'inside\n');
  writeFileSync(join(outside, 'secret.txt'), 'secret\n');
  symlinkSync(outside, join(jail, 'out'));
  symlinkSync(join(outside, 'secret.txt'), join(jail, 'outfile'));
  symlinkSync(join(outside, 'created-through-link'), join(jail, 'dangling'));
  symlinkSync('../outside', join(jail, 'relative-out'));
  symlinkSync('sub', join(jail, 'subln'));
  const log = recordingLogger();
  records = log.records;
  bridge = await mod.startSftpBridge({
    listen: { host: '127.0.0.1', port: 0 },
    remoteDir: jail,
    jail: true,
    login: 'tunnel',
    openSftp: () => mod.sessionFromClient(client),
    logger: log.logger,
  });
  c.add(() => bridge.close());
});
afterAll(() => c.run());

describe('sftp jail against OpenSSH', () => {
  it('refuses every way out, and touches nothing outside', async () => {
    const secretMode = statSync(join(outside, 'secret.txt')).mode;
    const out = await ftplib(
      bridge.listen.port,
      `
out['pwd'] = f.pwd()
for line in ['CWD ..', 'CDUP', 'CWD ../outside', 'CWD /..', 'CWD out', 'CWD relative-out', 'SIZE outfile',
             'SIZE ../outside/secret.txt', 'SIZE ${outside}/secret.txt', 'MDTM out/secret.txt',
             'SITE CHMOD 777 outfile', 'MFMT 20000101000000 outfile', 'MKD out/made', 'MKD ../made',
             'DELE out/secret.txt', 'RNFR in.txt', 'RNTO out/moved.txt', 'RMD /', 'MLST out', 'STAT out']:
    out[line] = cmd(line)
out['stor dangling'] = stor('dangling', b'x')
out['stor out/new'] = stor('out/new', b'x')
out['stor ../x'] = stor('../x', b'x')
try:
    out['retr'] = f.retrbinary('RETR outfile', lambda b: None)
except ftplib.all_errors as e:
    out['retr'] = str(e)
try:
    out['list out'] = f.nlst('out')
except ftplib.all_errors as e:
    out['list out'] = str(e)
`,
    );
    expect(out.pwd).toBe('/');
    for (const [k, v] of Object.entries(out)) {
      if (k === 'pwd') continue;
      // RNFR in.txt is fine (350); its RNTO out of the jail is the refusal
      if (k === 'RNFR in.txt') expect(v).toMatch(/^350/);
      else expect([k, String(v).slice(0, 3)]).toEqual([k, '550']);
    }
    expect(String(out['CWD out'])).toMatch(/leaves the jail/);
    expect(String(out['stor dangling'])).toMatch(/leaves the jail/);
    expect(existsSync(join(outside, 'created-through-link'))).toBe(false);
    expect(existsSync(join(outside, 'made'))).toBe(false);
    expect(existsSync(join(outside, 'new'))).toBe(false);
    expect(existsSync(join(outside, 'moved.txt'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret\n');
    expect(statSync(join(outside, 'secret.txt')).mode).toBe(secretMode);
    expect(existsSync(join(jail, 'in.txt'))).toBe(true);
    expect(records.filter((r) => r.msg === 'path refused').length).toBeGreaterThanOrEqual(15);
  });

  it('inside is usable: links within the jail, absolute paths meaning the jail, uploads', async () => {
    const out = await ftplib(
      bridge.listen.port,
      `
out['cwd'] = cmd('CWD subln')
out['pwd'] = f.pwd()
out['stor'] = stor('/sub/up.txt', b'up')
out['size'] = cmd('SIZE /in.txt')
out['cwd root'] = cmd('CWD /')
out['names'] = sorted(f.nlst())
out['dele link'] = cmd('DELE out')
`,
    );
    expect(out.cwd).toBe('250 Directory changed to /sub');
    expect(out.pwd).toBe('/sub');
    expect(String(out.stor)).toMatch(/^226/);
    expect(readFileSync(join(jail, 'sub/up.txt'), 'utf8')).toBe('up');
    expect(out.size).toBe('213 7');
    expect(out.names).toEqual(['dangling', 'in.txt', 'out', 'outfile', 'relative-out', 'sub', 'subln']);
    // DELE removes the link itself, never what it points to
    expect(String(out['dele link'])).toMatch(/^250/);
    expect(existsSync(join(jail, 'out'))).toBe(false);
    expect(existsSync(join(outside, 'secret.txt'))).toBe(true);
  });
});

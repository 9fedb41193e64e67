import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forwardKey } from './gateway.js';
import { gatewayPlanFromArgs, planFromArgs } from './plan.js';
import { isLoopback, parseSftpLogin } from './sftp-forward.js';

const dir = mkdtempSync(join(tmpdir(), 'ftpfwd-sftp-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { HOME: dir, USER: 'alice' };
const plan = (...argv: string[]) => planFromArgs([...argv, '-F', 'none', 'alice@files'], env);
const yaml = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('--sftp-login', () => {
  it('is tunnel, ssh or a password file, ~ expanded', () => {
    expect(parseSftpLogin('tunnel')).toBe('tunnel');
    expect(parseSftpLogin('ssh')).toBe('ssh');
    expect(parseSftpLogin('~/ftp.passwd', '/home/a')).toEqual({ passwordFile: '/home/a/ftp.passwd' });
    expect(() => parseSftpLogin(' ')).toThrow(/expected tunnel, ssh or a password file/);
  });

  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1', 'localhost'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.0.2.1', '2001:db8::1', '128.0.0.1'])
      expect(isLoopback(h), h).toBe(false);
  });
});

describe('sftp/ forwardings in the plan', () => {
  it('carry the command line’s --sftp-login and --sftp-jail; other forwardings do not', () => {
    const p = plan('-L', 'sftp/2121:/srv', '-L', 'ftp/2122:ftp:21', '--sftp-login', 'ssh', '--sftp-jail');
    const [sftp, ftp] = p.forwardings;
    expect(sftp?.spec).toMatchObject({ protocol: 'sftp', bindPort: 2121, remoteDir: '/srv' });
    expect(sftp?.sftp).toEqual({ login: 'ssh', jail: true });
    expect(ftp?.sftp).toBeUndefined();
  });

  it('default to the tunnel’s identity on loopback, without a jail', () => {
    expect(plan('-L', 'sftp/2121').forwardings[0]?.sftp).toEqual({});
  });

  it('refuse the tunnel’s identity beyond loopback (-g, *, an address) before connecting', () => {
    for (const argv of [
      ['-g', '-L', 'sftp/2121'],
      ['-L', 'sftp/*:2121'],
      ['-L', 'sftp/192.0.2.10:2121'],
      ['-g', '-L', 'sftp/2121', '--sftp-login', 'tunnel'],
    ])
      expect(() => plan(...argv), argv.join(' ')).toThrow(
        /would listen on .* with alice's own SSH identity.*--sftp-login ssh.*--sftp-login FILE/,
      );
    // An explicit loopback bind with -g is still loopback; a login check makes any bind fine.
    expect(plan('-g', '-L', 'sftp/127.0.0.1:2121').forwardings).toHaveLength(1);
    expect(plan('-g', '-L', 'sftp/2121', '--sftp-login', 'ssh').forwardings[0]?.sftp?.login).toBe('ssh');
    expect(
      plan('-g', '-L', 'sftp/2121', '--sftp-login', '/etc/ftpfwd/ftp.passwd').forwardings[0]?.sftp,
    ).toEqual({
      login: { passwordFile: '/etc/ftpfwd/ftp.passwd' },
    });
  });

  it('come from a single-destination config file, the command line winning', () => {
    const f = yaml(
      'single.yaml',
      'destination: alice@files\nlocal: ["sftp/2121:/data"]\nsftpLogin: ssh\nsftpJail: true\n',
    );
    const p = planFromArgs(['--config', f, '-F', 'none', '--sftp-login', join(dir, 'pw')], env);
    expect(p.forwardings[0]?.sftp).toEqual({ login: { passwordFile: join(dir, 'pw') }, jail: true });
  });

  it('take per-forwarding sftpLogin/sftpJail in a gateway file, over the destination’s', () => {
    const f = yaml(
      'gw.yaml',
      [
        'destinations:',
        '  files:',
        '    destination: alice@files',
        '    sftpJail: true',
        '    forwards:',
        '      - { local: "sftp/0.0.0.0:2121:/pub", sftpLogin: ssh }',
        '      - { local: "sftp/2122:/home/alice", sftpJail: false }',
        '',
      ].join('\n'),
    );
    const g = gatewayPlanFromArgs(['--config', f], env);
    const d = g.destinations[0];
    expect(d?.forwardings.map((x) => x.sftp)).toEqual([{ login: 'ssh', jail: true }, { jail: false }]);
    // A reload that changes only the login is a different forwarding (restarted, not kept).
    const [a] = d?.forwardings ?? [];
    if (!a || !d) throw new Error('no plan');
    expect(forwardKey(a, d)).not.toBe(forwardKey({ ...a, sftp: { login: 'tunnel', jail: true } }, d));
  });

  it('refuse sftpLogin on a forwarding that is not sftp/, naming the key and line', () => {
    const f = yaml(
      'bad.yaml',
      'destinations:\n  files:\n    destination: alice@files\n    forwards:\n      - { local: "ftp/2121:ftp:21", sftpLogin: ssh }\n',
    );
    expect(() => gatewayPlanFromArgs(['--config', f], env)).toThrow(
      /line 5: destinations\.files\.forwards\.0\.sftpLogin: sftpLogin applies to sftp\/ forwardings only/,
    );
  });

  it('refuse -R sftp/ with the reason', () => {
    expect(() => plan('-R', 'sftp/2121')).toThrow(/-L forwarding only/);
  });
});

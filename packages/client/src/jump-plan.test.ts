import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tunnelOptionsOf } from './gateway.js';
import { silentLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { planFromArgs } from './plan.js';

const dir = mkdtempSync(join(tmpdir(), 'ftpfwd-jump-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { HOME: dir, USER: 'alice' };

function config(lines: string[]): string {
  const f = join(dir, `ssh_config-${Math.random().toString(36).slice(2)}`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}

const L = ['-L', '2121:ftp:21'];

describe('jump hosts in the plan', () => {
  it('-J hops take their own Host blocks; user@ and :port in -J win; the command line’s -o stays the destination’s', () => {
    const cfg = config([
      'Host jump1',
      '  HostName 192.0.2.1',
      '  User bastion',
      '  Port 2201',
      '  IdentityFile ~/.ssh/jump_key',
      '  UserKnownHostsFile ~/.ssh/known_jumps',
      '  ServerAliveInterval 7',
      '  Ciphers aes256-ctr',
      '  ForwardAgent yes',
      'Host jump2',
      '  HostName 192.0.2.2',
      'Host target',
      '  HostName 198.51.100.9',
      '  ProxyJump nowhere',
    ]);
    const p = planFromArgs(
      [
        '-F',
        cfg,
        '-J',
        'jump1,bob@jump2:2222',
        '-o',
        'UserKnownHostsFile=/dest/known',
        '-o',
        'BatchMode=yes',
        ...L,
        'target',
      ],
      env,
    );
    expect(p.host).toBe('198.51.100.9');
    expect(p.ssh.proxy).toEqual({
      kind: 'jump',
      hops: [
        { user: undefined, host: 'jump1', port: undefined },
        { user: 'bob', host: 'jump2', port: 2222 },
      ],
    });
    expect(p.jumps.map((h) => [h.name, h.host, h.port, h.user])).toEqual([
      ['jump1', '192.0.2.1', 2201, 'bastion'],
      ['jump2', '192.0.2.2', 2222, 'bob'],
    ]);
    const [j1, j2] = p.jumps;
    expect(j1?.ssh.identityFiles).toEqual([`${dir}/.ssh/jump_key`]);
    expect(j1?.identitiesExplicit).toBe(true);
    expect(j1?.ssh.userKnownHostsFiles).toEqual([`${dir}/.ssh/known_jumps`]);
    expect(j1?.ssh.serverAliveInterval).toBe(7);
    expect(j1?.ssh.algorithms).toEqual({ cipher: 'aes256-ctr' });
    // -o UserKnownHostsFile is the destination's (as OpenSSH's -o); BatchMode is inherited.
    expect(j2?.ssh.userKnownHostsFiles).toBeUndefined();
    expect(j2?.ssh.batchMode).toBe(true);
    expect(j2?.ssh.identityFiles).toEqual(
      ['id_rsa', 'id_ecdsa', 'id_ed25519'].map((n) => `${dir}/.ssh/${n}`),
    );
    expect(p.ignoredConfigKeys).toContain('forwardagent');
  });

  it('the first hop’s own ProxyJump is followed (and its ProxyCommand kept); later hops’ are not', () => {
    const cfg = config([
      'Host target',
      '  ProxyJump mid',
      'Host mid',
      '  ProxyJump edge',
      'Host edge',
      '  ProxyCommand nc -X connect -x proxy:3128 %h %p',
      'Host other',
      '  ProxyJump nowhere',
    ]);
    const p = planFromArgs(['-F', cfg, ...L, 'target'], env);
    expect(p.jumps.map((h) => h.name)).toEqual(['edge', 'mid']);
    expect(p.jumps[0]?.ssh.proxy).toEqual({ kind: 'command', command: 'nc -X connect -x proxy:3128 %h %p' });
    const q = planFromArgs(['-F', cfg, '-J', 'edge,other', ...L, 'target'], env);
    expect(q.jumps.map((h) => h.name)).toEqual(['edge', 'other']);
    // The library options: each hop's own, the first with its ProxyCommand.
    const t = tunnelOptionsOf(p, silentLogger(), new Metrics());
    expect(t.jumps?.map((j) => j.host)).toEqual(['edge', 'mid']);
    expect(t.jumps?.[0]?.proxyCommand).toBe('nc -X connect -x proxy:3128 %h %p');
    expect(t.proxyCommand).toBeUndefined();
  });

  it('ProxyJump none and ProxyCommand: whichever comes first wins; Host * naming the jump host itself is no loop', () => {
    const cfg = config(['Host target', '  ProxyCommand ssh -W %h:%p gw', 'Host *', '  ProxyJump bastion']);
    const p = planFromArgs(['-F', cfg, ...L, 'target'], env);
    expect(p.jumps).toEqual([]);
    expect(tunnelOptionsOf(p, silentLogger(), new Metrics()).proxyCommand).toBe('ssh -W %h:%p gw');
    expect(planFromArgs(['-F', cfg, '-J', 'none', ...L, 'target'], env).ssh.proxy).toEqual({ kind: 'none' });
    const viaBastion = planFromArgs(['-F', cfg, ...L, 'elsewhere'], env);
    expect(viaBastion.jumps.map((h) => h.name)).toEqual(['bastion']);
  });

  it('a ProxyJump loop in ssh_config is an error, not a hang', () => {
    const cfg = config(['Host a', '  ProxyJump b', 'Host b', '  ProxyJump a']);
    expect(() => planFromArgs(['-F', cfg, '-J', 'a', ...L, 'target'], env)).toThrow(
      /more than 8 levels of jump hosts/,
    );
  });

  it('-b, -4/-6 go to the connection that leaves this host: the first hop when there are hops', () => {
    const p = planFromArgs(['-F', 'none', '-b', '127.0.0.2', '-6', '-J', 'j1,j2', ...L, 'target'], env);
    expect(p.ssh).toMatchObject({ bindAddress: '127.0.0.2', addressFamily: 'inet6' });
    expect(p.jumps[0]?.ssh).toMatchObject({ bindAddress: '127.0.0.2', addressFamily: 'inet6' });
    expect(p.jumps[1]?.ssh.bindAddress).toBeUndefined();
    expect(() => planFromArgs(['-4', '-6', ...L, 'target'], env)).toThrow(/-4 and -6 exclude each other/);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planFromArgs } from './cli.js';
import { backoffDelay } from './link.js';
import { applyOption, emptySshOptions, parseDashO } from './options.js';

const dir = mkdtempSync(join(tmpdir(), 'ftpfwd-opt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { HOME: dir, USER: 'alice' };

describe('-o options', () => {
  it('parse Key=Value and "Key Value"; first value wins; lists accumulate', () => {
    expect(parseDashO('Port=2222')).toEqual(['Port', '2222']);
    expect(parseDashO('StrictHostKeyChecking accept-new')).toEqual(['StrictHostKeyChecking', 'accept-new']);
    const o = emptySshOptions();
    applyOption(o, 'port', '2222', '-o', dir);
    applyOption(o, 'Port', '22', 'config', dir);
    applyOption(o, 'IdentityFile', '~/.ssh/a', '-o', dir);
    applyOption(o, 'IdentityFile', '/b', '-o', dir);
    expect(o.port).toBe(2222);
    expect(o.identityFiles).toEqual([`${dir}/.ssh/a`, '/b']);
  });
  it('an unknown option or a bad value is an error that names it', () => {
    expect(() => applyOption(emptySshOptions(), 'ProxyJumps', 'x', '-o')).toThrow(
      /-o: unknown option "ProxyJumps"/,
    );
    expect(() => applyOption(emptySshOptions(), 'BatchMode', 'maybe', '-o')).toThrow(
      /BatchMode: expected yes or no, got "maybe"/,
    );
    expect(() => applyOption(emptySshOptions(), 'StrictHostKeyChecking', 'sometimes', '-o')).toThrow(
      /expected yes, accept-new, no or ask/,
    );
    expect(() => applyOption(emptySshOptions(), 'RekeyLimit', '1G whenever', '-o')).toThrow(
      /-o: RekeyLimit: expected a time such as 3600, 30m or 1h.*got "whenever"/,
    );
  });
  it('RekeyLimit as OpenSSH writes it, from -o or an ssh_config line', () => {
    const o = emptySshOptions();
    applyOption(o, 'rekeylimit', '512M 1h', '-o', dir);
    applyOption(o, 'RekeyLimit', '1G', 'config', dir);
    expect(o.rekeyLimit).toEqual({ bytes: 512 * 2 ** 20, seconds: 3600 });
  });
});

describe('connection options', () => {
  it('ProxyJump: hops in order, user and port per hop, [v6]; none; the first of ProxyJump/ProxyCommand wins', () => {
    const o = emptySshOptions();
    applyOption(o, 'ProxyJump', 'alice@jump1:2200,[::1]:22,ssh://bob@jump3', '-o', dir);
    expect(o.proxy).toEqual({
      kind: 'jump',
      hops: [
        { user: 'alice', host: 'jump1', port: 2200 },
        { user: undefined, host: '::1', port: 22 },
        { user: 'bob', host: 'jump3', port: undefined },
      ],
    });
    applyOption(o, 'ProxyCommand', 'nc %h %p', 'config', dir);
    expect(o.proxy?.kind).toBe('jump');
    const c = emptySshOptions();
    applyOption(c, 'proxycommand', 'ssh -W %h:%p bastion', '-o', dir);
    applyOption(c, 'ProxyJump', 'jump1', 'config', dir);
    expect(c.proxy).toEqual({ kind: 'command', command: 'ssh -W %h:%p bastion' });
    const n = emptySshOptions();
    applyOption(n, 'ProxyJump', 'none', '-o', dir);
    applyOption(n, 'ProxyCommand', 'nc %h %p', 'config', dir);
    expect(n.proxy).toEqual({ kind: 'none' });
    expect(() => applyOption(emptySshOptions(), 'ProxyJump', 'a,,b', '-o')).toThrow(/empty hop/);
    expect(() => applyOption(emptySshOptions(), 'ProxyJump', 'a:99999', '-o')).toThrow(/port "99999"/);
  });
  it('BindAddress, AddressFamily, ConnectionAttempts', () => {
    const o = emptySshOptions();
    applyOption(o, 'BindAddress', '127.0.0.2', '-o', dir);
    applyOption(o, 'AddressFamily', 'INET6', '-o', dir);
    applyOption(o, 'ConnectionAttempts', '3', '-o', dir);
    expect(o).toMatchObject({ bindAddress: '127.0.0.2', addressFamily: 'inet6', connectionAttempts: 3 });
    expect(() => applyOption(emptySshOptions(), 'AddressFamily', 'ipx', '-o')).toThrow(
      /AddressFamily: expected any, inet or inet6, got "ipx"/,
    );
    expect(() => applyOption(emptySshOptions(), 'ConnectionAttempts', '0', '-o')).toThrow(/1-1000/);
  });
  it('algorithm lists are checked when given, named in the error, first value wins', () => {
    const o = emptySshOptions();
    applyOption(o, 'Ciphers', '^aes256-ctr', '-o', dir);
    applyOption(o, 'Ciphers', 'aes128-ctr', 'config', dir);
    applyOption(o, 'PubkeyAcceptedKeyTypes', '-ssh-rsa', 'config', dir);
    applyOption(o, 'KexAlgorithms', 'sntrup761x25519-sha512@openssh.com,curve25519-sha256', 'config', dir);
    expect(o.algorithms).toEqual({
      cipher: '^aes256-ctr',
      pubkey: '-ssh-rsa',
      kex: 'sntrup761x25519-sha512@openssh.com,curve25519-sha256',
    });
    expect(() => applyOption(emptySshOptions(), 'MACs', 'hmac-sha2-256,hmac-rot13', '-o')).toThrow(
      /^-o: MACs "hmac-sha2-256,hmac-rot13": unknown algorithm "hmac-rot13" \(supported: /,
    );
    expect(() => applyOption(emptySshOptions(), 'HostKeyAlgorithms', '-*', '-o')).toThrow(
      /leaves no algorithm/,
    );
  });
});

describe('planFromArgs', () => {
  it('merges the command line, ssh_config Host/Match blocks and defaults', () => {
    const cfg = join(dir, 'ssh_config');
    writeFileSync(
      cfg,
      [
        'Host bastion',
        '  HostName 127.0.0.9',
        '  User bob',
        '  Port 2200',
        '  IdentityFile ~/.ssh/bastion_key',
        '  LocalForward 2121 ftp.internal:21',
        '  ServerAliveInterval 15',
        '  ForwardAgent yes',
        'Match host 127.0.0.9',
        '  ConnectTimeout 7',
        'Host *',
        '  StrictHostKeyChecking accept-new',
      ].join('\n'),
    );
    const p = planFromArgs(['-F', cfg, '-p', '2222', '-L', 'ftp/2122:ftp.internal:21', 'bastion'], env);
    expect(p.host).toBe('127.0.0.9');
    expect(p.port).toBe(2222);
    expect(p.user).toBe('bob');
    expect(p.ssh.identityFiles).toEqual([`${dir}/.ssh/bastion_key`]);
    expect(p.ssh.serverAliveInterval).toBe(15);
    expect(p.ssh.connectTimeout).toBe(7); // Match host sees the HostName, as in OpenSSH
    expect(p.ssh.strictHostKeyChecking).toBe('accept-new');
    expect(p.forwards.map((f) => `${f.protocol}:${f.bindPort}`)).toEqual(['ftp:2122', 'tcp:2121']);
    expect(p.ignoredConfigKeys).toContain('forwardagent');
  });

  it('ssh:// destinations, defaults and the ftp options', () => {
    const p = planFromArgs(
      [
        '-g',
        '--advertise',
        '203.0.113.7',
        '--data-ports',
        '40000-40099',
        '--pasv-target',
        'reply',
        '--remote-data-bind',
        '0.0.0.0',
        '--remote-data-advertise',
        '192.0.2.10',
        '--metrics',
        '127.0.0.1:9464',
        '-L',
        'ftp/2121:ftp:21',
        'ssh://carol@192.0.2.1:2022',
      ],
      env,
    );
    expect(p).toMatchObject({
      host: '192.0.2.1',
      port: 2022,
      user: 'carol',
      advertise: '203.0.113.7',
      dataPorts: { lo: 40000, hi: 40099 },
      pasvTarget: 'reply',
      remoteDataBind: '0.0.0.0',
      remoteDataAdvertise: '192.0.2.10',
      metrics: { host: '127.0.0.1', port: 9464 },
    });
    expect(p.ssh.gatewayPorts).toBe(true);
    expect(p.ssh.identityFiles).toEqual(['id_rsa', 'id_ecdsa', 'id_ed25519'].map((n) => `${dir}/.ssh/${n}`));
    expect(p.identitiesExplicit).toBe(false);
  });

  it('--config YAML: same settings, command line wins, unknown keys named', () => {
    const y = join(dir, 'c.yaml');
    writeFileSync(
      y,
      'destination: dave@192.0.2.2\nport: 2200\noptions:\n  StrictHostKeyChecking: "yes"\n  BatchMode: true\nlocal: ["ftp/2121:ftp:21"]\n',
    );
    const p = planFromArgs(['--config', y, '-p', '2201'], env);
    expect(p).toMatchObject({ host: '192.0.2.2', user: 'dave', port: 2201 });
    expect(p.ssh.batchMode).toBe(true);
    writeFileSync(y, 'destination: x\nlocall: []\n');
    expect(() => planFromArgs(['--config', y], env)).toThrow(/unknown key\(s\) locall/);
  });

  it('usage errors say what was expected', () => {
    expect(() => planFromArgs(['-L', '2121:ftp:21'], env)).toThrow(/no destination/);
    expect(() => planFromArgs(['host'], env)).toThrow(/nothing to forward/);
    expect(() => planFromArgs(['--data-ports', '9-1', '-L', '1:h:2', 'host'], env)).toThrow(/LO-HI/);
    expect(() => planFromArgs(['-o', 'Bogus=1', '-L', '1:h:2', 'host'], env)).toThrow(
      /unknown option "Bogus"/,
    );
    expect(() => planFromArgs(['--nope', 'host'], env)).toThrow(/unknown option '--nope'/);
  });
});

describe('reconnect back-off', () => {
  it('grows exponentially, is capped, and jitters within 50–100 %', () => {
    expect(backoffDelay(0, 500, 30_000, () => 1)).toBe(500);
    expect(backoffDelay(3, 500, 30_000, () => 1)).toBe(4000);
    expect(backoffDelay(20, 500, 30_000, () => 1)).toBe(30_000);
    expect(backoffDelay(20, 500, 30_000, () => 0)).toBe(15_000);
  });
});

describe('ftpfwd -Q', () => {
  it('lists what ssh2 supports, one name a line, and exits 0; an unknown query is one line and 255', async () => {
    const { main } = await import('./cli.js');
    const out: string[] = [];
    const err: string[] = [];
    const hooks = {
      out: (t: string) => out.push(t),
      errorOut: (l: string) => err.push(l),
      installSignalHandlers: false,
    };
    expect(await main(['-Q', 'cipher'], hooks)).toBe(0);
    expect(out[0]?.split('\n')).toContain('aes256-ctr');
    expect(await main(['-Q', 'KexAlgorithms'], hooks)).toBe(0);
    expect(out[1]?.split('\n')).toContain('curve25519-sha256');
    expect(await main(['-Q', 'compression'], hooks)).toBe(255);
    expect(err).toEqual([
      'ftpfwd: -Q compression: unknown query; expected cipher, mac, kex, key (sig), or an option name (Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms, PubkeyAcceptedAlgorithms)',
    ]);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from './config.js';
import { SshdError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'sshd-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config file', () => {
  it('reads YAML with every flag, limits and users; paths relative to the file', () => {
    const path = join(dir, 'sshd.yaml');
    writeFileSync(
      path,
      [
        'listen: 127.0.0.1:2222',
        'hostKeys: [keys/host_ed25519]',
        'authorizedKeys: /etc/ak',
        'permitOpen: [ "ftp.example:21/ftp" ]',
        'permitListen: none',
        'gatewayPorts: no',
        'allowTcpForwarding: local',
        'limits: { maxConnections: 10, idleTimeout: 600, ftpPermitTimeout: 30 }',
        'users:',
        '  alice:',
        '    authorizedKeys: alice.keys',
        '    permitOpen: "db:5432"',
      ].join('\n'),
    );
    const cfg = loadConfigFile(path);
    expect(cfg.listen).toEqual(['127.0.0.1:2222']);
    expect(cfg.hostKeys).toEqual([join(dir, 'keys/host_ed25519')]);
    expect(cfg.authorizedKeys).toBe('/etc/ak');
    expect(cfg.permitListen).toEqual(['none']);
    expect(cfg.gatewayPorts).toBe('no');
    expect(cfg.limits).toMatchObject({ maxConnections: 10, idleTimeout: 600 });
    expect(cfg.users?.alice?.authorizedKeys).toBe(join(dir, 'alice.keys'));
    expect(cfg.users?.alice?.permitOpen).toEqual(['db:5432']);
  });

  it('reads JSON, booleans for yes/no', () => {
    const path = join(dir, 'sshd.json');
    writeFileSync(path, JSON.stringify({ gatewayPorts: true, allowTcpForwarding: false }));
    expect(loadConfigFile(path)).toMatchObject({ gatewayPorts: 'yes', allowTcpForwarding: 'no' });
  });

  it('names unknown and mistyped keys', () => {
    const err = (() => {
      try {
        parseConfig(
          {
            limits: { maxConections: 3, maxAuthTries: 'six' },
            gatewayports: 'yes',
            users: { bob: { pasword: 'x' } },
          },
          'cfg',
        );
      } catch (e) {
        return e as SshdError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(SshdError);
    expect(err.code).toBe('config');
    // Every problem, each with its key path (and, from a file, its line).
    expect(err.message).toContain('limits.maxConections: unknown key(s) maxConections');
    expect(err.message).toContain('limits.maxAuthTries: Invalid input: expected number');
    expect(err.message).toContain('gatewayports: unknown key(s) gatewayports');
    expect(err.message).toContain('users.bob.pasword: unknown key(s) pasword');
    expect(() => parseConfig({ gatewayPorts: 'maybe' })).toThrow(/gatewayPorts/);
  });

  it("limits.rekeyLimit in OpenSSH's RekeyLimit syntax; a bad one is refused at load, named", () => {
    expect(parseConfig({ limits: { rekeyLimit: '1G 1h' } }).limits?.rekeyLimit).toEqual({
      bytes: 2 ** 30,
      seconds: 3600,
    });
    expect(parseConfig({ limits: { rekeyLimit: 'default 30m' } }).limits?.rekeyLimit).toEqual({
      seconds: 1800,
    });
    expect(() => parseConfig({ limits: { rekeyLimit: '1G sometimes' } }, 'cfg')).toThrow(
      /limits\.rekeyLimit.*expected a time such as 3600, 30m or 1h.*got "sometimes"/,
    );
  });

  it('pre-auth limits, penalties, password checks and the FTP policy, in OpenSSH syntax where it has one', () => {
    const cfg = parseConfig({
      limits: { maxStartups: '5:50:20', perSourceMaxStartups: 'none', perSourceNetBlockSize: '24:64' },
      penalties: { authfail: 10, noauth: 0, min: 30, exempt: ['10.0.0.0/8', '192.0.2.1'] },
      passwordChecks: { concurrency: 1, perSource: 1, maxWait: 1.5 },
      ftp: { trustPasvAddress: true, minDataPort: 2000, activeAddresses: '203.0.113.7', dataIdleTimeout: 60 },
    });
    expect(cfg.limits).toMatchObject({
      maxStartups: { start: 5, rate: 50, full: 20 },
      perSourceMaxStartups: Number.POSITIVE_INFINITY,
      perSourceNetBlockSize: { v4: 24, v6: 64 },
    });
    expect(cfg.penalties?.exempt?.matches('10.9.8.7')).toBe(true);
    expect(cfg.penalties?.exempt?.matches('198.51.100.1')).toBe(false);
    expect(cfg.ftp).toMatchObject({
      trustPasvAddress: true,
      minDataPort: 2000,
      activeAddresses: ['203.0.113.7'],
    });
    expect(() => parseConfig({ limits: { maxStartups: '10:300:100' } })).toThrow(
      /limits\.maxStartups: expected/,
    );
    expect(() => parseConfig({ penalties: { exempt: 'not an address' } })).toThrow(/penalties\.exempt: /);
    expect(() => parseConfig({ backoff: { threshold: 3 } })).toThrow(/backoff: unknown key/);
  });

  it('says when the file is not valid YAML or JSON', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "listen": ');
    expect(() => loadConfigFile(path)).toThrow(/broken\.json line 1: not valid YAML\/JSON/);
    expect(() => loadConfigFile(join(dir, 'missing.yaml'))).toThrow(
      /cannot read config .*missing\.yaml: ENOENT/,
    );
  });
});

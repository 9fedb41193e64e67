/**
 * Flags + config file -> server options, and per-user settings as OpenSSH users meet them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPasswordHash, hashPassword } from '@ftpfwd/ftp-proxy/cli';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from './config.js';
import { SESSION_REFUSED_MESSAGE } from './connection.js';
import { buildServerOptions, parseListen } from './setup.js';
import {
  echoRoundTrip,
  freePort,
  LogCapture,
  pubLine,
  runSsh,
  Scope,
  sha256,
  sshKeygen,
  startEcho,
  startServer,
  tempDir,
  waitForPort,
} from './test-support/harness.js';

let scope: Scope;
let dir: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
});
afterEach(() => scope.close());

describe('parseListen', () => {
  it('takes ADDR:PORT, [v6]:PORT and a bare PORT', () => {
    expect(parseListen('127.0.0.1:2222')).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(parseListen('[::1]:22')).toEqual({ host: '::1', port: 22 });
    expect(parseListen('2200')).toEqual({ host: '0.0.0.0', port: 2200 });
    expect(() => parseListen('host:99999')).toThrow(/expected ADDR:PORT/);
  });
});

describe('buildServerOptions', () => {
  it('flags override the config file; config users get their own keys, password and policy', async () => {
    const alice = sshKeygen(dir, 'alice');
    const hostKey = sshKeygen(dir, 'host');
    writeFileSync(join(dir, 'alice.keys'), `${pubLine(alice)}\n`);
    const hash = formatPasswordHash(await hashPassword('pw', { ln: 10, r: 8, p: 1 }));
    const cfgPath = join(dir, 'sshd.yaml');
    writeFileSync(
      cfgPath,
      [
        'listen: [ "127.0.0.1:2301" ]',
        'hostKeys: [ host ]',
        'permitOpen: [ "a:1" ]',
        'gatewayPorts: clientspecified',
        'limits: { maxAuthTries: 3, connectTimeout: 2.5 }',
        'users:',
        '  alice:',
        '    authorizedKeys: alice.keys',
        `    password: "${hash}"`,
        '    permitOpen: [ "db:5432" ]',
        '    allowTcpForwarding: local',
      ].join('\n'),
    );
    const logs = new LogCapture();
    const opts = buildServerOptions(
      { permitOpen: ['b:2'], listen: ['127.0.0.1:0'] },
      loadConfigFile(cfgPath),
      pino(logs),
    );
    expect(opts.listen).toEqual([{ host: '127.0.0.1', port: 0 }]);
    expect(opts.permitOpen?.map((r) => r.spec)).toEqual(['b:2']);
    expect(opts.gatewayPorts).toBe('clientspecified');
    expect(opts.hostKeys[0]!.source).toBe(hostKey);
    expect(opts.limits).toMatchObject({ maxAuthTries: 3, connectTimeoutMs: 2500 });
    expect(opts.users?.alice?.keys).toHaveLength(1);
    expect(opts.users?.alice?.password).toBeDefined();
    expect(opts.users?.alice?.permitOpen?.map((r) => r.spec)).toEqual(['db:5432']);
    expect(opts.users?.alice?.allowTcpForwarding).toBe('local');
  });

  it('a per-user key logs in only as that user, with that user policy', async () => {
    const alice = sshKeygen(dir, 'alice');
    writeFileSync(join(dir, 'alice.keys'), `${pubLine(alice)}\n`);
    const echo = await startEcho(scope);
    const cfgPath = join(dir, 'sshd.json');
    writeFileSync(
      cfgPath,
      JSON.stringify({
        users: { alice: { authorizedKeys: 'alice.keys', permitOpen: [`127.0.0.1:${echo}`] } },
      }),
    );
    const built = buildServerOptions(
      { hostKey: [sshKeygen(dir, 'host')] },
      loadConfigFile(cfgPath),
      pino({ level: 'silent' }),
    );
    const t = await startServer(scope, dir, { users: built.users, permitOpen: [] });
    const asBob = runSsh(scope, t, ['bob@127.0.0.1', 'true'], { identity: alice });
    expect(await asBob.exited).toBe(255);
    expect(asBob.stderr()).toMatch(/Permission denied/);
    const asAlice = runSsh(scope, t, ['alice@127.0.0.1', 'true'], { identity: alice });
    await asAlice.exited;
    expect(asAlice.stderr()).toContain(SESSION_REFUSED_MESSAGE);
    const local = await freePort();
    runSsh(scope, t, ['-N', '-L', `127.0.0.1:${local}:127.0.0.1:${echo}`, 'alice@127.0.0.1'], {
      identity: alice,
    });
    await waitForPort(local);
    const { sent, got } = await echoRoundTrip(local, 8192);
    expect(sha256(got)).toBe(sha256(sent));
  });
});

/**
 * Algorithm policy (OpenSSH's Ciphers, KexAlgorithms, MACs, HostKeyAlgorithms,
 * PubkeyAcceptedAlgorithms) in ftpfwd-sshd, against the real OpenSSH client.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { SESSION_REFUSED_MESSAGE } from './connection.js';
import { loadHostKey } from './host-keys.js';
import { createSshServer } from './server.js';
import { buildServerOptions } from './setup.js';
import { pubLine, runSsh, Scope, sshKeygen, startServer, tempDir, waitFor } from './test-support/harness.js';

let scope: Scope;
let dir: string;
let userKey: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
  userKey = sshKeygen(dir, 'user');
});
afterEach(() => scope.close());

describe('algorithms: in the config file', () => {
  it('takes OpenSSH list syntax as a string or a list, and names the key of a bad one', () => {
    const cfg = parseConfig({
      algorithms: { ciphers: '-aes*-cbc', kexAlgorithms: ['curve25519-sha256', 'ecdh-sha2-nistp256'] },
    });
    expect(cfg.algorithms).toEqual({
      ciphers: '-aes*-cbc',
      kexAlgorithms: 'curve25519-sha256,ecdh-sha2-nistp256',
    });
    expect(() => parseConfig({ algorithms: { macs: 'hmac-rot13' } })).toThrow(
      /algorithms\.macs.*MACs "hmac-rot13": unknown algorithm "hmac-rot13"/,
    );
    expect(() => parseConfig({ algorithms: { ciphers: 'aes128-ctr', bogus: 'x' } })).toThrow(/bogus/);
  });

  it('a hostKeyAlgorithms list that leaves none of the host keys is refused at start, naming them', () => {
    const host = loadHostKey(sshKeygen(dir, 'host'));
    const log = { warn() {}, info() {}, error() {}, debug() {}, child: () => log } as never;
    const opts = buildServerOptions(
      { hostKey: [host.source] },
      parseConfig({ algorithms: { hostKeyAlgorithms: 'ecdsa-sha2-nistp256' } }),
      log,
    );
    expect(() => createSshServer(opts)).toThrow(
      /algorithms\.hostKeyAlgorithms leaves none of the host keys \(ssh-ed25519 .*\): it allows ecdsa-sha2-nistp256/,
    );
  });
});

describe('algorithms: with OpenSSH', () => {
  it('a cipher list with nothing in common: ssh fails as OpenSSH says, the server logs both offers', async () => {
    const t = await startServer(scope, dir, {
      authorizedKeysText: pubLine(userKey),
      algorithms: { cipher: 'aes256-ctr' },
    });
    const ssh = runSsh(scope, t, ['-o', 'Ciphers=aes128-ctr', '-N', 'u@127.0.0.1'], { identity: userKey });
    expect(await ssh.exited).toBe(255);
    expect(ssh.stderr()).toMatch(/no matching cipher found\. Their offer: aes256-ctr/);
    const line = await waitFor(() => t.logs.find((l) => l.event === 'negotiation-failed'));
    expect(line.msg).toBe(
      `Unable to negotiate with 127.0.0.1 port ${String(line.msg).match(/port (\d+)/)?.[1]}: no matching cipher found. Their offer: aes128-ctr. We offered: aes256-ctr`,
    );
  });

  it('a list both accept: the connection uses it', async () => {
    const t = await startServer(scope, dir, {
      authorizedKeysText: pubLine(userKey),
      algorithms: { cipher: 'aes256-ctr', mac: 'hmac-sha2-512', kex: 'ecdh-sha2-nistp384' },
    });
    const ssh = runSsh(scope, t, ['-v', 'u@127.0.0.1', 'true'], { identity: userKey });
    await ssh.exited;
    expect(ssh.stderr()).toContain(SESSION_REFUSED_MESSAGE); // logged in
    expect(ssh.stderr()).toMatch(/kex: algorithm: ecdh-sha2-nistp384/);
    expect(ssh.stderr()).toMatch(/kex: server->client cipher: aes256-ctr MAC: hmac-sha2-512/);
  });

  it('hostKeyAlgorithms picks which host key is offered; pubkeyAcceptedAlgorithms which user keys log in', async () => {
    const ecHost = sshKeygen(dir, 'ec-host', 'ecdsa');
    // An ed25519 key too: the list leaves it out.
    const t2 = await startServer(scope, dir, {
      authorizedKeysText: pubLine(userKey),
      algorithms: { hostkey: 'ecdsa-sha2-nistp256', pubkey: '-ssh-ed25519' },
      hostKeys: [loadHostKey(sshKeygen(dir, 'ed-host')), loadHostKey(ecHost)],
    });
    // Only the ECDSA key is trusted: a server offering its ed25519 key would fail the check.
    const knownHosts = join(dir, 'known_hosts-ec');
    writeFileSync(knownHosts, `[127.0.0.1]:${t2.port} ${pubLine(ecHost).split(' ').slice(0, 2).join(' ')}\n`);
    const ssh = runSsh(scope, { port: t2.port, knownHosts }, ['-v', '-N', 'u@127.0.0.1'], {
      identity: userKey,
    });
    expect(await ssh.exited).toBe(255);
    expect(ssh.stderr()).toMatch(/Server host key: ecdsa-sha2-nistp256/);
    expect(ssh.stderr()).toMatch(/Permission denied \(publickey\)/);
    const refused = t2.logs.find((l) => l.event === 'auth' && l.ok === false);
    expect(String(refused?.reason)).toBe(
      'key algorithm ssh-ed25519 not accepted (algorithms.pubkeyAcceptedAlgorithms)',
    );
  });
});

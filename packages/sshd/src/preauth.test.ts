/**
 * Floods before login, bounded in count and time, on loopback: the attacker's connections come from
 * 127.0.0.5 (or from 150 addresses of 127.0.1.0/24), the legitimate user's from 127.0.0.1. Whatever
 * the attacker holds, the user logs in; password floods run only a bounded number of checks.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { hashPassword } from '@ftpfwd/ftp-proxy/cli';
import ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf, loadHostKey } from './host-keys.js';
import {
  pubLine,
  Scope,
  ssh2Client,
  sshKeygen,
  startServer,
  type TestServer,
  tempDir,
  waitFor,
} from './test-support/harness.js';
import type { SshServerOptions } from './types.js';

let scope: Scope;
let dir: string;
let userKey: string;

beforeEach(() => {
  scope = new Scope();
  dir = tempDir(scope);
  userKey = sshKeygen(dir, 'user');
});
afterEach(() => scope.close());

const server = (opts: Partial<SshServerOptions>): Promise<TestServer> =>
  startServer(scope, dir, { authorizedKeysText: pubLine(userKey), ...opts });

/** A TCP connection that never sends an SSH banner; resolves once connected (or refused at once). */
function silentConnection(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    s.on('data', () => {});
    scope.add(() => {
      s.destroy();
    });
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

const stillOpen = (socks: Socket[]) => socks.filter((s) => !s.destroyed).length;

/** Time for the legitimate user's key login, in ms. */
async function timedLogin(t: TestServer): Promise<number> {
  const started = performance.now();
  const c = await ssh2Client(scope, t, userKey);
  const ms = performance.now() - started;
  c.end();
  return ms;
}

describe('pre-auth floods', () => {
  it('300 silent connections from one source hold only its per-source share; others log in', async () => {
    const t = await server({ limits: { startupEvictAfterMs: 300 } });
    const flood = await Promise.all(Array.from({ length: 300 }, () => silentConnection(t.port, '127.0.0.5')));
    await waitFor(() => stillOpen(flood) <= 10, 5_000, 'the flood cut to its share');
    expect(t.server.stats.startups).toBeLessThanOrEqual(10);
    const refused = t.logs.lines.filter(
      (l) => l.event === 'connection-refused' && String(l.reason).startsWith('per-source-max-startups 10'),
    );
    expect(refused.length).toBeGreaterThanOrEqual(290);
    // The flood's 10 sit at MaxStartups' start (30 % early drop); past evictAfterMs a newcomer takes
    // the slot of one that never finished key exchange instead of being dropped.
    await new Promise((r) => setTimeout(r, 350));
    const ms = await timedLogin(t);
    console.log(`login during a one-source flood: ${ms.toFixed(0)} ms`);
  });

  it('150 silent connections from 150 sources degrade by early drop, never lock the user out', async () => {
    // evictAfterMs long enough that the 150 connect before any startup is old enough to evict,
    // even on a loaded machine, so the drops seen are early drop's
    const evictAfterMs = 2_000;
    const t = await server({ limits: { startupEvictAfterMs: evictAfterMs } });
    const flood: Socket[] = [];
    for (let i = 1; i <= 150; i++) flood.push(await silentConnection(t.port, `127.0.1.${i}`));
    const dropped = t.logs.lines.filter(
      (l) => l.event === 'connection-refused' && String(l.reason).startsWith('max-startups 10:30:100'),
    );
    expect(dropped.length).toBeGreaterThan(0); // random early drop at work before eviction could
    expect(t.server.stats.startups).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, evictAfterMs + 100));
    for (let i = 0; i < 5; i++) await timedLogin(t); // each takes a silent one's slot if it must
    expect(t.logs.lines.filter((l) => l.event === 'startup-evicted').length).toBeGreaterThan(0);
  });

  it('60 connections × 3 wrong passwords: a bounded number of checks, the user logs in', async () => {
    const t = await server({
      passwords: new Map([['alice', await hashPassword('correct horse')]]),
      limits: { perSourceMaxStartups: Number.POSITIVE_INFINITY },
      penalties: { authfailMs: 5_000, minMs: 15_000 },
    });
    const hostFp = loadHostKey(t.hostKeyPath).fingerprint;
    const attack = Array.from({ length: 60 }, (_, i) =>
      passwordLogin(
        t.port,
        hostFp,
        '127.0.0.5',
        ['w1', 'w2', 'w3'].map((p) => `${p}-${i}`),
      ),
    );
    await waitFor(
      () => t.logs.lines.filter((l) => l.event === 'auth').length >= 30,
      10_000,
      'the flood under way',
    );
    const started = performance.now();
    expect(await passwordLogin(t.port, hostFp, '127.0.0.1', ['correct horse'])).toBe('ok');
    const ms = performance.now() - started;
    expect((await Promise.all(attack)).every((r) => r !== 'ok')).toBe(true);
    const checked = t.logs.lines.filter((l) => l.event === 'auth' && l.reason === 'wrong password');
    // Three checked failures put the source over the penalty's 15 s; a check or two more may have
    // been running. Every later attempt is answered without one.
    expect(checked.length).toBeLessThanOrEqual(3 + 2);
    expect(t.server.stats.passwordChecks.peakConcurrency).toBeLessThanOrEqual(2);
    expect(t.logs.find((l) => l.event === 'penalty' && l.kind === 'authfail')).toBeDefined();
    console.log(
      `password login during a 60×3 wrong-password flood: ${ms.toFixed(0)} ms; ${checked.length} checks run`,
    );
  });
});

/** One SSH connection trying `passwords` in turn as alice, from `localAddress`. */
function passwordLogin(
  port: number,
  hostFp: string,
  localAddress: string,
  passwords: string[],
): Promise<'ok' | 'denied' | 'error'> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    scope.add(() => {
      c.end();
    });
    c.once('ready', () => {
      c.end();
      resolve('ok');
    });
    c.on('error', (err: Error & { level?: string }) =>
      resolve(err.level === 'client-authentication' ? 'denied' : 'error'),
    );
    c.once('close', () => resolve('error'));
    c.connect({
      host: '127.0.0.1',
      port,
      localAddress,
      username: 'alice',
      hostVerifier: (key: Buffer) => fingerprintOf(key) === hostFp,
      authHandler: passwords.map((password) => ({ type: 'password', username: 'alice', password })),
      readyTimeout: 20_000,
    } as ssh2.ConnectConfig);
  });
}

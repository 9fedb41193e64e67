import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blobKeyType,
  checkHostKey,
  fingerprint,
  hashHostName,
  hostFieldMatches,
  knownHostsName,
  parseKnownHosts,
} from './known-hosts.js';

function blob(type: string, body = randomBytes(32)): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const bl = Buffer.alloc(4);
  bl.writeUInt32BE(body.length);
  return Buffer.concat([len, t, bl, body]);
}

describe('known_hosts matching', () => {
  const keyA = blob('ssh-ed25519');
  const keyB = blob('ssh-ed25519');
  const rsa = blob('ssh-rsa');
  const line = (hosts: string, k: Buffer, marker = '') =>
    `${marker}${hosts} ${blobKeyType(k)} ${k.toString('base64')}`;

  it('names non-22 ports as [host]:port', () => {
    expect(knownHostsName('Example.COM', 22)).toBe('example.com');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });

  it('accepts the recorded key, calls another key of the same type a change', () => {
    const e = parseKnownHosts(line('[127.0.0.1]:2222', keyA), 'kh');
    expect(checkHostKey(e, '[127.0.0.1]:2222', keyA).status).toBe('ok');
    expect(checkHostKey(e, '[127.0.0.1]:2222', keyB).status).toBe('changed');
    expect(checkHostKey(e, '[127.0.0.1]:2222', rsa).status).toBe('unknown');
    expect(checkHostKey(e, '127.0.0.1', keyA).status).toBe('unknown');
  });

  it('honours patterns, negation, hashed names, @revoked and reports @cert-authority', () => {
    const text = [
      '# comment',
      line('*.example.com,!bad.example.com', keyA),
      line(hashHostName('[h]:2200', randomBytes(20)), keyB),
      line('*', keyB, '@revoked '),
      line('*.ca.example', keyA, '@cert-authority '),
      'garbage line',
    ].join('\n');
    const e = parseKnownHosts(text, 'kh');
    expect(e).toHaveLength(4);
    expect(e[1]?.source).toBe('kh:3');
    expect(checkHostKey(e, 'ftp.example.com', keyA).status).toBe('ok');
    expect(checkHostKey(e, 'bad.example.com', keyA).status).toBe('unknown');
    expect(checkHostKey(e, '[h]:2200', keyB).status).toBe('revoked');
    const ca = checkHostKey(e, 'x.ca.example', keyA);
    expect(ca.status).toBe('unknown');
    expect(ca.status === 'unknown' && ca.certAuthorities).toHaveLength(1);
  });

  it('a hashed name matches only its own name (property)', () => {
    fc.assert(
      fc.property(fc.domain(), fc.domain(), fc.uint8Array({ minLength: 20, maxLength: 20 }), (a, b, salt) => {
        const field = hashHostName(a, Buffer.from(salt));
        expect(hostFieldMatches(field, a)).toBe(true);
        if (a !== b) expect(hostFieldMatches(field, b)).toBe(false);
      }),
    );
  });

  it('never throws on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (text, name) => {
        const e = parseKnownHosts(text, 'f');
        checkHostKey(e, name, keyA);
      }),
    );
  });

  it("fingerprints in OpenSSH's SHA256: form (compared with ssh-keygen -lf in auth-hostkeys.test.ts)", () => {
    const pub = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    expect(fingerprint(Buffer.from(pub, 'base64'))).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import ssh2, { type SFTPWrapper } from 'ssh2';
import { describe, expect, it } from 'vitest';
import {
  channelEofReceived,
  connectionSocketOf,
  grantWindow,
  peerSoftware,
  probeSsh2,
  receiveWindow,
  rejectChannel,
  SSH2_FEATURES,
  sftpServerInfo,
  ssh2Supports,
  startClientRekey,
} from './ssh2-internals.js';

describe('the door to ssh2 internals', () => {
  it('the probe finds every feature it relies on in the ssh2 this repository pins, native crypto too', async () => {
    const report = await probeSsh2();
    expect(report.version).toBe('1.17.0');
    expect(report.error).toBeUndefined(); // it ran, its client accepting only the probe's host key
    expect(report.off).toEqual([]);
    expect(report.nativeCrypto).toBe(true);
    for (const f of SSH2_FEATURES) expect(ssh2Supports(f)).toBe(true);
    expect(await probeSsh2()).toBe(report); // once per process
  });

  it("takes ssh2's public path for what is not an ssh2 channel or connection", () => {
    const plain = new PassThrough();
    expect(grantWindow(plain, 100)).toBe(false);
    expect(peerSoftware(plain)).toBeUndefined();
    expect(channelEofReceived(plain)).toBe(false);
    plain.end();
    plain.resume();
    let rejected = 0;
    rejectChannel({}, () => rejected++, 1, 'no');
    rejectChannel(undefined, () => rejected++, 1, 'no');
    expect(rejected).toBe(2);
    expect(startClientRekey({})).toBe(false);
  });
});

describe('the door, for SFTP sessions (the FTP-to-SFTP bridge)', () => {
  it("reads a real ssh2 SFTP session's limits, socket and window, and grants window", async () => {
    const hostKey = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'sec1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    const parsed = ssh2.utils.parseKey(hostKey);
    if (parsed instanceof Error) throw parsed;
    const hostBlob = parsed.getPublicSSH();
    const server = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('session', (accept) => accept().on('sftp', (acceptSftp) => acceptSftp()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new ssh2.Client();
    try {
      await new Promise<void>((res, rej) => {
        client.once('ready', res).once('error', rej);
        client.connect({
          host: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          username: 'u',
          hostVerifier: (key: Buffer) => key.equals(hostBlob),
        });
      });
      const sftp = await new Promise<SFTPWrapper>((res, rej) =>
        client.sftp((err, s) => (err ? rej(err) : res(s))),
      );
      const info = sftpServerInfo(sftp);
      expect(info.extensions).toEqual({}); // ssh2's own server announces none
      expect(info.maxReadLen).toBeGreaterThan(16 * 1024);
      expect(info.maxWriteLen).toBeGreaterThan(16 * 1024);
      const sock = connectionSocketOf(sftp);
      expect(typeof sock?.cork).toBe('function');
      const before = receiveWindow(sftp);
      expect(before).toBeGreaterThan(0);
      expect(grantWindow(sftp, 4096)).toBe(true);
      expect(receiveWindow(sftp)).toBe((before ?? 0) + 4096);
      sftp.end();
    } finally {
      client.end();
      server.close();
    }
    // anything else: nothing found, defaults for the caller
    expect(sftpServerInfo({})).toEqual({ extensions: {}, maxReadLen: undefined, maxWriteLen: undefined });
    expect(connectionSocketOf({})).toBeUndefined();
    expect(receiveWindow({})).toBeUndefined();
  });
});

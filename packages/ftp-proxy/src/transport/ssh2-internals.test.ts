import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  channelEofReceived,
  grantWindow,
  peerSoftware,
  probeSsh2,
  rejectChannel,
  SSH2_FEATURES,
  ssh2Supports,
  startClientRekey,
} from './ssh2-internals.js';

describe('the door to ssh2 internals', () => {
  it('the probe finds every feature it relies on in the ssh2 this repository pins, native crypto too', async () => {
    const report = await probeSsh2();
    expect(report.version).toBe('1.17.0');
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

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { onLinkLoss, resetPeer } from './link-loss.js';

/** A stand-in for an ssh2 channel: a stream with ssh2's `incoming.state`. */
function channel(state = 'open'): PassThrough & { incoming: { state: string } } {
  return Object.assign(new PassThrough(), { incoming: { state } });
}

describe('onLinkLoss', () => {
  it('cuts a channel whose EOF had not come when the SSH socket closed, and only that one', () => {
    const ssh = new PassThrough();
    const cut: string[] = [];
    const open = channel();
    const finished = channel('eof');
    onLinkLoss(open, ssh, () => cut.push('open'));
    onLinkLoss(finished, ssh, () => cut.push('finished'));
    ssh.destroy();
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(cut).toEqual(['open']);
        resolve();
      }),
    );
  });

  it('forgets a channel that closed first, and adds one close listener per SSH socket', async () => {
    const ssh = new PassThrough();
    const cut: number[] = [];
    const chans = Array.from({ length: 20 }, () => channel());
    chans.forEach((ch, i) => {
      onLinkLoss(ch, ssh, () => cut.push(i));
    });
    expect(ssh.listenerCount('close')).toBe(1);
    chans[3]?.destroy();
    await new Promise((r) => setImmediate(r));
    ssh.destroy();
    await new Promise((r) => setImmediate(r));
    expect(cut).toHaveLength(19);
    expect(cut).not.toContain(3);
  });
});

describe('resetPeer', () => {
  it('uses resetAndDestroy where the peer has it, destroy otherwise', () => {
    let reset = false;
    const tcp = Object.assign(new PassThrough(), {
      resetAndDestroy() {
        reset = true;
      },
    });
    resetPeer(tcp);
    expect(reset).toBe(true);
    const other = new PassThrough();
    resetPeer(other);
    expect(other.destroyed).toBe(true);
  });
});

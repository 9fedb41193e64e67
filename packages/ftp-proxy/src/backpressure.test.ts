import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { feed, SocketCongestion } from './backpressure.js';

/** A sink that completes writes only when told to, like a socket whose peer stopped reading. */
function heldSink(highWaterMark = 1 << 20) {
  const held: Array<() => void> = [];
  const got: Buffer[] = [];
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      got.push(chunk);
      held.push(cb);
    },
  });
  const release = () => {
    for (const cb of held.splice(0)) cb();
  };
  return { sink, got, release };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('feed', () => {
  it('pauses the source while the sink holds more than the cap, resumes as it empties, loses nothing', async () => {
    const source = new PassThrough();
    const { sink, got, release } = heldSink();
    const f = feed(source, sink, { cap: 1000 });
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(400, i));
    for (const c of chunks) source.write(c);
    await tick();
    expect(f.paused).toBe(true);
    expect(sink.writableLength).toBeLessThanOrEqual(1200);
    while (got.length < chunks.length) {
      release();
      await tick();
    }
    release();
    await tick();
    expect(f.paused).toBe(false);
    expect(Buffer.concat(got).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('pauses while the shared socket is congested and resumes every waiting source on its drain', async () => {
    // As for a real SSH socket: the limit is far above the highWaterMark, so a 'drain' is owed.
    const { sink: socket, release } = heldSink(100);
    socket.write(Buffer.alloc(2000));
    const congestion = new SocketCongestion(socket, 1000);
    expect(congestion.congested).toBe(true);
    const feeds = [0, 1, 2].map(() => {
      const source = new PassThrough();
      const out = new PassThrough();
      const f = feed(source, out, { congestion });
      source.write(Buffer.from('x'));
      return f;
    });
    await tick();
    expect(feeds.map((f) => f.paused)).toEqual([true, true, true]);
    expect(congestion.waiting).toBe(3);
    release(); // the socket drains
    await tick();
    expect(feeds.map((f) => f.paused)).toEqual([false, false, false]);
    expect(congestion.waiting).toBe(0);
  });
});

import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BULK_CHUNK, feed, gatherWrites, SocketCongestion } from './backpressure.js';

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

describe('gatherWrites', () => {
  /** A sink recording how the stream hands it data: one array per write()/writev() call. */
  function recordingSink() {
    const calls: string[][] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        calls.push([chunk.toString()]);
        cb();
      },
      writev(chunks, cb) {
        calls.push(chunks.map((c) => String(c.chunk)));
        cb();
      },
    });
    return { sink, calls };
  }

  it('hands the writes of one tick to the sink as one writev, in order', async () => {
    const { sink, calls } = recordingSink();
    gatherWrites(sink);
    sink.write('a');
    gatherWrites(sink); // a second call in the same tick changes nothing
    sink.write('b');
    sink.write('c');
    expect(calls).toEqual([]);
    await tick();
    expect(calls).toEqual([['a', 'b', 'c']]);
    expect(sink.writableCorked).toBe(0);
  });

  it('does not hold writes across ticks, and feed gathers what one turn of its source brings', async () => {
    const { sink, calls } = recordingSink();
    const source = new PassThrough();
    feed(source, sink, { gather: sink });
    source.write('1');
    source.write('2');
    await tick();
    source.write('3');
    await tick();
    expect(calls.flat()).toEqual(['1', '2', '3']);
    // '3' came in a later turn: it was not kept waiting for more.
    expect(calls.at(-1)).toEqual(['3']);
    expect(sink.writableCorked).toBe(0);
  });

  it('holds a bulk chunk until the poll phase ends: the reads of later ticks in it join the writev', async () => {
    const { sink, calls } = recordingSink();
    const big = (c: string) => c.repeat(BULK_CHUNK);
    // As libuv delivers a busy socket's reads: one after the other, each in its own tick.
    gatherWrites(sink, BULK_CHUNK);
    sink.write(big('a'));
    process.nextTick(() => {
      gatherWrites(sink, BULK_CHUNK);
      sink.write(big('b'));
      process.nextTick(() => {
        gatherWrites(sink, 10);
        sink.write('c');
      });
    });
    await new Promise<void>((r) => process.nextTick(() => process.nextTick(() => process.nextTick(r))));
    expect(calls).toEqual([]);
    await tick();
    expect(calls).toEqual([[big('a'), big('b'), 'c']]);
    expect(sink.writableCorked).toBe(0);
  });

  it('lets a small chunk go at the end of its tick, not of the phase', async () => {
    const { sink, calls } = recordingSink();
    gatherWrites(sink, BULK_CHUNK - 1);
    sink.write('a');
    await new Promise<void>((r) => process.nextTick(r));
    expect(calls).toEqual([['a']]);
    expect(sink.writableCorked).toBe(0);
  });

  it('feed gathers the bulk chunks of successive ticks of one phase into one writev on the SSH socket', async () => {
    // As the SSH socket under a channel: the channel takes each chunk at once (ssh2 encrypts it into
    // packets written to the socket), and feed gathers on the socket.
    const { sink: socket, calls } = recordingSink();
    const channel = new Writable({
      write(chunk: Buffer, _enc, cb) {
        socket.write(chunk);
        cb();
      },
    });
    const source = new Readable({ read() {} });
    feed(source, channel, { gather: socket, congestion: new SocketCongestion(socket) });
    const chunks = ['x', 'y', 'z'].map((c) => Buffer.alloc(BULK_CHUNK, c));
    // As a busy socket delivers its reads: each in its own tick, all within one poll phase.
    await new Promise<void>((resolve) => {
      setImmediate(() => {
        source.push(chunks[0]);
        process.nextTick(() => {
          source.push(chunks[1]);
          process.nextTick(() => {
            source.push(chunks[2]);
            resolve();
          });
        });
      });
    });
    expect(calls).toEqual([]);
    await tick();
    expect(calls.map((c) => c.map((s) => s[0]))).toEqual([['x', 'y', 'z']]);
  });

  it('feed lets bulk chunks to a local socket go at the end of their tick', async () => {
    // Held for the phase, a local socket would keep the channel feeding it paused, filling its window.
    const { sink, calls } = recordingSink();
    const source = new Readable({ read() {} });
    feed(source, sink, { gather: sink });
    await new Promise<void>((resolve) => {
      setImmediate(() => {
        source.push(Buffer.alloc(BULK_CHUNK, 'x'));
        process.nextTick(() => process.nextTick(resolve));
      });
    });
    expect(calls.map((c) => c.map((s) => s[0]))).toEqual([['x']]);
  });
});

/**
 * The transfer pump: file bytes between an SFTP handle and the FTP data connection, with several
 * SFTP requests in flight as OpenSSH's sftp keeps them (ssh2's own read stream waits for each READ
 * before it sends the next, which leaves the link idle for a round trip per chunk).
 *
 * Memory per transfer is bounded: at most `inFlightBytes` are requested and unanswered (in
 * requests of `chunkSize`), no new READ goes out while the data connection holds more than
 * `highWater` unsent bytes, and an upload stops reading its data connection while its WRITEs are
 * at that limit.
 */
import type { Duplex } from 'node:stream';
import type { SftpOps } from './sftp.js';
import { gatherWrites, noteBytesMoved } from './transport.js';

export interface PumpOptions {
  /**
   * Bytes per READ/WRITE, capped by what the SFTP wrapper sends as one request (254 KiB to
   * OpenSSH, ~31 KiB to other servers). Fewer, larger requests cost less CPU per byte: measured
   * against OpenSSH, 254 KiB requests took a fifth less CPU in the bridge than 64 KiB ones.
   */
  chunkSize: number;
  /**
   * Bytes requested and not yet answered; the number of requests in flight follows from it
   * (at least 2, at most 64). 2 MiB is ssh2's channel window: more would only queue at the server.
   */
  inFlightBytes: number;
  /** Download: unsent bytes on the data connection above which no new READ is sent. */
  highWater: number;
}

export const DEFAULT_PUMP: Readonly<PumpOptions> = Object.freeze({
  chunkSize: 256 * 1024,
  inFlightBytes: 2 * 1024 * 1024,
  highWater: 1024 * 1024,
});

/**
 * How much channel window a download keeps granted (twice what it asks for at once, so the window
 * never holds the server back), and how much it gives back at a time.
 */
const windowFor = (opts: PumpOptions) => Math.max(2 * 1024 * 1024, 2 * opts.inFlightBytes);
const WINDOW_STEP = 128 * 1024;

/** Requests in flight for a chunk size. */
export function pumpDepth(opts: PumpOptions, chunk: number): number {
  return Math.max(2, Math.min(64, Math.ceil(opts.inFlightBytes / chunk)));
}

export interface PumpResult {
  /** Bytes that crossed the data connection. */
  netBytes: number;
  /** Bytes read from or written to the file. */
  fileBytes: number;
}

/** The data connection ended before the transfer did (the FTP client closed or reset it). */
export class DataConnectionLost extends Error {
  override readonly name = 'DataConnectionLost';
}

/** ABOR, or the session closing. */
export class TransferAborted extends Error {
  override readonly name = 'TransferAborted';
}

/**
 * `result` (optional, last parameter of both pumps) is updated as bytes move, so a caller can
 * report progress (STAT) and what a failed transfer moved.
 */

/** A chunk transform (TYPE A) for the bytes on their way. */
export interface Converter {
  push(chunk: Buffer): Buffer;
  end?(): Buffer;
}

interface Slot {
  offset: number;
  len: number;
  parts: Buffer[];
  got: number;
  done: boolean;
  /** The server said end of file inside this slot. */
  eof: boolean;
}

/**
 * Reads the file from `start` to its end into `sink`, then ends `sink` and waits until its bytes
 * are handed to the kernel. Rejects with the SFTP error, DataConnectionLost or TransferAborted.
 */
export function sftpToSocket(
  ops: SftpOps,
  handle: Buffer,
  start: number,
  sink: Duplex,
  opts: PumpOptions,
  signal: AbortSignal,
  convert?: Converter,
  result: PumpResult = { netBytes: 0, fileBytes: 0 },
): Promise<PumpResult> {
  const chunk = Math.max(1, Math.min(opts.chunkSize, ops.maxReadLen));
  const depth = pumpDepth(opts, chunk);
  const window = windowFor(opts);
  return new Promise<PumpResult>((resolve, reject) => {
    const slots: Slot[] = [];
    let next = start;
    let eof = false;
    let finished = false;
    let inflight = 0;
    let waitingDrain = false;
    let drainArmed = false;

    const cleanup = (): void => {
      signal.removeEventListener('abort', onAbort);
      sink.off('drain', onDrain);
      sink.off('error', onLost);
      sink.off('close', onLost);
    };
    const fail = (err: Error): void => {
      if (finished) return;
      finished = true;
      cleanup();
      reject(err);
    };
    const onAbort = (): void => fail(new TransferAborted('transfer aborted'));
    const onLost = (): void => fail(new DataConnectionLost('data connection closed by the FTP client'));
    const onDrain = (): void => {
      waitingDrain = false;
      drainArmed = false;
      fill();
    };

    const issue = (slot: Slot): void => {
      inflight++;
      const want = slot.len - slot.got;
      ops.read(handle, Buffer.allocUnsafe(want), want, slot.offset + slot.got).then(
        (data) => {
          inflight--;
          if (finished) return;
          ops.topUpWindow(window, WINDOW_STEP);
          if (data.length === 0) {
            slot.eof = true;
            slot.done = true;
          } else {
            slot.parts.push(data);
            slot.got += data.length;
            if (slot.got >= slot.len) slot.done = true;
            else {
              // a short read: the end of the file, or a server that returns less; asking for the
              // rest tells which (an empty answer is the end)
              issue(slot);
              return;
            }
          }
          if (slot.eof) eof = true;
          deliver();
          fill();
        },
        (err: Error) => {
          inflight--;
          fail(err);
        },
      );
    };

    const transport = ops.transport;
    const fill = (): void => {
      // the READ requests of one burst leave in one packet write
      if (transport && inflight < depth) gatherWrites(transport);
      while (!finished && !eof && !waitingDrain && inflight < depth) {
        const slot: Slot = { offset: next, len: chunk, parts: [], got: 0, done: false, eof: false };
        next += chunk;
        slots.push(slot);
        issue(slot);
      }
      if (!finished && eof && inflight === 0 && slots.length === 0) finish();
    };

    const deliver = (): void => {
      // chunks answered in the same poll phase leave in one writev (gatherWrites)
      if (slots.length > 0 && slots[0]!.done) gatherWrites(sink, chunk);
      while (!finished && slots.length > 0 && slots[0]!.done) {
        const s = slots.shift()!;
        for (const part of s.parts) {
          const out = convert ? convert.push(part) : part;
          result.fileBytes += part.length;
          result.netBytes += out.length;
          // young-generation GCs paced by bytes moved, when the process turned pacing on (the CLI
          // does): without them the per-chunk buffers pile up until a costly full GC
          noteBytesMoved(part.length);
          if (out.length > 0 && !sink.write(out)) waitingDrain = true;
        }
        if (s.eof || s.got < s.len) {
          // end of file: later slots (if any were sent) can only be empty
          eof = true;
          slots.length = 0;
        }
      }
      if (waitingDrain && !drainArmed) {
        drainArmed = true;
        sink.once('drain', onDrain);
      }
      if (!finished && eof && slots.length === 0 && inflight === 0) finish();
    };

    let ending = false;
    const finish = (): void => {
      if (finished || ending) return;
      ending = true;
      const tail = convert?.end?.();
      if (tail && tail.length > 0) {
        result.netBytes += tail.length;
        sink.write(tail);
      }
      sink.end(() => {
        if (finished) return;
        finished = true;
        cleanup();
        resolve(result);
      });
    };

    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    sink.on('error', onLost);
    sink.on('close', onLost);
    // whatever the FTP client sends on a download connection is dropped; reading it lets its FIN in
    sink.resume();
    fill();
  });
}

/**
 * Writes what arrives on `source` to the file from `start` on, until `source` ends and every WRITE
 * was answered. Rejects with the SFTP error (the first one; `source` is then left open and paused
 * for the caller), DataConnectionLost or TransferAborted (`source` destroyed).
 */
export function socketToSftp(
  ops: SftpOps,
  handle: Buffer,
  start: number,
  source: Duplex,
  opts: PumpOptions,
  signal: AbortSignal,
  convert?: Converter,
  result: PumpResult = { netBytes: 0, fileBytes: 0 },
): Promise<PumpResult> {
  const chunk = Math.max(1, Math.min(opts.chunkSize, ops.maxWriteLen));
  const depth = pumpDepth(opts, chunk);
  return new Promise<PumpResult>((resolve, reject) => {
    let pos = start;
    let inflight = 0;
    let ended = false;
    let finished = false;
    let staged: Buffer | undefined;
    let stagedLen = 0;

    const cleanup = (): void => {
      signal.removeEventListener('abort', onAbort);
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onLost);
      source.off('close', onClose);
    };
    /**
     * `keepSource`: an SFTP error leaves the data connection to the caller, paused, so that it can
     * drain what the FTP client is still sending (a client that does not read the control
     * connection while it sends would otherwise get a reset instead of the reply).
     */
    const fail = (err: Error, keepSource = false): void => {
      if (finished) return;
      finished = true;
      cleanup();
      if (keepSource) source.pause();
      else source.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new TransferAborted('transfer aborted'));
    const onLost = (): void => fail(new DataConnectionLost('data connection failed'));
    const onClose = (): void => {
      if (!ended) fail(new DataConnectionLost('data connection closed before its end'));
    };

    /** Chunks ready while `depth` WRITEs were out (at most one socket read's worth). */
    const waiting: Buffer[] = [];
    const transport = ops.transport;
    const send = (buf: Buffer): void => {
      if (inflight >= depth) {
        waiting.push(buf);
        return;
      }
      // the SSH packets of WRITEs sent in the same poll phase leave in one writev
      if (transport) gatherWrites(transport, buf.length);
      inflight++;
      const at = pos;
      pos += buf.length;
      result.fileBytes += buf.length;
      ops.write(handle, buf, at).then(
        () => {
          inflight--;
          if (finished) return;
          while (waiting.length > 0 && inflight < depth) send(waiting.shift()!);
          if (!ended && inflight < depth && waiting.length === 0 && source.isPaused()) source.resume();
          if (inflight === 0 && stagedLen > 0) flushStaged();
          maybeDone();
        },
        (err: Error) => {
          inflight--;
          fail(err, true);
        },
      );
      if (inflight >= depth) source.pause();
    };
    const flushStaged = (): void => {
      if (!staged || stagedLen === 0) return;
      send(staged.subarray(0, stagedLen));
      staged = undefined;
      stagedLen = 0;
    };
    const take = (data: Buffer): void => {
      let off = 0;
      // whole chunks go out as they are when nothing is staged: no copy
      while (stagedLen === 0 && data.length - off >= chunk) {
        send(data.subarray(off, off + chunk));
        off += chunk;
      }
      while (off < data.length) {
        staged ??= Buffer.allocUnsafe(chunk);
        const n = data.copy(staged, stagedLen, off);
        stagedLen += n;
        off += n;
        if (stagedLen === chunk) flushStaged();
      }
    };
    const onData = (d: Buffer): void => {
      if (finished) return;
      result.netBytes += d.length;
      noteBytesMoved(d.length);
      const data = convert ? convert.push(d) : d;
      if (data.length > 0) take(data);
      // a small tail waits for more; a large staged chunk goes when the pipe is short of work
      if (inflight === 0 && stagedLen > 0) flushStaged();
    };
    const onEnd = (): void => {
      ended = true;
      const tail = convert?.end?.();
      if (tail && tail.length > 0) take(tail);
      flushStaged();
      maybeDone();
    };
    const maybeDone = (): void => {
      if (finished || !ended || inflight > 0 || waiting.length > 0) return;
      finished = true;
      cleanup();
      resolve(result);
    };

    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onLost);
    source.on('close', onClose);
    source.resume();
  });
}

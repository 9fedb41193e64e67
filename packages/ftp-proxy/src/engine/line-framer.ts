const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into control lines, each ending in LF (CRLF per RFC 959; a bare LF is
 * tolerated). A line is handed out as the exact bytes that came, terminator included, so a line that
 * is not rewritten can be forwarded byte-for-byte (non-UTF-8 bytes and Telnet sequences too).
 *
 * Cost is linear in input: each byte is scanned once; a partial line is kept as a list of chunks and
 * joined once, when its LF arrives. A line whose content grows beyond `maxLineLength` is never
 * buffered further: it is reported once through `onOverflow` and its bytes are dropped up to and
 * including the next LF.
 */
export class LineFramer {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private discarding = false;

  constructor(private readonly maxLineLength: number) {}

  /** Bytes of an incomplete line held right now (never more than maxLineLength + 1). */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** True when a line has overflowed and its rest is being dropped. */
  get isDiscarding(): boolean {
    return this.discarding;
  }

  /**
   * Feeds one chunk. `onLine` gets each complete line (a view into `chunk` when the line lies inside
   * it: copy it if you keep it beyond the call and the caller reuses chunks). `onOverflow` is called
   * once per overlong line, when it is first detected, with the number of bytes seen so far.
   */
  push(chunk: Buffer, onLine: (line: Buffer) => void, onOverflow: (seenBytes: number) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf + 1;
      if (this.discarding) {
        if (lf !== -1) this.discarding = false;
        start = end;
        continue;
      }
      const segment = chunk.subarray(start, end);
      if (lf === -1) {
        this.pending.push(segment);
        this.pendingLength += segment.length;
        // +1: the byte just before the LF may be the CR of the terminator.
        if (this.pendingLength > this.maxLineLength + 1) this.overflow(onOverflow);
        start = end;
        continue;
      }
      let line: Buffer;
      if (this.pendingLength === 0) {
        line = segment;
      } else {
        this.pending.push(segment);
        line = Buffer.concat(this.pending, this.pendingLength + segment.length);
        this.pending = [];
        this.pendingLength = 0;
      }
      if (contentLength(line) > this.maxLineLength) {
        onOverflow(line.length);
      } else {
        onLine(line);
      }
      start = end;
    }
  }

  /**
   * Hands out and forgets an incomplete line's bytes: used when the control channel stops being
   * line-based (after AUTH TLS is accepted, the rest is a TLS stream to pass through raw).
   */
  takeBuffered(): Buffer {
    const bytes = Buffer.concat(this.pending, this.pendingLength);
    this.pending = [];
    this.pendingLength = 0;
    return bytes;
  }

  private overflow(onOverflow: (seenBytes: number) => void): void {
    const seen = this.pendingLength;
    this.pending = [];
    this.pendingLength = 0;
    this.discarding = true;
    onOverflow(seen);
  }
}

/** Length of a line without its CRLF or LF terminator. */
export function contentLength(line: Buffer): number {
  let n = line.length;
  if (n > 0 && line[n - 1] === LF) n--;
  if (n > 0 && line[n - 1] === CR) n--;
  return n;
}

/** The line's text without its terminator, decoded byte-for-byte (latin1) so nothing is lost. */
export function lineText(line: Buffer): string {
  return line.toString('latin1', 0, contentLength(line));
}

/** The terminator the peer used (CRLF or a bare LF), so a rewritten line keeps the peer's style. */
export function lineTerminator(line: Buffer): string {
  const n = line.length;
  return n >= 2 && line[n - 2] === CR && line[n - 1] === LF ? '\r\n' : '\n';
}

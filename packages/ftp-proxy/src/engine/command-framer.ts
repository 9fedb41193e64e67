/**
 * Splits the FTP client's byte stream into command lines the way the proxy will forward them.
 *
 * RFC 959 ends a command with CRLF, but servers do not agree on anything else: vsftpd, proftpd and
 * pure-ftpd also end one at a bare LF, ftp-srv and pyftpdlib only at CRLF. Forwarded as it came, a
 * line with a bare LF in it is one command to some servers and several to others, and a proxy that
 * pairs replies with commands can be talked into pairing an echoed reply with a command the server
 * never saw. So the proxy decides the framing itself and forwards every line it made ending in
 * CRLF: each server then sees exactly the commands the proxy paired.
 *
 * A line ends at
 * - CRLF;
 * - a bare LF (a client that ends lines so; forwarded with CRLF);
 * - a CR not followed by LF, also a CR that is the last byte received: Python's ftplib sends
 *   `ABOR\r\n` with MSG_OOB, which makes the LF urgent data, and Node's sockets never deliver that
 *   byte. Waiting for it would hang the session; the CR ends the line, and an LF arriving first
 *   thing afterwards belongs to it.
 */
const LF = 0x0a;
const CR = 0x0d;

/** How a command line ended in the client's stream. */
export type CommandTerminator = 'crlf' | 'lf' | 'cr';

export class CommandFramer {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private discarding = false;
  /** The last line ended at a CR that was the last byte seen: an LF next is part of it. */
  private lfMayFollow = false;

  constructor(private readonly maxLineLength: number) {}

  /** Bytes of an incomplete line held right now (never more than maxLineLength). */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /**
   * Feeds one chunk. `onLine` gets each complete line's content, without its terminator (a view into
   * `chunk` when it lies inside it: copy it to keep it), and how it ended. A line longer than
   * `maxLineLength` is reported once through `onOverflow` and dropped up to its end.
   */
  push(
    chunk: Buffer,
    onLine: (content: Buffer, terminator: CommandTerminator) => void,
    onOverflow: (seenBytes: number) => void,
  ): void {
    let start = 0;
    if (this.lfMayFollow && chunk.length > 0) {
      this.lfMayFollow = false;
      if (chunk[0] === LF) start = 1;
    }
    while (start < chunk.length) {
      const end = nextBreak(chunk, start);
      if (end === -1) {
        this.hold(chunk.subarray(start), onOverflow);
        return;
      }
      const b = chunk[end]!;
      let terminator: CommandTerminator;
      let next: number;
      if (b === LF) {
        terminator = 'lf';
        next = end + 1;
      } else if (chunk[end + 1] === LF) {
        terminator = 'crlf';
        next = end + 2;
      } else {
        terminator = 'cr';
        next = end + 1;
        if (next === chunk.length) this.lfMayFollow = true;
      }
      this.emit(chunk.subarray(start, end), terminator, onLine, onOverflow);
      start = next;
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
    this.lfMayFollow = false;
    return bytes;
  }

  private hold(segment: Buffer, onOverflow: (seenBytes: number) => void): void {
    if (this.discarding) return;
    this.pending.push(segment);
    this.pendingLength += segment.length;
    if (this.pendingLength > this.maxLineLength) {
      const seen = this.pendingLength;
      this.pending = [];
      this.pendingLength = 0;
      this.discarding = true;
      onOverflow(seen);
    }
  }

  private emit(
    segment: Buffer,
    terminator: CommandTerminator,
    onLine: (content: Buffer, terminator: CommandTerminator) => void,
    onOverflow: (seenBytes: number) => void,
  ): void {
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    let content = segment;
    if (this.pendingLength > 0) {
      this.pending.push(segment);
      content = Buffer.concat(this.pending, this.pendingLength + segment.length);
      this.pending = [];
      this.pendingLength = 0;
    }
    if (content.length > this.maxLineLength) onOverflow(content.length);
    else onLine(content, terminator);
  }
}

/** Index of the next CR or LF at or after `from`, or -1. */
function nextBreak(chunk: Buffer, from: number): number {
  const lf = chunk.indexOf(LF, from);
  const cr = chunk.indexOf(CR, from);
  if (lf === -1) return cr;
  if (cr === -1) return lf;
  return Math.min(lf, cr);
}

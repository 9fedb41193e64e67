/**
 * TYPE A (RFC 959 §3.1.1.1): the network form of a text file ends each line with CRLF; the files
 * behind SFTP are Unix files that end lines with LF. Conversion runs on the fly, chunk by chunk, and
 * keeps the one byte of state a line end split across two chunks needs.
 *
 * - To the network (RETR): an LF not preceded by CR becomes CRLF; an existing CRLF stays as it is
 *   (a file that already has CRLF line ends is not turned into CR CR LF).
 * - From the network (STOR/APPE): CRLF becomes LF; a CR not followed by LF is kept.
 */
const CR = 0x0d;
const LF = 0x0a;

export class ToNetAscii {
  private lastWasCr = false;

  /** The converted chunk (the input itself when it has no bare LF). */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    let bare = 0;
    let prevCr = this.lastWasCr;
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      if (!(i === 0 ? prevCr : chunk[i - 1] === CR)) bare++;
    }
    const wasCr = this.lastWasCr;
    this.lastWasCr = chunk[chunk.length - 1] === CR;
    if (bare === 0) return chunk;
    const out = Buffer.allocUnsafe(chunk.length + bare);
    let o = 0;
    let start = 0;
    prevCr = wasCr;
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      if (i === 0 ? prevCr : chunk[i - 1] === CR) continue;
      o += chunk.copy(out, o, start, i);
      out[o++] = CR;
      start = i; // the LF itself is copied with the next segment
    }
    chunk.copy(out, o, start);
    return out;
  }
}

/** Bytes `chunk` takes in network ASCII form, given whether the byte before it was a CR. */
export function netAsciiLength(chunk: Buffer, prevWasCr: boolean): number {
  let n = chunk.length;
  for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
    if (!(i === 0 ? prevWasCr : chunk[i - 1] === CR)) n++;
  }
  return n;
}

export class FromNetAscii {
  /** A CR ended the previous chunk: whether it is kept depends on the next byte. */
  private heldCr = false;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const held = this.heldCr;
    const endsInCr = chunk[chunk.length - 1] === CR;
    const body = endsInCr ? chunk.subarray(0, chunk.length - 1) : chunk;
    this.heldCr = endsInCr;
    // CR before the first byte: dropped when that byte is LF, else kept.
    const lead = held && body[0] !== LF ? 1 : 0;
    if (body.indexOf(CR) === -1 && lead === 0) return body;
    const out = Buffer.allocUnsafe(body.length + lead);
    let o = 0;
    if (lead) out[o++] = CR;
    let start = 0;
    for (let i = body.indexOf(CR); i !== -1; i = body.indexOf(CR, i + 1)) {
      if (body[i + 1] !== LF) continue;
      o += body.copy(out, o, start, i);
      start = i + 1;
    }
    o += body.copy(out, o, start);
    return out.subarray(0, o);
  }

  /** What is left at the end of the stream: a final CR that no LF followed. */
  end(): Buffer {
    const rest = this.heldCr ? Buffer.from([CR]) : Buffer.alloc(0);
    this.heldCr = false;
    return rest;
  }
}

/**
 * RekeyLimit, as OpenSSH has it: a new key exchange once this many bytes have gone one way, or
 * this much time has passed, since the last one. ssh2 never starts a re-key by itself, so without
 * this a long-lived ftpfwd link (a gateway runs for weeks) would keep its first keys for good.
 * RFC 4253 §9 recommends new keys after each gigabyte or hour; RFC 4344 §3 bounds how many
 * blocks one key may encrypt.
 *
 * The parser and the decision are pure; enforceRekeyLimit is the I/O at the edge.
 */
/**
 * What enforceRekeyLimit reads the traffic off: a net.Socket, or any stream ssh2 runs over that
 * counts its bytes the same way (a jump host's channel, a ProxyCommand's pipes: see the client's
 * route.ts).
 */
export interface ByteCountingStream {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly destroyed: boolean;
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  off(event: 'data', fn: (chunk: Buffer) => void): unknown;
}

export interface RekeyLimit {
  /** Bytes one way after which to re-key; undefined: the cipher's own bound (defaultRekeyBytes). */
  bytes?: number;
  /** Seconds after which to re-key; undefined: no time limit. */
  seconds?: number;
}

/** What a RekeyLimit setting looks like, for error messages. */
export const REKEY_LIMIT_SYNTAX =
  'BYTES [SECONDS]: BYTES a number with an optional K, M or G suffix, or "default"; SECONDS a time such as 3600, 30m or 1h, or "none"';

const BYTE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const TIME_UNITS: Record<string, number> = { '': 1, S: 1, M: 60, H: 3600, D: 86400, W: 604800 };

/** OpenSSH refuses a byte limit this small (it would re-key after every few packets). */
export const MIN_REKEY_BYTES = 16;

/**
 * Parses OpenSSH's `RekeyLimit BYTES [SECONDS]`: `default none` (OpenSSH's default), `1G`,
 * `512M 1h`, `default 30m`, `4G 1h30m`. Throws an Error that says what was expected and what came.
 */
export function parseRekeyLimit(text: string): RekeyLimit {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length < 1 || words.length > 2)
    throw new Error(`expected ${REKEY_LIMIT_SYNTAX}; got "${text.trim()}"`);
  const out: RekeyLimit = {};
  const [first, second] = words as [string, string | undefined];
  if (first.toLowerCase() !== 'default') {
    const m = /^(\d+)([KMG]?)$/i.exec(first);
    const bytes = m ? Number(m[1]) * (BYTE_UNITS[m[2]!.toUpperCase()] ?? 1) : Number.NaN;
    if (!Number.isSafeInteger(bytes) || bytes < MIN_REKEY_BYTES)
      throw new Error(
        `expected a byte count of at least ${MIN_REKEY_BYTES} (K, M or G suffix allowed) or "default"; got "${first}"`,
      );
    out.bytes = bytes;
  }
  if (second !== undefined && second.toLowerCase() !== 'none') {
    const seconds = parseTime(second);
    if (seconds === undefined || seconds === 0)
      throw new Error(`expected a time such as 3600, 30m or 1h (more than 0), or "none"; got "${second}"`);
    out.seconds = seconds;
  }
  return out;
}

/** OpenSSH's TIME FORMATS: `90`, `90s`, `10m`, `1h30m`, `2d`, `1w`. Undefined if malformed. */
export function parseTime(text: string): number | undefined {
  if (!/^(\d+[smhdw]?)+$/i.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)([smhdw]?)/gi))
    total += Number(m[1]) * TIME_UNITS[m[2]!.toUpperCase()]!;
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * The bytes one key may encrypt when RekeyLimit says "default", as OpenSSH computes it: 2^(2·b)
 * blocks for a b-byte block of 16 or more (AES: 64 GiB), 1 GiB for smaller blocks
 * (chacha20-poly1305, 3DES), as RFC 4344 §3.2 asks.
 */
export function defaultRekeyBytes(cipher: string): number {
  const blockSize = /^(aes|rijndael)/i.test(cipher) ? 16 : 8;
  return blockSize >= 16 ? 2 ** (2 * blockSize) * blockSize : 2 ** 30;
}

export interface KeyUse {
  /** Bytes received and sent on the SSH connection since its last key exchange. */
  bytesIn: number;
  bytesOut: number;
  /** Milliseconds since the last key exchange completed. */
  elapsedMs: number;
}

/** Why these keys are due for replacement under `limit` (with `cipherBytes` as "default"), or undefined. */
export function rekeyReason(use: KeyUse, limit: RekeyLimit, cipherBytes: number): string | undefined {
  const bytes = Math.min(limit.bytes ?? cipherBytes, cipherBytes);
  if (use.bytesIn >= bytes) return `${use.bytesIn} bytes received since the last key exchange`;
  if (use.bytesOut >= bytes) return `${use.bytesOut} bytes sent since the last key exchange`;
  if (limit.seconds !== undefined && use.elapsedMs >= limit.seconds * 1000)
    return `${Math.round(use.elapsedMs / 1000)} s since the last key exchange`;
  return undefined;
}

/** The part of an ssh2 Client or server Connection that enforceRekeyLimit uses. */
export interface RekeyingConnection {
  on(
    event: 'handshake',
    fn: (negotiated: { cs?: { cipher?: string }; sc?: { cipher?: string } }) => void,
  ): unknown;
  once(event: 'close', fn: () => void): unknown;
}

/** How often the byte counts are looked at: a few ms of transfer at most between two looks. */
export const REKEY_CHECK_BYTES = 1024 * 1024;

/**
 * Starts a key exchange (`rekey`) whenever `limit` says the current keys are used up, counted from
 * the last completed key exchange (ours or the peer's: 'handshake'). Bytes are read off the SSH
 * socket's counters on its reads (a read comes at least with every window adjust, so an upload is
 * seen too) once REKEY_CHECK_BYTES more have passed; the time limit has its own timer. Call it
 * right after the first key exchange.
 */
export function enforceRekeyLimit(
  conn: RekeyingConnection,
  sock: ByteCountingStream,
  limit: RekeyLimit,
  cipher: string,
  rekey: (reason: string) => void,
): void {
  // What the keys in use have done so far; reset by restart() at each completed key exchange.
  let cipherBytes = 0;
  let baseIn = 0;
  let baseOut = 0;
  let since = 0;
  let nextLook = 0;
  let pending = false;
  let timer: NodeJS.Timeout | undefined;

  const check = (): void => {
    if (pending || sock.destroyed) return;
    const reason = rekeyReason(
      {
        bytesIn: sock.bytesRead - baseIn,
        bytesOut: sock.bytesWritten - baseOut,
        elapsedMs: Date.now() - since,
      },
      limit,
      cipherBytes,
    );
    if (!reason) return;
    pending = true;
    rekey(reason);
  };
  const armTimer = (): void => {
    clearTimeout(timer);
    if (limit.seconds === undefined) return;
    const left = limit.seconds * 1000 - (Date.now() - since);
    timer = setTimeout(onTimer, Math.max(left, 10));
    timer.unref();
  };
  // A timer may fire a moment before the wall clock says the time is up: look again then.
  const onTimer = (): void => {
    check();
    if (!pending && !sock.destroyed) armTimer();
  };
  const onData = (): void => {
    const moved = sock.bytesRead - baseIn + (sock.bytesWritten - baseOut);
    if (moved < nextLook) return;
    nextLook = moved + REKEY_CHECK_BYTES;
    check();
  };

  const restart = (cipherName: string): void => {
    cipherBytes = defaultRekeyBytes(cipherName);
    baseIn = sock.bytesRead;
    baseOut = sock.bytesWritten;
    since = Date.now();
    nextLook = 0;
    pending = false;
    armTimer();
  };

  sock.on('data', onData);
  conn.on('handshake', (negotiated) => restart(negotiated.cs?.cipher ?? negotiated.sc?.cipher ?? cipher));
  conn.once('close', () => {
    clearTimeout(timer);
    sock.off('data', onData);
  });
  restart(cipher);
}

/**
 * ssh2's private members: the one file in ftpfwd that reads or patches them.
 *
 * ssh2 offers no public way to do what each function below does; each was measured to matter
 * (the comments at the callers say how much). They were written against ssh2 1.17.0, which
 * package.json pins. A newer ssh2 may move any of them, so `probeSsh2()` runs every one once per
 * process on a real ssh2 client and server over loopback before the first connection is made, and
 * a feature that is missing or misbehaves is switched off — logged once — and its caller takes
 * ssh2's public path instead. The patches apply to the connections ftpfwd and ftpfwd-sshd make,
 * never to the ssh2 library as a whole: an application that embeds them keeps a plain ssh2.
 *
 * Two things are only read, not probed: whether the native crypto binding loaded, and ssh2's
 * default and supported algorithm lists (`ssh2AlgorithmCatalog`, for OpenSSH's list syntax), which
 * fall back to 1.17.0's documented lists when the private module is not where it was.
 */
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import ssh2, { type ClientChannel } from 'ssh2';
import { type PacketPoolResult, pooledAllocPacket, sameLayout } from './packet-pool.js';

/** What ftpfwd takes from ssh2's private members, each checked by the probe. */
export type Ssh2Feature =
  /** A channel's EOF received (`incoming.state`), before its buffered data is read. */
  | 'eofState'
  /** Sending a CHANNEL_WINDOW_ADJUST of our own (`_protocol.channelWindowAdjust`). */
  | 'windowAdjust'
  /** The peer's software version (`_remoteVer`). */
  | 'peerSoftware'
  /** Refusing a channel with our reason code and text (`_protocol.channelOpenFail`). */
  | 'rejectReason'
  /** Starting a key exchange from the client side (`_protocol.rekey`). */
  | 'clientRekey'
  /** Outgoing packets from a per-connection slab (`_protocol._cipher.allocPacket`). */
  | 'packetPool';

export const SSH2_FEATURES: readonly Ssh2Feature[] = [
  'eofState',
  'windowAdjust',
  'peerSoftware',
  'rejectReason',
  'clientRekey',
  'packetPool',
];

/** What the probe found; until it ran, every feature counts as there (as it is on ssh2 1.17.0). */
const support: Record<Ssh2Feature, boolean> = {
  eofState: true,
  windowAdjust: true,
  peerSoftware: true,
  rejectReason: true,
  clientRekey: true,
  packetPool: true,
};

export function ssh2Supports(feature: Ssh2Feature): boolean {
  return support[feature];
}

// ---------------------------------------------------------------------------------- channels

interface ChannelInternals {
  incoming?: { state?: string; window?: number };
  outgoing?: { id?: number; state?: string; window?: number };
  _client?: ProtocolHolder & { _remoteVer?: string };
}

interface ProtocolHolder {
  _protocol?: {
    channelWindowAdjust?(recipient: number, amount: number): void;
    channelOpenFail?(recipient: number, reason: number, description: string): void;
    rekey?(): void;
    _cipher?: CipherLike;
  };
}

/**
 * Whether `channel` has received its EOF, which ssh2 marks before the stream's 'end' (that waits
 * until the data the channel holds has been read). Public fallback: the stream ended.
 */
export function channelEofReceived(channel: Duplex): boolean {
  if (channel.readableEnded) return true;
  if (!support.eofState) return false;
  return (channel as ChannelInternals).incoming?.state === 'eof';
}

/**
 * Sends a CHANNEL_WINDOW_ADJUST for `bytes` just taken, keeping the window where it was (RFC 4254
 * §5.2). False when it cannot (not an ssh2 channel, closing, or the feature is off).
 */
export function grantWindow(channel: Duplex | object, bytes: number): boolean {
  if (!support.windowAdjust) return false;
  const ch = channel as ChannelInternals;
  const proto = ch._client?._protocol;
  if (typeof ch.incoming?.window !== 'number' || typeof ch.outgoing?.id !== 'number') return false;
  if (typeof proto?.channelWindowAdjust !== 'function') return false;
  if (ch.outgoing.state === 'closing' || ch.outgoing.state === 'closed') return false;
  ch.incoming.window += bytes;
  proto.channelWindowAdjust(ch.outgoing.id, bytes);
  return true;
}

/**
 * The window `channel` (a channel or an SFTP session) still grants the peer, undefined when ssh2
 * does not show it. With grantWindow, a reader can keep the window topped up sooner than ssh2
 * does (it waits until half of it is used).
 */
export function receiveWindow(channel: object): number | undefined {
  if (!support.windowAdjust) return undefined;
  const w = (channel as ChannelInternals).incoming?.window;
  return typeof w === 'number' ? w : undefined;
}

/**
 * The socket of the SSH connection a channel or SFTP session runs on (ssh2 keeps it private):
 * corked around a burst, the packets of several writes leave in one writev. Undefined when it is
 * not there.
 */
export function connectionSocketOf(channel: object): Writable | undefined {
  const sock = (channel as { _client?: { _sock?: Writable } })._client?._sock;
  return sock && typeof sock.cork === 'function' ? sock : undefined;
}

/** What ssh2 learned about an SFTP server and keeps private. */
export interface SftpServerInfo {
  /** Extensions the server announced (name → version), e.g. `posix-rename@openssh.com`. */
  extensions: Record<string, string>;
  /** Longest READ/WRITE ssh2 sends as one request (from `limits@openssh.com`, else its default). */
  maxReadLen: number | undefined;
  maxWriteLen: number | undefined;
}

export function sftpServerInfo(sftp: object): SftpServerInfo {
  const w = sftp as { _extensions?: unknown; _maxReadLen?: unknown; _maxWriteLen?: unknown };
  const ext = w._extensions;
  const num = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined);
  return {
    extensions: ext && typeof ext === 'object' ? { ...(ext as Record<string, string>) } : {},
    maxReadLen: num(w._maxReadLen),
    maxWriteLen: num(w._maxWriteLen),
  };
}

/** The software part of the SSH peer's identification (`OpenSSH_9.2p1 …`), when ssh2 keeps it. */
export function peerSoftware(channelOrClient: unknown): string | undefined {
  if (!support.peerSoftware) return undefined;
  const c = channelOrClient as ChannelInternals & { _remoteVer?: string };
  const v = c._client?._remoteVer ?? c._remoteVer;
  return typeof v === 'string' ? v : undefined;
}

/**
 * Refuses an incoming channel with `reason` (RFC 4254 §5.1) and `description`. ssh2's reject()
 * picks the reason itself (CONNECT_FAILED once a channel number was reserved), so OpenSSH would
 * print "connect failed" for a policy refusal; for the duration of the synchronous reject, its
 * failure message goes through one that carries ours. Public fallback: ssh2's reject().
 */
export function rejectChannel(
  connection: unknown,
  reject: () => void,
  reason: number,
  description: string,
): void {
  const proto = (connection as ProtocolHolder | undefined)?._protocol;
  const original = proto?.channelOpenFail;
  if (!support.rejectReason || !proto || typeof original !== 'function') {
    reject();
    return;
  }
  proto.channelOpenFail = (remote: number) => original.call(proto, remote, reason, description);
  try {
    reject();
  } finally {
    proto.channelOpenFail = original;
  }
}

/**
 * Starts a key exchange from the client side (ssh2 1.17's Client has no public rekey(); its server
 * Connection has). False when it cannot: the RekeyLimit then rests on the server.
 */
export function startClientRekey(client: unknown): boolean {
  const proto = (client as ProtocolHolder | undefined)?._protocol;
  if (!support.clientRekey || typeof proto?.rekey !== 'function') return false;
  proto.rekey();
  return true;
}

// ---------------------------------------------------------------------------------- packets

interface CipherLike {
  allocPacket(payloadLen: number): Buffer;
  constructor?: { name?: string };
}

/** The ssh2 cipher class packet-pool.ts knows the layout of. */
const KNOWN_CIPHER_CLASS = 'AESGCMCipherBinding';
const POOLED = Symbol('ftpfwd.pooledCipher');

/**
 * Outgoing packets of `connection` (an ssh2 Client or server Connection) from a slab of its own
 * (packet-pool.ts), for its current cipher and each one a later key exchange installs. Only this
 * connection's cipher object is changed, never ssh2's class.
 */
export function poolOutgoingPackets(connection: unknown, enabled = true): PacketPoolResult {
  if (!enabled) return 'off';
  if (!support.packetPool) return 'unknown-cipher';
  const result = poolCurrentCipher(connection);
  const emitter = connection as { on?: (ev: string, fn: () => void) => void; [POOLED]?: true };
  if (result === 'pooled' && typeof emitter.on === 'function' && !emitter[POOLED]) {
    emitter[POOLED] = true;
    // A re-key installs a new cipher object: pool that one too once the exchange is done.
    const again = () => void poolCurrentCipher(connection);
    emitter.on('handshake', again);
    emitter.on('rekey', again);
  }
  return result;
}

/** Whether `connection`'s current cipher takes its outgoing packets from a slab of its own. */
export function outgoingPacketsPooled(connection: unknown): boolean {
  const cipher = (connection as ProtocolHolder | undefined)?._protocol?._cipher as
    | (CipherLike & { [POOLED]?: true })
    | undefined;
  return cipher?.[POOLED] === true;
}

function poolCurrentCipher(connection: unknown): PacketPoolResult {
  const cipher = (connection as ProtocolHolder | undefined)?._protocol?._cipher as
    | (CipherLike & { [POOLED]?: true })
    | undefined;
  if (!cipher || typeof cipher.allocPacket !== 'function') return 'unknown-cipher';
  if (cipher[POOLED]) return 'already-pooled';
  if (Object.getPrototypeOf(cipher)?.constructor?.name !== KNOWN_CIPHER_CLASS) return 'unknown-cipher';
  const original = cipher.allocPacket;
  if (!sameLayout((n) => original.call(cipher, n))) return 'layout-differs';
  cipher.allocPacket = pooledAllocPacket();
  cipher[POOLED] = true;
  return 'pooled';
}

// ---------------------------------------------------------------------------------- native crypto

/**
 * Whether ssh2 runs on its native crypto binding (without it every packet goes through
 * per-packet node:crypto: ~30 % slower on Node 26, far slower for chacha20). ssh2 exposes this
 * only in a private module.
 */
export function ssh2NativeCrypto(): boolean {
  try {
    const require = createRequire(import.meta.url);
    return require('ssh2/lib/protocol/crypto.js').bindingAvailable === true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------- algorithms

/** ssh2's default and supported list of one algorithm kind. */
export interface Ssh2AlgorithmList {
  defaults: readonly string[];
  supported: readonly string[];
}

export type Ssh2AlgorithmLists = Record<'kex' | 'hostkey' | 'cipher' | 'mac' | 'compress', Ssh2AlgorithmList>;

/**
 * ssh2 1.17.0's lists as its README documents them, for an ssh2 whose private constants module
 * moved. The real ones depend on the runtime (curve25519 and ed25519 need node:crypto support,
 * chacha20's place depends on the CPU and the binding), so the module is read when it is there.
 */
const SSH2_LISTS_1_17: Ssh2AlgorithmLists = {
  kex: {
    defaults: [
      'curve25519-sha256',
      'curve25519-sha256@libssh.org',
      'ecdh-sha2-nistp256',
      'ecdh-sha2-nistp384',
      'ecdh-sha2-nistp521',
      'diffie-hellman-group-exchange-sha256',
      'diffie-hellman-group14-sha256',
      'diffie-hellman-group15-sha512',
      'diffie-hellman-group16-sha512',
      'diffie-hellman-group17-sha512',
      'diffie-hellman-group18-sha512',
    ],
    supported: [
      'curve25519-sha256',
      'curve25519-sha256@libssh.org',
      'ecdh-sha2-nistp256',
      'ecdh-sha2-nistp384',
      'ecdh-sha2-nistp521',
      'diffie-hellman-group-exchange-sha256',
      'diffie-hellman-group14-sha256',
      'diffie-hellman-group15-sha512',
      'diffie-hellman-group16-sha512',
      'diffie-hellman-group17-sha512',
      'diffie-hellman-group18-sha512',
      'diffie-hellman-group-exchange-sha1',
      'diffie-hellman-group14-sha1',
      'diffie-hellman-group1-sha1',
    ],
  },
  hostkey: {
    defaults: [
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ],
    supported: [
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-dss',
    ],
  },
  cipher: {
    defaults: [
      'aes128-gcm@openssh.com',
      'aes256-gcm@openssh.com',
      'aes128-ctr',
      'aes192-ctr',
      'aes256-ctr',
      'chacha20-poly1305@openssh.com',
    ],
    supported: [
      'aes128-gcm@openssh.com',
      'aes256-gcm@openssh.com',
      'aes128-ctr',
      'aes192-ctr',
      'aes256-ctr',
      'chacha20-poly1305@openssh.com',
      'aes256-cbc',
      'aes192-cbc',
      'aes128-cbc',
      '3des-cbc',
      'aes128-gcm',
      'aes256-gcm',
    ],
  },
  mac: {
    defaults: [
      'hmac-sha2-256-etm@openssh.com',
      'hmac-sha2-512-etm@openssh.com',
      'hmac-sha1-etm@openssh.com',
      'hmac-sha2-256',
      'hmac-sha2-512',
      'hmac-sha1',
    ],
    supported: [
      'hmac-sha2-256-etm@openssh.com',
      'hmac-sha2-512-etm@openssh.com',
      'hmac-sha1-etm@openssh.com',
      'hmac-sha2-256',
      'hmac-sha2-512',
      'hmac-sha1',
      'hmac-md5',
      'hmac-sha2-256-96',
      'hmac-sha2-512-96',
      'hmac-sha1-96',
      'hmac-md5-96',
    ],
  },
  compress: {
    defaults: ['none', 'zlib@openssh.com', 'zlib'],
    supported: ['none', 'zlib@openssh.com', 'zlib'],
  },
};

let algorithmLists: Ssh2AlgorithmLists | undefined;

/**
 * What ssh2 offers by default and can do, per algorithm kind: ssh2's public `algorithms` option
 * takes exact lists, but the lists themselves live only in its private constants module.
 */
export function ssh2AlgorithmCatalog(): Ssh2AlgorithmLists {
  if (algorithmLists) return algorithmLists;
  try {
    const c = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, unknown>;
    const pair = (d: string, s: string): Ssh2AlgorithmList => {
      const defaults = c[`DEFAULT_${d}`];
      const supported = c[`SUPPORTED_${s}`];
      const strings = (v: unknown): v is string[] =>
        Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
      if (!strings(defaults) || !strings(supported)) throw new Error(`no ${d} lists`);
      return { defaults: [...defaults], supported: [...supported] };
    };
    algorithmLists = {
      kex: pair('KEX', 'KEX'),
      hostkey: pair('SERVER_HOST_KEY', 'SERVER_HOST_KEY'),
      cipher: pair('CIPHER', 'CIPHER'),
      mac: pair('MAC', 'MAC'),
      compress: pair('COMPRESSION', 'COMPRESSION'),
    };
  } catch {
    algorithmLists = SSH2_LISTS_1_17;
  }
  return algorithmLists;
}

// ---------------------------------------------------------------------------------- the probe

export interface ProbeReport {
  /** ssh2's version, as its package.json says. */
  version: string;
  nativeCrypto: boolean;
  /** Features switched off, each with what was seen. */
  off: { feature: Ssh2Feature; reason: string }[];
  /** Why the probe itself could not run (every feature is then kept, untested). */
  error?: string;
}

let probing: Promise<ProbeReport> | undefined;

/**
 * Runs each feature once on a real ssh2 server and client over loopback and switches off those
 * that are missing or misbehave. Once per process; later calls get the same report. Never rejects.
 */
export function probeSsh2(): Promise<ProbeReport> {
  // The probe itself could not run (no loopback?): keep every feature, say so.
  probing ??= runProbe().catch(
    (err: unknown): ProbeReport => ({
      version: ssh2Version(),
      nativeCrypto: ssh2NativeCrypto(),
      off: [],
      error: String(err),
    }),
  );
  return probing;
}

function ssh2Version(): string {
  try {
    return (createRequire(import.meta.url)('ssh2/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const PROBE_TIMEOUT_MS = 3_000;

async function runProbe(): Promise<ProbeReport> {
  const off: ProbeReport['off'] = [];
  const fail = (feature: Ssh2Feature, reason: string): void => {
    if (!support[feature]) return;
    support[feature] = false;
    off.push({ feature, reason });
  };
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  // the probe's client checks it reached the probe's own server, not whatever else answers there
  const hostKey = ssh2.utils.parseKey(privateKey);
  if (hostKey instanceof Error) throw new Error(`the probe's host key: ${hostKey.message}`);
  const hostBlob = hostKey.getPublicSSH();
  const payload = randomBytes(96 * 1024);
  let serverConn: unknown;
  let serverChannel: (Duplex & ChannelInternals) | undefined;
  const gotAtServer: Buffer[] = [];
  const server = new ssh2.Server({ hostKeys: [privateKey], ident: 'ftpfwd-probe' }, (conn) => {
    serverConn = conn;
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('ready', () => {
      conn.on('tcpip', (accept, reject, info) => {
        if (info.destPort === 1) {
          rejectChannel(conn, () => reject(), 1, 'ftpfwd probe refusal');
          return;
        }
        const ch = accept() as unknown as Duplex & ChannelInternals;
        serverChannel = ch;
        ch.on('data', (d: Buffer) => gotAtServer.push(d));
        ch.on('error', () => {});
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const client = new ssh2.Client();
  try {
    const port = (server.address() as AddressInfo).port;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('error', reject);
        client.connect({
          host: '127.0.0.1',
          port,
          username: 'probe',
          hostVerifier: (key: Buffer) => key.equals(hostBlob),
        });
      }),
      'the probe connection',
    );
    client.on('error', () => {});

    // peerSoftware
    const software = peerSoftware(client);
    if (!software?.startsWith('ftpfwd-probe'))
      fail('peerSoftware', `_remoteVer is ${JSON.stringify(software)}`);

    // rejectReason
    const refusal = await openDirect(client, 1).then(
      () => undefined,
      (err: Error & { reason?: unknown }) => err,
    );
    if (refusal?.reason !== 1 || !refusal.message.includes('ftpfwd probe refusal'))
      fail('rejectReason', `refusal came as reason ${String(refusal?.reason)}: ${refusal?.message}`);

    // packetPool: send through a pooled connection, check the bytes arrive intact.
    const channel = await openDirect(client, 2);
    const pooled = poolCurrentCipher(client);
    if (pooled !== 'pooled' && pooled !== 'unknown-cipher')
      fail('packetPool', `the cipher's packet layout differs (${pooled})`);
    channel.write(payload);
    await withTimeout(
      waitFor(() => Buffer.concat(gotAtServer).length >= payload.length),
      'the pooled packets',
    );
    const got = Buffer.concat(gotAtServer);
    if (got.length !== payload.length || !timingSafeEqual(got, payload))
      fail('packetPool', 'pooled packets did not arrive intact');

    // windowAdjust: the server must see the window we granted.
    const sch = serverChannel;
    const before = sch?.outgoing?.window;
    if (!grantWindow(channel, 1000)) fail('windowAdjust', 'no channelWindowAdjust on this channel');
    else {
      await withTimeout(
        waitFor(() => typeof before === 'number' && sch?.outgoing?.window === before + 1000),
        'the window adjust',
      ).catch(() => fail('windowAdjust', `the server's window went ${before} → ${sch?.outgoing?.window}`));
    }

    // eofState: an EOF from the server is marked before the stream's 'end' (the data is unread).
    channel.pause();
    sch?.write(Buffer.from('unread'));
    (sch as unknown as { eof(): void } | undefined)?.eof();
    await withTimeout(
      waitFor(() => (channel as ChannelInternals).incoming?.state === 'eof'),
      'the EOF mark',
    ).catch(() => fail('eofState', `incoming.state is ${(channel as ChannelInternals).incoming?.state}`));

    // clientRekey: a key exchange the client starts finishes at both ends.
    const rekeyed = new Promise<void>((resolve) => client.once('handshake', () => resolve()));
    if (!startClientRekey(client)) fail('clientRekey', 'no _protocol.rekey on the client');
    else
      await withTimeout(rekeyed, 'the re-key').catch(() => fail('clientRekey', 'no key exchange followed'));
    channel.destroy();
  } finally {
    client.end();
    (serverConn as { end?: () => void } | undefined)?.end?.();
    server.close();
  }
  return { version: ssh2Version(), nativeCrypto: ssh2NativeCrypto(), off };
}

function openDirect(client: InstanceType<typeof ssh2.Client>, port: number): Promise<ClientChannel> {
  return withTimeout(
    new Promise((resolve, reject) =>
      client.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (err, ch) => (err ? reject(err) : resolve(ch))),
    ),
    `a channel to port ${port}`,
  );
}

function waitFor(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const tick = (): void => {
      if (check()) resolve();
      else setTimeout(tick, 5);
    };
    tick();
  });
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), PROBE_TIMEOUT_MS);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** A logger with pino's call shape (both CLIs' loggers have it). */
interface WarnLogger {
  warn(obj: object, msg: string): void;
}

let reported = false;

/**
 * Runs the probe and says, once per process, what it found wanting: each feature switched off, and
 * ssh2 without its native crypto binding. Callers await it before their first SSH connection.
 */
export async function checkSsh2(log: WarnLogger): Promise<ProbeReport> {
  const report = await probeSsh2();
  if (reported) return report;
  reported = true;
  if (report.error !== undefined)
    log.warn(
      { event: 'ssh2-internals', ssh2: report.version, reason: report.error },
      `ssh2 ${report.version}: the check of its internals could not run (${report.error}); using them unchecked`,
    );
  for (const { feature, reason } of report.off)
    log.warn(
      { event: 'ssh2-internals', ssh2: report.version, feature, reason },
      `ssh2 ${report.version}: ${feature} does not work as ftpfwd expects (${reason}); using ssh2's public path`,
    );
  if (!report.nativeCrypto)
    log.warn(
      { event: 'ssh2-native-crypto', ssh2: report.version, node: process.version },
      `ssh2 ${report.version} runs without its native crypto binding on Node ${process.version}: every packet costs more CPU (see docs/upstream/ssh2-node26-binding.md)`,
    );
  return report;
}

/**
 * OpenSSH's algorithm lists (`Ciphers`, `KexAlgorithms`, `MACs`, `HostKeyAlgorithms`,
 * `PubkeyAcceptedAlgorithms`) for both halves of ftpfwd: the list syntax, what ssh2 can do, the
 * peer's offer read off the wire, and OpenSSH's message when nothing is left in common.
 *
 * The syntax is OpenSSH's (`kex_assemble_names`): `a,b` is exactly those, `+a,b` appends to the
 * default list, `-a,b` removes from it, `^a,b` puts them first; names may be `*`/`?` patterns.
 * ssh2 is given the resulting exact list. A name OpenSSH knows but ssh2 cannot do is left out and
 * reported (a user's ssh_config may name `sntrup761x25519-sha512@openssh.com`, and that must not stop
 * ftpfwd); a name nobody knows is an error that names it, as OpenSSH's "Bad SSH2 cipher spec".
 */
import { wildcardMatch } from '../cli/patterns.js';
import { ssh2AlgorithmCatalog } from './ssh2-internals.js';

export type AlgorithmKind = 'cipher' | 'kex' | 'mac' | 'hostkey' | 'pubkey';

export const ALGORITHM_KINDS: readonly AlgorithmKind[] = ['cipher', 'kex', 'mac', 'hostkey', 'pubkey'];

/** The OpenSSH option that sets each kind. */
export const ALGORITHM_OPTION: Readonly<Record<AlgorithmKind, string>> = {
  cipher: 'Ciphers',
  kex: 'KexAlgorithms',
  mac: 'MACs',
  hostkey: 'HostKeyAlgorithms',
  pubkey: 'PubkeyAcceptedAlgorithms',
};

/** What one kind offers by default, what it can do, and what OpenSSH knows of besides. */
export interface AlgorithmCatalog {
  defaults: readonly string[];
  supported: readonly string[];
  /** Names OpenSSH (9.x/10.x) accepts that ssh2 cannot do: left out with a warning, not an error. */
  opensshOnly: readonly string[];
}

/** Every name OpenSSH (9.2 to 10.x, `ssh -Q …`) accepts, per kind. */
const HOST_KEY_NAMES = [
  'ssh-ed25519',
  'ssh-ed25519-cert-v01@openssh.com',
  'sk-ssh-ed25519@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'webauthn-sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-dss',
  'ssh-dss-cert-v01@openssh.com',
  'ssh-rsa',
  'ssh-rsa-cert-v01@openssh.com',
  'rsa-sha2-256',
  'rsa-sha2-256-cert-v01@openssh.com',
  'rsa-sha2-512',
  'rsa-sha2-512-cert-v01@openssh.com',
];
const OPENSSH_NAMES: Readonly<Record<AlgorithmKind, readonly string[]>> = {
  cipher: [
    '3des-cbc',
    'aes128-cbc',
    'aes192-cbc',
    'aes256-cbc',
    'aes128-ctr',
    'aes192-ctr',
    'aes256-ctr',
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'chacha20-poly1305@openssh.com',
  ],
  kex: [
    'diffie-hellman-group1-sha1',
    'diffie-hellman-group14-sha1',
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha1',
    'diffie-hellman-group-exchange-sha256',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'sntrup761x25519-sha512',
    'sntrup761x25519-sha512@openssh.com',
    'mlkem768x25519-sha256',
  ],
  mac: [
    'hmac-sha1',
    'hmac-sha1-96',
    'hmac-sha2-256',
    'hmac-sha2-512',
    'hmac-md5',
    'hmac-md5-96',
    'umac-64@openssh.com',
    'umac-128@openssh.com',
    'hmac-sha1-etm@openssh.com',
    'hmac-sha1-96-etm@openssh.com',
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com',
    'hmac-md5-etm@openssh.com',
    'hmac-md5-96-etm@openssh.com',
    'umac-64-etm@openssh.com',
    'umac-128-etm@openssh.com',
  ],
  hostkey: HOST_KEY_NAMES,
  pubkey: HOST_KEY_NAMES,
};

/** The catalog of each kind for the ssh2 in use (its lists depend on the CPU and its binding). */
export function algorithmCatalog(kind: AlgorithmKind): AlgorithmCatalog {
  const lists = ssh2AlgorithmCatalog()[kind === 'pubkey' ? 'hostkey' : kind];
  return {
    defaults: lists.defaults,
    supported: lists.supported,
    opensshOnly: OPENSSH_NAMES[kind].filter((n) => !lists.supported.includes(n)),
  };
}

/** A list that does not parse, or leaves nothing: the message names the option and the culprit. */
export class AlgorithmListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlgorithmListError';
  }
}

export interface AlgorithmChoice {
  /** What to offer, in order: never empty. */
  list: string[];
  /** Names the spec asked for that ssh2 cannot do (OpenSSH-only), left out. */
  skipped: string[];
}

const isPattern = (name: string): boolean => /[*?]/.test(name);

/**
 * Applies one OpenSSH list `spec` to a catalog. Throws AlgorithmListError for an empty name, a
 * negation (`!`, which OpenSSH refuses here too), a name neither ssh2 nor OpenSSH knows, or a result
 * with nothing in it.
 */
export function applyAlgorithmList(spec: string, cat: AlgorithmCatalog): AlgorithmChoice {
  const text = spec.trim();
  const op = text[0] === '+' || text[0] === '-' || text[0] === '^' ? text[0] : '';
  const body = op ? text.slice(1) : text;
  if (body.trim() === '') throw new AlgorithmListError(`"${spec}" names no algorithm`);
  const names = body.split(',').map((n) => n.trim());
  const skipped: string[] = [];
  for (const n of names) {
    if (n === '') throw new AlgorithmListError(`"${spec}" has an empty name`);
    if (n.startsWith('!')) throw new AlgorithmListError(`"${spec}": negation (${n}) is not allowed here`);
    if (/[\s]/.test(n)) throw new AlgorithmListError(`"${spec}": "${n}" is not an algorithm name`);
  }
  let list: string[];
  if (op === '-') {
    // OpenSSH does not check names being removed: removing what is not there removes nothing.
    list = cat.defaults.filter((a) => !names.some((n) => wildcardMatch(n, a)));
  } else {
    const named: string[] = [];
    for (const n of names) {
      if (isPattern(n)) {
        named.push(...cat.supported.filter((a) => wildcardMatch(n, a)));
      } else if (cat.supported.includes(n)) {
        named.push(n);
      } else if (cat.opensshOnly.includes(n)) {
        skipped.push(n);
      } else {
        throw new AlgorithmListError(
          `"${spec}": unknown algorithm "${n}" (supported: ${cat.supported.join(',')})`,
        );
      }
    }
    list = op === '+' ? [...cat.defaults, ...named] : op === '^' ? [...named, ...cat.defaults] : named;
  }
  list = [...new Set(list)];
  if (list.length === 0)
    throw new AlgorithmListError(
      skipped.length
        ? `"${spec}" leaves nothing this SSH implementation supports (${skipped.join(',')} not available; supported: ${cat.supported.join(',')})`
        : `"${spec}" leaves no algorithm`,
    );
  return { list, skipped };
}

/** The settings a user gave, by kind: OpenSSH list text, undefined for the default. */
export type AlgorithmSpecs = Partial<Record<AlgorithmKind, string>>;

/** The exact lists to offer, per kind (defaults where no spec), and what was left out. */
export interface ResolvedAlgorithms {
  lists: Record<AlgorithmKind, string[]>;
  /** Whether the user set the kind (HostKeyAlgorithms: known_hosts may reorder only the default). */
  explicit: Record<AlgorithmKind, boolean>;
  /** `Ciphers: x not available`, one per skipped name, for a warning. */
  skipped: string[];
}

/**
 * Resolves every kind. Errors are AlgorithmListError with the option's name first
 * (`Ciphers "…": unknown algorithm "…"`).
 */
export function resolveAlgorithms(specs: AlgorithmSpecs): ResolvedAlgorithms {
  const lists = {} as Record<AlgorithmKind, string[]>;
  const explicit = {} as Record<AlgorithmKind, boolean>;
  const skipped: string[] = [];
  for (const kind of ALGORITHM_KINDS) {
    const cat = algorithmCatalog(kind);
    const spec = specs[kind];
    explicit[kind] = spec !== undefined;
    if (spec === undefined) {
      lists[kind] = [...cat.defaults];
      continue;
    }
    try {
      const c = applyAlgorithmList(spec, cat);
      lists[kind] = c.list;
      for (const s of c.skipped) skipped.push(`${ALGORITHM_OPTION[kind]}: ${s} is not available in ftpfwd`);
    } catch (err) {
      if (err instanceof AlgorithmListError)
        throw new AlgorithmListError(`${ALGORITHM_OPTION[kind]} ${err.message}`);
      throw err;
    }
  }
  return { lists, explicit, skipped };
}

/** Checks a spec at config time; returns it unchanged, throws AlgorithmListError naming the option. */
export function checkAlgorithmList(kind: AlgorithmKind, spec: string): string {
  resolveAlgorithms({ [kind]: spec });
  return spec;
}

/** `ssh -Q` for ssh2: what each query lists (one name a line). */
export function queryAlgorithms(query: string): string[] | undefined {
  const q = query.toLowerCase();
  const kind: AlgorithmKind | undefined =
    q === 'cipher' || q === 'ciphers'
      ? 'cipher'
      : q === 'mac' || q === 'macs'
        ? 'mac'
        : q === 'kex' || q === 'kexalgorithms'
          ? 'kex'
          : q === 'key' || q === 'sig' || q === 'hostkeyalgorithms' || q === 'key-plain'
            ? 'hostkey'
            : q === 'pubkeyacceptedalgorithms' || q === 'pubkeyacceptedkeytypes'
              ? 'pubkey'
              : undefined;
  return kind ? [...algorithmCatalog(kind).supported] : undefined;
}

export const QUERY_NAMES =
  'cipher, mac, kex, key (sig), or an option name (Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms, PubkeyAcceptedAlgorithms)';

// ------------------------------------------------------------------------------ the peer's offer

/** The name-lists of an SSH_MSG_KEXINIT (RFC 4253 §7.1). */
export interface KexInitLists {
  kex: string[];
  hostkey: string[];
  cipherCs: string[];
  cipherSc: string[];
  macCs: string[];
  macSc: string[];
  compressCs: string[];
  compressSc: string[];
}

/** Parses a KEXINIT payload (message number first); undefined when it is not one. */
export function parseKexInit(payload: Buffer): KexInitLists | undefined {
  if (payload.length < 17 || payload[0] !== 20) return undefined;
  let pos = 17;
  const lists: string[][] = [];
  for (let i = 0; i < 8; i++) {
    if (pos + 4 > payload.length) return undefined;
    const len = payload.readUInt32BE(pos);
    pos += 4;
    if (pos + len > payload.length) return undefined;
    const text = payload.toString('latin1', pos, pos + len);
    pos += len;
    lists.push(text === '' ? [] : text.split(','));
  }
  const [kex, hostkey, cipherCs, cipherSc, macCs, macSc, compressCs, compressSc] = lists as [
    string[],
    string[],
    string[],
    string[],
    string[],
    string[],
    string[],
    string[],
  ];
  return { kex, hostkey, cipherCs, cipherSc, macCs, macSc, compressCs, compressSc };
}

/** A stream whose bytes can be looked at as they arrive (a socket, a channel, a child's stdio). */
interface Readable {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  off(event: 'data', fn: (chunk: Buffer) => void): unknown;
}

/** Bytes looked at, at most, before giving up on finding the peer's KEXINIT. */
const KEXINIT_WATCH_LIMIT = 256 * 1024;

/**
 * Watches the first bytes `stream` delivers for the peer's identification line and its first
 * binary packet, the KEXINIT (sent in the clear). Attach it after ssh2 took the stream (ssh2
 * pauses it; an extra 'data' listener then does not start the flow early). Detaches itself once it
 * has the KEXINIT or after KEXINIT_WATCH_LIMIT bytes. `offer()` is what it found, if anything.
 */
export function watchPeerKexInit(stream: Readable): { offer(): KexInitLists | undefined; stop(): void } {
  let buf = Buffer.alloc(0);
  let found: KexInitLists | undefined;
  let identEnd = -1;
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    stream.off('data', onData);
    buf = Buffer.alloc(0);
  };
  const onData = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    // Lines before the identification (RFC 4253 §4.2) end with LF too; the ident starts "SSH-".
    while (identEnd < 0) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) break;
      const line = buf.toString('latin1', 0, nl);
      buf = buf.subarray(nl + 1);
      if (line.startsWith('SSH-')) identEnd = 0;
    }
    if (identEnd >= 0 && buf.length >= 5) {
      const packetLength = buf.readUInt32BE(0);
      const padding = buf[4] as number;
      if (packetLength < padding + 1 || packetLength > 256 * 1024) {
        stop();
        return;
      }
      if (buf.length >= 4 + packetLength) {
        found = parseKexInit(buf.subarray(5, 4 + packetLength - padding));
        stop();
        return;
      }
    }
    if (buf.length > KEXINIT_WATCH_LIMIT) stop();
  };
  stream.on('data', onData);
  return { offer: () => found, stop };
}

/** What we put in our KEXINIT, by the names OpenSSH's message uses. */
export interface OfferedLists {
  kex: readonly string[];
  hostkey: readonly string[];
  cipher: readonly string[];
  mac: readonly string[];
  compress: readonly string[];
}

/** ssh2 adds these to the kex list itself; they never count as something in common. */
const KEX_PSEUDO = /^(ext-info-[cs]|kex-strict-[cs]-v00@openssh\.com)$/;

/** Ciphers that carry their own integrity: no MAC is negotiated with them (RFC 5647, OpenSSH). */
const AEAD = /gcm|poly1305/;

/**
 * OpenSSH's line for a negotiation with nothing in common (`Unable to negotiate with HOST port
 * PORT: no matching cipher found. Their offer: …`), with what we offered added; undefined when
 * every category has an algorithm in common (the failure was something else). Checked in the
 * order ssh2 negotiates; `weAreClient` says whose preference picks the cipher (for the MAC rule).
 */
export function noCommonAlgorithm(
  ours: OfferedLists,
  theirs: KexInitLists,
  peer: { host: string; port: number },
  weAreClient = true,
): string | undefined {
  const real = (l: readonly string[]) => l.filter((x) => !KEX_PSEUDO.test(x));
  const pick = (mine: readonly string[], peers: readonly string[]) =>
    weAreClient ? real(mine).find((x) => peers.includes(x)) : real(peers).find((x) => mine.includes(x));
  const message = (what: string, mine: readonly string[], peers: readonly string[]) =>
    `Unable to negotiate with ${peer.host} port ${peer.port}: no matching ${what} found. Their offer: ${real(peers).join(',') || '(nothing)'}. We offered: ${real(mine).join(',')}`;
  const checks: [string, readonly string[], readonly string[]][] = [
    ['key exchange method', ours.kex, theirs.kex],
    ['host key type', ours.hostkey, theirs.hostkey],
    ['cipher', ours.cipher, theirs.cipherCs],
    ['cipher', ours.cipher, theirs.cipherSc],
  ];
  for (const [what, mine, peers] of checks) if (!pick(mine, peers)) return message(what, mine, peers);
  for (const [cipherPeers, macPeers] of [
    [theirs.cipherCs, theirs.macCs],
    [theirs.cipherSc, theirs.macSc],
  ] as const) {
    if (AEAD.test(pick(ours.cipher, cipherPeers) ?? '')) continue;
    if (!pick(ours.mac, macPeers)) return message('MAC', ours.mac, macPeers);
  }
  if (!pick(ours.compress, theirs.compressCs))
    return message('compression method', ours.compress, theirs.compressCs);
  if (!pick(ours.compress, theirs.compressSc))
    return message('compression method', ours.compress, theirs.compressSc);
  return undefined;
}

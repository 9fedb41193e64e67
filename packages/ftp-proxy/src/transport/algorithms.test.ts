import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AlgorithmCatalog,
  AlgorithmListError,
  algorithmCatalog,
  applyAlgorithmList,
  type KexInitLists,
  noCommonAlgorithm,
  parseKexInit,
  queryAlgorithms,
  resolveAlgorithms,
  watchPeerKexInit,
} from './algorithms.js';

const cat: AlgorithmCatalog = {
  defaults: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr'],
  supported: [
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-ctr',
    'aes256-ctr',
    'aes128-cbc',
    'aes256-cbc',
    '3des-cbc',
  ],
  opensshOnly: ['chacha20-poly1305@openssh.com'],
};

const fails = (spec: string, c = cat) => {
  try {
    applyAlgorithmList(spec, c);
  } catch (e) {
    expect(e).toBeInstanceOf(AlgorithmListError);
    return (e as Error).message;
  }
  throw new Error(`"${spec}" was accepted`);
};

describe('OpenSSH algorithm lists (kex_assemble_names)', () => {
  it('an exact list is those, in that order', () => {
    expect(applyAlgorithmList('aes256-ctr,aes128-ctr', cat).list).toEqual(['aes256-ctr', 'aes128-ctr']);
  });
  it('+ appends to the defaults, - removes from them, ^ puts first', () => {
    expect(applyAlgorithmList('+aes128-cbc', cat).list).toEqual([...cat.defaults, 'aes128-cbc']);
    expect(applyAlgorithmList('-aes*-gcm@openssh.com', cat).list).toEqual(['aes128-ctr', 'aes256-ctr']);
    expect(applyAlgorithmList('^aes256-ctr,aes256-cbc', cat).list).toEqual([
      'aes256-ctr',
      'aes256-cbc',
      'aes128-gcm@openssh.com',
      'aes256-gcm@openssh.com',
      'aes128-ctr',
    ]);
    // Appending what is already there changes nothing.
    expect(applyAlgorithmList('+aes128-ctr', cat).list).toEqual(cat.defaults);
  });
  it('wildcards expand over what is supported, in its order', () => {
    expect(applyAlgorithmList('aes*-cbc', cat).list).toEqual(['aes128-cbc', 'aes256-cbc']);
    expect(applyAlgorithmList('aes???-ctr', cat).list).toEqual(['aes128-ctr', 'aes256-ctr']);
    expect(applyAlgorithmList('+*-cbc', cat).list).toEqual([
      ...cat.defaults,
      'aes128-cbc',
      'aes256-cbc',
      '3des-cbc',
    ]);
  });
  it('an OpenSSH name ssh2 lacks is left out and reported; a name nobody knows is an error', () => {
    expect(applyAlgorithmList('chacha20-poly1305@openssh.com,aes128-ctr', cat)).toEqual({
      list: ['aes128-ctr'],
      skipped: ['chacha20-poly1305@openssh.com'],
    });
    expect(fails('aes128-ctr,rot13')).toMatch(
      /unknown algorithm "rot13" \(supported: aes128-gcm@openssh.com,/,
    );
    expect(fails('chacha20-poly1305@openssh.com')).toMatch(/leaves nothing this SSH implementation supports/);
    // Removing an unknown name removes nothing, as in OpenSSH.
    expect(applyAlgorithmList('-rot13', cat).list).toEqual(cat.defaults);
  });
  it.each([
    ['', /names no algorithm/],
    ['+', /names no algorithm/],
    ['aes128-ctr,,aes256-ctr', /empty name/],
    ['!aes128-ctr', /negation/],
    ['-aes*', /leaves no algorithm/],
    ['des*', /leaves no algorithm/],
  ])('refuses %j', (spec, why) => {
    expect(fails(spec)).toMatch(why);
  });

  const name = fc.constantFrom(...cat.supported, ...cat.opensshOnly);
  const pattern = fc.oneof(
    name,
    name.map((n) => `${n.slice(0, 3)}*`),
    name.map((n) => `*${n.slice(-3)}`),
    name.map((n) => `${n.slice(0, -1)}?`),
  );
  const spec = fc
    .tuple(fc.constantFrom('', '+', '-', '^'), fc.array(pattern, { minLength: 1, maxLength: 5 }))
    .map(([op, names]) => `${op}${names.join(',')}`);

  it('whatever it accepts is non-empty, duplicate-free and supported; the rest is an AlgorithmListError (property)', () => {
    fc.assert(
      fc.property(spec, (s) => {
        let r: ReturnType<typeof applyAlgorithmList>;
        try {
          r = applyAlgorithmList(s, cat);
        } catch (e) {
          expect(e).toBeInstanceOf(AlgorithmListError);
          return;
        }
        expect(r.list.length).toBeGreaterThan(0);
        expect(new Set(r.list).size).toBe(r.list.length);
        for (const a of r.list) expect(cat.supported).toContain(a);
        if (s.startsWith('-')) for (const a of r.list) expect(cat.defaults).toContain(a);
        if (s.startsWith('+')) expect(r.list.slice(0, cat.defaults.length)).toEqual(cat.defaults);
        if (s.startsWith('^')) {
          // Every default is still offered; what is not a default came first.
          const kept = r.list.filter((a) => cat.defaults.includes(a));
          expect([...kept].sort()).toEqual([...cat.defaults].sort());
          const lastExtra = r.list.findLastIndex((a) => !cat.defaults.includes(a));
          const firstDefaultOnly =
            r.list.length - cat.defaults.filter((d) => r.list.indexOf(d) > lastExtra).length;
          expect(firstDefaultOnly).toBeGreaterThan(lastExtra);
        }
      }),
    );
  });

  it('"+" then "-" of the same names gives the defaults back (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...cat.supported.filter((a) => !cat.defaults.includes(a))), {
          minLength: 1,
        }),
        (extra) => {
          const added = applyAlgorithmList(`+${extra.join(',')}`, cat).list;
          const c2 = { ...cat, defaults: added };
          expect(applyAlgorithmList(`-${extra.join(',')}`, c2).list).toEqual(cat.defaults);
        },
      ),
    );
  });

  it('never throws anything but AlgorithmListError on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          applyAlgorithmList(s, cat);
        } catch (e) {
          expect(e).toBeInstanceOf(AlgorithmListError);
        }
      }),
    );
  });
});

describe("ssh2's catalog", () => {
  it('has defaults inside what is supported, for every kind; -Q lists the supported names', () => {
    for (const kind of ['cipher', 'kex', 'mac', 'hostkey', 'pubkey'] as const) {
      const c = algorithmCatalog(kind);
      for (const d of c.defaults) expect(c.supported).toContain(d);
      for (const o of c.opensshOnly) expect(c.supported).not.toContain(o);
    }
    expect(queryAlgorithms('cipher')).toContain('aes128-gcm@openssh.com');
    expect(queryAlgorithms('Ciphers')).toEqual(queryAlgorithms('cipher'));
    expect(queryAlgorithms('kex')).toContain('curve25519-sha256');
    expect(queryAlgorithms('mac')).toContain('hmac-sha2-256-etm@openssh.com');
    expect(queryAlgorithms('key')).toContain('ssh-ed25519');
    expect(queryAlgorithms('key')).not.toContain('ssh-ed25519-cert-v01@openssh.com');
    expect(queryAlgorithms('nonsense')).toBeUndefined();
  });
  it('resolveAlgorithms names the option in its errors and reports OpenSSH-only names', () => {
    expect(() => resolveAlgorithms({ cipher: 'rot13' })).toThrow(/^Ciphers "rot13": unknown algorithm/);
    const r = resolveAlgorithms({ kex: 'sntrup761x25519-sha512@openssh.com,curve25519-sha256' });
    expect(r.lists.kex).toEqual(['curve25519-sha256']);
    expect(r.skipped).toEqual([
      'KexAlgorithms: sntrup761x25519-sha512@openssh.com is not available in ftpfwd',
    ]);
    expect(r.explicit).toMatchObject({ kex: true, cipher: false });
  });
});

/** A KEXINIT packet as a peer sends it, after its identification line. */
function kexinitWire(lists: string[][], preamble = ''): Buffer {
  const parts: Buffer[] = [Buffer.from([20]), Buffer.alloc(16, 7)];
  for (const l of lists) {
    const t = Buffer.from(l.join(','), 'latin1');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(t.length);
    parts.push(len, t);
  }
  parts.push(Buffer.alloc(5)); // first_kex_packet_follows + reserved
  const payload = Buffer.concat(parts);
  const padding = 8 - ((payload.length + 5) % 8) + 4;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length + padding + 1);
  head[4] = padding;
  return Buffer.concat([
    Buffer.from(`${preamble}SSH-2.0-OpenSSH_9.2\r\n`),
    head,
    payload,
    Buffer.alloc(padding),
  ]);
}

const LISTS = [
  ['curve25519-sha256', 'kex-strict-s-v00@openssh.com'],
  ['ssh-ed25519'],
  ['aes128-ctr'],
  ['aes256-ctr'],
  ['hmac-sha2-256'],
  ['hmac-sha2-512'],
  ['none'],
  ['none', 'zlib@openssh.com'],
  [],
  [],
];

describe("the peer's KEXINIT", () => {
  it('is read off the stream in any chunking, banner lines before the ident included (property)', () => {
    const wire = kexinitWire(LISTS, 'Welcome\r\n');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: wire.length }), { maxLength: 6 }), (cuts) => {
        const listeners = new Set<(b: Buffer) => void>();
        const stream = {
          on: (_: 'data', f: (b: Buffer) => void) => listeners.add(f),
          off: (_: 'data', f: (b: Buffer) => void) => listeners.delete(f),
        };
        const w = watchPeerKexInit(stream);
        const at = [...new Set(cuts)].sort((a, b) => a - b);
        let prev = 0;
        for (const c of [...at, wire.length]) {
          for (const l of [...listeners]) l(wire.subarray(prev, c));
          prev = c;
        }
        expect(w.offer()).toEqual({
          kex: LISTS[0],
          hostkey: ['ssh-ed25519'],
          cipherCs: ['aes128-ctr'],
          cipherSc: ['aes256-ctr'],
          macCs: ['hmac-sha2-256'],
          macSc: ['hmac-sha2-512'],
          compressCs: ['none'],
          compressSc: ['none', 'zlib@openssh.com'],
        });
        expect(listeners.size).toBe(0); // it let go of the stream
      }),
    );
  });
  it('parseKexInit refuses what is not a KEXINIT', () => {
    expect(parseKexInit(Buffer.from([21, 0, 0]))).toBeUndefined();
    expect(parseKexInit(Buffer.alloc(40, 20))).toBeUndefined();
  });
});

describe('nothing in common', () => {
  const theirs: KexInitLists = {
    kex: ['curve25519-sha256', 'kex-strict-s-v00@openssh.com'],
    hostkey: ['ssh-ed25519'],
    cipherCs: ['aes128-ctr', 'aes256-ctr'],
    cipherSc: ['aes128-ctr', 'aes256-ctr'],
    macCs: ['hmac-sha2-256'],
    macSc: ['hmac-sha2-256'],
    compressCs: ['none'],
    compressSc: ['none'],
  };
  const ours = {
    kex: ['curve25519-sha256', 'ext-info-c'],
    hostkey: ['ssh-ed25519'],
    cipher: ['aes128-ctr'],
    mac: ['hmac-sha2-256'],
    compress: ['none'],
  };
  const peer = { host: '127.0.0.1', port: 2222 };
  it("says what, in OpenSSH's words, with both offers", () => {
    expect(noCommonAlgorithm(ours, theirs, peer)).toBeUndefined();
    expect(noCommonAlgorithm({ ...ours, cipher: ['aes128-cbc', 'aes192-cbc'] }, theirs, peer)).toBe(
      'Unable to negotiate with 127.0.0.1 port 2222: no matching cipher found. Their offer: aes128-ctr,aes256-ctr. We offered: aes128-cbc,aes192-cbc',
    );
    expect(noCommonAlgorithm({ ...ours, kex: ['ecdh-sha2-nistp256', 'ext-info-c'] }, theirs, peer)).toBe(
      'Unable to negotiate with 127.0.0.1 port 2222: no matching key exchange method found. Their offer: curve25519-sha256. We offered: ecdh-sha2-nistp256',
    );
    expect(noCommonAlgorithm({ ...ours, hostkey: ['ssh-rsa'] }, theirs, peer)).toMatch(
      /no matching host key type found/,
    );
    expect(noCommonAlgorithm({ ...ours, mac: ['hmac-sha1'] }, theirs, peer)).toMatch(/no matching MAC found/);
  });
  it('an AEAD cipher needs no MAC', () => {
    const gcm = { ...theirs, cipherCs: ['aes128-gcm@openssh.com'], cipherSc: ['aes128-gcm@openssh.com'] };
    expect(
      noCommonAlgorithm({ ...ours, cipher: ['aes128-gcm@openssh.com'], mac: ['hmac-sha1'] }, gcm, peer),
    ).toBeUndefined();
  });
});

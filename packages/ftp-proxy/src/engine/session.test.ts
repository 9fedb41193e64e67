import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONTEXT,
  client,
  harness,
  LOGIN_CLIENT,
  LOGIN_SERVER,
  login,
  RecordingBroker,
  server,
  settle,
} from './test-support/recording-broker.js';

describe('passive mode', () => {
  it('PASV + RETR: the 227 is rewritten to the broker listener, the server wording kept', async () => {
    const h = harness();
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 PASV OK (10,0,0,5,117,48)\r\n');
    await client(h, 'RETR file.bin\r\n');
    await server(h, '150 Opening data\r\n226 Done\r\n');
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}227 PASV OK (127,0,0,1,156,64)\r\n150 Opening data\r\n226 Done\r\n`,
    );
    expect(h.server()).toBe(`${LOGIN_SERVER}PASV\r\nRETR file.bin\r\n`);
    // pasv-target control: the reply's 10.0.0.5 is replaced by the control connection's server host.
    expect(h.broker.passive).toEqual([
      { command: 'PASV', server: { host: 'ftp.internal', port: 30000 }, idleTimeoutMs: 60000 },
    ]);
    expect(h.broker.released).toEqual([{ host: '127.0.0.1', port: 40000 }]); // released after 226
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'rewrite', direction: 'toClient' }));
  });

  it('pasv-target reply trusts the address in the 227', async () => {
    const h = harness({ pasvTarget: 'reply' });
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 Entering Passive Mode (198,51,100,7,4,1).\r\n');
    expect(h.broker.passive[0]!.server).toEqual({ host: '198.51.100.7', port: 1025 });
  });

  it('EPSV + STOR: the client gets a 229 with the listener port; the server endpoint is the control host', async () => {
    const h = harness();
    await login(h);
    await client(h, 'EPSV\r\n');
    await server(h, '229 Entering Extended Passive Mode (|||31000|)\r\n');
    await client(h, 'STOR up.bin\r\n');
    await server(h, '150 Ok\r\n226 Stored\r\n');
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}229 Entering Extended Passive Mode (|||40000|)\r\n150 Ok\r\n226 Stored\r\n`,
    );
    expect(h.broker.passive[0]!.server).toEqual({ host: 'ftp.internal', port: 31000 });
  });

  it('answers each client in the form it asked for', async () => {
    const h = harness();
    await login(h);
    await client(h, 'EPSV\r\n');
    await server(h, '227 Entering Passive Mode (192,0,2,1,4,1)\r\n');
    await client(h, 'PASV\r\n');
    await server(h, '229 Entering Extended Passive Mode (|||2000|)\r\n');
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}229 Entering Extended Passive Mode (|||40000|)\r\n227 Entering Passive Mode (127,0,0,1,156,65).\r\n`,
    );
    expect(h.broker.released).toEqual([{ host: '127.0.0.1', port: 40000 }]); // superseded by the second
  });

  it('passes a refused EPSV through so the client falls back to PASV', async () => {
    const h = harness();
    await login(h);
    await client(h, 'EPSV\r\n');
    await server(h, '500 EPSV not understood\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}500 EPSV not understood\r\n`);
    expect(h.broker.passive).toHaveLength(0);
  });

  it('acts on a 227 only when the client asked for it, and withholds the address of one nobody asked for', async () => {
    const h = harness();
    await login(h);
    await client(h, 'NOOP\r\n');
    await server(h, '227 Entering Passive Mode (192,0,2,1,4,1)\r\n');
    await client(h, 'NOOP\r\n');
    await server(h, '229 Entering Extended Passive Mode (|||1025|)\r\n');
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}227 Entering Passive Mode (address withheld by the proxy: not a reply to PASV/EPSV)\r\n` +
        '229 Entering Extended Passive Mode (address withheld by the proxy: not a reply to PASV/EPSV)\r\n',
    );
    expect(h.broker.passive).toHaveLength(0);
  });

  it('rewrites a multi-line 227 in the line that holds the endpoint', async () => {
    const h = harness();
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227-Entering Passive Mode\r\n227 (192,0,2,1,4,1)\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}227-Entering Passive Mode\r\n227 (127,0,0,1,156,64)\r\n`);
  });

  it('answers 425 for a malformed 227 and does not call the broker', async () => {
    const h = harness();
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 Entering Passive Mode (999,0,2,1,4,1)\r\n');
    expect(h.client()).toMatch(/\r\n425 [^\r]*malformed[^\r]*\r\n$/);
    expect(h.broker.passive).toHaveLength(0);
    expect(h.events).toContainEqual(
      expect.objectContaining({ type: 'data-channel-failed', command: 'PASV' }),
    );
  });

  it('answers 425 when the broker fails, and when it never answers', async () => {
    const broker = new RecordingBroker();
    broker.failWith = new Error('channel open refused: administratively prohibited');
    const h = harness({}, broker);
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 ok (192,0,2,1,4,1)\r\n');
    expect(h.client()).toMatch(/\r\n425 Can't open data connection through the SSH tunnel\.\r\n$/);
    expect(h.client()).not.toMatch(/prohibited/);

    const slow = new RecordingBroker();
    slow.failWith = 'hang';
    const h2 = harness({ brokerTimeoutMs: 20 }, slow);
    await login(h2);
    await client(h2, 'EPSV\r\n');
    await server(h2, '229 ok (|||2000|)\r\n');
    await client(h2, 'NOOP\r\n'); // held behind nothing: client direction is free
    await new Promise((r) => setTimeout(r, 60));
    await server(h2, '200 NOOP ok\r\n');
    expect(h2.client()).toBe(
      `${LOGIN_CLIENT}425 Can't open data connection through the SSH tunnel.\r\n200 NOOP ok\r\n`,
    );
  });

  it('will not advertise an IPv6 listener in a 227', async () => {
    const broker = new RecordingBroker();
    broker.advertiseHost = '::1';
    const h = harness({}, broker);
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 ok (192,0,2,1,4,1)\r\n');
    expect(h.client()).toMatch(/\r\n425 [^\r]*IPv4[^\r]*\r\n$/);
    expect(broker.released).toEqual([{ host: '::1', port: 40000 }]);
  });

  it('holds later server lines until the rewritten reply is out', async () => {
    let resolveLease: (() => void) | undefined;
    const broker = new RecordingBroker();
    const original = broker.openPassive.bind(broker);
    broker.openPassive = (req, ctx) =>
      new Promise((resolve) => {
        resolveLease = () => resolve(original(req, ctx));
      });
    const h = harness({}, broker);
    await login(h);
    await client(h, 'PASV\r\n');
    const accepted = h.session.fromServer(Buffer.from('227 ok (192,0,2,1,4,1)\r\n'));
    expect(h.session.fromServer(Buffer.from('200 later\r\n'))).toBe(false);
    expect(accepted).toBe(false);
    expect(h.client()).toBe(LOGIN_CLIENT);
    await settle();
    resolveLease!();
    await settle();
    await settle();
    expect(h.client()).toBe(`${LOGIN_CLIENT}227 ok (127,0,0,1,156,64)\r\n200 later\r\n`);
  });
});

describe('active mode', () => {
  it('PORT + LIST: the PORT sent to the server names the broker listener', async () => {
    const h = harness();
    await login(h);
    await client(h, 'PORT 127,0,0,2,195,80\r\n');
    await server(h, '200 PORT ok\r\n');
    await client(h, 'LIST\r\n');
    await server(h, '150 Here it comes\r\n226 Done\r\n');
    expect(h.broker.active).toEqual([
      { command: 'PORT', client: { host: '127.0.0.2', port: 50000 }, idleTimeoutMs: 60000 },
    ]);
    expect(h.server()).toBe(`${LOGIN_SERVER}PORT 127,0,0,1,156,64\r\nLIST\r\n`);
    expect(h.client()).toBe(`${LOGIN_CLIENT}200 PORT ok\r\n150 Here it comes\r\n226 Done\r\n`);
    expect(h.broker.released).toEqual([{ host: '127.0.0.1', port: 40000 }]);
  });

  it("EPRT keeps its own form; a bare-LF client's line reaches the server ending in CRLF", async () => {
    const h = harness();
    await login(h);
    await client(h, 'EPRT |1|127.0.0.2|50001|\n');
    expect(h.server()).toBe(`${LOGIN_SERVER}EPRT |1|127.0.0.1|40000|\r\n`);
  });

  it('accepts an IPv4-mapped client address as the same host', async () => {
    const h = harness({}, new RecordingBroker(), {
      ...CONTEXT,
      clientAddress: { host: '::ffff:127.0.0.2', port: 1 },
    });
    await login(h);
    await client(h, 'PORT 127,0,0,2,195,80\r\n');
    expect(h.broker.active).toHaveLength(1);
  });

  it.each([
    ['PORT 10,0,0,9,195,80', /^500 Illegal PORT command: the address must be your own\.$/],
    ['EPRT |1|192.0.2.99|50000|', /^500 Illegal EPRT command: the address must be your own\.$/],
    ['PORT 127,0,0,2,0,21', /^500 Illegal PORT command: port 21 is below 1024\.$/],
    ['PORT 127,0,0,2,0', /^501 Syntax error in PORT argument\.$/],
    ['EPRT |9|x|1|', /^501 Syntax error in EPRT argument\.$/],
  ])('refuses %j without asking the broker or the server', async (command, reply) => {
    const h = harness();
    await login(h);
    await client(h, `${command}\r\n`);
    const lastLine = h.client().slice(LOGIN_CLIENT.length).trimEnd();
    expect(lastLine).toMatch(reply);
    expect(h.broker.active).toHaveLength(0);
    expect(h.server()).toBe(LOGIN_SERVER);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'refused' }));
  });

  it('with anti-bounce off, a third-party PORT is forwarded', async () => {
    const h = harness({ antiBounce: false });
    await login(h);
    await client(h, 'PORT 10,0,0,9,0,21\r\n');
    expect(h.broker.active[0]!.client).toEqual({ host: '10.0.0.9', port: 21 });
  });

  it('answers 500 when the broker fails', async () => {
    const broker = new RecordingBroker();
    broker.failWith = new Error('remote forward refused');
    const h = harness({}, broker);
    await login(h);
    await client(h, 'EPRT |1|127.0.0.2|50001|\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}500 EPRT failed: no data channel through the SSH tunnel.\r\n`);
    expect(h.server()).toBe(LOGIN_SERVER);
  });

  it('holds commands typed after PORT until the rewritten PORT is sent', async () => {
    let go: (() => void) | undefined;
    const broker = new RecordingBroker();
    const original = broker.openActive.bind(broker);
    broker.openActive = (req, ctx) =>
      new Promise((resolve) => {
        go = () => resolve(original(req, ctx));
      });
    const h = harness({}, broker);
    await login(h);
    expect(h.session.fromClient(Buffer.from('PORT 127,0,0,2,195,80\r\nRETR f\r\n'))).toBe(false);
    expect(h.server()).toBe(LOGIN_SERVER);
    await settle();
    go!();
    await settle();
    await settle();
    expect(h.server()).toBe(`${LOGIN_SERVER}PORT 127,0,0,1,156,64\r\nRETR f\r\n`);
  });
});

describe('data-channel lifecycle', () => {
  it('caps open data channels per session', async () => {
    const h = harness({ maxDataChannels: 1 });
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 ok (192,0,2,1,4,1)\r\n');
    await client(h, 'RETR a\r\n'); // claims the channel; it stays open until RETR's final reply
    await server(h, '150 go\r\n');
    await client(h, 'PORT 127,0,0,2,195,80\r\n'); // a second channel while the first is in use
    await server(h, '226 done\r\n');
    expect(h.client()).toMatch(/150 go\r\n226 done\r\n425 Too many open data connections\.\r\n$/);
    expect(h.broker.active).toHaveLength(0);
  });

  it('releases every lease when the session ends, and a late lease at once', async () => {
    let go: (() => void) | undefined;
    const broker = new RecordingBroker();
    const original = broker.openPassive.bind(broker);
    const h = harness({}, broker);
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 ok (192,0,2,1,4,1)\r\n');
    broker.openPassive = (req, ctx) =>
      new Promise((resolve) => {
        go = () => resolve(original(req, ctx));
      });
    await client(h, 'EPSV\r\n');
    await server(h, '229 ok (|||2000|)\r\n');
    h.session.end();
    expect(broker.released).toEqual([{ host: '127.0.0.1', port: 40000 }]);
    go!();
    await settle();
    await settle();
    expect(broker.released).toEqual([
      { host: '127.0.0.1', port: 40000 },
      { host: '127.0.0.1', port: 40001 },
    ]);
  });
});

describe('AUTH and FEAT', () => {
  it('refuses AUTH TLS with 534 and strips AUTH from FEAT', async () => {
    const h = harness();
    await server(h, '220 hi\r\n');
    await client(h, 'FEAT\r\n');
    await server(h, '211-Features:\r\n AUTH TLS\r\n EPSV\r\n AUTH SSL\r\n UTF8\r\n211 End\r\n');
    await client(h, 'AUTH TLS\r\n');
    expect(h.client()).toBe(
      '220 hi\r\n211-Features:\r\n EPSV\r\n UTF8\r\n211 End\r\n534 Request denied for policy reasons: the SSH tunnel already encrypts this session.\r\n',
    );
    expect(h.server()).toBe('FEAT\r\n');
  });

  it('with allowAuthTls, passes AUTH and FEAT intact and then moves raw bytes', async () => {
    const h = harness({ allowAuthTls: true });
    await server(h, '220 hi\r\n');
    await client(h, 'FEAT\r\n');
    await server(h, '211-Features:\r\n AUTH TLS\r\n211 End\r\n');
    await client(h, 'AUTH TLS\r\n');
    await server(h, '234 Proceed\r\n');
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x0a, 0x0d, 0x0a, 0xff, 0x00]);
    h.session.fromClient(hello);
    h.session.fromServer(hello);
    expect(h.clientBytes().subarray(-hello.length).equals(hello)).toBe(true);
    expect(h.serverBytes().subarray(-hello.length).equals(hello)).toBe(true);
    expect(h.client()).toContain(' AUTH TLS\r\n');
    expect(h.events).toContainEqual({ type: 'tls-passthrough' });
  });

  it('answers LPRT/LPSV with 502 so clients fall back', async () => {
    const h = harness();
    await login(h);
    await client(h, 'LPSV\r\n');
    await client(h, 'LPRT 4,4,127,0,0,2,2,195,80\r\n');
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}502 Command not implemented; use EPSV/EPRT or PASV/PORT.\r\n502 Command not implemented; use EPSV/EPRT or PASV/PORT.\r\n`,
    );
    expect(h.server()).toBe(LOGIN_SERVER);
  });
});

describe('ordering and robustness', () => {
  it('keeps reply order for pipelined commands answered locally', async () => {
    const h = harness();
    await server(h, '220 hi\r\n');
    await client(h, 'NOOP\r\nAUTH TLS\r\nNOOP\r\n');
    expect(h.client()).toBe('220 hi\r\n');
    await server(h, '200 one\r\n');
    expect(h.client()).toBe(
      '220 hi\r\n200 one\r\n534 Request denied for policy reasons: the SSH tunnel already encrypts this session.\r\n',
    );
    await server(h, '200 two\r\n');
    expect(h.client()).toMatch(/session\.\r\n200 two\r\n$/);
  });

  it('passes ABOR with Telnet IAC IP/DM untouched, and multi-line HELP intact', async () => {
    const h = harness();
    await login(h);
    await client(h, '\xff\xf4\xff\xf2ABOR\r\n');
    await server(h, '426 Aborted\r\n226 ABOR ok\r\n');
    await client(h, 'HELP\r\n');
    const help =
      '214-The following commands are recognized:\r\n USER PASS\r\n214-not the end\r\n214 Help OK.\r\n';
    await server(h, help);
    expect(h.server()).toBe(`${LOGIN_SERVER}\xff\xf4\xff\xf2ABOR\r\nHELP\r\n`);
    expect(h.client()).toBe(`${LOGIN_CLIENT}426 Aborted\r\n226 ABOR ok\r\n${help}`);
  });

  it('answers 500 to an overlong command line and goes on', async () => {
    const h = harness({ maxLineLength: 64 });
    await login(h);
    await client(h, `STOR ${'x'.repeat(200)}\r\nNOOP\r\n`);
    await server(h, '200 NOOP ok\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}500 Command line too long (limit 64 bytes).\r\n200 NOOP ok\r\n`);
    expect(h.server()).toBe(`${LOGIN_SERVER}NOOP\r\n`);
  });

  it('closes with 421 on an overlong reply line from the server', async () => {
    const h = harness({ maxLineLength: 64 });
    await server(h, `220 ${'x'.repeat(500)}`);
    expect(h.client()).toBe('421 Service not available: the FTP server sent an invalid reply.\r\n');
    expect(h.fatal()?.message).toMatch(/expected a reply line of at most 64 bytes/);
  });

  it('passes non-UTF-8 bytes through byte for byte', async () => {
    const h = harness();
    await server(h, '220 caf\xe9 \xff\xfe\r\n');
    await client(h, 'CWD r\xe9pertoire\r\n');
    expect(h.clientBytes().equals(Buffer.from('220 caf\xe9 \xff\xfe\r\n', 'latin1'))).toBe(true);
    expect(h.serverBytes().equals(Buffer.from('CWD r\xe9pertoire\r\n', 'latin1'))).toBe(true);
  });
});

// A realistic session with every kind of line, for the chunking property below.
const TRANSCRIPT: Array<['c' | 's', string]> = [
  ['s', '220-Welcome\r\n220 ready\r\n'],
  ['c', 'USER u\r\n'],
  ['s', '331 pw\r\n'],
  ['c', 'PASS p\r\n'],
  ['s', '230 ok\r\n'],
  ['c', 'FEAT\r\n'],
  ['s', '211-Feat\r\n AUTH TLS\r\n EPSV\r\n211 End\r\n'],
  ['c', 'PWD\r\n'],
  ['s', '257 "/" is cwd\r\n'],
  ['c', 'EPSV\r\n'],
  ['s', '229 Entering Extended Passive Mode (|||30001|)\r\n'],
  ['c', 'STOR up\r\n'],
  ['s', '150 ok\r\n226 done\r\n'],
  ['c', 'PASV\r\n'],
  ['s', '227 PASV OK (127,0,0,1,117,50)\r\n'],
  ['c', 'RETR f\r\n'],
  ['s', '150 ok\r\n226 done\r\n'],
  ['c', 'PORT 127,0,0,2,195,80\r\n'],
  ['s', '200 ok\r\n'],
  ['c', 'LIST\r\n'],
  ['s', '150 ok\r\n226 done\r\n'],
  ['c', 'EPRT |1|127.0.0.2|50001|\r\n'],
  ['s', '200 ok\r\n'],
  ['c', '\xff\xf4\xff\xf2ABOR\r\n'],
  ['s', '225 abor\r\n'],
  ['c', 'QUIT\r\n'],
  ['s', '221 bye\r\n'],
];

async function replay(chunking: (s: string) => string[]) {
  const h = harness();
  for (const [who, text] of TRANSCRIPT) {
    for (const piece of chunking(text)) {
      if (who === 'c') h.session.fromClient(Buffer.from(piece, 'latin1'));
      else h.session.fromServer(Buffer.from(piece, 'latin1'));
    }
    await settle();
    await settle();
  }
  return { client: h.client(), server: h.server(), passive: h.broker.passive, active: h.broker.active };
}

describe('transcript properties', () => {
  it('any chunking of a whole session gives byte-identical output to the unchunked run', async () => {
    const whole = await replay((s) => [s]);
    expect(whole.passive).toHaveLength(2);
    expect(whole.active).toHaveLength(2);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
        async (sizes) => {
          let i = 0;
          const chunked = await replay((s) => {
            const out: string[] = [];
            for (let at = 0; at < s.length; i++) {
              const n = sizes[i % sizes.length]!;
              out.push(s.slice(at, at + n));
              at += n;
            }
            return out;
          });
          expect(chunked).toEqual(whole);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('random bytes from either side never throw out of the session (seeded fuzz)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.boolean(),
            fc.oneof(
              fc.uint8Array({ maxLength: 300 }),
              fc
                .constantFrom(
                  'PASV\r\n',
                  'EPSV\r\n',
                  'PORT 127,0,0,2,4,1\r\n',
                  '227 (1,2,3,4,5,6)\r\n',
                  '229 (|||9|)\r\n',
                  '211-x\r\n',
                  '\r\n',
                  '\xff',
                )
                .map((s) => Buffer.from(s, 'latin1')),
            ),
          ),
          { maxLength: 40 },
        ),
        async (steps) => {
          const h = harness({ maxLineLength: 128, brokerTimeoutMs: 50 });
          for (const [fromClient, bytes] of steps) {
            if (fromClient) h.session.fromClient(Buffer.from(bytes));
            else h.session.fromServer(Buffer.from(bytes));
            await settle();
          }
          h.session.end();
        },
      ),
      { numRuns: 300, seed: 20261123 },
    );
  });
});

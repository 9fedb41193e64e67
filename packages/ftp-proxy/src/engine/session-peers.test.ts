/**
 * What real peers send that a naive proxy gets wrong: lines framed differently by different servers
 * (a forged reply pairing with a forged command), urgent bytes Node never delivers (ftplib's and
 * lftp's ABOR), odd passive replies, and the active-mode race with servers that answer 226 at once.
 */
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
import type { DataConnectionProgress } from './types.js';

describe('command framing: the server sees exactly the commands the session paired', () => {
  it('splits a line with bare LFs into commands that each end in CRLF (the echo attack)', async () => {
    const h = harness();
    await login(h);
    // ftp-srv would take this for one unknown command and echo it back, 229 lines included.
    await client(h, 'X\nEPSV\n229-(|||6000|)\n229\r\n');
    expect(h.server()).toBe(`${LOGIN_SERVER}X\r\nEPSV\r\n229-(|||6000|)\r\n229\r\n`);
    await server(h, '500 X not understood\r\n229 Entering Extended Passive Mode (|||30001|)\r\n');
    await server(h, '500 229-(|||6000|) not understood\r\n500 229 not understood\r\n');
    // The one passive channel is the one the server announced for the real EPSV.
    expect(h.broker.passive.map((p) => p.server.port)).toEqual([30001]);
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}500 X not understood\r\n229 Entering Extended Passive Mode (|||40000|)\r\n` +
        '500 229-(|||6000|) not understood\r\n500 229 not understood\r\n',
    );
  });

  it("ends a line at a CR whose LF never came: ftplib's ABOR sent with MSG_OOB", async () => {
    const h = harness();
    await login(h);
    // Node drops the urgent LF: "ABOR\r" arrives, and ftplib then waits for its reply.
    await client(h, 'ABOR\r');
    expect(h.server()).toBe(`${LOGIN_SERVER}ABOR\r\n`);
    await server(h, '225 No transfer to ABOR\r\n');
    await client(h, 'NOOP\r\n');
    await server(h, '200 NOOP ok\r\n');
    expect(h.server()).toBe(`${LOGIN_SERVER}ABOR\r\nNOOP\r\n`);
    expect(h.client()).toBe(`${LOGIN_CLIENT}225 No transfer to ABOR\r\n200 NOOP ok\r\n`);
  });

  it('glued to the next command, and a CRLF split after its CR, both come out as one line each', async () => {
    const h = harness();
    await login(h);
    await client(h, 'ABOR\rNOOP\r\n');
    await client(h, 'PWD\r');
    await client(h, '\nSYST\r\n');
    expect(h.server()).toBe(`${LOGIN_SERVER}ABOR\r\nNOOP\r\nPWD\r\nSYST\r\n`);
  });

  it("puts back the urgent DM of lftp's Telnet Synch (IAC IP IAC <DM> ABOR)", async () => {
    const h = harness();
    await login(h);
    await client(h, '\xff\xf4\xffABOR\r\n');
    expect(h.server()).toBe(`${LOGIN_SERVER}\xff\xf4\xff\xf2ABOR\r\n`);
    // A complete sequence, and IAC IAC (a literal 0xFF in a name), pass unchanged.
    await client(h, '\xff\xf4\xff\xf2ABOR\r\nRETR \xff\xffx\r\n');
    expect(h.server()).toBe(
      `${LOGIN_SERVER}\xff\xf4\xff\xf2ABOR\r\n\xff\xf4\xff\xf2ABOR\r\nRETR \xff\xffx\r\n`,
    );
  });

  it('answers a command line with a NUL byte itself (C servers would act on a shorter one)', async () => {
    const h = harness();
    await login(h);
    await client(h, 'RETR a\x00PASV\r\nNOOP\r\n');
    await server(h, '200 NOOP ok\r\n');
    expect(h.server()).toBe(`${LOGIN_SERVER}NOOP\r\n`);
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}501 Syntax error: NUL byte in the command line.\r\n200 NOOP ok\r\n`,
    );
  });
});

describe('reply framing', () => {
  it('stops opening passive channels once a CRLF server sends a reply line after a bare LF', async () => {
    const h = harness();
    await login(h);
    await client(h, 'PWD\r\nEPSV\r\n');
    // A directory name with an LF in it, echoed in a 257, could pass for the EPSV's 229.
    await server(h, '257 "/a\n229 Entering Extended Passive Mode (|||2222|)" is cwd\r\n');
    expect(h.broker.passive).toHaveLength(0);
    expect(h.client()).toMatch(/425 Can't open data connection: the FTP server's replies are not framed/);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'framing-ambiguous' }));
  });

  it('keeps working with a server that ends every line with a bare LF', async () => {
    const h = harness();
    await server(h, '220 lf-only\n');
    await client(h, 'EPSV\r\n');
    await server(h, '229 Entering Extended Passive Mode (|||30001|)\n');
    expect(h.client()).toBe('220 lf-only\n229 Entering Extended Passive Mode (|||40000|)\n');
    expect(h.events).not.toContainEqual(expect.objectContaining({ type: 'framing-ambiguous' }));
  });

  it('a bare LF inside a multi-line text block is no reply boundary', async () => {
    const h = harness();
    await login(h);
    await client(h, 'HELP\r\nEPSV\r\n');
    await server(h, '214-Help\r\nline one\nline two\r\n214 end\r\n229 ok (|||30001|)\r\n');
    expect(h.broker.passive.map((p) => p.server.port)).toEqual([30001]);
  });
});

describe('passive replies as servers send them', () => {
  it("keeps a 229's own wording and delimiter", async () => {
    const h = harness();
    await login(h);
    await client(h, 'EPSV\r\n');
    await server(h, '229 Extended Passive mode OK (!!!30001!)\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}229 Extended Passive mode OK (!!!40000!)\r\n`);
  });

  it("reads pyftpdlib's IPv6-form 227 and answers with the listener", async () => {
    const h = harness({ pasvTarget: 'reply' });
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 Entering passive mode (::1,120,255).\r\n');
    expect(h.broker.passive[0]!.server).toEqual({ host: '::1', port: 30975 });
    expect(h.client()).toBe(`${LOGIN_CLIENT}227 Entering passive mode (127,0,0,1,156,64).\r\n`);
  });

  it('rewrites every endpoint of a multi-line 227 and targets the one on its last line', async () => {
    const h = harness();
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227-Load 10,20,30,40,50,60 ok\r\n227 Entering Passive Mode (192,0,2,1,117,48)\r\n');
    expect(h.broker.passive[0]!.server.port).toBe(30000);
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}227-Load 127,0,0,1,156,64 ok\r\n227 Entering Passive Mode (127,0,0,1,156,64)\r\n`,
    );
  });

  it('refuses a passive port below 1024 at once (the FTP host port 21 or 22)', async () => {
    const h = harness();
    await login(h);
    await client(h, 'PASV\r\n');
    await server(h, '227 Entering Passive Mode (192,0,2,1,0,22)\r\n');
    await client(h, 'EPSV\r\n');
    await server(h, '229 ok (|||21|)\r\n');
    expect(h.broker.passive).toHaveLength(0);
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}425 Can't open data connection: the server named port 22, below 1024.\r\n` +
        "425 Can't open data connection: the server named port 21, below 1024.\r\n",
    );
  });
});

describe('active mode', () => {
  it('sends EPRT |2| for an IPv6 listener even when the client sent PORT', async () => {
    const broker = new RecordingBroker();
    broker.advertiseHost = '::1';
    const h = harness({}, broker);
    await login(h);
    await client(h, 'PORT 127,0,0,2,195,80\r\n');
    expect(h.server()).toBe(`${LOGIN_SERVER}EPRT |2|::1|40000|\r\n`);
    await server(h, '200 EPRT ok\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}200 EPRT ok\r\n`);
  });

  it("holds a transfer's 226 until its data connection is through to the FTP client", async () => {
    const broker = new RecordingBroker();
    let progress: DataConnectionProgress['state'] = 'connecting';
    let connected!: () => void;
    const settled = new Promise<void>((r) => {
      connected = () => {
        progress = 'done';
        r();
      };
    });
    broker.dataConnection = () => ({ state: progress, settled });
    const h = harness({}, broker);
    await login(h);
    await client(h, 'PORT 127,0,0,2,195,80\r\n');
    await server(h, '200 ok\r\n');
    await client(h, 'RETR small\r\n');
    await server(h, '150 Opening\r\n226 Transfer complete\r\n');
    await client(h, 'NOOP\r\n');
    await server(h, '200 NOOP ok\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}200 ok\r\n150 Opening\r\n`);
    connected();
    await settle();
    await settle();
    expect(h.client()).toBe(
      `${LOGIN_CLIENT}200 ok\r\n150 Opening\r\n226 Transfer complete\r\n200 NOOP ok\r\n`,
    );
  });

  it("holds every line of a multi-line final reply (pure-ftpd's 226-…/226 …), not only the last", async () => {
    const broker = new RecordingBroker();
    let connected!: () => void;
    const settled = new Promise<void>((r) => {
      connected = r;
    });
    let state: DataConnectionProgress['state'] = 'connecting';
    broker.dataConnection = () => ({ state, settled });
    const h = harness({}, broker);
    await login(h);
    await client(h, 'PORT 127,0,0,2,195,80\r\n');
    await server(h, '200 ok\r\n');
    await client(h, 'LIST\r\n');
    await server(h, '150 Accepted data connection\r\n226-Options: -a -l\r\n226 4 matches total\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}200 ok\r\n150 Accepted data connection\r\n`);
    state = 'done';
    connected();
    await settle();
    await settle();
    expect(h.client()).toMatch(
      /150 Accepted data connection\r\n226-Options: -a -l\r\n226 4 matches total\r\n$/,
    );
  });

  it('passes an error reply at once when no data connection ever came, and bounds the wait', async () => {
    const broker = new RecordingBroker();
    broker.dataConnection = () => ({ state: 'none', settled: new Promise(() => {}) });
    const h = harness({ dataConnectionWaitMs: 30 }, broker);
    await login(h);
    await client(h, 'PORT 127,0,0,2,195,80\r\n');
    await server(h, '200 ok\r\n');
    await client(h, 'RETR x\r\n');
    await server(h, '150 Opening\r\n425 Cannot open data connection\r\n');
    expect(h.client()).toBe(`${LOGIN_CLIENT}200 ok\r\n150 Opening\r\n425 Cannot open data connection\r\n`);
    await client(h, 'PORT 127,0,0,2,195,81\r\n');
    await server(h, '200 ok\r\n');
    await client(h, 'RETR y\r\n');
    await server(h, '150 Opening\r\n226 Done\r\n');
    expect(h.client()).not.toMatch(/226 Done/);
    await new Promise((r) => setTimeout(r, 60));
    expect(h.client()).toMatch(/150 Opening\r\n226 Done\r\n$/);
    expect(CONTEXT.clientAddress.host).toBe('127.0.0.2');
  });
});

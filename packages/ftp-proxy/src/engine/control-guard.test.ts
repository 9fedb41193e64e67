import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FtpControlGuard, type GuardEvent } from './control-guard.js';
import type { Endpoint } from './types.js';

function guard(admit: (c: string, ep: Endpoint) => string | undefined = () => undefined) {
  const events: GuardEvent[] = [];
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  const g = new FtpControlGuard({
    serverHost: '192.0.2.21',
    admitActive: admit,
    toServer: (b) => toServer.push(Buffer.from(b)),
    toClient: (b) => toClient.push(Buffer.from(b)),
    onEvent: (e) => events.push(e),
  });
  const run = (steps: Array<['c' | 's', string]>) => {
    for (const [who, text] of steps) {
      const bytes = Buffer.from(text, 'latin1');
      if (who === 'c') g.fromClient(bytes);
      else g.fromServer(bytes);
    }
  };
  return {
    g,
    run,
    events,
    server: () => Buffer.concat(toServer).toString('latin1'),
    client: () => Buffer.concat(toClient).toString('latin1'),
    announced: () => events.filter((e) => e.type === 'passive-announced'),
  };
}

describe('FtpControlGuard: what it announces', () => {
  it('reports 227 and 229 replies to PASV/EPSV, and passes every byte on unchanged', () => {
    const t = guard();
    const steps: Array<['c' | 's', string]> = [
      ['s', '220 hi\r\n'],
      ['c', 'PASV\r\n'],
      ['s', '227 PASV OK (192,0,2,21,117,48)\r\n'],
      ['c', 'EPSV\r\n'],
      ['s', '229 Entering Extended Passive Mode (|||30001|)\r\n'],
      ['c', 'PORT 127,0,0,1,195,80\r\n'],
      ['s', '200 ok\r\n'],
    ];
    t.run(steps);
    expect(t.events).toEqual([
      { type: 'passive-announced', command: 'PASV', endpoint: { host: '192.0.2.21', port: 30000 } },
      { type: 'passive-announced', command: 'EPSV', endpoint: { host: '192.0.2.21', port: 30001 } },
      { type: 'active-announced', command: 'PORT', endpoint: { host: '127.0.0.1', port: 50000 } },
    ]);
    expect(t.server()).toBe(
      steps
        .filter(([w]) => w === 'c')
        .map(([, x]) => x)
        .join(''),
    );
    expect(t.client()).toBe(
      steps
        .filter(([w]) => w === 's')
        .map(([, x]) => x)
        .join(''),
    );
  });

  it("grants nothing from ftp-srv's echo of a line with bare LFs (the forged 229), and says so once", () => {
    const t = guard();
    t.run([
      ['s', '220 hi\r\n'],
      ['c', 'X\nEPSV\n229-(|||6000|)\n229\r\n'],
      ['s', '502 Command not allowed: X\nEPSV\n229-(|||6000|)\n229\r\n'],
      ['c', 'EPSV\r\n'],
      ['s', '229 Entering Extended Passive Mode (|||30001|)\r\n'],
    ]);
    expect(t.announced()).toEqual([]);
    expect(t.events.filter((e) => e.type === 'framing-ambiguous')).toHaveLength(1);
    expect(t.g.announcing).toBe(false);
  });

  it('grants nothing when the attack comes before login, split across packets, or names a third host', () => {
    for (const pieces of [
      ['X\nPA', 'SV\n227-(203,0,113,9,4,1)\n227\r\n'],
      ['X\n', 'EPSV\n', '229-(|||6000|)\n', '229\r\n'],
    ]) {
      const t = guard();
      t.run([['s', '220 hi\r\n'], ...pieces.map((p): ['c', string] => ['c', p])]);
      t.run([['s', `502 Command not allowed: ${pieces.join('')}`]]);
      expect(t.announced()).toEqual([]);
    }
  });

  it('gives up pairing at a reply that answers nothing (a file name with CRLF in a 257)', () => {
    const t = guard();
    t.run([
      ['s', '220 hi\r\n'],
      ['c', 'PWD\r\n'],
      ['s', '257 "/a\r\n229 Entering Extended Passive Mode (|||6000|)" is cwd\r\n'],
      ['c', 'EPSV\r\n'],
      ['s', '229 Entering Extended Passive Mode (|||30001|)\r\n'],
    ]);
    expect(t.announced()).toEqual([]);
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'framing-ambiguous', direction: 'fromServer' }),
    );
  });

  it("passes ftplib's ABOR whose urgent LF was lost at once, but then announces nothing", () => {
    const t = guard();
    t.run([
      ['s', '220 hi\r\n'],
      ['c', 'ABOR\r'],
    ]);
    expect(t.server()).toBe('ABOR\r');
    t.run([
      ['c', 'NOOP\r\n'],
      ['s', '500 ABOR\rNOOP not understood\r\n'],
      ['c', 'PASV\r\n'],
      ['s', '227 (192,0,2,21,4,1)\r\n'],
    ]);
    expect(t.announced()).toEqual([]);
  });

  it('stops after AUTH TLS is accepted', () => {
    const t = guard();
    t.run([
      ['s', '220 hi\r\n'],
      ['c', 'AUTH TLS\r\n'],
      ['s', '234 go\r\n'],
      ['c', 'PASV\r\n'],
      ['s', '227 (192,0,2,9,4,2)\r\n'],
    ]);
    expect(t.events).toEqual([{ type: 'tls-started' }]);
  });
});

describe('FtpControlGuard: PORT and EPRT', () => {
  it('takes out a PORT the caller refuses and answers it in its turn among pipelined replies', () => {
    const t = guard((_c, ep) => (ep.host === '127.0.0.1' ? undefined : `names ${ep.host}`));
    t.run([
      ['s', '220 hi\r\n'],
      ['c', 'NOOP\r\nPORT 198,51,100,7,4,1\r\nNOOP\r\n'],
    ]);
    expect(t.server()).toBe('NOOP\r\nNOOP\r\n');
    expect(t.client()).toBe('220 hi\r\n');
    t.run([['s', '200 one\r\n']]);
    expect(t.client()).toBe(
      '220 hi\r\n200 one\r\n500 Illegal PORT command: not a data port of this SSH connection.\r\n',
    );
    t.run([['s', '200 two\r\n']]);
    expect(t.client()).toMatch(/connection\.\r\n200 two\r\n$/);
    // The caller refused it and knows why: no event repeats it.
    expect(t.events.filter((e) => e.type === 'active-refused')).toEqual([]);
  });

  it('forwards each line whole, in one write (ftp-srv takes each read for whole commands)', () => {
    const writes: string[] = [];
    const g = new FtpControlGuard({
      serverHost: '192.0.2.21',
      admitActive: () => undefined,
      toServer: (b) => writes.push(b.toString('latin1')),
      toClient: () => {},
      onEvent: () => {},
      maxLineLength: 32,
    });
    for (const piece of ['NO', 'OP', '\r\nEP', 'SV\r\nport 127,0,0,1,4,1', '\r\n'])
      g.fromClient(Buffer.from(piece, 'latin1'));
    expect(writes).toEqual(['NOOP\r\n', 'EPSV\r\n', 'port 127,0,0,1,4,1\r\n']);
    // A line longer than the limit cannot be held whole: it goes on as it comes, nothing lost.
    writes.length = 0;
    const long = `STOR ${'x'.repeat(60)}\r\n`;
    g.fromClient(Buffer.from(long.slice(0, 20)));
    g.fromClient(Buffer.from(long.slice(20)));
    expect(writes.join('')).toBe(long);
  });

  it('refuses LPRT, a malformed PORT, a PORT with a CR or NUL in it, and a PORT behind Telnet bytes', () => {
    const t = guard((_c, ep) => (ep.host === '127.0.0.1' ? undefined : 'third host'));
    t.run([
      ['s', '220 hi\r\n'],
      ['c', 'LPRT 4,4,198,51,100,7,2,4,1\r\n'],
      ['c', 'PORT 1,2,3\r\n'],
      ['c', 'PORT 127,0,0,1,4,1\rX\r\n'],
      ['c', 'PORT 127,0,0,1,4,1\x00\r\n'],
      ['c', '\xff\xf4PORT 198,51,100,7,4,1\r\n'],
    ]);
    expect(t.server()).toBe('');
    expect(t.client()).toBe(
      '220 hi\r\n502 Command not implemented: use EPRT or PORT.\r\n501 Syntax error in PORT argument.\r\n' +
        '500 Illegal command.\r\n500 Illegal command.\r\n' +
        '500 Illegal PORT command.\r\n',
    );
  });
});

/**
 * A scripted FTP server, as real ones behave: it ends a command at CRLF only (ftp-srv, pyftpdlib) or
 * also at a bare LF (vsftpd, proftpd), echoes unknown commands raw in its 500, and answers a real
 * PASV/EPSV with a fresh data port it records.
 */
class ModelServer {
  readonly announced = new Set<number>();
  private buf = '';
  private next = 40000;
  constructor(
    private readonly framing: 'crlf' | 'lf',
    private readonly send: (text: string) => void,
  ) {}
  fromClient(text: string): void {
    this.buf += text;
    for (;;) {
      const at = this.framing === 'crlf' ? this.buf.indexOf('\r\n') : this.buf.indexOf('\n');
      if (at < 0) return;
      const line = this.buf.slice(0, at).replace(/\r$/, '');
      this.buf = this.buf.slice(at + (this.framing === 'crlf' ? 2 : 1));
      this.command(line);
    }
  }
  private command(line: string): void {
    const verb = line.split(' ')[0]!.toUpperCase();
    if (verb === 'PASV' || verb === 'EPSV') {
      const port = this.next++;
      this.announced.add(port);
      this.send(
        verb === 'PASV'
          ? `227 Entering Passive Mode (192,0,2,21,${port >> 8},${port & 255})\r\n`
          : `229 Entering Extended Passive Mode (|||${port}|)\r\n`,
      );
    } else if (verb === 'HELP') {
      this.send('214-Commands:\r\n PASV EPSV\r\n214 Help OK.\r\n');
    } else {
      this.send(`500 Command not understood: ${line}\r\n`);
    }
  }
}

describe('FtpControlGuard: the property the permits rest on', () => {
  // Lines a hostile client builds: commands and forged reply lines, glued by every separator some
  // server or client treats as a line end (or not), each write ending in CRLF so the server acts.
  const token = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('PASV', 'EPSV', 'HELP', 'X', 'NOOP') },
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        '229 (|||1111|)',
        '229-(|||2222|)',
        '229',
        '227 (192,0,2,21,4,87)',
        '227-(203,0,113,9,4,88)',
        '227',
        '214-x',
        '214 y',
      ),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[ -~]{0,6}$/) },
  );
  const separator = fc.oneof(
    { weight: 5, arbitrary: fc.constant('\n') },
    { weight: 3, arbitrary: fc.constant('\r\n') },
    { weight: 1, arbitrary: fc.constantFrom('\r', '\x00', ' ', '\xff\xf4', '') },
  );
  const write = fc
    .array(fc.tuple(token, separator), { minLength: 1, maxLength: 6 })
    .map((parts) => `${parts.map(([t, sep]) => t + sep).join('')}\r\n`);

  it('no byte sequence a client sends makes it announce a port the server did not announce to a real PASV/EPSV', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'crlf' | 'lf'>('crlf', 'lf'),
        fc.array(write, { minLength: 1, maxLength: 8 }),
        (framing, writes) => {
          const events: GuardEvent[] = [];
          let model: ModelServer | undefined;
          const g: FtpControlGuard = new FtpControlGuard({
            serverHost: '192.0.2.21',
            admitActive: () => undefined,
            toServer: (b) => model!.fromClient(b.toString('latin1')),
            toClient: () => {},
            onEvent: (e) => events.push(e),
          });
          model = new ModelServer(framing, (text) => g.fromServer(Buffer.from(text, 'latin1')));
          g.fromServer(Buffer.from('220 ready\r\n'));
          for (const w of writes) g.fromClient(Buffer.from(w, 'latin1'));
          for (const e of events) {
            if (e.type !== 'passive-announced') continue;
            expect(e.endpoint.host).toBe('192.0.2.21');
            expect(model.announced.has(e.endpoint.port)).toBe(true);
          }
        },
      ),
      { numRuns: 5000, seed: 20261202 },
    );
  });
});

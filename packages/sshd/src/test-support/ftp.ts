/**
 * FTP from inside the sshd tests: a real ftp-srv on loopback, and an FTP control session spoken over
 * an SSH channel (what ftpfwd would send, without ftpfwd).
 */
import { FtpSrv } from 'ftp-srv';
import type ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { expect } from 'vitest';
import type { Scope } from './harness.js';

/** ftp-srv wants a bunyan logger; this one stays silent. */
export const quietLog = {
  child() {
    return quietLog;
  },
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
};

/** ftp-srv on 127.0.0.1:port serving `root` to anonymous users; passive ports from a random range. */
export async function startFtpSrv(scope: Scope, root: string, port: number): Promise<void> {
  const pasvBase = 40000 + Math.floor(Math.random() * 20000);
  const ftp = new FtpSrv({
    url: `ftp://127.0.0.1:${port}`,
    pasv_url: '127.0.0.1',
    pasv_min: pasvBase,
    pasv_max: pasvBase + 50,
    anonymous: true,
    log: quietLog,
  });
  ftp.on('login', (_data: unknown, resolve: (r: { root: string }) => void) => resolve({ root }));
  await ftp.listen();
  scope.add(() => ftp.close());
}

export type OpenResult =
  | { ok: true; channel: ClientChannel }
  | { ok: false; reason: unknown; message: string };

export function open(client: ssh2.Client, host: string, port: number): Promise<OpenResult> {
  return new Promise((resolve) =>
    client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
      if (err)
        resolve({ ok: false, reason: (err as Error & { reason?: unknown }).reason, message: err.message });
      else resolve({ ok: true, channel });
    }),
  );
}

export function forwardIn(client: ssh2.Client, port: number): Promise<number | Error> {
  return new Promise((resolve) => client.forwardIn('127.0.0.1', port, (err, bound) => resolve(err ?? bound)));
}

/** Reads FTP replies from a control channel; `send` writes a command and waits for its final reply. */
export class FtpControl {
  private buffer = '';
  private readonly waiters: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  constructor(private readonly channel: ClientChannel) {
    channel.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      let i = this.buffer.indexOf('\r\n');
      while (i >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        // Only final reply lines ("ddd text") matter here.
        if (/^\d{3} /.test(line)) {
          const w = this.waiters.shift();
          if (w) w(line);
          else this.lines.push(line);
        }
        i = this.buffer.indexOf('\r\n');
      }
    });
  }
  reply(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no FTP reply within 10 s')), 10_000);
      this.waiters.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  }
  /** Raw bytes on the control channel, no terminator added. */
  write(bytes: string): void {
    this.channel.write(Buffer.from(bytes, 'latin1'));
  }
  async send(command: string): Promise<string> {
    this.channel.write(`${command}\r\n`);
    return this.reply();
  }
  async login(): Promise<void> {
    expect(await this.reply()).toMatch(/^220 /);
    const user = await this.send('USER anonymous');
    expect(user).toMatch(/^(230|331) /);
    if (user.startsWith('331')) expect(await this.send('PASS guest')).toMatch(/^230 /);
    expect(await this.send('TYPE I')).toMatch(/^200 /);
  }
  async epsv(): Promise<number> {
    const r = await this.send('EPSV');
    const m = /\(\|\|\|(\d+)\|\)/.exec(r);
    if (!m) throw new Error(`expected a 229 reply, got ${r}`);
    return Number(m[1]);
  }
  async pasv(): Promise<number> {
    const r = await this.send('PASV');
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r);
    if (!m) throw new Error(`expected a 227 reply, got ${r}`);
    return Number(m[5]) * 256 + Number(m[6]);
  }
}

export function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** A small raw FTP client for unit tests: sends lines as given and reads replies as they come. */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Reply {
  code: number;
  lines: string[];
  /** The whole reply, lines joined with \n. */
  text: string;
}

export class RawFtp {
  private buf = '';
  private readonly replies: Reply[] = [];
  private waiters: ((r: Reply) => void)[] = [];
  private pending: string[] = [];
  closed = false;

  private constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => {
      this.closed = true;
    });
    sock.on('error', () => {});
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawFtp> {
    const sock = connect({ port, host });
    await new Promise<void>((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', rej);
    });
    const c = new RawFtp(sock);
    const hello = await c.next();
    if (hello.code !== 220) throw new Error(`greeting: ${hello.text}`);
    return c;
  }

  private onData(d: string): void {
    this.buf += d;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i < 0) return;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      this.pending.push(line);
      const first = this.pending[0]!;
      const m = /^(\d{3})([ -])/.exec(first);
      const code = m ? m[1] : undefined;
      const done =
        !m || m[2] === ' '
          ? this.pending.length === 1
          : line.startsWith(`${code} `) && this.pending.length > 1;
      if (done) {
        const lines = this.pending;
        this.pending = [];
        const r = { code: Number(code ?? 0), lines, text: lines.join('\n') };
        const w = this.waiters.shift();
        if (w) w(r);
        else this.replies.push(r);
      }
    }
  }

  /** The next reply (waits up to `ms`). */
  next(ms = 5000): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no reply within ${ms} ms`));
      }, ms);
      const done = (x: Reply) => {
        clearTimeout(t);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  /** Replies already received and not taken. */
  queued(): number {
    return this.replies.length;
  }

  send(line: string | Buffer): void {
    this.sock.write(typeof line === 'string' ? `${line}\r\n` : line);
  }

  async cmd(line: string): Promise<Reply> {
    this.send(line);
    return this.next();
  }

  async login(user = 'u', pass = 'p'): Promise<void> {
    const a = await this.cmd(`USER ${user}`);
    if (a.code !== 331) throw new Error(a.text);
    const b = await this.cmd(`PASS ${pass}`);
    if (b.code !== 230) throw new Error(b.text);
  }

  /** EPSV and a connection to the announced port. */
  async epsv(): Promise<Socket> {
    const r = await this.cmd('EPSV');
    const m = /\(\|\|\|(\d+)\|\)/.exec(r.text);
    if (!m) throw new Error(`EPSV: ${r.text}`);
    return dataConnect(Number(m[1]));
  }

  /** A listener for PORT/EPRT; `accepted` gives its first connection. */
  static async activeListener(): Promise<{ server: Server; port: number; accepted: Promise<Socket> }> {
    const server = createServer();
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = server.address();
    return { server, port: typeof a === 'object' && a ? a.port : 0, accepted };
  }

  close(): void {
    this.sock.destroy();
  }
}

export async function dataConnect(port: number, host = '127.0.0.1'): Promise<Socket> {
  const s = connect({ port, host });
  await new Promise<void>((res, rej) => {
    s.once('connect', () => res());
    s.once('error', rej);
  });
  return s;
}

/** Everything a socket sends until it ends. */
export function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** Writes `data` and ends the socket, resolving once it is flushed. */
export function writeAll(s: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve) => s.end(data, () => resolve()));
}

import { connect as netConnect, type Socket } from 'node:net';

/** A bare FTP control connection for tests that need exact replies (421, bounce refusal). */
export class FtpControl {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<FtpControl> {
    return new Promise((res, rej) => {
      const s = netConnect({ port, host, ...(localAddress ? { localAddress } : {}) });
      s.once('connect', () => res(new FtpControl(s)));
      s.once('error', rej);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Next complete reply (multi-line aware): `NNN text`. Rejects when the connection closes first. */
  async reply(timeoutMs = 15_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = takeReply(this.buf);
      if (found) {
        this.buf = this.buf.slice(found.consumed);
        return found.reply;
      }
      if (this.closed) throw new Error(`connection closed; pending: ${JSON.stringify(this.buf)}`);
      if (Date.now() > end) throw new Error(`no reply; pending: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async cmd(line: string): Promise<string> {
    this.sock.write(`${line}\r\n`);
    return this.reply();
  }

  async login(): Promise<void> {
    await this.reply(); // 220
    let r = await this.cmd('USER anonymous');
    if (r.startsWith('331')) r = await this.cmd('PASS test@');
    if (!r.startsWith('230')) throw new Error(`login failed: ${r}`);
  }

  /** Everything the peer sends until it closes (for a data connection), as bytes. */
  collect(timeoutMs = 60_000): Promise<Buffer> {
    const chunks: Buffer[] = [];
    this.sock.setEncoding('latin1');
    this.sock.on('data', (d: string) => chunks.push(Buffer.from(d, 'latin1')));
    return this.waitClosed(timeoutMs).then(() => Buffer.concat(chunks));
  }

  /** Resolves once the peer closed the connection. */
  async waitClosed(timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > end) throw new Error('connection still open');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

/** A complete reply at the start of `buf`: its first line (`NNN text`) and the bytes it spans. */
function takeReply(buf: string): { reply: string; consumed: number } | undefined {
  let pos = 0;
  let first: string | undefined;
  for (;;) {
    const nl = buf.indexOf('\r\n', pos);
    if (nl < 0) return undefined;
    const line = buf.slice(pos, nl);
    pos = nl + 2;
    if (first === undefined) {
      first = line;
      if (!/^\d{3}-/.test(line)) return { reply: first, consumed: pos };
    } else if (line.startsWith(`${first.slice(0, 3)} `)) {
      return { reply: first, consumed: pos };
    }
  }
}

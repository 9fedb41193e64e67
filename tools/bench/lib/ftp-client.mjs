// The smallest FTP client the latency scenario needs: one control connection, replies parsed
// (multi-line "123-" ... "123 " included), passive transfers timed from PASV sent to first data byte.
import net from 'node:net';

export class FtpClient {
  #socket;
  #buf = '';
  #waiters = [];
  #replies = [];
  #multi = null;
  #closed = false;

  static async connect(host, port) {
    const c = new FtpClient();
    await c.#open(host, port);
    return c;
  }

  #open(host, port) {
    return new Promise((resolve, reject) => {
      this.host = host;
      this.#socket = net.connect(port, host, resolve);
      this.#socket.setNoDelay(true);
      this.#socket.once('error', reject);
      this.#socket.on('data', (b) => this.#onData(b));
      this.#socket.on('close', () => {
        this.#closed = true;
        for (const w of this.#waiters.splice(0)) w.reject(new Error('control connection closed'));
      });
    });
  }

  #onData(b) {
    this.#buf += b.toString('latin1');
    for (let i = this.#buf.indexOf('\n'); i >= 0; i = this.#buf.indexOf('\n')) {
      const line = this.#buf.slice(0, i).replace(/\r$/, '');
      this.#buf = this.#buf.slice(i + 1);
      if (this.#multi) {
        if (line.startsWith(`${this.#multi} `)) this.#push(this.#multi, line);
      } else if (/^\d{3}-/.test(line)) this.#multi = line.slice(0, 3);
      else if (/^\d{3}( |$)/.test(line)) this.#push(line.slice(0, 3), line);
    }
  }

  #push(code, line) {
    this.#multi = null;
    const reply = { code: Number(code), line };
    const w = this.#waiters.shift();
    if (w) w.resolve(reply);
    else this.#replies.push(reply);
  }

  /** The next reply; rejects when the connection is gone or nothing comes within 30 s. */
  reply() {
    if (this.#replies.length) return Promise.resolve(this.#replies.shift());
    if (this.#closed) return Promise.reject(new Error('control connection closed'));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (r) => {
          clearTimeout(w.timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(w.timer);
          reject(e);
        },
      };
      w.timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error('no reply within 30 s'));
      }, 30000);
      this.#waiters.push(w);
    });
  }

  async expect(codes, what) {
    const r = await this.reply();
    if (!codes.includes(r.code)) throw new Error(`${what}: expected ${codes.join('/')}, got "${r.line}"`);
    return r;
  }

  send(line) {
    this.#socket.write(`${line}\r\n`);
  }

  async login() {
    await this.expect([220], 'greeting');
    this.send('USER anonymous');
    const r = await this.expect([230, 331], 'USER');
    if (r.code === 331) {
      this.send('PASS bench@');
      await this.expect([230], 'PASS');
    }
    this.send('TYPE I');
    await this.expect([200], 'TYPE I');
  }

  /**
   * PASV, connect to the announced port on the control connection's host (as curl does by default,
   * which keeps a plain -L tunnel in the path), RETR; resolves with the ms from PASV sent to the
   * first data byte and the whole file.
   */
  async timedRetr(path) {
    const t0 = process.hrtime.bigint();
    this.send('PASV');
    const r = await this.expect([227], 'PASV');
    const m = r.line.match(/(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/);
    if (!m) throw new Error(`PASV: no address in "${r.line}"`);
    const port = Number(m[5]) * 256 + Number(m[6]);
    let firstByte = 0n;
    const chunks = [];
    const data = net.connect(port, this.host);
    data.setNoDelay(true);
    const done = new Promise((resolve, reject) => {
      data.on('data', (b) => {
        if (!firstByte) firstByte = process.hrtime.bigint();
        chunks.push(b);
      });
      data.once('error', reject);
      data.once('end', resolve);
      // A data connection that never ends must fail the run, not hang it.
      const timer = setTimeout(() => {
        data.destroy();
        reject(new Error(`RETR ${path}: data connection still open after 30 s`));
      }, 30000);
      data.once('close', () => clearTimeout(timer));
    });
    await new Promise((resolve, reject) => {
      data.once('connect', resolve);
      data.once('error', reject);
    });
    this.send(`RETR ${path}`);
    await this.expect([125, 150], 'RETR');
    await done;
    await this.expect([226, 250], 'RETR end');
    return { ms: Number(firstByte - t0) / 1e6, data: Buffer.concat(chunks) };
  }

  async quit() {
    this.send('QUIT');
    await this.reply().catch(() => {});
    this.#socket.destroy();
  }
}

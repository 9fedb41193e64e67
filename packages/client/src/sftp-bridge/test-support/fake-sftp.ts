/**
 * An in-memory SFTP server behind the SFTPWrapper methods the bridge calls, for unit tests of the
 * command state machine and the pump (the real proof is packages/e2e/src/sftp-bridge, against
 * OpenSSH's sftp-server). Answers asynchronously, records what it was asked, and can be told to
 * fail, to answer short, or to stall.
 */
import { EventEmitter } from 'node:events';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { SFTP_STATUS } from '../status.js';
import type { SftpSession } from '../types.js';

type Node =
  | { type: 'file'; data: Buffer; mode: number; mtime: number; atime: number; uid: number; gid: number }
  | { type: 'dir'; mode: number; mtime: number; atime: number; uid: number; gid: number }
  | { type: 'link'; target: string; mode: number; mtime: number; atime: number; uid: number; gid: number };

type Handle = { kind: 'file'; path: string; flags: number } | { kind: 'dir'; path: string; listed: boolean };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function statusError(code: number, message: string): Error {
  const e = new Error(message) as Error & { code: number };
  e.code = code;
  return e;
}

class Stats {
  constructor(
    readonly mode: number,
    readonly uid: number,
    readonly gid: number,
    readonly size: number,
    readonly atime: number,
    readonly mtime: number,
  ) {}
  isDirectory() {
    return (this.mode & 0o170000) === S_IFDIR;
  }
  isFile() {
    return (this.mode & 0o170000) === S_IFREG;
  }
  isSymbolicLink() {
    return (this.mode & 0o170000) === S_IFLNK;
  }
  isBlockDevice() {
    return false;
  }
  isCharacterDevice() {
    return false;
  }
  isFIFO() {
    return false;
  }
  isSocket() {
    return false;
  }
}

export interface FakeOptions {
  /** Offered extensions (default: posix-rename and statvfs, as OpenSSH). */
  extensions?: Record<string, string>;
  /** Largest READ answered in one go (a short read beyond it). */
  shortReadMax?: number;
  maxReadLen?: number;
  maxWriteLen?: number;
  /** Delay of each answer, ms (0: next turn of the event loop). */
  latencyMs?: number;
  home?: string;
  uid?: number;
}

export class FakeSftp extends EventEmitter {
  readonly nodes = new Map<string, Node>();
  private readonly handles = new Map<string, Handle>();
  private nextHandle = 1;
  /** Requests seen, by name. */
  readonly calls: string[] = [];
  inflightReads = 0;
  maxInflightReads = 0;
  inflightWrites = 0;
  maxInflightWrites = 0;
  /** Fails WRITE requests with this error once this many bytes have been written. */
  failWritesAfter: { bytes: number; code: number; message: string } | undefined;
  /** Fails READ requests from this offset on. */
  failReadsAt: { offset: number; code: number; message: string } | undefined;
  /** READs wait until released (to hold a transfer open). */
  stallReads = false;
  private stalled: (() => void)[] = [];
  written = 0;
  closed = false;
  readonly _extensions: Record<string, string>;
  readonly _maxReadLen: number;
  readonly _maxWriteLen: number;
  readonly home: string;
  private readonly uid: number;

  constructor(private readonly o: FakeOptions = {}) {
    super();
    this._extensions = o.extensions ?? { 'posix-rename@openssh.com': '1', 'statvfs@openssh.com': '2' };
    this._maxReadLen = o.maxReadLen ?? 254 * 1024;
    this._maxWriteLen = o.maxWriteLen ?? 254 * 1024;
    this.home = o.home ?? '/home/u';
    this.uid = o.uid ?? 1000;
    this.mkdirp('/');
    this.mkdirp(this.home);
  }

  // ------------------------------------------------------------ test helpers

  mkdirp(path: string): void {
    let p = '';
    for (const seg of path.split('/').filter(Boolean)) {
      p += `/${seg}`;
      if (!this.nodes.has(p)) this.nodes.set(p, this.meta({ type: 'dir', mode: S_IFDIR | 0o755 }));
    }
    if (!this.nodes.has('/')) this.nodes.set('/', this.meta({ type: 'dir', mode: S_IFDIR | 0o755 }, 0));
  }

  put(path: string, data: Buffer | string, mode = 0o644): void {
    this.mkdirp(posix.dirname(path));
    this.nodes.set(path, this.meta({ type: 'file', data: Buffer.from(data), mode: S_IFREG | mode }));
  }

  link(path: string, target: string): void {
    this.nodes.set(path, this.meta({ type: 'link', target, mode: S_IFLNK | 0o777 }));
  }

  file(path: string): Buffer | undefined {
    const n = this.nodes.get(path);
    return n?.type === 'file' ? n.data : undefined;
  }

  release(): void {
    this.stallReads = false;
    for (const r of this.stalled.splice(0)) r();
  }

  /** As if the SSH server closed the SFTP channel. */
  drop(): void {
    this.closed = true;
    this.emit('close');
  }

  session(): SftpSession & { fake: FakeSftp } {
    return { sftp: this as unknown as SFTPWrapper, close: () => this.end(), fake: this };
  }

  private meta<T extends object>(
    n: T,
    uid = this.uid,
  ): T & { mtime: number; atime: number; uid: number; gid: number } {
    return { ...n, mtime: 1_700_000_000, atime: 1_700_000_000, uid, gid: 100 };
  }

  // ------------------------------------------------------------ plumbing

  private answer(fn: () => void): void {
    if (this.o.latencyMs) setTimeout(fn, this.o.latencyMs);
    else setImmediate(fn);
  }

  private reply<T>(cb: (err: Error | undefined, v?: T) => void, work: () => T): void {
    this.answer(() => {
      if (this.closed) return cb(new Error('No response from server'));
      let v: T;
      try {
        v = work();
      } catch (err) {
        return cb(err as Error);
      }
      cb(undefined, v);
    });
  }

  /** Follows links in every component; the last one may be missing (as OpenSSH's realpath). */
  private resolve(path: string, followLast = true, depth = 0): string {
    if (depth > 20) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'Too many links');
    const abs = posix.normalize(path.startsWith('/') ? path : `${this.home}/${path}`);
    const segs = abs.split('/').filter(Boolean);
    let cur = '';
    for (let i = 0; i < segs.length; i++) {
      const next = `${cur}/${segs[i]}`;
      const n = this.nodes.get(next);
      const last = i === segs.length - 1;
      if (n?.type === 'link' && (!last || followLast)) {
        const t = n.target.startsWith('/') ? n.target : `${cur || '/'}/${n.target}`;
        cur = this.resolve(t, true, depth + 1);
        if (cur === '/') cur = '';
        continue;
      }
      if (!n && !last) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
      cur = next;
    }
    return cur || '/';
  }

  private node(path: string, follow = true): Node {
    const n = this.nodes.get(this.resolve(path, follow));
    if (!n) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
    return n;
  }

  private stats(n: Node): Stats {
    const size = n.type === 'file' ? n.data.length : n.type === 'link' ? n.target.length : 4096;
    return new Stats(n.mode, n.uid, n.gid, size, n.atime, n.mtime);
  }

  private parentDir(path: string): void {
    const parent = this.nodes.get(posix.dirname(path));
    if (!parent) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
    if (parent.type !== 'dir') throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
  }

  private handle(h: Buffer): Handle {
    const x = this.handles.get(h.toString('hex'));
    if (!x) throw statusError(SFTP_STATUS.FAILURE, 'Failure');
    return x;
  }

  private newHandle(x: Handle): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.nextHandle++);
    this.handles.set(b.toString('hex'), x);
    return b;
  }

  // ------------------------------------------------------------ SFTPWrapper

  realpath(path: string, cb: (err: Error | undefined, p?: string) => void): void {
    this.calls.push('realpath');
    this.reply(cb, () => this.resolve(path));
  }
  stat(path: string, cb: (err: Error | undefined, s?: Stats) => void): void {
    this.calls.push('stat');
    this.reply(cb, () => this.stats(this.node(path)));
  }
  lstat(path: string, cb: (err: Error | undefined, s?: Stats) => void): void {
    this.calls.push('lstat');
    this.reply(cb, () => this.stats(this.node(path, false)));
  }
  open(path: string, flags: number, _attrs: unknown, cb: (err: Error | undefined, h?: Buffer) => void): void {
    this.calls.push('open');
    this.reply(cb, () => {
      const p = this.resolve(path);
      const n = this.nodes.get(p);
      if (n && flags & 0x20) throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      if (!n) {
        if (!(flags & 0x08)) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
        this.parentDir(p);
        this.put(p, Buffer.alloc(0));
      } else if (n.type === 'dir' && flags & 0x02) throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      else if (n.type === 'file' && (n.mode & 0o222) === 0 && flags & 0x02)
        throw statusError(SFTP_STATUS.PERMISSION_DENIED, 'Permission denied');
      const f = this.nodes.get(p)!;
      if (f.type === 'file' && flags & 0x10) f.data = Buffer.alloc(0);
      return this.newHandle({ kind: 'file', path: p, flags });
    });
  }
  close(h: Buffer, cb: (err: Error | undefined) => void): void {
    this.calls.push('close');
    this.reply(cb, () => {
      this.handle(h);
      this.handles.delete(h.toString('hex'));
    });
  }
  fstat(h: Buffer, cb: (err: Error | undefined, s?: Stats) => void): void {
    this.calls.push('fstat');
    this.reply(cb, () => this.stats(this.node(this.handle(h).path)));
  }
  fsetstat(h: Buffer, attrs: { size?: number }, cb: (err: Error | undefined) => void): void {
    this.calls.push('fsetstat');
    this.reply(cb, () => {
      const n = this.node(this.handle(h).path);
      if (n.type === 'file' && attrs.size !== undefined) n.data = n.data.subarray(0, attrs.size);
    });
  }
  setstat(
    path: string,
    attrs: { mode?: number; mtime?: number; atime?: number },
    cb: (err: Error | undefined) => void,
  ): void {
    this.calls.push('setstat');
    this.reply(cb, () => {
      const n = this.node(path);
      if (attrs.mode !== undefined) n.mode = (n.mode & 0o170000) | (attrs.mode & 0o7777);
      if (attrs.mtime !== undefined) n.mtime = Number(attrs.mtime);
      if (attrs.atime !== undefined) n.atime = Number(attrs.atime);
    });
  }
  opendir(path: string, cb: (err: Error | undefined, h?: Buffer) => void): void {
    this.calls.push('opendir');
    this.reply(cb, () => {
      const p = this.resolve(path);
      const n = this.nodes.get(p);
      if (!n) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
      if (n.type !== 'dir') throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      return this.newHandle({ kind: 'dir', path: p, listed: false });
    });
  }
  readdir(h: Buffer, cb: (err: Error | undefined, list?: unknown[]) => void): void {
    this.calls.push('readdir');
    this.reply(cb, () => {
      const x = this.handle(h);
      if (x.kind !== 'dir' || x.listed) throw statusError(SFTP_STATUS.EOF, 'EOF');
      x.listed = true;
      const prefix = x.path === '/' ? '/' : `${x.path}/`;
      const out = [];
      for (const [p, n] of this.nodes) {
        if (p === x.path || !p.startsWith(prefix) || p.slice(prefix.length).includes('/')) continue;
        const name = p.slice(prefix.length);
        const st = this.stats(n);
        out.push({
          filename: name,
          longname: `${'-'.repeat(10)}    1 user     group    ${st.size} Jan  1 00:00 ${name}`,
          attrs: st,
        });
      }
      return out;
    });
  }
  readlink(path: string, cb: (err: Error | undefined, t?: string) => void): void {
    this.calls.push('readlink');
    this.reply(cb, () => {
      const n = this.nodes.get(this.resolve(path, false));
      if (n?.type !== 'link') throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      return n.target;
    });
  }
  unlink(path: string, cb: (err: Error | undefined) => void): void {
    this.calls.push('unlink');
    this.reply(cb, () => {
      const p = this.resolve(path, false);
      const n = this.nodes.get(p);
      if (!n) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
      if (n.type === 'dir') throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      this.nodes.delete(p);
    });
  }
  rmdir(path: string, cb: (err: Error | undefined) => void): void {
    this.calls.push('rmdir');
    this.reply(cb, () => {
      const p = this.resolve(path, false);
      const n = this.nodes.get(p);
      if (!n) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
      if (n.type !== 'dir') throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      for (const k of this.nodes.keys())
        if (k.startsWith(`${p}/`)) throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      this.nodes.delete(p);
    });
  }
  mkdir(path: string, _attrs: unknown, cb: (err: Error | undefined) => void): void {
    this.calls.push('mkdir');
    this.reply(cb, () => {
      const p = this.resolve(path, false);
      if (this.nodes.has(p)) throw statusError(SFTP_STATUS.FAILURE, 'Failure');
      this.parentDir(p);
      this.nodes.set(p, this.meta({ type: 'dir', mode: S_IFDIR | 0o755 }));
    });
  }
  rename(from: string, to: string, cb: (err: Error | undefined) => void): void {
    this.calls.push('rename');
    this.reply(cb, () => this.move(from, to, false));
  }
  ext_openssh_rename(from: string, to: string, cb: (err: Error | undefined) => void): void {
    if (!this._extensions['posix-rename@openssh.com'])
      throw new Error('Server does not support this extended request');
    this.calls.push('posix-rename');
    this.reply(cb, () => this.move(from, to, true));
  }
  ext_openssh_statvfs(_path: string, cb: (err: Error | undefined, v?: unknown) => void): void {
    this.calls.push('statvfs');
    this.reply(cb, () => ({ f_bsize: 4096, f_frsize: 4096, f_blocks: 1000, f_bfree: 0, f_bavail: 0 }));
  }
  private move(from: string, to: string, replace: boolean): void {
    const a = this.resolve(from, false);
    const b = this.resolve(to, false);
    if (!this.nodes.has(a)) throw statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file');
    if (this.nodes.has(b) && !replace) throw statusError(SFTP_STATUS.FAILURE, 'Failure');
    this.parentDir(b);
    for (const [k, v] of [...this.nodes]) {
      if (k === a || k.startsWith(`${a}/`)) {
        this.nodes.delete(k);
        this.nodes.set(b + k.slice(a.length), v);
      }
    }
  }
  read(
    h: Buffer,
    buf: Buffer,
    off: number,
    len: number,
    position: number,
    cb: (err: Error | undefined, n?: number, b?: Buffer, pos?: number) => void,
  ): void {
    this.calls.push('read');
    this.inflightReads++;
    this.maxInflightReads = Math.max(this.maxInflightReads, this.inflightReads);
    const go = () =>
      this.reply(
        (err, n?: number) => {
          this.inflightReads--;
          cb(err, n, buf, position);
        },
        () => {
          if (this.failReadsAt && position >= this.failReadsAt.offset)
            throw statusError(this.failReadsAt.code, this.failReadsAt.message);
          const x = this.handle(h);
          const n = this.node(x.path);
          if (n.type !== 'file') throw statusError(SFTP_STATUS.FAILURE, 'Failure');
          if (position >= n.data.length) return 0;
          const want = Math.min(len, this.o.shortReadMax ?? len);
          return n.data.copy(buf, off, position, Math.min(n.data.length, position + want));
        },
      );
    if (this.stallReads) this.stalled.push(go);
    else go();
  }
  write(
    h: Buffer,
    buf: Buffer,
    off: number,
    len: number,
    position: number,
    cb: (err: Error | undefined) => void,
  ): void {
    this.calls.push('write');
    this.inflightWrites++;
    this.maxInflightWrites = Math.max(this.maxInflightWrites, this.inflightWrites);
    const data = Buffer.from(buf.subarray(off, off + len)); // ssh2 copies at once too
    this.reply(
      (err) => {
        this.inflightWrites--;
        cb(err);
      },
      () => {
        if (this.failWritesAfter && this.written + len > this.failWritesAfter.bytes)
          throw statusError(this.failWritesAfter.code, this.failWritesAfter.message);
        const x = this.handle(h);
        const n = this.node(x.path);
        if (n.type !== 'file') throw statusError(SFTP_STATUS.FAILURE, 'Failure');
        const end = position + data.length;
        if (end > n.data.length) {
          const grown = Buffer.alloc(end);
          n.data.copy(grown);
          n.data = grown;
        }
        data.copy(n.data, position);
        this.written += data.length;
      },
    );
  }
  end(): void {
    this.calls.push('end');
    if (!this.closed) {
      this.closed = true;
      setImmediate(() => this.emit('close'));
    }
  }
}

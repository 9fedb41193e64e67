/**
 * Promise wrappers around the few ssh2 SFTPWrapper requests the bridge uses. Every call settles:
 * a request the wrapper refuses synchronously (channel gone) rejects like one the server failed.
 * Errors keep ssh2's form (an Error whose numeric `code` is the SFTP status).
 */
import type { Writable } from 'node:stream';
import { connectionSocketOf, grantWindow, receiveWindow, sftpServerInfo } from '@ftpfwd/ftp-proxy/transport';
import type { Attributes, FileEntry, InputAttributes, SFTPWrapper, Stats } from 'ssh2';
import { SFTP_STATUS } from './status.js';

/** SFTP v3 pflags (draft-ietf-secsh-filexfer-02 §6.3). */
export const OPEN = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

/** What a file system call returns for a file: ssh2's Stats (its fields may be absent). */
export type FileStats = Stats;

/** statvfs@openssh.com's answer, as ssh2 names it (numbers, or bigints with ssh2's bigint option). */
export interface StatVfs {
  f_bsize: number | bigint;
  f_frsize: number | bigint;
  f_blocks: number | bigint;
  f_bfree: number | bigint;
  f_bavail: number | bigint;
}

/** Bytes an unprivileged user may still write, from a statvfs answer. */
export function freeBytes(v: StatVfs): number {
  return Number(v.f_bavail) * Number(v.f_frsize || v.f_bsize);
}

export class SftpOps {
  readonly extensions: Readonly<Record<string, string>>;

  /** Longest READ and WRITE the wrapper sends as one request (OpenSSH peers: 254 KiB, others ~31). */
  readonly maxReadLen: number;
  readonly maxWriteLen: number;
  /**
   * The SSH connection's socket, where the requests' packets leave: corked around a burst, the
   * packets of several requests leave in one writev. Undefined when it cannot be found.
   */
  readonly transport: Writable | undefined;

  constructor(
    readonly sftp: SFTPWrapper,
    extensions?: Readonly<Record<string, string>>,
  ) {
    // ssh2 keeps what it learned about the server private: read through the one door to it
    const info = sftpServerInfo(sftp);
    this.extensions = extensions ?? info.extensions;
    this.maxReadLen = info.maxReadLen ?? 31 * 1024;
    this.maxWriteLen = info.maxWriteLen ?? 31 * 1024;
    this.transport = connectionSocketOf(sftp);
  }

  /**
   * Gives the server back the channel window it used, up to `max`, once `step` or more is used.
   * ssh2 waits until half of its 2 MiB window is gone, so at high rates the server runs out of
   * window while the adjustment travels; OpenSSH's own client adjusts after a few packets.
   */
  topUpWindow(max: number, step: number): void {
    const window = receiveWindow(this.sftp);
    if (window === undefined) return;
    const amount = max - window;
    if (amount >= step) grantWindow(this.sftp, amount);
  }

  has(ext: 'posix-rename@openssh.com' | 'statvfs@openssh.com' | 'fsync@openssh.com'): boolean {
    return this.extensions[ext] !== undefined;
  }

  realpath(path: string): Promise<string> {
    return call((cb) => this.sftp.realpath(path, cb));
  }
  stat(path: string): Promise<FileStats> {
    return call((cb) => this.sftp.stat(path, cb));
  }
  lstat(path: string): Promise<FileStats> {
    return call((cb) => this.sftp.lstat(path, cb));
  }
  /** stat, or undefined when there is no such file (other failures reject). */
  async statIfExists(path: string, follow = true): Promise<FileStats | undefined> {
    try {
      return await (follow ? this.stat(path) : this.lstat(path));
    } catch (err) {
      if ((err as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE) return undefined;
      throw err;
    }
  }
  open(path: string, flags: number, attrs?: InputAttributes): Promise<Buffer> {
    return call((cb) => this.sftp.open(path, flags, attrs ?? {}, cb));
  }
  close(handle: Buffer): Promise<void> {
    return call0((cb) => this.sftp.close(handle, cb));
  }
  fstat(handle: Buffer): Promise<FileStats> {
    return call((cb) => this.sftp.fstat(handle, cb));
  }
  fsetstat(handle: Buffer, attrs: InputAttributes): Promise<void> {
    return call0((cb) => this.sftp.fsetstat(handle, attrs, cb));
  }
  setstat(path: string, attrs: InputAttributes): Promise<void> {
    return call0((cb) => this.sftp.setstat(path, attrs, cb));
  }
  opendir(path: string): Promise<Buffer> {
    return call((cb) => this.sftp.opendir(path, cb));
  }
  /** One READDIR: a batch of entries (`.` and `..` left out), or undefined at the end. */
  readdir(handle: Buffer): Promise<FileEntry[] | undefined> {
    return new Promise((resolve, reject) => {
      try {
        this.sftp.readdir(handle, (err: Error | undefined, list: FileEntry[]) => {
          if (err) {
            if ((err as { code?: unknown }).code === SFTP_STATUS.EOF) resolve(undefined);
            else reject(err);
          } else resolve(list);
        });
      } catch (err) {
        reject(err);
      }
    });
  }
  readlink(path: string): Promise<string> {
    return call((cb) => this.sftp.readlink(path, cb));
  }
  unlink(path: string): Promise<void> {
    return call0((cb) => this.sftp.unlink(path, cb));
  }
  rmdir(path: string): Promise<void> {
    return call0((cb) => this.sftp.rmdir(path, cb));
  }
  mkdir(path: string): Promise<void> {
    return call0((cb) => this.sftp.mkdir(path, {}, cb));
  }
  rename(from: string, to: string): Promise<void> {
    return call0((cb) => this.sftp.rename(from, to, cb));
  }
  /** posix-rename@openssh.com: rename(2), replacing the target atomically. */
  posixRename(from: string, to: string): Promise<void> {
    return call0((cb) => this.sftp.ext_openssh_rename(from, to, cb));
  }
  statvfs(path: string): Promise<StatVfs> {
    return call<StatVfs>((cb) => this.sftp.ext_openssh_statvfs(path, cb));
  }
  /** One READ: the bytes read (fewer than asked near the end), empty at end of file. */
  read(handle: Buffer, buf: Buffer, len: number, position: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      try {
        this.sftp.read(handle, buf, 0, len, position, (err, n) => {
          if (err) reject(err);
          else resolve(buf.subarray(0, n));
        });
      } catch (err) {
        reject(err);
      }
    });
  }
  write(handle: Buffer, buf: Buffer, position: number): Promise<void> {
    return call0((cb) => this.sftp.write(handle, buf, 0, buf.length, position, cb));
  }
}

export type { Attributes };

function call<T>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((err, value) => (err ? reject(err) : resolve(value)));
    } catch (err) {
      reject(err);
    }
  });
}

function call0(start: (cb: (err: Error | undefined | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    try {
      start((err) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err);
    }
  });
}

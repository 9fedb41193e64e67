import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Cleanup } from '../procs.js';

export const SERVER_KINDS = [
  'vsftpd',
  'proftpd',
  'pure-ftpd',
  'pyftpdlib',
  'inetutils-ftpd',
  'ftp-srv',
] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** Where a server's files live on disk and where its FTP clients find them. */
export interface SiteLayout {
  /** Local directory the FTP login lands in. */
  loginRoot: string;
  /** Local directory clients read and write (fixtures are put here, uploads land here). */
  root: string;
  /** Path of `root` relative to the login directory: '' or e.g. 'pub'. */
  dir: string;
  /** Owner the server writes files as (files clients append to must belong to it). */
  uid: number;
  gid: number;
}

export type Family = 'v4' | 'v6';

export interface StartOptions {
  /** 127.0.0.1 or ::1. */
  host: string;
  layout: SiteLayout;
  /** A private directory for configuration, logs and pid files. */
  work: string;
}

/** A server listening on loopback with a private configuration. */
export interface RunningServer {
  kind: ServerKind;
  host: string;
  port: number;
  user: string;
  password: string;
  /** Local directory clients read and write. */
  root: string;
  /** Path of `root` relative to the login directory ('' or 'pub'). */
  dir: string;
  /** What the server logged (its output and its log files). */
  log(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

export interface ServerSpec {
  kind: ServerKind;
  /** How clients log in, and why when it is not a user with a password. */
  login: string;
  /** Whether the server can be started on ::1. */
  ipv6: boolean;
  /** Its passive port range per address family ('kernel' when the server cannot be told one). */
  passive: Record<Family, string>;
  /** Behaviour a user of this server sees, with or without ftpfwd. */
  quirks: string[];
  /** Resolves the binary (downloading/unpacking a Debian package when needed); returns its version. */
  prepare(): string;
  /** Creates the directories under `base` and says where clients work. */
  layout(base: string): SiteLayout;
  start(c: Cleanup, opts: StartOptions): Promise<RunningServer>;
}

export const USER = 'peer';
export const PASSWORD = 'peer-secret-1';

/** 12000-12999: away from other tests' 30000-31999 and from the kernel's ephemeral 32768+. */
export function passiveRange(kind: ServerKind, family: Family): [number, number] {
  const slot = SERVER_KINDS.indexOf(kind) * 2 + (family === 'v6' ? 1 : 0);
  const lo = 12000 + slot * 80;
  return [lo, lo + 79];
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export function getpwnam(name: string): PasswdEntry | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7)
      return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] as string };
  }
  return undefined;
}

/** A SHA-512 crypt(3) hash ($6$): what proftpd's AuthUserFile, pure-ftpd's puredb and glibc accept. */
export function sha512crypt(password: string): string {
  return execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: password, encoding: 'utf8' }).trim();
}

/** Reads a log file the server writes, '' while it does not exist. */
export function readLog(path: string): string {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  } catch {
    return '';
  }
}

export function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

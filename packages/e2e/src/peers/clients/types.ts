import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastLines, type RunResult, sha256, sha256File } from '../procs.js';
import type { SiteLayout } from '../servers/types.js';
import type { Fixtures } from '../site.js';

/**
 * What one cell does, in one fresh FTP session (or a few, for race20):
 * - list / nlst / mlsd: the listing of the site directory names data.bin
 * - retr / stor: the 4 MiB file down / up, sha256 compared
 * - rest: a partial local copy resumed with REST, sha256 compared
 * - appe: the tail appended with APPE to a partial remote copy, sha256 compared
 * - reput: (lftp, which has no APPE) an upload resumed with REST + STOR
 * - mirror: a small tree copied down (lftp mirror, wget -r), every file compared
 * - abort: a running download aborted (ftplib abort(): ABOR with MSG_OOB; lftp: Telnet IP + Synch +
 *   ABOR), then a further command that must get its own reply on the same connection
 * - race20: 20 × (LIST + RETR of a small file) in active mode, every one must succeed
 * - ipv6-passive / ipv6-pasv / ipv6-active: LIST + RETR + STOR over ::1 (EPSV / PASV / EPRT)
 * - v4-to-v6-active: an IPv4 client's PORT to an IPv6 server, LIST + RETR + STOR (through ftpfwd only;
 *   its baseline without the tunnel is the same client against the server's IPv4 address)
 */
export const OPS = [
  'list',
  'nlst',
  'mlsd',
  'retr',
  'stor',
  'rest',
  'appe',
  'reput',
  'mirror',
  'abort',
  'race20',
  'ipv6-passive',
  'ipv6-pasv',
  'ipv6-active',
  'v4-to-v6-active',
] as const;
export type Op = (typeof OPS)[number];

/** Which server address a cell talks to. */
export type Endpoint = 'v4' | 'v6' | 'v4-to-v6';
export function endpointOf(op: Op): Endpoint {
  if (op === 'v4-to-v6-active') return 'v4-to-v6';
  if (op.startsWith('ipv6-')) return 'v6';
  return 'v4';
}

export interface CellContext {
  /** Where the FTP client connects: the server itself, or ftpfwd's listener. */
  host: string;
  port: number;
  user: string;
  password: string;
  /** The site directory relative to the login directory ('' or 'pub'). */
  dir: string;
  /** The server's files on disk. */
  layout: SiteLayout;
  fx: Fixtures;
  /** A fresh client-side directory for this cell. */
  work: string;
  /** The address the client uses (127.0.0.2, or ::1 over IPv6): its PORT/EPRT name it too. */
  clientAddr: string;
  /** A suffix that keeps this cell's remote files apart from every other cell's. */
  id: string;
  /** Budget for the whole cell. */
  timeoutMs: number;
}

export interface CellResult {
  ok: boolean;
  /** On failure: one line (exit code + last stderr line, or the sha mismatch). */
  detail: string;
}

export interface ClientMode {
  client: 'curl' | 'lftp' | 'ftplib' | 'wget' | 'basic-ftp';
  mode: string;
  /** "curl epsv", "lftp active", … */
  name: string;
  ops: readonly Op[];
  run(op: Op, ctx: CellContext): Promise<CellResult>;
}

export const OK: CellResult = { ok: true, detail: '' };

export function fail(detail: string): CellResult {
  return { ok: false, detail: detail.replace(/\s+/g, ' ').trim().slice(0, 300) };
}

/** "exit 8: curl: (8) …" / "timed out after 30 s: …" from a finished command. */
export function failure(what: string, r: RunResult, errLine?: string): CellResult {
  const last = errLine ?? lastLines(r.stderr) ?? '';
  if (r.timedOut)
    return fail(`${what}: timed out after ${Math.round(r.ms / 1000)} s${last ? `: ${last}` : ''}`);
  return fail(`${what}: exit ${r.code}${last ? `: ${last}` : ''}`);
}

export function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

/** The local file at `path` must hold `want`. */
export function checkFile(path: string, want: Buffer, what: string): CellResult {
  if (!existsSync(path)) return fail(`${what}: no file ${path}`);
  const got = sha256File(path);
  if (got !== sha256(want))
    return fail(`${what}: sha256 differs (${sizeOf(path)} bytes, want ${want.length})`);
  return OK;
}

/** A `size`-byte head of the 4 MiB file in `work`, for REST (download resume). */
export function partialCopy(ctx: CellContext, name = 'partial.bin', size = 1024 * 1024 + 12_345): string {
  const p = join(ctx.work, name);
  writeFileSync(p, ctx.fx.data.subarray(0, size));
  return p;
}

/** The 4 MiB file in `work`, for uploads. */
export function payload(ctx: CellContext): string {
  const p = join(ctx.work, 'payload.bin');
  if (!existsSync(p)) writeFileSync(p, ctx.fx.data);
  return p;
}

export const APPE_HEAD = 1024 * 1024 + 7;

/** The tree a mirror produced under `dir` must equal the fixture tree. */
export function checkTree(dir: string, ctx: CellContext): CellResult {
  for (const [rel, data] of Object.entries(ctx.fx.tree)) {
    const r = checkFile(join(dir, rel), data, `mirror ${rel}`);
    if (!r.ok) return r;
  }
  return OK;
}

export function listingNames(text: string, what: string, extra?: RegExp): CellResult {
  if (!/(^|[\s/;])data\.bin\s*$/m.test(text))
    return fail(`${what}: data.bin not in the listing (${lastLines(text, 2) || 'empty'})`);
  if (extra && !extra.test(text)) return fail(`${what}: listing lacks ${extra} (${lastLines(text, 1)})`);
  return OK;
}

export function ensureDir(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}

export function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

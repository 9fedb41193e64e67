/**
 * The peer matrix: server × client × mode × operation × path. Per server: start it (on 127.0.0.1,
 * and on ::1 when IPv6 cells are selected), run every selected cell without the tunnel, then through
 * ftpfwd + ftpfwd-sshd and ftpfwd + OpenSSH. A tunnel cell is judged only when the same cell passes
 * without the tunnel; otherwise it is "n/a (fails without tunnel: …)". Every cell runs in fresh client
 * processes bounded in time; every process of a server's group is stopped before the next server.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CellContext,
  type CellResult,
  CLIENT_MODES,
  type ClientMode,
  type Endpoint,
  endpointOf,
  OPS,
  type Op,
} from './clients/index.js';
import { Cleanup, lastLines, tempDir } from './procs.js';
import {
  type RunningServer,
  SERVER_KINDS,
  SERVERS,
  type ServerKind,
  type SiteLayout,
} from './servers/index.js';
import { type Fixtures, makeFixtures, writeSite } from './site.js';
import {
  checkBuilt,
  type ForwardSpec,
  type Ftpfwd,
  PATHS,
  type PathKind,
  type SshKind,
  type SshServer,
  startFtpfwd,
  startSshd,
} from './tunnel.js';

export type CellStatus = 'ok' | 'fail' | 'na' | 'error';

export interface CellRecord {
  server: ServerKind;
  /** "curl epsv" */
  client: string;
  op: Op;
  path: PathKind;
  status: CellStatus;
  /** Failure reason (fail, error), or for n/a the reason the cell fails without the tunnel. */
  detail: string;
  /** For an n/a cell that was run anyway (or whose baseline turned out flaky): what the tunnel run said. */
  tunnelDetail?: string;
  ms: number;
}

export interface ServerInfo {
  kind: ServerKind;
  version: string;
  login: string;
  passive: Record<string, string>;
  quirks: string[];
  /** Set when the server could not be prepared or started: its cells are 'error'. */
  error?: string;
}

export interface MatrixOptions {
  servers: ServerKind[];
  /** Client names ("curl") or client-mode names ("curl port"). */
  clients: string[];
  ops: Op[];
  paths: PathKind[];
  /** Also run tunnel cells whose direct run failed (they are still reported n/a). */
  runNa?: boolean;
  /** Per-cell budget (race20 gets twice this). */
  cellTimeoutMs?: number;
  /** Extra ftpfwd arguments (e.g. -v). */
  ftpfwdArgs?: string[];
  /** Progress lines (one per failing cell and one per server and path). */
  progress?: (line: string) => void;
}

export interface MatrixResult {
  started: string;
  seconds: number;
  options: { servers: string[]; clients: string[]; ops: string[]; paths: string[] };
  servers: ServerInfo[];
  cells: CellRecord[];
}

export const DEFAULT_OPTIONS: MatrixOptions = {
  servers: [...SERVER_KINDS],
  clients: CLIENT_MODES.map((m) => m.name),
  ops: [...OPS],
  paths: [...PATHS],
};

/** The bounded subset `npm test` runs (peers.test.ts) and `--quick` selects. */
export const QUICK: Pick<MatrixOptions, 'servers' | 'clients' | 'ops'> = {
  servers: ['vsftpd', 'pyftpdlib'],
  clients: ['curl epsv', 'curl port', 'ftplib passive', 'ftplib active'],
  ops: ['list', 'retr', 'stor'],
};

/** The (client mode, op) pairs a selection names, in table order. */
export function selectCells(opts: Pick<MatrixOptions, 'clients' | 'ops'>): { mode: ClientMode; op: Op }[] {
  const out: { mode: ClientMode; op: Op }[] = [];
  for (const mode of CLIENT_MODES) {
    if (!opts.clients.some((c) => c === mode.client || c === mode.name)) continue;
    for (const op of mode.ops) if (opts.ops.includes(op)) out.push({ mode, op });
  }
  return out;
}

interface Targets {
  v4: RunningServer;
  v6?: RunningServer;
  /** Both share one site (and one set of credentials). */
  layout: SiteLayout;
}

/** Where a cell's client connects on `path`, and from which address. */
interface Route {
  host: string;
  port: number;
  clientAddr: string;
}

function directRoute(t: Targets, ep: Endpoint): Route | string {
  if (ep === 'v6') {
    if (!t.v6) return 'server not started on ::1';
    return { host: '::1', port: t.v6.port, clientAddr: '::1' };
  }
  // v4-to-v6 has no direct form: its baseline is the same client against the IPv4 server
  return { host: '127.0.0.1', port: t.v4.port, clientAddr: '127.0.0.2' };
}

/** One tunnel path's ftpfwd processes: IPv4 forward, and (lazily) the IPv6 ones in a second ftpfwd. */
class TunnelPath {
  private ssh?: SshServer;
  private v4?: Ftpfwd;
  private v6?: Ftpfwd;
  private v6Error?: string;
  constructor(
    private readonly c: Cleanup,
    private readonly kind: SshKind,
    private readonly work: string,
    private readonly t: Targets,
    private readonly extra: string[],
  ) {}

  private async sshd(): Promise<SshServer> {
    if (!this.ssh?.alive()) {
      await this.ssh?.stop();
      this.ssh = await startSshd(this.c, this.kind, this.work);
    }
    return this.ssh;
  }

  /** A route for `ep`, starting (or restarting) what it needs; a string when it cannot. */
  async route(ep: Endpoint): Promise<Route | string> {
    if (ep === 'v4') {
      if (!this.v4?.alive()) {
        await this.v4?.stop();
        const fwd: ForwardSpec = { bind: '127.0.0.1', host: '127.0.0.1', port: this.t.v4.port };
        this.v4 = await startFtpfwd(this.c, await this.sshd(), [fwd], join(this.work, 'ftpfwd4'), this.extra);
      }
      return { host: '127.0.0.1', port: this.v4.ports[0] as number, clientAddr: '127.0.0.2' };
    }
    if (!this.t.v6) return 'server not started on ::1';
    if (this.v6Error) return this.v6Error;
    if (!this.v6?.alive()) {
      await this.v6?.stop();
      const s6 = { host: '::1', port: this.t.v6.port };
      try {
        this.v6 = await startFtpfwd(
          this.c,
          await this.sshd(),
          [
            { bind: '::1', ...s6 },
            { bind: '127.0.0.1', ...s6 },
          ],
          join(this.work, 'ftpfwd6'),
          this.extra,
        );
      } catch (e) {
        this.v6Error = `ftpfwd with forwards to [::1] did not start: ${(e as Error).message}`;
        return this.v6Error;
      }
    }
    return ep === 'v6'
      ? { host: '::1', port: this.v6.ports[0] as number, clientAddr: '::1' }
      : { host: '127.0.0.1', port: this.v6.ports[1] as number, clientAddr: '127.0.0.2' };
  }

  /** Whether ftpfwd processes are still up (a cell that killed one says so). */
  deaths(): string {
    const dead: string[] = [];
    if (this.v4 && !this.v4.alive()) dead.push(`ftpfwd exited: ${lastLines(this.v4.log(), 2)}`);
    if (this.v6 && !this.v6.alive())
      dead.push(`ftpfwd (IPv6 forwards) exited: ${lastLines(this.v6.log(), 2)}`);
    if (this.ssh && !this.ssh.alive()) dead.push(`${this.kind} exited: ${lastLines(this.ssh.log(), 2)}`);
    return dead.join('; ');
  }

  async stop(): Promise<void> {
    await this.v4?.stop();
    await this.v6?.stop();
    await this.ssh?.stop();
  }
}

let cellCounter = 0;

async function runCell(
  mode: ClientMode,
  op: Op,
  route: Route,
  server: RunningServer,
  layout: SiteLayout,
  fx: Fixtures,
  base: string,
  timeoutMs: number,
): Promise<CellResult> {
  const id = `${process.pid}-${++cellCounter}`;
  const work = join(base, 'cells', id);
  mkdirSync(work, { recursive: true });
  const ctx: CellContext = {
    host: route.host,
    port: route.port,
    user: server.user,
    password: server.password,
    dir: server.dir,
    layout,
    fx,
    work,
    clientAddr: route.clientAddr,
    id,
    timeoutMs,
  };
  try {
    return await mode.run(op, ctx);
  } catch (e) {
    return { ok: false, detail: `${mode.name} ${op}: ${(e as Error).message}` };
  } finally {
    rmSync(work, { recursive: true, force: true });
    // the cell's uploads: every cell names its remote files with its id
    for (const f of safeReaddir(layout.root))
      if (f.includes(id)) rmSync(join(layout.root, f), { force: true });
  }
}

function safeReaddir(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

/** Direct runs of a cell whose tunnel run failed, before the failure is counted as ftpfwd's. */
const BASELINE_RERUNS = 3;

async function bounded(p: Promise<CellResult>, ms: number, what: string): Promise<CellResult> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<CellResult>((res) => {
    t = setTimeout(
      () => res({ ok: false, detail: `${what}: the cell did not finish in ${ms / 1000} s` }),
      ms,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

export async function runMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const t0 = Date.now();
  const say = opts.progress ?? (() => {});
  const cellTimeout = opts.cellTimeoutMs ?? 60_000;
  const cells = selectCells(opts);
  const tunnelPaths = opts.paths.filter((p) => p !== 'direct');
  if (tunnelPaths.length) checkBuilt();
  const needV6 = cells.some((c) => endpointOf(c.op) !== 'v4');
  const needBig = cells.some((c) => c.op === 'abort');
  const fx = makeFixtures();
  const records: CellRecord[] = [];
  const servers: ServerInfo[] = [];
  for (const kind of opts.servers) {
    const spec = SERVERS[kind];
    const info: ServerInfo = {
      kind,
      version: '',
      login: spec.login,
      passive: spec.passive,
      quirks: spec.quirks,
    };
    servers.push(info);
    const c = new Cleanup();
    const g0 = Date.now();
    try {
      const base = tempDir(c, `ftpfwd-peers-${kind}-`);
      let targets: Targets;
      try {
        info.version = spec.prepare();
        const layout = spec.layout(join(base, 'site'));
        writeSite(layout, fx, needBig);
        const v4 = await spec.start(c, { host: '127.0.0.1', layout, work: mk(base, 'server4') });
        const v6 =
          needV6 && spec.ipv6
            ? await spec.start(c, { host: '::1', layout, work: mk(base, 'server6') })
            : undefined;
        targets = { v4, v6, layout };
      } catch (e) {
        info.error = (e as Error).message.split('\n')[0];
        say(`${kind}: not started: ${info.error}`);
        for (const { mode, op } of cells)
          for (const path of opts.paths)
            records.push({
              server: kind,
              client: mode.name,
              op,
              path,
              status: 'error',
              detail: info.error ?? '',
              ms: 0,
            });
        continue;
      }
      const direct = new Map<string, CellResult>();
      const key = (m: ClientMode, op: Op) => `${m.name}|${op}`;
      for (const path of opts.paths) {
        const p0 = Date.now();
        let tunnel: TunnelPath | undefined;
        if (path !== 'direct') {
          const kindOf: SshKind = path === 'ftpfwd+openssh' ? 'openssh' : 'ftpfwd-sshd';
          tunnel = new TunnelPath(c, kindOf, mk(base, `tunnel-${kindOf}`), targets, opts.ftpfwdArgs ?? []);
        }
        let ok = 0;
        let failed = 0;
        let na = 0;
        for (const { mode, op } of cells) {
          const ep = endpointOf(op);
          if (ep !== 'v4' && !spec.ipv6) continue; // no IPv6 run of this server: a blank cell
          const rec: CellRecord = {
            server: kind,
            client: mode.name,
            op,
            path,
            status: 'ok',
            detail: '',
            ms: 0,
          };
          records.push(rec);
          const before = direct.get(key(mode, op));
          if (path !== 'direct' && before && !before.ok && !opts.runNa) {
            rec.status = 'na';
            rec.detail = before.detail;
            na++;
            continue;
          }
          const c0 = Date.now();
          let route: Route | string;
          try {
            route = tunnel ? await tunnel.route(ep) : directRoute(targets, ep);
          } catch (e) {
            route = `tunnel did not start: ${(e as Error).message.split('\n')[0]}`;
          }
          let res: CellResult;
          if (typeof route === 'string') {
            res = { ok: false, detail: route };
          } else {
            const ms = op === 'race20' ? cellTimeout * 2 : cellTimeout;
            res = await bounded(
              runCell(mode, op, route, targets.v4, targets.layout, fx, base, ms),
              ms + 15_000,
              `${mode.name} ${op}`,
            );
          }
          rec.ms = Date.now() - c0;
          const died = tunnel?.deaths();
          if (died) res = { ok: false, detail: `${res.detail}${res.detail ? '; ' : ''}${died}` };
          if (path === 'direct') direct.set(key(mode, op), res);
          if (!res.ok && path !== 'direct' && before?.ok) {
            // judged only against a baseline that holds: run the cell without the tunnel up to
            // BASELINE_RERUNS times more; one failure there makes it a flaky baseline (some
            // servers' ABOR handling fails directly in most runs, but not in all)
            let again: CellResult = { ok: true, detail: '' };
            for (let i = 0; i < BASELINE_RERUNS && again.ok; i++)
              again = await bounded(
                runCell(
                  mode,
                  op,
                  directRoute(targets, ep) as Route,
                  targets.v4,
                  targets.layout,
                  fx,
                  base,
                  cellTimeout,
                ),
                cellTimeout + 15_000,
                `${mode.name} ${op}`,
              );
            if (!again.ok) {
              rec.status = 'na';
              rec.detail = `passes only sometimes without the tunnel: ${again.detail}`;
              rec.tunnelDetail = res.detail;
              na++;
              say(`  flaky without the tunnel: ${kind} · ${mode.name} · ${op}: ${again.detail}`);
              continue;
            }
          }
          if (res.ok) {
            rec.status = 'ok';
            ok++;
          } else if (path !== 'direct' && before && !before.ok) {
            rec.status = 'na';
            rec.detail = before.detail;
            rec.tunnelDetail = res.detail;
            na++;
          } else {
            rec.status = 'fail';
            rec.detail = res.detail;
            failed++;
            say(
              `  ${path === 'direct' ? 'direct fails' : 'FAIL'}: ${kind} · ${mode.name} · ${op} · ${path}: ${res.detail}`,
            );
          }
        }
        await tunnel?.stop();
        say(
          `${kind} ${info.version} · ${path}: ${ok} ok, ${failed} ${path === 'direct' ? 'fail without the tunnel' : 'FAIL'}${na ? `, ${na} n/a` : ''} (${((Date.now() - p0) / 1000).toFixed(1)} s)`,
        );
      }
      const dead = [targets.v4, targets.v6].filter((s) => s && !s.alive());
      if (dead.length) info.error = `${kind} exited during the run: ${lastLines(dead[0]?.log() ?? '', 2)}`;
    } finally {
      await c.run();
      say(`${kind}: ${((Date.now() - g0) / 1000).toFixed(1)} s`);
    }
  }
  return {
    started: new Date(t0).toISOString(),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    options: { servers: opts.servers, clients: opts.clients, ops: opts.ops, paths: opts.paths },
    servers,
    cells: records,
  };
}

function mk(base: string, name: string): string {
  const d = join(base, name);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  return d;
}

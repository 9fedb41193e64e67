/**
 * Runs one scenario on the engine, through the same Topology code the suite uses: networks, gateways,
 * hosts in plan order, then every host's steps at once (a start file they all wait for), bounded waits
 * for expected log lines, the hosts stopped so their captures are complete, then the checks.
 * Everything is removed at the end — also after a failure, and when `signal` aborts (Ctrl-C).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MARK, type StepReport } from '../agent/plan.js';
import { type Payload, SYN_ONLY, tcpdump, writePayload, writeSshKeys } from '../ftp.js';
import { readPcapTcp, type TcpPacket } from '../pcap.js';
import { Ipv4Subnet } from '../subnet.js';
import {
  type Host,
  type Mount,
  type NatGateway,
  removeLabelled,
  Topology,
  type TopologyNetwork,
} from '../topology.js';
import { checkAll, type ExpectationResult, logPattern, notChecked, type RunFiles } from './checks.js';
import { FTP_GID, FTP_UID, GROUP, PASSWD } from './commands.js';
import { analyseLinks, type Captures, hostConnections, type LinkSummary, type Markers } from './links.js';
import type { Scenario } from './load.js';
import { type HostPlan, planScenario, type ScenarioPlan } from './plan.js';

export type LabEvent =
  | { type: 'scenario'; name: string; file: string; topology: string }
  | { type: 'network'; name: string; subnet: string }
  | { type: 'gateway'; name: string; lan: string; wan: string; ms: number }
  | { type: 'host-starting'; name: string; programs: string[] }
  | { type: 'host-up'; name: string; addresses: string[]; ms: number }
  | { type: 'steps'; count: number; hosts: number }
  | { type: 'step-start'; name: string; host: string }
  | { type: 'step-end'; name: string; host: string; code: number | null; ms: number }
  | { type: 'phase'; text: string }
  | { type: 'teardown'; ms: number };

export interface StepResult {
  name: string;
  host: string;
  summary: string;
  /** Undefined when it never ran. */
  report?: StepReport;
  /** Milliseconds from the start signal to the step's start. */
  offsetMs?: number;
  ok: boolean;
}

export interface RunResult {
  scenario: { name: string; file: string; description?: string };
  topology: string;
  startedAt: number;
  ms: number;
  ok: boolean;
  /** What stopped the run before its checks (a host that did not start, …), one line. */
  error?: string;
  aborted?: boolean;
  plan?: ScenarioPlan;
  steps: StepResult[];
  links: LinkSummary[];
  expectations: ExpectationResult[];
  /** Every host's log (the tail of a long one). */
  logs: Record<string, string>;
}

export interface RunOptions {
  onEvent?: (e: LabEvent) => void;
  signal?: AbortSignal;
}

export class LabAbortedError extends Error {
  override name = 'LabAbortedError';
}

const LOG_KEEP = 400 * 1024;
/** Containers started at the same time (2-core machines: a few, not all). */
const START_AT_ONCE = 3;

export async function runScenario(s: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const emit = opts.onEvent ?? (() => {});
  const startedAt = Date.now();
  const t = new Topology(s.name);
  emit({ type: 'scenario', name: s.name, file: s.file, topology: t.id });
  /** Network and container starts under way (see finally). */
  const starting = new Set<Promise<unknown>>();
  /**
   * Awaits `p`, or throws LabAbortedError as soon as the signal aborts (p keeps running: see
   * finally). `start`: p creates networks or containers.
   */
  const step = async <T>(p: Promise<T>, start = false): Promise<T> => {
    if (start) {
      starting.add(p);
      p.then(
        () => starting.delete(p),
        () => starting.delete(p),
      );
    }
    if (!opts.signal) return p;
    if (opts.signal.aborted) throw new LabAbortedError('interrupted');
    const signal = opts.signal;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new LabAbortedError('interrupted'));
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  };

  let plan: ScenarioPlan | undefined;
  const reports = new Map<string, StepReport>();
  let goAt = 0;
  const result = (over: Partial<RunResult>): RunResult => {
    const logs: Record<string, string> = {};
    for (const [h, text] of t.hostLogs())
      logs[h] = text.length > LOG_KEEP ? `…\n${text.slice(-LOG_KEEP)}` : text;
    const steps: StepResult[] = (plan?.steps ?? []).map((st) => {
      const r = reports.get(st.name);
      return {
        name: st.name,
        host: st.host,
        summary: st.summary,
        ...(r ? { report: r, offsetMs: Math.max(0, r.startedAt - goAt) } : {}),
        ok: false,
      };
    });
    const expectations = over.expectations ?? [];
    for (const st of steps) st.ok = expectations.some((e) => e.step === st.name && e.ok);
    return {
      scenario: {
        name: s.name,
        file: s.file,
        ...(s.spec.description ? { description: s.spec.description } : {}),
      },
      topology: t.id,
      startedAt,
      ms: Date.now() - startedAt,
      ok: false,
      ...(plan ? { plan } : {}),
      steps,
      links: [],
      expectations,
      logs,
      ...over,
    };
  };

  try {
    // ---- networks, then the plan on their subnets
    const nets = new Map<string, TopologyNetwork>();
    for (const [name, net] of Object.entries(s.spec.networks)) {
      const n = await step(
        t.network(name, net.subnet ? Ipv4Subnet.parse(net.subnet) : undefined),
        true,
      ).catch((e: unknown) => {
        const text = oneLine(e);
        throw new Error(
          `network ${name}${net.subnet ? ` (${net.subnet})` : ''}: ${text}${net.subnet && /already used/.test(text) ? '; another network of the engine has it: pick another subnet, or leave it out to have one picked' : ''}`,
        );
      });
      nets.set(name, n);
      emit({ type: 'network', name, subnet: n.subnet.toString() });
    }
    const textMarkers = new Map(s.textMarkers.map((m) => [m, randomBytes(16).toString('hex')]));
    plan = planScenario(s, new Map([...nets].map(([k, v]) => [k, v.subnet])), textMarkers);
    const p = plan;

    // ---- files: keys, payloads, per-host directories and configs
    writeSshKeys(t.dir('keys'), p.sshEndpoints);
    const upDir = t.dir('up');
    const labDir = t.dir('lab');
    const empty = t.dir('empty');
    chmodSync(empty, 0o755);
    const passwd = t.writeFile('etc', 'passwd', PASSWD);
    const group = t.writeFile('etc', 'group', GROUP);
    const payloads = new Map<string, { download?: Payload; upload?: Payload }>();
    for (const pl of p.payloads) {
      const entry: { download?: Payload; upload?: Payload } = {};
      if (pl.download)
        entry.download = writePayload(srvDir(t, p, pl.download.host), pl.download.file, pl.size);
      if (pl.upload) entry.upload = writePayload(upDir, pl.upload.file, pl.size);
      payloads.set(pl.name, entry);
    }
    for (const h of p.hosts) for (const c of h.config) t.writeFile(`config-${h.name}`, c.name, c.content);

    // ---- gateways, then hosts
    const gateways = new Map<string, NatGateway>();
    for (const g of p.gateways) {
      const t0 = Date.now();
      const gw = await step(
        t.natGateway({
          name: g.name,
          lan: nets.get(g.lan) as TopologyNetwork,
          wan: nets.get(g.wan) as TopologyNetwork,
          captureWan: true,
          lanAddress: g.lanAddress,
          wanAddress: g.wanAddress,
        }),
        true,
      );
      gateways.set(g.name, gw);
      emit({ type: 'gateway', name: g.name, lan: g.lanAddress, wan: g.wanAddress, ms: Date.now() - t0 });
    }
    // Hosts start in waves of up to START_AT_ONCE: each host once those it connects to are up.
    const hosts = new Map<string, Host>();
    const waiting = [...p.hosts];
    while (waiting.length > 0) {
      const ready = waiting.filter((h) => h.after.every((a) => hosts.has(a)));
      const wave = (ready.length ? ready : waiting).slice(0, START_AT_ONCE);
      for (const h of wave) waiting.splice(waiting.indexOf(h), 1);
      const started = await step(
        Promise.allSettled(
          wave.map(async (h) => {
            emit({ type: 'host-starting', name: h.name, programs: h.programs.map((x) => x.name) });
            const t0 = Date.now();
            const host = await startHost(t, p, h, nets, { passwd, group, upDir, labDir, empty });
            hosts.set(h.name, host);
            emit({
              type: 'host-up',
              name: h.name,
              addresses: h.networks.map((n) => n.address),
              ms: Date.now() - t0,
            });
          }),
        ),
        true,
      );
      // Every start of the wave has settled (none left creating containers), then the first failure.
      const failed = started.find((x) => x.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }

    // ---- steps: all hosts at once
    const withSteps = p.hosts.filter((h) => p.steps.some((st) => st.host === h.name));
    emit({ type: 'steps', count: p.steps.length, hosts: withSteps.length });
    goAt = Date.now();
    writeFileSync(join(labDir, 'go'), '');
    const stopWatching = watchSteps(
      withSteps.map((h) => hosts.get(h.name) as Host),
      goAt,
      emit,
    );
    try {
      await step(
        Promise.all(
          withSteps.map(async (h) => {
            const budget = p.steps
              .filter((st) => st.host === h.name)
              .reduce((n, st) => n + (st.agent.timeoutMs ?? 120_000), 30_000);
            const host = hosts.get(h.name) as Host;
            // A host that ends early or overruns keeps the reports it printed.
            const got = await host.steps(budget).catch(() => reportsIn(host.logs()));
            for (const [k, v] of got) reports.set(k, v);
          }),
        ),
      );
    } finally {
      stopWatching();
    }

    // ---- expected log lines (bounded waits), then stop everything so the captures are complete
    emit({ type: 'phase', text: 'waiting for expected log lines, stopping hosts, reading captures' });
    await step(
      Promise.all(
        p.expectations.map(async (e) => {
          if (e.kind !== 'scenario' || !e.spec.log) return;
          const l = e.spec.log;
          await hosts
            .get(l.host)
            ?.waitForLog(logPattern(l), l.within ?? 10_000)
            .catch(() => undefined);
        }),
      ),
    );
    const captures: Captures = { hosts: new Map(), gateways: new Map() };
    await step(
      Promise.all([
        ...p.hosts.map(async (h) => {
          if (h.capture === 'off') return;
          await hosts.get(h.name)?.stop();
          const packets = readCapture(join(t.captureDir, `${h.name}.pcap`));
          if (packets) captures.hosts.set(h.name, packets);
        }),
        ...[...gateways].map(async ([name, gw]) => {
          captures.gateways.set(name, await gw.wanPackets());
        }),
      ]),
    );

    // ---- checks
    const markers: Markers = new Map();
    for (const [name, entry] of payloads)
      markers.set(
        name,
        [entry.download?.marker, entry.upload?.marker].filter((m): m is Buffer => m !== undefined),
      );
    for (const [name, text] of textMarkers) markers.set(name, [Buffer.from(text)]);
    const links = analyseLinks(p, captures, markers);
    const files: RunFiles = {
      out: (host, name) => join(t.dir(`out-${host}`), name),
      srv: (host, rel) => join(srvDir(t, p, host), rel),
      payload: (name) => payloads.get(name),
    };
    const expectations = checkAll({
      plan: p,
      reports,
      links,
      hostConnections: (h) => (captures.hosts.has(h) ? hostConnections(captures, h) : undefined),
      logs: t.hostLogs(),
      files,
    });
    return result({ ok: expectations.every((e) => e.ok), links, expectations });
  } catch (e) {
    const aborted = e instanceof LabAbortedError;
    const error = aborted ? 'interrupted' : oneLine(e);
    return result({
      error,
      ...(aborted ? { aborted: true } : {}),
      expectations: plan ? notChecked(plan, error) : [],
    });
  } finally {
    const t0 = Date.now();
    emit({ type: 'phase', text: `removing topology ${t.id}` });
    // Removing a container while the engine still sets up its networking leaves that network's
    // bridge on the machine (podman 4.3/netavark: seen after Ctrl-C during a start; sixteen of them
    // exhaust the documentation-range pools). Let starts under way finish first (bounded), remove,
    // then remove by label once more for anything a start created after all.
    await Promise.race([
      Promise.allSettled([...starting]),
      new Promise((r) => setTimeout(r, 20_000).unref()),
    ]);
    await t.close();
    await removeLabelled(t.id).catch(() => undefined);
    emit({ type: 'teardown', ms: Date.now() - t0 });
  }
}

function srvDir(t: Topology, p: ScenarioPlan, host: string): string {
  const d = t.dir(`srv-${host}`);
  if (p.hosts.find((h) => h.name === host)?.ftpServer === 'vsftpd') {
    // vsftpd refuses an anonymous root its user can write: root-owned root, uploads in pub/.
    chmodSync(d, 0o755);
    const pub = join(d, 'pub');
    mkdirSync(pub, { recursive: true });
    chownSync(pub, FTP_UID, FTP_GID);
  }
  return d;
}

async function startHost(
  t: Topology,
  p: ScenarioPlan,
  h: HostPlan,
  nets: Map<string, TopologyNetwork>,
  f: { passwd: string; group: string; upDir: string; labDir: string; empty: string },
): Promise<Host> {
  const mounts: Mount[] = [
    { source: f.passwd, target: '/etc/passwd', readOnly: true },
    { source: f.group, target: '/etc/group', readOnly: true },
    { source: t.dir('keys'), target: '/keys', readOnly: true },
    { source: f.upDir, target: '/up', readOnly: true },
    { source: t.dir(`out-${h.name}`), target: '/out' },
    { source: t.dir(`config-${h.name}`), target: '/config', readOnly: true },
    { source: t.captureDir, target: '/capture' },
    { source: f.labDir, target: '/lab', readOnly: true },
  ];
  if (h.ftpServer) mounts.push({ source: srvDir(t, p, h.name), target: '/srv' });
  if (h.openssh) mounts.push({ source: f.empty, target: '/run/sshd', readOnly: true });
  if (h.ftpServer === 'vsftpd') mounts.push({ source: f.empty, target: '/run/vsftpd-empty', readOnly: true });
  const steps = p.steps.filter((st) => st.host === h.name);
  const grouped = steps.some((st) => st.group);
  const background = h.programs.map((x) => x.command);
  if (h.capture !== 'off')
    background.unshift(
      tcpdump(`${h.name}.pcap`, 'any', h.capture === 'connections' ? { filter: SYN_ONLY } : {}),
    );
  return t.host({
    name: h.name,
    networks: h.networks.map((n) => nets.get(n.network) as TopologyNetwork),
    addresses: h.networks.map((n) => n.address),
    ...(h.via ? { defaultVia: h.via.address } : {}),
    capAdd: h.capture !== 'off' ? ['NET_RAW', 'NET_ADMIN'] : [],
    mounts,
    plan: {
      background,
      ...(steps.length
        ? {
            steps: steps.map((st) => ({ ...st.agent, ...(grouped ? { group: st.group ?? 'default' } : {}) })),
            startWhenFileExists: '/lab/go',
            ...(grouped ? { concurrentSteps: true } : {}),
          }
        : {}),
      // Keep every host up until the run stops it: a finished client may still be someone's gateway,
      // and its programs may log what an expectation waits for.
      stayUp: true,
    },
  });
}

/** Reports E2E-START / E2E-STEP lines of the hosts' logs as they come; returns a stop function. */
function watchSteps(hosts: Host[], goAt: number, emit: (e: LabEvent) => void): () => void {
  const seen = new Map<Host, number>();
  const scan = () => {
    for (const h of hosts) {
      const text = h.logs();
      const from = seen.get(h) ?? 0;
      const end = text.lastIndexOf('\n') + 1;
      if (end <= from) continue;
      for (const line of text.slice(from, end).split('\n')) {
        if (line.startsWith(MARK.start))
          emit({ type: 'step-start', name: line.slice(MARK.start.length), host: h.name });
        else if (line.startsWith(MARK.step)) {
          const r = JSON.parse(line.slice(MARK.step.length)) as StepReport;
          emit({ type: 'step-end', name: r.name, host: h.name, code: r.code, ms: r.ms ?? Date.now() - goAt });
        }
      }
      seen.set(h, end);
    }
  };
  const timer = setInterval(scan, 200);
  return () => {
    clearInterval(timer);
    scan();
  };
}

/** A host's capture; undefined when it has none (its tcpdump never started). */
function readCapture(path: string): TcpPacket[] | undefined {
  if (!existsSync(path)) return undefined;
  return readPcapTcp(readFileSync(path));
}

function reportsIn(log: string): Map<string, StepReport> {
  const out = new Map<string, StepReport>();
  for (const l of log.split('\n'))
    if (l.startsWith(MARK.step)) {
      const r = JSON.parse(l.slice(MARK.step.length)) as StepReport;
      out.set(r.name, r);
    }
  return out;
}

function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0] ?? text;
}

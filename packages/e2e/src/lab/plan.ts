/**
 * The planner: a loaded scenario plus the subnets its networks got → every address, command line,
 * payload and expectation of the run, decided before the first container starts. Pure: `check` plans
 * with stand-in subnets, a run with the engine's, and tests with either.
 */
import type { AgentStep, BackgroundCommand } from '../agent/plan.js';
import type { Ipv4Subnet } from '../subnet.js';
import {
  basicFtpSession,
  curlStep,
  ftpfwdCommand,
  ftpfwdSshdCommand,
  ftpSrvCommand,
  type Listen,
  lftpStep,
  opensshCommand,
  opensshConfig,
  type TransferCommand,
  vsftpdCommand,
  vsftpdConfig,
} from './commands.js';
import type { ExpandedStep, StepKind } from './expand.js';
import { DEFAULT_SIZE, FIRST_HOST_NUMBER, type Scenario } from './load.js';
import {
  DEFAULT_SSH_PORT,
  FTP_SERVERS,
  forwardListener,
  listenOf,
  pasvRange,
  programKind,
  programNames,
  SSH_SERVERS,
  uploadDir,
} from './programs.js';
import type { Client, ExpectationSpec, Mode, ProgramKind, StepExpect } from './schema.js';
import { escapeRegExp, resolve, type TemplateRef } from './templates.js';

export interface ProgramPlan {
  kind: ProgramKind;
  name: string;
  /** One line for people: what it is and its main settings. */
  summary: string;
  /** The same, in short lines for the drawing. */
  brief: string[];
  command: BackgroundCommand;
  listen?: Listen;
  /** FTP servers: the passive port range. */
  pasv?: { min: number; max: number };
  /** ftpfwd: where its forwards listen (FTP ones carry FTP control in clear to it). */
  listeners?: (Listen & { ftp: boolean })[];
  /** ftpfwd: the SSH server it connects to. */
  ssh?: Listen & { host?: string };
}

export interface HostPlan {
  name: string;
  networks: { network: string; address: string }[];
  /** The gateway it routes through, and that gateway's address on the host's LAN. */
  via?: { gateway: string; address: string };
  capture: 'connections' | 'full' | 'off';
  programs: ProgramPlan[];
  /** Files generated into the host's /config. */
  config: { name: string; content: string }[];
  /** Hosts that must be up before this one starts (the SSH servers its ftpfwd connect to). */
  after: string[];
  /** The FTP server program (its kind decides the layout of /srv). */
  ftpServer?: ProgramKind;
  openssh: boolean;
}

export interface GatewayPlan {
  name: string;
  lan: string;
  wan: string;
  lanAddress: string;
  wanAddress: string;
}

export interface StepPlan {
  name: string;
  /** Index in the file's steps: list. */
  index: number;
  host: string;
  kind: StepKind;
  client?: Client;
  mode?: Mode;
  /** The command line, for people. */
  summary: string;
  agent: AgentStep;
  group?: string;
  /** Transfers: the FTP server's host, and whose payload files. */
  ftpServer?: string;
  files?: string;
  /** Host-side checks of a transfer: the downloaded copy (in the client's /out) and the upload (in /srv). */
  downloadTo?: string;
  uploadAs?: string;
  /** What the step's listing must name. */
  lists?: string;
  expect: StepExpect;
}

export interface PayloadPlan {
  /** The transfer step whose files these are (marker names refer to it). */
  name: string;
  size: number;
  /** On the FTP server's host, in /srv. */
  download?: { file: string; host: string };
  /** In /up of every host. */
  upload?: { file: string };
}

export type ExpectationPlan =
  | { id: string; title: string; kind: 'step'; step: string }
  | { id: string; title: string; kind: 'scenario'; index: number; spec: ExpectationSpec };

export interface ScenarioPlan {
  name: string;
  file: string;
  description?: string;
  networks: { name: string; subnet: Ipv4Subnet }[];
  gateways: GatewayPlan[];
  /** In start order: SSH servers before the ftpfwd that connect to them. */
  hosts: HostPlan[];
  steps: StepPlan[];
  payloads: PayloadPlan[];
  expectations: ExpectationPlan[];
  /** Every ADDRESS:PORT an SSH server answers on (for known_hosts). */
  sshEndpoints: Listen[];
  textMarkers: Map<string, string>;
}

const MiB = 1024 * 1024;

/**
 * Plans `s` on `subnets` (one per network). `textMarkers` gives the value of each ${marker:NAME}
 * (fresh random text for a run).
 */
export function planScenario(
  s: Scenario,
  subnets: Map<string, Ipv4Subnet>,
  textMarkers: Map<string, string>,
): ScenarioPlan {
  const spec = s.spec;
  const subnetOf = (n: string): Ipv4Subnet => {
    const sn = subnets.get(n);
    if (!sn) throw new Error(`no subnet for network ${n}`);
    return sn;
  };

  // ---- addresses: gateways from .10, hosts' fixed ones, then the rest from .20
  const used = new Map<string, Set<number>>(Object.keys(spec.networks).map((n) => [n, new Set<number>()]));
  const take = (net: string, from: number): string => {
    const sn = subnetOf(net);
    const u = used.get(net) as Set<number>;
    for (let i = from; i < sn.size - 1; i++)
      if (!u.has(i)) {
        u.add(i);
        return sn.host(i);
      }
    throw new Error(`network ${net} (${sn}) has no free address left`);
  };
  const gateways: GatewayPlan[] = Object.entries(spec.gateways ?? {}).map(([name, g]) => ({
    name,
    lan: g.lan,
    wan: g.wan,
    lanAddress: take(g.lan, 10),
    wanAddress: take(g.wan, 10),
  }));
  const hostAddr = new Map<string, Map<string, string>>();
  for (const [h, host] of Object.entries(spec.hosts)) {
    const m = new Map<string, string>();
    for (const n of host.networks) {
      if (n.address === undefined) continue;
      const sn = subnetOf(n.network);
      const a = typeof n.address === 'number' ? sn.host(n.address) : n.address;
      (used.get(n.network) as Set<number>).add(ipNumber(a) - ipNumber(sn.host(1)) + 1);
      m.set(n.network, a);
    }
    hostAddr.set(h, m);
  }
  for (const [h, host] of Object.entries(spec.hosts)) {
    const m = hostAddr.get(h) as Map<string, string>;
    for (const n of host.networks)
      if (!m.has(n.network)) m.set(n.network, take(n.network, FIRST_HOST_NUMBER));
  }

  // ---- references
  const gwByName = new Map(gateways.map((g) => [g.name, g]));
  const primary = (h: string): string => {
    const first = spec.hosts[h]?.networks[0]?.network as string;
    return hostAddr.get(h)?.get(first) as string;
  };
  const value = (ref: TemplateRef, text: string): string => {
    if (ref.kind === 'marker') {
      const v = textMarkers.get(ref.name);
      if (v === undefined) throw new Error(`no value for ${text}`);
      return v;
    }
    const gw = gwByName.get(ref.name);
    if (ref.kind === 'name') {
      if (gw) return gw.wanAddress;
      if (spec.hosts[ref.name]) return primary(ref.name);
      return subnetOf(ref.name).toString();
    }
    if (gw) return ref.network === gw.lan ? gw.lanAddress : gw.wanAddress;
    const a = hostAddr.get(ref.name)?.get(ref.network);
    if (!a) throw new Error(`${text}: not an address of this scenario`);
    return a;
  };
  const r = (str: string): string => resolve(str, value);
  const rRe = (str: string): string => resolve(str, value, escapeRegExp);
  const rs = (list: readonly string[] | undefined): string[] => (list ?? []).map(r);

  // ---- hosts and their programs
  const hostAddresses = (h: string): string[] => [...(hostAddr.get(h)?.values() ?? [])];
  const sshOf = (h: string): Listen | undefined => {
    const p = (spec.hosts[h]?.programs ?? []).find((x) => SSH_SERVERS.includes(programKind(x)));
    return p ? listenOf(p) : undefined;
  };
  /** The address of `target` that host `from` reaches: on a network they share, else its primary one. */
  const reach = (from: string, target: string): string => {
    const mine = new Set(spec.hosts[from]?.networks.map((n) => n.network));
    const shared = spec.hosts[target]?.networks.find((n) => mine.has(n.network));
    return shared ? (hostAddr.get(target)?.get(shared.network) as string) : primary(target);
  };
  const sshEndpoints: Listen[] = [];
  const hosts: HostPlan[] = Object.entries(spec.hosts).map(([h, host]) => {
    const list = host.programs ?? [];
    const names = programNames(list);
    const config: HostPlan['config'] = [];
    let ftpServer: ProgramKind | undefined;
    let openssh = false;
    const programs = list.map((p, i): ProgramPlan => {
      const kind = programKind(p);
      const name = names[i] as string;
      const listen = listenOf(p);
      if (listen) listen.address = r(listen.address);
      if (SSH_SERVERS.includes(kind) && listen) {
        const addrs = listen.address === '0.0.0.0' ? ['127.0.0.1', ...hostAddresses(h)] : [listen.address];
        for (const address of addrs) sshEndpoints.push({ address, port: listen.port });
      }
      if (FTP_SERVERS.includes(kind)) ftpServer = kind;
      const ftp = p['ftp-srv'] ?? p.vsftpd;
      if (ftp && listen) {
        const pasv = pasvRange(p);
        const given = ftp['pasv-address'] ? r(ftp['pasv-address']) : undefined;
        if (kind === 'ftp-srv') {
          const pasvAddress = given ?? (listen.address === '0.0.0.0' ? primary(h) : listen.address);
          return {
            kind,
            name,
            listen,
            pasv,
            summary: `ftp-srv on ${listen.address}:${listen.port}, passive ${pasv.min}-${pasv.max} announcing ${pasvAddress}`,
            brief: [
              `${name} (ftp-srv) ${listen.address}:${listen.port}`,
              `  passive ${pasv.min}-${pasv.max} as ${pasvAddress}`,
            ],
            command: ftpSrvCommand({ name, listen, pasvAddress, pasv }),
          };
        }
        const file = `${name}.conf`;
        config.push({ name: file, content: vsftpdConfig({ listen, pasvAddress: given, pasv }) });
        return {
          kind,
          name,
          listen,
          pasv,
          summary: `vsftpd on ${listen.address}:${listen.port}, passive ${pasv.min}-${pasv.max}${given ? ` announcing ${given}` : ''}`,
          brief: [
            `${name} (vsftpd) ${listen.address}:${listen.port}`,
            `  passive ${pasv.min}-${pasv.max}${given ? ` as ${given}` : ''}`,
          ],
          command: vsftpdCommand({ name, listen, config: `/config/${file}` }),
        };
      }
      if (p['ftpfwd-sshd'] && listen) {
        const o = p['ftpfwd-sshd'];
        const policy = [
          ...(o['permit-open'] ?? []).map((x) => `permit-open ${r(x)}`),
          ...(o['permit-listen'] ?? []).map((x) => `permit-listen ${r(x)}`),
          ...(o['gateway-ports'] ? [`gateway-ports ${o['gateway-ports']}`] : []),
          ...(o['allow-tcp-forwarding'] ? [`allow-tcp-forwarding ${o['allow-tcp-forwarding']}`] : []),
        ];
        return {
          kind,
          name,
          listen,
          summary: `ftpfwd-sshd on ${listen.address}:${listen.port}${policy.length ? `: ${policy.join(', ')}` : ''}`,
          brief: [`${name} (ftpfwd-sshd) ${listen.address}:${listen.port}`, ...policy.map((x) => `  ${x}`)],
          command: ftpfwdSshdCommand({
            name,
            listen,
            permitOpen: rs(o['permit-open']),
            permitListen: rs(o['permit-listen']),
            gatewayPorts: o['gateway-ports'],
            allowTcpForwarding: o['allow-tcp-forwarding'],
            args: rs(o.args),
          }),
        };
      }
      if (p['openssh-sshd'] && listen) {
        const o = p['openssh-sshd'];
        openssh = true;
        const file = `${name}.sshd_config`;
        const logLevel = o['log-level'] ?? 'DEBUG1';
        config.push({ name: file, content: opensshConfig({ listen, logLevel, extra: rs(o.config) }) });
        return {
          kind,
          name,
          listen,
          summary: `OpenSSH sshd on ${listen.address}:${listen.port}, LogLevel ${logLevel}${o.config?.length ? `, ${rs(o.config).join(', ')}` : ''}`,
          brief: [`${name} (OpenSSH) ${listen.address}:${listen.port}`, ...rs(o.config).map((x) => `  ${x}`)],
          command: opensshCommand({ name, config: `/config/${file}` }),
        };
      }
      if (p.ftpfwd) {
        const o = p.ftpfwd;
        const isHost = spec.hosts[o.server] !== undefined;
        const server = isHost ? reach(h, o.server) : r(o.server);
        const port = o.port ?? (isHost ? sshOf(o.server)?.port : undefined) ?? DEFAULT_SSH_PORT;
        const forwards = rs(o.forwards);
        const remote = rs(o['remote-forwards']);
        const listeners = forwards
          .map((f) => forwardListener(f, o.gateway === true))
          .filter((x): x is NonNullable<typeof x> => x !== undefined);
        return {
          kind,
          name,
          listeners,
          ssh: { address: server, port, ...(isHost ? { host: o.server } : {}) },
          summary: `ftpfwd to ${isHost ? `${o.server} (${server}:${port})` : `${server}:${port}`}: ${[
            ...forwards.map((f) => `-L ${f}`),
            ...remote.map((f) => `-R ${f}`),
          ].join(' ')}${flags(o, r)}`,
          brief: [
            `${name} → ${isHost ? o.server : server}:${port}`,
            ...forwards.map((f) => `  -L ${f}`),
            ...remote.map((f) => `  -R ${f}`),
            ...(flags(o, r) ? [` ${flags(o, r)}`] : []),
          ],
          command: ftpfwdCommand({
            name,
            server,
            port,
            forwards,
            remoteForwards: remote,
            pasvTarget: o['pasv-target'],
            advertise: o.advertise ? r(o.advertise) : undefined,
            dataPorts: o['data-ports'],
            remoteDataBind: o['remote-data-bind'] ? r(o['remote-data-bind']) : undefined,
            remoteDataAdvertise: o['remote-data-advertise'] ? r(o['remote-data-advertise']) : undefined,
            gateway: o.gateway,
            args: rs(o.args),
          }),
        };
      }
      const c = p.command as NonNullable<typeof p.command>;
      const argv = rs(c.run);
      return {
        kind,
        name,
        summary: argv.join(' '),
        brief: [`${name}: ${argv.join(' ')}`],
        command: {
          name,
          argv,
          ...(c.ready ? { ready: c.ready } : {}),
          ...(c.env ? { env: Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, r(v)])) } : {}),
        },
      };
    });
    const via = host.via ? gwByName.get(host.via) : undefined;
    return {
      name: h,
      networks: host.networks.map((n) => ({
        network: n.network,
        address: hostAddr.get(h)?.get(n.network) as string,
      })),
      ...(via ? { via: { gateway: via.name, address: via.lanAddress } } : {}),
      capture: host.capture ?? 'connections',
      programs,
      after: [
        ...new Set(programs.map((x) => x.ssh?.host).filter((x): x is string => x !== undefined && x !== h)),
      ],
      config,
      ...(ftpServer ? { ftpServer } : {}),
      openssh,
    };
  });

  // ---- steps and payloads
  const ftpHosts = hosts.filter((h) => h.ftpServer).map((h) => h.name);
  const payloads = new Map<string, PayloadPlan>();
  const entrySize = new Map(spec.steps.map((x) => [x.name, x.size ?? DEFAULT_SIZE]));
  const steps: StepPlan[] = s.steps.map((st) => planStep(st));
  function planStep(st: ExpandedStep): StepPlan {
    const sp = st.spec;
    const base = {
      name: st.name,
      index: st.index,
      host: sp.on,
      kind: st.kind,
      ...(sp.group ? { group: sp.group } : {}),
    };
    if (st.kind === 'run') {
      const argv = rs(sp.run);
      const agent: AgentStep = { name: st.name, argv, timeoutMs: sp.timeout ?? 60_000 };
      return { ...base, summary: argv.join(' '), agent, expect: resolveExpect(sp.expect ?? {}, r, rRe) };
    }
    const ftpServer = sp['ftp-server'] ?? (ftpHosts[0] as string);
    const files = st.files as string;
    const serverKind = hosts.find((x) => x.name === ftpServer)?.ftpServer as ProgramKind;
    const pl = payloads.get(files) ?? { name: files, size: entrySize.get(files) ?? DEFAULT_SIZE };
    payloads.set(files, pl);
    const downloads = st.kind === 'download' || st.kind === 'list' || st.kind === 'session';
    const uploads = st.kind === 'upload' || st.kind === 'session';
    if (downloads) pl.download = { file: `${files}-payload.bin`, host: ftpServer };
    if (uploads) pl.upload = { file: `${files}-upload.bin` };
    const [host, port] = splitHostPort(r(sp.ftp as string));
    const remoteUpload = `${uploadDir(serverKind)}${st.name}.up`;
    const t: TransferCommand = {
      name: st.name,
      host,
      port,
      download: `${files}-payload.bin`,
      upload: `${files}-upload.bin`,
      remoteUpload,
      connectTimeoutMs: sp['connect-timeout'] ?? 20_000,
      timeoutMs: sp.timeout ?? 120_000,
      activeAddress: sp['active-address'] ? r(sp['active-address']) : undefined,
    };
    let agent: AgentStep;
    if (st.client === 'basic-ftp') agent = basicFtpSession(t);
    else if (st.client === 'lftp') agent = lftpStep(st.kind as 'download', st.mode as Mode, t);
    else {
      const active = t.activeAddress ?? activeDefault(host, sp.on);
      agent = curlStep(st.kind as 'download', st.mode as Mode, { ...t, activeAddress: active });
    }
    const expect = resolveExpect(sp.expect ?? { intact: true }, r, rRe);
    return {
      ...base,
      ...(st.client ? { client: st.client } : {}),
      ...(st.mode ? { mode: st.mode } : {}),
      summary: agent.argv.join(' '),
      agent,
      ftpServer,
      files,
      ...(downloads && st.kind !== 'list' ? { downloadTo: `${st.name}.bin` } : {}),
      ...(uploads ? { uploadAs: remoteUpload } : {}),
      ...(st.kind === 'list' || st.kind === 'session' ? { lists: `${files}-payload.bin` } : {}),
      expect,
    };
  }
  /** curl's active-mode address: loopback for a local forward, else the client's own address facing it. */
  function activeDefault(ftpHost: string, on: string): string {
    if (ftpHost.startsWith('127.')) return '127.0.0.1';
    for (const n of spec.hosts[on]?.networks ?? [])
      if (subnetOf(n.network).contains(ftpHost)) return hostAddr.get(on)?.get(n.network) as string;
    return '-';
  }

  // ---- start order: an SSH server's host before the hosts whose ftpfwd connect to it
  const ordered: HostPlan[] = [];
  const pending = [...hosts];
  while (pending.length > 0) {
    const i = pending.findIndex((h) => h.after.every((a) => ordered.some((o) => o.name === a)));
    ordered.push(...pending.splice(Math.max(i, 0), 1));
  }

  return {
    name: s.name,
    file: s.file,
    ...(spec.description ? { description: spec.description } : {}),
    networks: Object.keys(spec.networks).map((n) => ({ name: n, subnet: subnetOf(n) })),
    gateways,
    hosts: ordered,
    steps,
    payloads: [...payloads.values()],
    expectations: expectationPlans(s, steps, (e) => resolveExpectation(e, r, rRe)),
    sshEndpoints,
    textMarkers,
  };
}

/** ftpfwd's options as command-line flags, for people (` --pasv-target reply -g`). */
function flags(o: Record<string, unknown>, r: (s: string) => string): string {
  const keys = ['pasv-target', 'advertise', 'data-ports', 'remote-data-bind', 'remote-data-advertise'];
  const parts = keys.filter((k) => o[k] !== undefined).map((k) => `--${k} ${r(String(o[k]))}`);
  if (o.gateway) parts.push('-g');
  return parts.length ? ` ${parts.join(' ')}` : '';
}

function resolveExpect(e: StepExpect, r: (s: string) => string, rRe: (s: string) => string): StepExpect {
  const out: StepExpect = { ...e };
  if (typeof e.fails === 'string') out.fails = rRe(e.fails);
  if (e.output) {
    const o = e.output;
    out.output = {
      ...o,
      ...(o.equals !== undefined ? { equals: r(o.equals) } : {}),
      ...(o.contains ? { contains: o.contains.map(r) } : {}),
      ...(o.lacks ? { lacks: o.lacks.map(r) } : {}),
      ...(o.matches !== undefined ? { matches: rRe(o.matches) } : {}),
    };
  }
  if (e['any-of']) out['any-of'] = e['any-of'].map((x) => resolveExpect(x, r, rRe));
  return out;
}

/** A scenario expectation with its ${…} references resolved (in regular expressions: escaped). */
function resolveExpectation(
  e: ExpectationSpec,
  r: (s: string) => string,
  rRe: (s: string) => string,
): ExpectationSpec {
  const t = (x: NonNullable<ExpectationSpec['traffic']> | NonNullable<ExpectationSpec['only-ssh']>) => ({
    ...x,
    ...(x.from ? { from: r(x.from) } : {}),
    ...(x.to ? { to: x.to.map(r) } : {}),
  });
  return {
    ...e,
    ...(e.traffic ? { traffic: t(e.traffic) } : {}),
    ...(e['only-ssh'] ? { 'only-ssh': t(e['only-ssh']) } : {}),
    ...(e['ftp-server-sees']
      ? { 'ftp-server-sees': { ...e['ftp-server-sees'], peer: r(e['ftp-server-sees'].peer) } }
      : {}),
    ...(e.log ? { log: { ...e.log, matches: rRe(e.log.matches) } } : {}),
  };
}

/**
 * One expectation per step (its exit, files, output) and one per item of `expect:`; titles as the
 * file wrote them, specs resolved by `resolveSpec`.
 */
export function expectationPlans(
  s: Scenario,
  steps: readonly Pick<StepPlan, 'name' | 'index' | 'kind' | 'client' | 'mode' | 'expect'>[],
  resolveSpec: (e: ExpectationSpec) => ExpectationSpec,
): ExpectationPlan[] {
  const out: ExpectationPlan[] = steps.map((st) => {
    const given = s.spec.steps[st.index]?.title;
    const raw = s.spec.steps[st.index]?.expect ?? (st.kind === 'run' ? {} : { intact: true });
    return {
      id: `step:${st.name}`,
      kind: 'step',
      step: st.name,
      title: `${st.name}: ${given ?? `${stepWhat(st, s.spec.steps[st.index]?.run)} ${expectText(raw, st.kind)}`}`,
    };
  });
  (s.spec.expect ?? []).forEach((e, index) => {
    out.push({
      id: `expect:${index + 1}`,
      kind: 'scenario',
      index,
      spec: resolveSpec(e),
      title: e.title ?? expectationText(e),
    });
  });
  return out;
}

function stepWhat(
  st: { kind: StepKind; client?: Client | undefined; mode?: Mode | undefined },
  run?: string[],
): string {
  if (st.kind === 'run') return `\`${(run ?? []).join(' ')}\``;
  if (st.kind === 'session') return `${st.client} session (download, upload, list)`;
  return `${st.client} ${st.mode?.toUpperCase()} ${st.kind}`;
}

function expectText(e: StepExpect, kind: StepKind): string {
  const parts: string[] = [];
  if (e.fails === true) parts.push('fails');
  else if (typeof e.fails === 'string') parts.push(`fails with /${e.fails}/`);
  else if (!e['any-of']) parts.push('succeeds');
  if (e.intact && !e.fails) parts.push(kind === 'list' ? 'names the file' : 'sha256 intact');
  if (e['marker-seen-on']) parts.push(`its file's marker seen on ${e['marker-seen-on']}`);
  const o = e.output;
  if (o?.equals !== undefined) parts.push(`prints exactly ${JSON.stringify(o.equals)}`);
  for (const c of o?.contains ?? []) parts.push(`prints ${JSON.stringify(c)}`);
  for (const c of o?.lacks ?? []) parts.push(`never prints ${JSON.stringify(c)}`);
  if (o?.matches !== undefined) parts.push(`prints /${o.matches}/`);
  if (o?.lines !== undefined) parts.push(`prints ${o.lines} lines`);
  let text = parts.join(', ');
  if (e['any-of'])
    text = [text, e['any-of'].map((x) => expectText(x, kind)).join(', or ')].filter(Boolean).join(', ');
  return text;
}

export function expectationText(e: ExpectationSpec): string {
  const t = e.traffic ?? e['only-ssh'];
  if (t) {
    const parts: string[] = [];
    if (e['only-ssh']) parts.push(`only SSH crosses ${t.link}`);
    else {
      parts.push(t.link);
      if (e.traffic?.only) parts.push(`only ${e.traffic.only.join(' and ')}`);
    }
    if (t.sees) parts.push(`sees ${t.sees.join(' and ')}`);
    if (t.from) parts.push(`every connection from ${t.from}`);
    for (const to of t.to ?? []) parts.push(`a connection to ${to}`);
    if (t['min-connections'] !== undefined) parts.push(`at least ${t['min-connections']} connections`);
    if (t['distinct-source-ports']) parts.push('each on its own source port');
    if (t['no-marker'])
      parts.push(
        t['no-marker'] === 'all'
          ? 'no marker in clear'
          : `no marker of ${t['no-marker'].join(', ')} in clear`,
      );
    for (const m of t['marker-seen'] ?? []) parts.push(`marker ${m} seen`);
    return parts.join(', ');
  }
  const f = e['ftp-server-sees'];
  if (f) {
    const parts = [`the FTP server on ${f.host} sees only ${f.peer}`];
    if (f['active-data']) parts.push('and opens active data connections to it');
    if (f['min-data-connections'] !== undefined)
      parts.push(`at least ${f['min-data-connections']} passive data connections`);
    if (f['distinct-data-connections']) parts.push('each its own');
    return parts.join(', ');
  }
  const l = e.log as NonNullable<ExpectationSpec['log']>;
  return `${l.host}${l.program ? ` ${l.program}` : ''} logs /${l.matches}/${l['ignore-case'] ? 'i' : ''}`;
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

function ipNumber(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Stand-in subnets for planning without an engine (`check`, test collection): consecutive /27s. */
export function standInSubnets(s: Scenario, parse: (cidr: string) => Ipv4Subnet): Map<string, Ipv4Subnet> {
  const out = new Map<string, Ipv4Subnet>();
  let i = 0;
  for (const [n, net] of Object.entries(s.spec.networks)) {
    if (net.subnet) out.set(n, parse(net.subnet));
    else {
      const base = i < 8 ? '198.51.100' : '203.0.113';
      out.set(n, parse(`${base}.${(i % 8) * 32}/27`));
      i++;
    }
  }
  return out;
}

export const PAYLOAD_SIZE_DEFAULT = 16 * MiB;

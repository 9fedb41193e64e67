/**
 * Reads a scenario file: YAML (or JSON) through the loader the CLIs share (readConfigSource /
 * validateConfig: every problem with its line and key path), then the checks a schema cannot make —
 * every reference to a host, network, gateway, step, link or program must exist and make sense —
 * reported the same way. Throws ConfigError; returns a scenario that can be planned and run.
 */
import { basename, extname } from 'node:path';
import {
  ConfigError,
  type ConfigSource,
  parseConfigSource,
  readConfigSource,
  validateConfig,
} from '@ftpfwd/ftp-proxy/cli';
import { Ipv4Subnet } from '../subnet.js';
import { CLIENT_MODES, type ExpandedStep, expandSteps } from './expand.js';
import { FTP_SERVERS, listenOf, programKind, programNames, programOptions, SSH_SERVERS } from './programs.js';
import { type ScenarioSpec, type StepExpect, scenarioSchema } from './schema.js';
import { type parseRef, refsIn } from './templates.js';

export interface Scenario {
  name: string;
  /** The file as it was named. */
  file: string;
  spec: ScenarioSpec;
  steps: ExpandedStep[];
  /** Names of the ${marker:NAME} text markers the file uses. */
  textMarkers: string[];
  /** 1-based line of a key path, for messages after loading. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/** A subnet's size when the engine picks it: a /27 of the documentation ranges. */
export const PICKED_PREFIX = 27;
/** Host numbers below this are the engine's bridge (.1) and gateways (from .10). */
export const FIRST_HOST_NUMBER = 20;

export function loadScenario(file: string): Scenario {
  const src = readConfigSource(file, file);
  return checkScenario(src, validateConfig(src, scenarioSchema));
}

/** The same for text, as if read from `file`. */
export function parseScenario(text: string, file: string): Scenario {
  const src = parseConfigSource(text, file, file);
  return checkScenario(src, validateConfig(src, scenarioSchema));
}

type Path = (string | number)[];

class Problems {
  readonly list: { path: Path; message: string }[] = [];
  add(path: Path, message: string): void {
    this.list.push({ path, message });
  }
  throwIfAny(src: ConfigSource): void {
    if (this.list.length === 0) return;
    const items = this.list.map((p) => {
      const line = src.lineOf(p.path);
      return {
        line,
        text: `${line ? `line ${line}: ` : ''}${p.path.join('.') || '(top level)'}: ${p.message}`,
      };
    });
    items.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    const first = items[0];
    throw new ConfigError(
      `${src.label}${first?.line ? ' ' : ': '}${items.map((i) => i.text).join('; ')}`,
      src.path,
      first?.line,
    );
  }
}

const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g;
const DOC = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'].map((c) => Ipv4Subnet.parse(c));
/** Loopback, the unspecified address, or a documentation range: the only addresses a scenario may use. */
export function allowedAddress(a: string): boolean {
  return a === '0.0.0.0' || a.startsWith('127.') || DOC.some((d) => d.contains(a));
}

export function checkScenario(src: ConfigSource, spec: ScenarioSpec): Scenario {
  const p = new Problems();
  const networks = new Map<string, { subnet?: Ipv4Subnet }>();
  const gateways = new Map(Object.entries(spec.gateways ?? {}));
  const hosts = new Map(Object.entries(spec.hosts));

  // ---- names and networks
  for (const [n, net] of Object.entries(spec.networks)) {
    if (n === 'lo') p.add(['networks', n], 'lo names a host loopback; pick another network name');
    let subnet: Ipv4Subnet | undefined;
    if (net.subnet) {
      try {
        subnet = Ipv4Subnet.parse(net.subnet);
        if (!subnet.isDocumentationRange())
          p.add(
            ['networks', n, 'subnet'],
            `expected a subnet inside 192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24, got ${net.subnet}`,
          );
        else if (subnet.prefix > 28)
          p.add(
            ['networks', n, 'subnet'],
            `expected a /24 to /28 (room for hosts from .${FIRST_HOST_NUMBER}), got /${subnet.prefix}`,
          );
        for (const [other, o] of networks)
          if (o.subnet?.overlaps(subnet))
            p.add(['networks', n, 'subnet'], `${net.subnet} overlaps network ${other}`);
      } catch (e) {
        p.add(['networks', n, 'subnet'], (e as Error).message);
      }
    }
    networks.set(n, subnet ? { subnet } : {});
  }
  for (const g of gateways.keys()) {
    if (networks.has(g)) p.add(['gateways', g], `${g} is already a network; names must be unique`);
  }
  for (const h of hosts.keys()) {
    if (networks.has(h)) p.add(['hosts', h], `${h} is already a network; names must be unique`);
    if (gateways.has(h)) p.add(['hosts', h], `${h} is already a gateway; names must be unique`);
  }

  // ---- gateways
  for (const [g, gw] of gateways) {
    for (const side of ['lan', 'wan'] as const)
      if (!networks.has(gw[side]))
        p.add(
          ['gateways', g, side],
          `expected a network of this file (${[...networks.keys()].join(', ')}), got ${gw[side]}`,
        );
    if (gw.lan === gw.wan) p.add(['gateways', g, 'wan'], 'expected a network other than its lan');
  }

  // ---- hosts
  const fixed = new Map<string, string>(); // "net:number" -> host
  const sshPorts = new Map<string, number[]>(); // host -> ports of its SSH servers
  for (const [h, host] of hosts) {
    const seen = new Set<string>();
    const listed = Array.isArray(
      (src.data as { hosts?: Record<string, { networks?: unknown }> }).hosts?.[h]?.networks,
    );
    host.networks.forEach((n, i) => {
      const path: Path = ['hosts', h, 'networks', listed ? i : n.network];
      const net = networks.get(n.network);
      if (!net) {
        p.add(
          ['hosts', h, 'networks'],
          `expected networks of this file (${[...networks.keys()].join(', ')}), got ${n.network}`,
        );
        return;
      }
      if (seen.has(n.network)) p.add(path, `${n.network} is listed twice`);
      seen.add(n.network);
      if (n.address === undefined) return;
      const size = net.subnet?.size ?? 2 ** (32 - PICKED_PREFIX);
      let number: number | undefined;
      if (typeof n.address === 'number') number = n.address;
      else if (!net.subnet) {
        p.add(
          path,
          `the subnet of ${n.network} is picked at run time: give a host number (e.g. ${FIRST_HOST_NUMBER}), or fix the network's subnet`,
        );
        return;
      } else if (!net.subnet.contains(n.address)) {
        p.add(path, `expected an address in ${net.subnet}, got ${n.address}`);
        return;
      } else number = ipNumber(n.address) - ipNumber(net.subnet.toString().split('/')[0] as string);
      if (number < FIRST_HOST_NUMBER || number > size - 2)
        p.add(
          path,
          `expected a host number from ${FIRST_HOST_NUMBER} to ${size - 2} (lower ones are the bridge's and gateways'), got ${number}`,
        );
      const key = `${n.network}:${number}`;
      const other = fixed.get(key);
      if (other) p.add(path, `host ${other} already has this address on ${n.network}`);
      fixed.set(key, h);
    });
    if (host.via) {
      const gw = gateways.get(host.via);
      if (!gw)
        p.add(
          ['hosts', h, 'via'],
          `expected a gateway of this file (${[...gateways.keys()].join(', ') || 'none defined'}), got ${host.via}`,
        );
      else if (!host.networks.some((n) => n.network === gw.lan))
        p.add(['hosts', h, 'via'], `gateway ${host.via} is on ${gw.lan}, which host ${h} is not on`);
    }
    const programs = host.programs ?? [];
    const names = programNames(programs);
    const ftp = programs.filter((x) => FTP_SERVERS.includes(programKind(x)));
    if (ftp.length > 1)
      p.add(['hosts', h, 'programs'], 'expected at most one FTP server per host (they share /srv)');
    const listening = new Map<number, string>();
    programs.forEach((prog, i) => {
      const path: Path = ['hosts', h, 'programs', i];
      const kind = programKind(prog);
      if (names.indexOf(names[i] as string) !== i)
        p.add(path, `another program of host ${h} is already named ${names[i]}`);
      const l = listenOf(prog);
      if (l) {
        if (l.port < 1 || l.port > 65535)
          p.add([...path, kind, 'listen'], `expected a port from 1 to 65535, got ${l.port}`);
        const clash = listening.get(l.port);
        if (clash) p.add([...path, kind, 'listen'], `port ${l.port} is already taken by ${clash}`);
        listening.set(l.port, names[i] as string);
        if (SSH_SERVERS.includes(kind)) sshPorts.set(h, [...(sshPorts.get(h) ?? []), l.port]);
      }
      const range = programOptions(prog)['pasv-ports'] as string | undefined;
      if (range) {
        const [lo, hi] = range.split('-').map(Number) as [number, number];
        if (lo > hi || lo < 1024 || hi > 65535)
          p.add(
            [...path, kind, 'pasv-ports'],
            `expected LOW-HIGH with 1024 <= LOW <= HIGH <= 65535, got ${range}`,
          );
      }
      if (kind === 'command') {
        const ready = prog.command?.ready;
        if (ready) checkRegExp(p, [...path, 'command', 'ready'], ready);
      }
    });
  }
  // ftpfwd needs an SSH server: a host of this file with one, or an address.
  for (const [h, host] of hosts) {
    (host.programs ?? []).forEach((prog, i) => {
      const f = prog.ftpfwd;
      if (!f) return;
      const path: Path = ['hosts', h, 'programs', i, 'ftpfwd'];
      const server = f.server;
      if (hosts.has(server)) {
        if (!sshPorts.has(server))
          p.add([...path, 'server'], `host ${server} runs no SSH server (ftpfwd-sshd or openssh-sshd)`);
        else if (f.port !== undefined && !sshPorts.get(server)?.includes(f.port))
          p.add(
            [...path, 'port'],
            `host ${server} has no SSH server on port ${f.port} (it has ${sshPorts.get(server)?.join(', ')})`,
          );
      } else if (!server.includes('${') && !/^\d{1,3}(\.\d{1,3}){3}$/.test(server))
        p.add(
          [...path, 'server'],
          `expected a host of this file (${[...hosts.keys()].join(', ')}) or an address, got ${server}`,
        );
      if ((f.forwards ?? []).length + (f['remote-forwards'] ?? []).length === 0)
        p.add(path, 'expected forwards: or remote-forwards: (ftpfwd with nothing to forward)');
    });
  }

  // ---- steps
  const steps = expandSteps(spec.steps);
  const ftpHosts = [...hosts]
    .filter(([, h]) => (h.programs ?? []).some((x) => FTP_SERVERS.includes(programKind(x))))
    .map(([n]) => n);
  const firstOf = new Map<string, number>();
  for (const st of steps) {
    const first = firstOf.get(st.name);
    if (first === undefined) firstOf.set(st.name, st.index);
    else
      p.add(
        ['steps', st.index, 'name'],
        `step name ${st.name} is already used by step ${first + 1} (${spec.steps[first]?.name}); names must be unique`,
      );
  }
  const entries = new Map(spec.steps.map((s, i) => [s.name, { s, i }]));
  spec.steps.forEach((s, i) => {
    const path: Path = ['steps', i];
    const host = hosts.get(s.on);
    if (!host)
      p.add([...path, 'on'], `expected a host of this file (${[...hosts.keys()].join(', ')}), got ${s.on}`);
    if (s.run) {
      for (const k of [
        'ftp',
        'mode',
        'do',
        'ftp-server',
        'size',
        'files',
        'active-address',
        'connect-timeout',
      ] as const)
        if (s[k] !== undefined) p.add([...path, k], `${k} is for transfers (client:), not commands (run:)`);
    } else {
      if (!s.ftp) p.add(path, 'expected ftp: ADDRESS:PORT, where the FTP client connects');
      if (s.client === 'basic-ftp') {
        for (const k of ['mode', 'do', 'active-address'] as const)
          if (s[k] !== undefined)
            p.add(
              [...path, k],
              `basic-ftp runs one passive session (download, upload, list); leave ${k} out`,
            );
      } else if (s.mode) {
        const can = CLIENT_MODES[s.client as 'curl' | 'lftp'];
        for (const m of s.mode.values)
          if (!can.includes(m))
            p.add(
              [...path, 'mode'],
              `${s.client} cannot be told to use ${m.toUpperCase()} for IPv4 (it can: ${can.join(', ')}), curl can`,
            );
      }
      let server = s['ftp-server'];
      if (server !== undefined && !ftpHosts.includes(server))
        p.add(
          [...path, 'ftp-server'],
          `expected a host with an FTP server (${ftpHosts.join(', ') || 'none defined'}), got ${server}`,
        );
      if (server === undefined) {
        if (ftpHosts.length === 1) server = ftpHosts[0];
        else
          p.add(
            path,
            ftpHosts.length === 0
              ? 'no host runs an FTP server (ftp-srv or vsftpd)'
              : `which FTP server holds the files? give ftp-server: (one of ${ftpHosts.join(', ')})`,
          );
      }
      if (s.files !== undefined) {
        const owner = entries.get(s.files);
        if (!owner || owner.s.run)
          p.add([...path, 'files'], `expected the name of a transfer step of this file, got ${s.files}`);
        else {
          const ownerServer = owner.s['ftp-server'] ?? (ftpHosts.length === 1 ? ftpHosts[0] : undefined);
          if (ownerServer !== server)
            p.add([...path, 'files'], `step ${s.files}'s files are on ${ownerServer}, not on ${server}`);
          if (s.size !== undefined && s.size !== (owner.s.size ?? DEFAULT_SIZE))
            p.add(
              [...path, 'size'],
              `the files of step ${s.files} have their size from that step; leave size out`,
            );
        }
      }
    }
    if (s.expect) checkStepExpect(p, [...path, 'expect'], s.expect, s.run !== undefined);
  });

  // ---- links, markers and expectations
  const textMarkers = new Set<string>();
  walkStrings(spec, [], (str) => {
    for (const r of refsIn(str)) if (r.ref?.kind === 'marker') textMarkers.add(r.ref.name);
  });
  const payloadNames = new Set(spec.steps.filter((s) => !s.run).map((s) => s.files ?? s.name));
  const markerNames = new Set([...payloadNames, ...textMarkers]);
  const captureOf = (link: string, path: Path, needMarkers: boolean): void => {
    const [who, side] = link.split('.') as [string, string];
    const gw = gateways.get(who);
    const host = hosts.get(who);
    if (gw) {
      if (side === gw.lan)
        p.add(
          path,
          `gateways capture their WAN side only (${who}.${gw.wan}); look at ${gw.lan} from a host on it`,
        );
      else if (side !== gw.wan) p.add(path, `gateway ${who} is on ${gw.lan} and ${gw.wan}, not ${side}`);
      return;
    }
    if (!host) {
      p.add(path, `expected HOST.NETWORK of this file, but ${who} is neither a host nor a gateway`);
      return;
    }
    if (side !== 'lo' && !host.networks.some((n) => n.network === side))
      p.add(
        path,
        `host ${who} is on ${host.networks.map((n) => n.network).join(', ')} (and lo), not ${side}`,
      );
    const capture = host.capture ?? 'connections';
    if (capture === 'off') p.add(path, `host ${who} has capture: off; nothing to check on ${link}`);
    else if (needMarkers && capture !== 'full')
      p.add(
        path,
        `host ${who} records connections only; set capture: full on it to look for markers on ${link}`,
      );
  };
  const checkMarkerNames = (names: readonly string[] | 'all' | undefined, path: Path) => {
    if (!names || names === 'all') return;
    names.forEach((n, i) => {
      if (!markerNames.has(n))
        p.add(
          [...path, i],
          `expected a transfer step (whose files' markers) or a \${marker:NAME} of this file (${[...markerNames].join(', ')}), got ${n}`,
        );
    });
  };
  spec.steps.forEach((s, i) => {
    visitStepExpect(s.expect, ['steps', i, 'expect'], (e, path) => {
      if (e['marker-seen-on']) captureOf(e['marker-seen-on'], [...path, 'marker-seen-on'], true);
    });
  });
  (spec.expect ?? []).forEach((e, i) => {
    const path: Path = ['expect', i];
    const t = e.traffic ?? e['only-ssh'];
    if (t) {
      const key = e.traffic ? 'traffic' : 'only-ssh';
      captureOf(
        t.link,
        [...path, key, 'link'],
        t['no-marker'] !== undefined || t['marker-seen'] !== undefined,
      );
      checkMarkerNames(t['no-marker'], [...path, key, 'no-marker']);
      checkMarkerNames(t['marker-seen'], [...path, key, 'marker-seen']);
    }
    const f = e['ftp-server-sees'];
    if (f) {
      if (!ftpHosts.includes(f.host))
        p.add(
          [...path, 'ftp-server-sees', 'host'],
          `expected a host with an FTP server (${ftpHosts.join(', ') || 'none defined'}), got ${f.host}`,
        );
      else if ((hosts.get(f.host)?.capture ?? 'connections') === 'off')
        p.add(
          [...path, 'ftp-server-sees', 'host'],
          `host ${f.host} has capture: off; its FTP server's peers are not recorded`,
        );
    }
    const l = e.log;
    if (l) {
      const host = hosts.get(l.host);
      if (!host)
        p.add(
          [...path, 'log', 'host'],
          `expected a host of this file (${[...hosts.keys()].join(', ')}), got ${l.host}`,
        );
      else if (l.program && !programNames(host.programs ?? []).includes(l.program))
        p.add(
          [...path, 'log', 'program'],
          `host ${l.host} runs ${programNames(host.programs ?? []).join(', ') || 'no program'}, not ${l.program}`,
        );
      checkRegExp(p, [...path, 'log', 'matches'], l.matches.replace(/\$\{[^}]*\}/g, 'x'));
    }
  });

  // ---- references and literal addresses in every string
  for (const key of ['hosts', 'steps', 'expect'] as const) {
    walkStrings(spec[key], [key], (str, path) => {
      for (const r of refsIn(str)) {
        const problem = refProblem(r.ref, networks, gateways, hosts);
        if (problem) p.add(path, `${r.text}: ${problem}`);
      }
      for (const a of str.replace(/\$\{[^}]*\}/g, '').match(IPV4) ?? [])
        if (!allowedAddress(a))
          p.add(
            path,
            `${a} is outside what a scenario may use: loopback, 0.0.0.0 and 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24`,
          );
    });
  }

  p.throwIfAny(src);
  return {
    name:
      spec.name ??
      basename(src.path, extname(src.path))
        .replace(/[^a-z0-9-]/gi, '-')
        .toLowerCase(),
    file: src.label,
    spec,
    steps,
    textMarkers: [...textMarkers],
    lineOf: (path) => src.lineOf(path),
  };
}

export const DEFAULT_SIZE = 16 * 1024 * 1024;

function refProblem(
  ref: ReturnType<typeof parseRef>,
  networks: Map<string, unknown>,
  gateways: Map<string, { lan: string; wan: string }>,
  hosts: Map<string, { networks: { network: string }[] }>,
): string | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows the reference syntax
  if (!ref) return 'expected ${HOST}, ${HOST.NETWORK}, ${NETWORK} or ${marker:NAME}';
  if (ref.kind === 'marker') return undefined;
  if (ref.kind === 'name') {
    if (hosts.has(ref.name) || gateways.has(ref.name) || networks.has(ref.name)) return undefined;
    return `no host, gateway or network is named ${ref.name}`;
  }
  const gw = gateways.get(ref.name);
  if (gw)
    return ref.network === gw.lan || ref.network === gw.wan
      ? undefined
      : `gateway ${ref.name} is on ${gw.lan} and ${gw.wan}, not ${ref.network}`;
  const host = hosts.get(ref.name);
  if (!host) return `no host or gateway is named ${ref.name}`;
  return host.networks.some((n) => n.network === ref.network)
    ? undefined
    : `host ${ref.name} is on ${host.networks.map((n) => n.network).join(', ')}, not ${ref.network}`;
}

function checkStepExpect(p: Problems, path: Path, e: StepExpect, isRun: boolean): void {
  visitStepExpect(e, path, (x, at) => {
    if (isRun && x.intact) p.add([...at, 'intact'], 'intact is for transfers: a command moves no payload');
    if (isRun && x['marker-seen-on'])
      p.add(
        [...at, 'marker-seen-on'],
        "marker-seen-on is for transfers (a command's text markers: marker-seen on a traffic expectation)",
      );
    if (typeof x.fails === 'string') checkRegExp(p, [...at, 'fails'], x.fails);
    if (x.output?.matches) checkRegExp(p, [...at, 'output', 'matches'], x.output.matches);
  });
}

function visitStepExpect(
  e: StepExpect | undefined,
  path: Path,
  f: (e: StepExpect, path: Path) => void,
): void {
  if (!e) return;
  f(e, path);
  e['any-of']?.forEach((x, i) => {
    visitStepExpect(x, [...path, 'any-of', i], f);
  });
}

function checkRegExp(p: Problems, path: Path, re: string): void {
  try {
    new RegExp(re);
  } catch (e) {
    p.add(path, `expected a regular expression: ${(e as Error).message}`);
  }
}

function walkStrings(v: unknown, path: Path, f: (s: string, path: Path) => void): void {
  if (typeof v === 'string') f(v, path);
  else if (Array.isArray(v))
    v.forEach((x, i) => {
      walkStrings(x, [...path, i], f);
    });
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) walkStrings(x, [...path, k], f);
}

function ipNumber(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

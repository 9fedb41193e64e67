import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GenericContainer,
  getContainerRuntimeClient,
  type StartedTestContainer,
  StartupCheckStrategy,
  type StartupStatus,
} from 'testcontainers';
import { type AgentPlan, type BackgroundCommand, encodePlan, MARK, type StepReport } from './agent/plan.js';
import { ensureEngine, workspaceRoot } from './engine.js';
import { ensureImage } from './image.js';
import { readPcapTcp, type TcpPacket } from './pcap.js';
import { Ipv4Subnet } from './subnet.js';

/** Every container and network the harness creates carries this label (value: the topology id). */
export const TOPOLOGY_LABEL = 'ftpfwd.e2e.topology';
/** ...and this one: `<hostname>:<pid>` of the process that made it, so a later run can remove what a
 * killed run left behind (removeOrphans) without touching a run still going. */
export const OWNER_LABEL = 'ftpfwd.e2e.owner';
const OWNER = `${hostname()}:${process.pid}`;

export interface TopologyNetwork {
  /** Engine-side name (unique per run). */
  readonly name: string;
  readonly subnet: Ipv4Subnet;
}

export interface Mount {
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface HostOptions {
  /** Short name, unique in the topology; shows in logs. */
  name: string;
  /** The networks this host is on; the first is its primary. Only these: never the engine's default. */
  networks: TopologyNetwork[];
  /** Fixed addresses, one per network (default: the next free ones). */
  addresses?: (string | undefined)[];
  /** What the host runs (see AgentPlan). */
  plan: AgentPlan;
  /** Route everything outside the host's own subnets through this address (a NAT gateway's LAN side). */
  defaultVia?: string;
  /** Extra bind mounts (the workspace and system directories are always mounted read-only). */
  mounts?: Mount[];
  capAdd?: string[];
  privileged?: boolean;
  sysctls?: Record<string, string>;
  env?: Record<string, string>;
  /** Log line that means "started"; default: the agent's E2E-UP, printed once background commands are ready. */
  waitFor?: RegExp;
  startupTimeoutMs?: number;
}

export interface NatGatewayOptions {
  name: string;
  lan: TopologyNetwork;
  wan: TopologyNetwork;
  /** Capture every packet on the WAN side with tcpdump into `<capture dir>/<name>-wan.pcap`. */
  captureWan?: boolean;
  /** Fixed addresses on each side (default: the next free ones). */
  lanAddress?: string;
  wanAddress?: string;
}

/** Thrown when a host does not print what the test waits for; the message carries that host's log tail. */
export class HostLogTimeoutError extends Error {
  override name = 'HostLogTimeoutError';
}

/** Thrown when a host's agent reports a failure of its own (setup command failed, background never ready). */
export class HostFailedError extends Error {
  override name = 'HostFailedError';
}

/** A running container of a topology, with its addresses and its collected log. */
export class Host {
  private log = '';
  private waiters: (() => void)[] = [];
  private ended = false;

  constructor(
    readonly name: string,
    readonly container: StartedTestContainer,
    private readonly addresses: Map<string, string>,
  ) {}

  /** @internal Starts collecting this container's log (stdout and stderr) from its beginning. */
  async collectLogs(): Promise<void> {
    const stream = await this.container.logs();
    stream.on('data', (chunk: string | Buffer) => {
      this.log += chunk.toString();
      for (const w of this.waiters) w();
    });
    const end = () => {
      this.ended = true;
      for (const w of this.waiters) w();
    };
    stream.on('end', end);
    stream.on('error', end);
  }

  /** This host's address on `net`. */
  address(net: TopologyNetwork): string {
    const a = this.addresses.get(net.name);
    if (!a) throw new Error(`host ${this.name} is not on network ${net.name}`);
    return a;
  }

  /**
   * Stops the container (SIGTERM: the agent ends its commands, so tcpdump completes its file) and
   * removes it. Its log stays readable through logs().
   */
  async stop(): Promise<void> {
    await this.container.stop({ timeout: 5_000 });
  }

  /** Everything the container printed so far. */
  logs(): string {
    return this.log;
  }

  /** Waits (bounded) until the log has a line matching `re`; returns the first matching line. */
  async waitForLog(re: RegExp, timeoutMs = 60_000): Promise<string> {
    const find = () => this.log.split('\n').find((l) => re.test(l));
    const failed = () => this.log.split('\n').find((l) => l.startsWith(MARK.failed));
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = find();
        const fail = failed();
        if (line !== undefined) finish(() => resolve(line));
        else if (fail !== undefined) finish(() => reject(new HostFailedError(`${this.name}: ${fail}`)));
        else if (this.ended)
          finish(() =>
            reject(
              new HostLogTimeoutError(
                `${this.name} ended without a line matching ${re}; log tail:\n${tail(this.log)}`,
              ),
            ),
          );
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new HostLogTimeoutError(
                `${this.name}: no line matching ${re} within ${timeoutMs} ms; log tail:\n${tail(this.log)}`,
              ),
            ),
          ),
        timeoutMs,
      );
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        f();
      };
      this.waiters.push(check);
      check();
    });
  }

  /** Waits for the agent's E2E-DONE and returns the reports of its steps, by name. */
  async steps(timeoutMs = 300_000): Promise<Map<string, StepReport>> {
    await this.waitForLog(new RegExp(`^${MARK.done}$`), timeoutMs);
    const reports = new Map<string, StepReport>();
    for (const l of this.log.split('\n')) {
      if (l.startsWith(MARK.step)) {
        const r = JSON.parse(l.slice(MARK.step.length)) as StepReport;
        reports.set(r.name, r);
      }
    }
    return reports;
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

class StartedImmediately extends StartupCheckStrategy {
  override async checkStartupState(): Promise<StartupStatus> {
    return 'SUCCESS';
  }
}

/** A GenericContainer placed on given networks with fixed addresses, and on no other network. */
class PlacedContainer extends GenericContainer {
  constructor(
    image: string,
    private readonly placement: { network: string; address: string }[],
    private readonly sysctls: Record<string, string> | undefined,
  ) {
    super(image);
    const first = placement[0];
    if (!first) throw new Error('a host needs at least one network');
    // withNetworkMode, not withNetwork: the latter also leaves the container on the engine's default
    // network, a second way out that would let a "LAN-only" host bypass the NAT.
    this.withNetworkMode(first.network);
  }

  protected override async beforeContainerCreated(): Promise<void> {
    const first = this.placement[0];
    if (!first) return;
    this.createOpts.NetworkingConfig = {
      EndpointsConfig: { [first.network]: { IPAMConfig: { IPv4Address: first.address } } },
    };
    if (this.sysctls) this.hostConfig.Sysctls = this.sysctls;
  }

  // Attach the other networks before the container starts, so its program sees all of its interfaces
  // from the first instruction on.
  protected override async containerCreated(containerId: string): Promise<void> {
    const client = await getContainerRuntimeClient();
    for (const p of this.placement.slice(1)) {
      await client.network
        .getById(p.network)
        .connect({ Container: containerId, EndpointConfig: { IPAMConfig: { IPv4Address: p.address } } });
    }
  }
}

/**
 * A set of networks and containers that live and die together. Create one per test file (beforeAll),
 * `close()` it in afterAll: every container and network it made is removed, also when a test failed
 * or start-up broke halfway.
 */
export class Topology {
  readonly id: string;
  private readonly networks: TopologyNetwork[] = [];
  private readonly used = new Set<string>();
  private readonly hosts: Host[] = [];
  private readonly root: string;
  private closed = false;

  constructor(readonly name: string) {
    this.id = `${name.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}-${randomBytes(3).toString('hex')}`;
    this.root = mkdtempSync(join(tmpdir(), `ftpfwd-e2e-${this.id}-`));
  }

  /** A host directory private to this topology (created; removed on close), to bind-mount into hosts. */
  dir(name: string): string {
    const d = join(this.root, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** Where captures go (bind-mounted read-write at /capture in hosts that capture). */
  get captureDir(): string {
    return this.dir('capture');
  }

  /**
   * A new network. Internal (the engine routes nothing in or out of it), its subnet taken by the engine
   * from the documentation-range pools of the project's containers.conf (198.51.100.0/24, 203.0.113.0/24
   * in /27s), or `subnet` when given; a subnet outside the documentation ranges is refused.
   */
  async network(name: string, subnet?: Ipv4Subnet): Promise<TopologyNetwork> {
    if (subnet && !subnet.isDocumentationRange())
      throw new Error(
        `network ${name}: ${subnet} is outside the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)`,
      );
    ensureEngineOnce();
    const client = await getContainerRuntimeClient();
    const fullName = `ftpfwd-e2e-${this.id}-${name}`;
    const create = (subnet?: string) =>
      client.network.create({
        Name: fullName,
        Internal: true,
        CheckDuplicate: true,
        Labels: { [TOPOLOGY_LABEL]: this.id, [OWNER_LABEL]: OWNER },
        ...(subnet ? { IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] } } : {}),
      });
    let net = await create(subnet?.toString());
    let got = await subnetOf(net);
    if (!got.isDocumentationRange()) {
      // An engine without the project's containers.conf (e.g. Docker) allocated from its own pools:
      // take a free /27 of the documentation ranges explicitly instead.
      await net.remove();
      const free = await freeDocumentationSubnet();
      net = await create(free.toString());
      got = await subnetOf(net);
    }
    const handle = { name: fullName, subnet: got };
    this.networks.push(handle);
    return handle;
  }

  /** The next free address on `net` (from .10 up; .1 is the engine's bridge; pick fixed ones from .20). */
  private allocate(net: TopologyNetwork): string {
    for (let n = 10; n < net.subnet.size - 1; n++) {
      const a = net.subnet.host(n);
      if (!this.used.has(a)) {
        this.used.add(a);
        return a;
      }
    }
    throw new Error(`network ${net.name} (${net.subnet}) has no free address left`);
  }

  /** The address allocate() would hand out next, without taking it. */
  private peekFree(net: TopologyNetwork): string {
    const a = this.allocate(net);
    this.used.delete(a);
    return a;
  }

  /** Takes a fixed address (one a test chose, e.g. `net.subnet.host(20)`); refuses one taken twice. */
  private claim(net: TopologyNetwork, address: string): string {
    if (!net.subnet.contains(address)) throw new Error(`${address} is not in ${net.name} (${net.subnet})`);
    if (this.used.has(address)) throw new Error(`${address} is already taken in ${net.name}`);
    this.used.add(address);
    return address;
  }

  /** Starts a host running `plan`; resolves once it printed `waitFor` (default: the agent's E2E-UP). */
  async host(opts: HostOptions): Promise<Host> {
    if (this.closed) throw new Error(`topology ${this.name} is closed`);
    ensureEngineOnce();
    const image = await ensureImage();
    const placement = opts.networks.map((n, i) => {
      const fixed = opts.addresses?.[i];
      return { network: n.name, address: fixed ? this.claim(n, fixed) : this.allocate(n) };
    });
    const plan: AgentPlan = { ...opts.plan };
    const capAdd = new Set(opts.capAdd ?? []);
    if (opts.defaultVia) {
      capAdd.add('NET_ADMIN');
      plan.setup = [
        { name: 'route', argv: ['ip', 'route', 'replace', 'default', 'via', opts.defaultVia] },
        ...(plan.setup ?? []),
      ];
    }
    const ws = workspaceRoot();
    const agent = agentPath();
    const c = new PlacedContainer(image.name, placement, opts.sysctls)
      .withName(`ftpfwd-e2e-${this.id}-${opts.name}`)
      .withLabels({ [TOPOLOGY_LABEL]: this.id, [OWNER_LABEL]: OWNER })
      .withHostname(opts.name)
      .withBindMounts([
        ...image.systemMounts.map((m) => ({ source: m.source, target: m.target, mode: 'ro' as const })),
        { source: ws, target: ws, mode: 'ro' as const },
        ...(opts.mounts ?? []).map((m) => ({
          source: m.source,
          target: m.target,
          mode: m.readOnly ? ('ro' as const) : ('rw' as const),
        })),
      ])
      .withEnvironment({ HOME: '/root', ...opts.env })
      .withWorkingDir('/tmp')
      .withCommand(['node', agent, encodePlan(plan)])
      // The default wait strategy probes ports with a shell inside the container (exec): never here.
      // Readiness is a log line, awaited below, so a failed start keeps its log for the report.
      .withWaitStrategy(new StartedImmediately())
      .withStartupTimeout(opts.startupTimeoutMs ?? 60_000);
    if (capAdd.size > 0) c.withAddedCapabilities(...capAdd);
    if (opts.privileged) c.withPrivilegedMode();
    const started = await c.start();
    const host = new Host(opts.name, started, new Map(placement.map((p) => [p.network, p.address])));
    this.hosts.push(host);
    await host.collectLogs();
    await host.waitForLog(opts.waitFor ?? new RegExp(`^${MARK.up}$`), opts.startupTimeoutMs ?? 60_000);
    return host;
  }

  /**
   * A NAT gateway between `lan` and `wan`: forwards, and masquerades everything from the LAN that
   * leaves through its WAN interface. LAN hosts use it with `defaultVia: gw.address(lan)`. With
   * `captureWan`, tcpdump records its WAN side into `wanCapture` (see pcap.ts to read it).
   */
  async natGateway(opts: NatGatewayOptions): Promise<NatGateway> {
    // host() below claims them.
    const lanAddr = opts.lanAddress ?? this.peekFree(opts.lan);
    const wanAddr = opts.wanAddress ?? this.peekFree(opts.wan);
    const capture = join(this.captureDir, `${opts.name}-wan.pcap`);
    const background: BackgroundCommand[] = opts.captureWan
      ? [
          {
            name: 'tcpdump',
            // -U: write each packet as it comes, so the file is complete whenever the test reads it.
            // -Z root: the scratch image has no tcpdump user to drop privileges to.
            // --immediate-mode: hand each packet to tcpdump at once rather than in kernel blocks.
            argv: [
              'tcpdump',
              '-i',
              `{iface:${wanAddr}}`,
              '-nn',
              '--immediate-mode',
              '-U',
              '-B',
              '32768',
              '-Z',
              'root',
              '-s',
              '0',
              '-w',
              `/capture/${opts.name}-wan.pcap`,
            ],
            ready: 'listening on',
          },
        ]
      : [];
    const lan = opts.lan.subnet.toString();
    const host = await this.host({
      name: opts.name,
      networks: [opts.lan, opts.wan],
      addresses: [lanAddr, wanAddr],
      sysctls: { 'net.ipv4.ip_forward': '1' },
      capAdd: ['NET_ADMIN', 'NET_RAW'],
      mounts: [{ source: this.captureDir, target: '/capture' }],
      plan: {
        setup: [
          {
            name: 'nat',
            argv: [
              'iptables',
              '-t',
              'nat',
              '-A',
              'POSTROUTING',
              '-s',
              lan,
              '!',
              '-d',
              lan,
              '-o',
              `{iface:${wanAddr}}`,
              '-j',
              'MASQUERADE',
            ],
          },
        ],
        background,
        stayUp: true,
      },
    });
    return new NatGateway(host, lanAddr, wanAddr, opts.captureWan ? capture : undefined);
  }

  /** Writes a file into this topology's directory tree (for config files, keys, payloads). */
  writeFile(dir: string, name: string, content: string | Buffer, mode = 0o644): string {
    const p = join(this.dir(dir), name);
    writeFileSync(p, content, { mode });
    return p;
  }

  /** Each host's log so far, by host name (also of a host whose start failed). */
  hostLogs(): Map<string, string> {
    return new Map(this.hosts.map((h) => [h.name, h.logs()]));
  }

  /** Every host's log, each under a header: what to print when a test failed. */
  allLogs(): string {
    return this.hosts.map((h) => `===== ${this.name}/${h.name} =====\n${h.logs()}`).join('\n');
  }

  /**
   * Removes every container and network of this topology (found by label, so also ones whose start
   * failed halfway) and the topology's host directory. With `printLogs`, first prints every host's log.
   */
  async close(opts: { printLogs?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (opts.printLogs) console.error(this.allLogs());
    await removeLabelled(this.id);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A NAT gateway host (Topology.natGateway). */
export class NatGateway {
  constructor(
    readonly host: Host,
    readonly lanAddress: string,
    readonly wanAddress: string,
    /** The pcap file of the WAN side, when captured. */
    readonly wanCapture: string | undefined,
  ) {}

  /**
   * Ends the capture and returns its IPv4 TCP packets. This stops the gateway (the only way to be sure
   * tcpdump wrote its last packet without exec'ing into it): call it after the transfers.
   */
  async wanPackets(): Promise<TcpPacket[]> {
    if (!this.wanCapture) throw new Error(`gateway ${this.host.name} was started without captureWan`);
    await this.host.stop();
    return readPcapTcp(readFileSync(this.wanCapture));
  }
}

async function subnetOf(net: { inspect(): Promise<unknown> }): Promise<Ipv4Subnet> {
  const info = (await net.inspect()) as { Name?: string; IPAM?: { Config?: { Subnet?: string }[] } };
  const cidr = info.IPAM?.Config?.map((c) => c.Subnet).find((c) => c?.includes('.'));
  if (!cidr) throw new Error(`network ${info.Name} has no IPv4 subnet: ${JSON.stringify(info.IPAM)}`);
  return Ipv4Subnet.parse(cidr);
}

/** A /27 of 198.51.100.0/24 or 203.0.113.0/24 that no network of the engine uses. */
async function freeDocumentationSubnet(): Promise<Ipv4Subnet> {
  const client = await getContainerRuntimeClient();
  const used = (await client.container.dockerode.listNetworks())
    .flatMap((n) => n.IPAM?.Config?.map((c) => c.Subnet) ?? [])
    .filter((c): c is string => typeof c === 'string' && c.includes('.'))
    .map((c) => Ipv4Subnet.parse(c));
  for (const base of ['198.51.100', '203.0.113']) {
    for (let i = 0; i < 256; i += 32) {
      const candidate = Ipv4Subnet.parse(`${base}.${i}/27`);
      if (!used.some((u) => u.overlaps(candidate))) return candidate;
    }
  }
  throw new Error('no free /27 left in 198.51.100.0/24 and 203.0.113.0/24; remove unused networks');
}

/**
 * Removes the containers and networks of topologies whose creating process (on this machine) is gone:
 * what a killed test run left behind. Returns how many topologies it removed.
 */
export async function removeOrphans(): Promise<number> {
  const client = await getContainerRuntimeClient();
  const docker = client.container.dockerode;
  const filters = JSON.stringify({ label: [OWNER_LABEL] });
  const labelled = [
    ...(await docker.listContainers({ all: true, filters })).map((c) => c.Labels),
    ...(await docker.listNetworks({ filters })).map((n) => n.Labels ?? {}),
  ];
  const orphans = new Set<string>();
  for (const labels of labelled) {
    const [host, pid] = (labels[OWNER_LABEL] ?? '').split(':');
    const topology = labels[TOPOLOGY_LABEL];
    if (topology && host === hostname() && pid && !alive(Number(pid))) orphans.add(topology);
  }
  for (const id of orphans) {
    await removeLabelled(id);
    // ...and the topology's host directory (payloads, captures) under the temp dir.
    for (const d of readdirSync(tmpdir())) {
      if (d.startsWith(`ftpfwd-e2e-${id}-`)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
    }
  }
  return orphans.size;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes every container and network labelled with topology `id`. */
export async function removeLabelled(id: string): Promise<void> {
  const client = await getContainerRuntimeClient();
  const docker = client.container.dockerode;
  const filter = JSON.stringify({ label: [`${TOPOLOGY_LABEL}=${id}`] });
  const containers = await docker.listContainers({ all: true, filters: filter });
  // Stop with a short grace period (the agent exits on SIGTERM in well under a second), then remove.
  await Promise.all(
    containers.map(async (c) => {
      const ct = docker.getContainer(c.Id);
      await ct.stop({ t: 3 }).catch(() => undefined);
      await ct.remove({ force: true, v: true }).catch(() => undefined);
    }),
  );
  const networks = await docker.listNetworks({ filters: filter });
  for (const n of networks)
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
}

/** The compiled agent inside the (read-only mounted) workspace. */
function agentPath(): string {
  const p = join(workspaceRoot(), 'packages', 'e2e', 'dist', 'agent', 'main.js');
  if (!existsSync(p)) throw new Error(`${p} is missing; build first: npx nx run @ftpfwd/e2e:build`);
  return p;
}

let engineReady = false;
function ensureEngineOnce(): void {
  if (engineReady) return;
  if (!process.env.DOCKER_HOST) ensureEngine();
  engineReady = true;
}

/** The planner: addresses, command lines, start order and expectations, decided before any container. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ipv4Subnet } from '../subnet.js';
import { loadScenario, parseScenario, type Scenario } from './load.js';
import { planScenario, standInSubnets } from './plan.js';

const examples = join(import.meta.dirname, '..', '..', 'examples');
const plan = (s: Scenario) =>
  planScenario(s, standInSubnets(s, Ipv4Subnet.parse), new Map(s.textMarkers.map((m) => [m, `M-${m}`])));
const example = (f: string) => plan(loadScenario(join(examples, f)));
const argv = (p: ReturnType<typeof plan>, step: string) =>
  p.steps.find((s) => s.name === step)?.agent.argv ?? [];

describe('planner', () => {
  it('gateways get .10 on each side, fixed host numbers stay, the rest count up from .20', () => {
    const p = example('05-gateway.yaml');
    const [wan, lan] = p.networks.map((n) => n.subnet);
    expect(p.gateways[0]).toMatchObject({
      name: 'nat',
      wanAddress: wan?.host(10),
      lanAddress: lan?.host(10),
    });
    const addr = (h: string) => p.hosts.find((x) => x.name === h)?.networks[0]?.address;
    expect([addr('b'), addr('g'), addr('c1'), addr('c2')]).toEqual([
      wan?.host(20),
      lan?.host(20),
      lan?.host(21),
      lan?.host(22),
    ]);
    expect(p.hosts.find((h) => h.name === 'g')?.via).toEqual({ gateway: 'nat', address: lan?.host(10) });
  });

  it('resolves references in programs: split server with remote data on b’s private address', () => {
    const p = example('03-split-server.yaml');
    const a = p.hosts.find((h) => h.name === 'a')?.programs[0]?.command.argv.join(' ') ?? '';
    const priv = p.networks.find((n) => n.name === 'private')?.subnet;
    expect(a).toContain(`-L ftp/127.0.0.1:2121:${priv?.host(30)}:21`);
    expect(a).toContain(`--remote-data-bind ${priv?.host(20)} --remote-data-advertise ${priv?.host(20)}`);
    expect(a).toMatch(/ e2e@198\.51\.100\.\d+$/);
    const c = p.hosts.find((h) => h.name === 'c')?.programs[0]?.command.argv.join(' ') ?? '';
    expect(c).toContain(`--pasv_url ${priv?.host(30)}`);
  });

  it('curl in active modes listens on 127.0.0.1 through a local forward, else on its own address facing the server', () => {
    expect(argv(example('01-classic.yaml'), 'a-eprt-down')).toEqual(
      expect.arrayContaining(['--ftp-port', '127.0.0.1']),
    );
    const p = example('05-gateway.yaml');
    const c1 = p.hosts.find((h) => h.name === 'c1')?.networks[0]?.address as string;
    expect(argv(p, 'c1-port-up')).toEqual(expect.arrayContaining(['--ftp-port', c1, '--disable-eprt']));
    expect(argv(p, 'c1-port-up').join(' ')).toContain(
      `-T /up/c1-upload.bin ftp://${p.hosts.find((h) => h.name === 'g')?.networks[0]?.address}:2121/c1-port-up.up`,
    );
  });

  it('text markers and network subnets resolve in commands and expectations', () => {
    const p = example('00-nat-plumbing.yaml');
    expect(argv(p, 'curl')).toContain('X-Marker: M-request');
    const route = p.steps.find((s) => s.name === 'route');
    expect(route?.expect.output?.contains).toEqual([
      `default via ${p.gateways[0]?.lanAddress}`,
      p.networks[1]?.subnet.toString(),
    ]);
    const log = p.expectations.find((e) => e.kind === 'scenario' && e.spec.log);
    expect(log?.kind === 'scenario' && log.spec.log?.matches).toBe(
      `peer ${p.gateways[0]?.wanAddress.replace(/\./g, '\\.')}$`,
    );
  });

  it('starts an SSH server’s host before the hosts whose ftpfwd connect to it, whatever the file order', () => {
    const s = parseScenario(
      `networks: { net: }
hosts:
  a:
    networks: [net]
    programs: [{ ftpfwd: { server: b, forwards: ["ftp/127.0.0.1:2121:127.0.0.1:21"] } }]
  b:
    networks: [net]
    programs: [{ ftp-srv: }, { ftpfwd-sshd: }]
steps: [{ name: a, on: a, client: curl, ftp: "127.0.0.1:2121" }]
`,
      'order.yaml',
    );
    expect(plan(s).hosts.map((h) => h.name)).toEqual(['b', 'a']);
    expect(plan(s).sshEndpoints).toContainEqual({
      address: plan(s).hosts[0]?.networks[0]?.address,
      port: 2222,
    });
  });

  it('one expectation per step and per expect: item, titled as the file says', () => {
    const p = example('06-bad-pasv-address.yaml');
    expect(p.expectations.map((e) => e.id)).toEqual([...p.steps.map((s) => `step:${s.name}`), 'expect:1']);
    const titles = p.expectations.map((e) => e.title);
    expect(titles).toContain('a-epsv-down: curl EPSV download succeeds, sha256 intact');
    expect(titles).toContain('a-pasv-list: curl PASV list succeeds, names the file');
    expect(titles).toContain('reply-pasv-down: curl PASV download fails');
    expect(titles).toContain('--pasv-target reply: ftpfwd names the bad address');
    expect(example('08-seed-problem.yaml').expectations.map((e) => e.title)).toContain(
      "t-pasv-down: curl PASV download fails, or succeeds, sha256 intact, its file's marker seen on gw.wan",
    );
  });

  it('payloads: one download and one upload file per transfer step, shared through files:', () => {
    const p = example('01-classic.yaml');
    expect(p.payloads).toEqual([
      {
        name: 'a',
        size: 16 * 1024 * 1024,
        download: { file: 'a-payload.bin', host: 'b' },
        upload: { file: 'a-upload.bin' },
      },
    ]);
    const session = p.steps.find((s) => s.name === 'a-basic-ftp');
    expect(session).toMatchObject({
      files: 'a',
      downloadTo: 'a-basic-ftp.bin',
      uploadAs: 'a-basic-ftp.up',
      lists: 'a-payload.bin',
    });
  });
});

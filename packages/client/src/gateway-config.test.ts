import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatewayConfigSchema, loadConfig } from './gateway-config.js';
import { gatewayPlanFromArgs, planFromArgs } from './plan.js';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ftpfwd-gwcfg-'));
  env = { HOME: dir, USER: 'tester' };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const GATEWAY = `# two destinations
metrics: 127.0.0.1:9464
destinations:
  alpha:
    destination: gw@bastion.example.com
    identityFile: /etc/ftpfwd/id_ed25519
    knownHosts: /etc/ftpfwd/known_hosts
    strictHostKeyChecking: "yes"
    batchMode: true
    options: { ServerAliveInterval: 15 }
    forwards:
      - local: ftp/0.0.0.0:2121:ftp.internal:21
        advertise: 203.0.113.7
        dataPorts: 40000-40099
      - local: tcp/127.0.0.1:8080:web.internal:80
  beta:
    host: 192.0.2.10
    port: 2222
    user: ops
    agent: false
    askpass: /etc/ftpfwd/askpass
    remote: ["ftp/2121:127.0.0.1:21"]
    forwards:
      - remote: tcp/9000:127.0.0.1:9000
`;

describe('gateway config file', () => {
  it('several destinations, each with its own connection settings and per-forwarding FTP options', () => {
    const g = gatewayPlanFromArgs(['--config', file('gw.yaml', GATEWAY)], env);
    expect(g.form).toBe('gateway');
    expect(g.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    const [a, b] = g.destinations;
    expect(a?.name).toBe('alpha');
    expect(a?.user).toBe('gw');
    expect(a?.ssh.userKnownHostsFiles).toEqual(['/etc/ftpfwd/known_hosts']);
    expect(a?.ssh.strictHostKeyChecking).toBe('yes');
    expect(a?.ssh.serverAliveInterval).toBe(15);
    expect(a?.forwardings.map((f) => [f.spec.protocol, f.spec.bindPort, f.ftp.advertise])).toEqual([
      ['ftp', 2121, '203.0.113.7'],
      ['tcp', 8080, undefined],
    ]);
    expect(a?.forwardings[0]?.ftp.dataPorts).toEqual({ lo: 40000, hi: 40099 });
    expect(b?.host).toBe('192.0.2.10');
    expect(b?.port).toBe(2222);
    expect(b?.ssh.identityAgent).toBe('none');
    expect(b?.askpass).toBe('/etc/ftpfwd/askpass');
    expect(b?.forwards.map((s) => `${s.direction} ${s.protocol} ${s.bindPort}`)).toEqual([
      'R ftp 2121',
      'R tcp 9000',
    ]);
  });

  it('JSON works too', () => {
    const p = file(
      'gw.json',
      JSON.stringify({ destinations: { one: { destination: 'a@h', local: ['ftp/2121:f:21'] } } }, null, 2),
    );
    expect(gatewayPlanFromArgs(['--config', p], env).destinations[0]?.forwards).toHaveLength(1);
  });

  it('errors name the key path and the line', () => {
    const bad = GATEWAY.replace('advertise: 203.0.113.7', 'advertise: 7').replace(
      'dataPorts: 40000-40099',
      'dataPorts: 40099-40000',
    );
    // Two problems: the first in document order is reported.
    expect(() => loadConfig(file('a.yaml', bad))).toThrow(
      /line 13: destinations\.alpha\.forwards\.0\.advertise: .*expected string/,
    );
    const typo = GATEWAY.replace('    batchMode: true', '    batchmode: true');
    expect(() => loadConfig(file('b.yaml', typo))).toThrow(
      /line 9: destinations\.alpha\.batchmode: unknown key\(s\) batchmode/,
    );
    const spec = GATEWAY.replace('tcp/127.0.0.1:8080:web.internal:80', 'tcp/127.0.0.1:8080:web.internal');
    expect(() => loadConfig(file('c.yaml', spec))).toThrow(
      /line 15: destinations\.alpha\.forwards\.1\.local: bad -L forwarding/,
    );
    const both = GATEWAY.replace(
      '      - remote: tcp/9000:127.0.0.1:9000',
      '      - { advertise: 192.0.2.1 }',
    );
    expect(() => loadConfig(file('d.yaml', both))).toThrow(
      /line 24: destinations\.beta\.forwards\.0: expected exactly one of local or remote/,
    );
    expect(() => loadConfig(file('e.yaml', 'destinations:\n  a: [1,\n'))).toThrow(/line \d+: not valid YAML/);
    expect(() => loadConfig(file('f.json', '{"destinations": {"x y": {}}}'))).toThrow(
      /line 1: destinations\.x y: expected a name/,
    );
  });

  it('with several destinations, per-destination flags are refused; global ones apply', () => {
    const p = file('gw.yaml', GATEWAY);
    expect(() => gatewayPlanFromArgs(['--config', p, '-L', '1:h:2'], env)).toThrow(
      /has 2 destinations: -L would be ambiguous/,
    );
    expect(() => gatewayPlanFromArgs(['--config', p, 'host'], env)).toThrow(/a destination argument/);
    expect(() => planFromArgs(['--config', p], env)).toThrow(/expected one destination/);
    const g = gatewayPlanFromArgs(['--config', p, '-v', '--metrics', '127.0.0.1:9999'], env);
    expect(g.verbose).toBe(1);
    expect(g.metrics?.port).toBe(9999);
  });

  it('one destination: command-line flags still override the file', () => {
    const p = file(
      'one.yaml',
      'destinations:\n  only:\n    destination: gw@bastion\n    port: 22\n    local: ["ftp/2121:f:21"]\n',
    );
    const plan = planFromArgs(['--config', p, '-p', '2201', '-L', 'tcp/8080:w:80'], env);
    expect(plan.port).toBe(2201);
    expect(plan.forwards.map((s) => s.bindPort)).toEqual([8080, 2121]);
  });

  it('the single-destination form still works, with line numbers in its errors', () => {
    const p = file('old.yaml', 'destination: gw@bastion\nlocal: ["ftp/2121:f:21"]\ndataPorts: 40000-40099\n');
    expect(gatewayPlanFromArgs(['--config', p], env).form).toBe('single');
    expect(planFromArgs(['--config', p], env).dataPorts).toEqual({ lo: 40000, hi: 40099 });
    const q = file('old2.yaml', 'destination: gw@bastion\nlocall: ["ftp/2121:f:21"]\n');
    expect(() => planFromArgs(['--config', q], env)).toThrow(/line 2: locall: unknown key\(s\) locall/);
  });

  it('the schema converts to JSON Schema (the reference generator documents every key from it)', () => {
    const js = z.toJSONSchema(GatewayConfigSchema, { io: 'input', unrepresentable: 'any' }) as {
      properties: Record<string, unknown>;
    };
    expect(Object.keys(js.properties).sort()).toEqual(['destinations', 'logFormat', 'metrics', 'verbose']);
  });
});

describe('the README example', () => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const example = /cat > \/etc\/ftpfwd\/gateway\.yaml <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(readme)?.[1] ?? '';

  it('validates: two destinations with tcp and ftp forwardings', () => {
    const g = gatewayPlanFromArgs(['--config', file('gateway.yaml', example)], env);
    expect(g.destinations.map((d) => d.name)).toEqual(['bastion', 'partner']);
    expect(
      g.destinations.flatMap((d) =>
        d.forwardings.map((f) => `${d.name} ${f.spec.direction} ${f.spec.protocol}`),
      ),
    ).toEqual(['bastion L ftp', 'bastion L tcp', 'partner L ftp', 'partner R tcp']);
  });

  it('shows the error a reader gets for a reversed port range', () => {
    const shown = /^ftpfwd: --config \/etc\/ftpfwd\/gateway\.yaml (line .*)$/m.exec(readme)?.[1];
    const p = file('gateway.yaml', example.replace('dataPorts: 40000-40099', 'dataPorts: 40099-40000'));
    expect(shown).toBeDefined();
    expect(() => loadConfig(p)).toThrow(`--config ${p} ${shown}`);
  });
});

/** The scenario file: every example loads; every mistake is reported with its file, line and what was expected. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@ftpfwd/ftp-proxy/cli';
import { describe, expect, it } from 'vitest';
import { expandStep } from './expand.js';
import { loadScenario, parseScenario } from './load.js';

const examples = join(import.meta.dirname, '..', '..', 'examples');

const BASE = `networks:
  net:
hosts:
  b:
    networks: { net: 20 }
    programs:
      - ftp-srv:
      - ftpfwd-sshd:
  a:
    networks: [net]
    programs:
      - ftpfwd: { server: b, forwards: ["ftp/127.0.0.1:2121:127.0.0.1:21"] }
steps:
  - { name: a, on: a, client: curl, ftp: "127.0.0.1:2121" }
`;

/** `${name}` written out, for references in scenario text. */
const ref = (name: string) => `\${${name}}`;

/** The message of loading `text`, or '' when it loads. */
function problems(text: string): string {
  try {
    parseScenario(text, 'my.yaml');
    return '';
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
}

describe('scenario files', () => {
  it.each(readdirSync(examples).filter((f) => f.endsWith('.yaml')))('examples/%s loads', (f) => {
    const s = loadScenario(join(examples, f));
    expect(s.steps.length).toBeGreaterThan(0);
  });

  it('a minimal file loads, its name taken from the file', () => {
    expect(problems(BASE)).toBe('');
    expect(parseScenario(BASE, 'dir/My Office.yaml').name).toBe('my-office');
  });

  it.each([
    // [what, text, expected message parts]
    ['YAML syntax', 'networks:\n  net:\n hosts: [\n', ['my.yaml line 2: not valid YAML/JSON']],
    ['an unknown top-level key', `${BASE}wat: 1\n`, ['my.yaml line 15: wat: unknown key(s) wat']],
    [
      'a wrong type',
      BASE.replace('networks: [net]', 'networks: 3'),
      ['line 10: hosts.a.networks: expected a list of network names'],
    ],
    [
      'a program with two kinds',
      BASE.replace('      - ftp-srv:\n', '      - ftp-srv:\n        vsftpd:\n'),
      [
        'line 7: hosts.b.programs.0: expected a program: exactly one of ftp-srv, vsftpd, ftpfwd-sshd, openssh-sshd, ftpfwd, command, got ftp-srv and vsftpd',
      ],
    ],
    [
      'a bad duration',
      BASE.replace('ftp: "127.0.0.1:2121" }', 'ftp: "127.0.0.1:2121", timeout: soon }'),
      ['line 14: steps.0.timeout: expected a duration'],
    ],
    [
      'a bad size',
      BASE.replace('ftp: "127.0.0.1:2121" }', 'ftp: "127.0.0.1:2121", size: 3 parsecs }'),
      ['steps.0.size: expected a size'],
    ],
    [
      'an unknown client',
      BASE.replace('client: curl', 'client: wget'),
      ['line 14: steps.0.client: expected an FTP client: curl, lftp, basic-ftp'],
    ],
    [
      'a step on an unknown host',
      BASE.replace('on: a,', 'on: x,'),
      ['line 14: steps.0.on: expected a host of this file (b, a), got x'],
    ],
    [
      'a mode lftp cannot do',
      BASE.replace('client: curl', 'client: lftp, mode: eprt'),
      ['steps.0.mode: lftp cannot be told to use EPRT for IPv4'],
    ],
    [
      'basic-ftp with a mode',
      BASE.replace('client: curl', 'client: basic-ftp, mode: pasv'),
      ['steps.0.mode: basic-ftp runs one passive session'],
    ],
    [
      'two steps with one name (after expansion)',
      `${BASE}  - { name: a-epsv-down, on: a, run: [true] }\n`,
      ['line 15: steps.1.name: step name a-epsv-down is already used by step 1 (a)'],
    ],
    [
      'an address outside the documentation ranges',
      BASE.replace('127.0.0.1:21"]', '10.1.2.3:21"]'),
      ['line 12: hosts.a.programs.0.ftpfwd.forwards.0: 10.1.2.3 is outside'],
    ],
    [
      'a subnet outside them',
      BASE.replace('  net:\n', '  net: { subnet: 10.0.0.0/24 }\n'),
      ['line 2: networks.net.subnet: expected a subnet inside 192.0.2.0/24'],
    ],
    [
      'a low host number',
      BASE.replace('net: 20', 'net: 5'),
      ['line 5: hosts.b.networks.net: expected a host number from 20 to 30'],
    ],
    [
      'an address on a picked subnet',
      BASE.replace('net: 20', 'net: 198.51.100.20'),
      ['the subnet of net is picked at run time: give a host number'],
    ],
    [
      'an unknown reference',
      BASE.replace('127.0.0.1:21"]', `${ref('c')}:21"]`),
      [`line 12: hosts.a.programs.0.ftpfwd.forwards.0: ${ref('c')}: no host, gateway or network is named c`],
    ],
    [
      'a host not on that network',
      BASE.replace('127.0.0.1:21"]', `${ref('b.lan')}:21"]`),
      [`${ref('b.lan')}: host b is on net, not lan`],
    ],
    [
      'ftpfwd to a host without sshd',
      BASE.replace('server: b', 'server: a'),
      ['line 12: hosts.a.programs.0.ftpfwd.server: host a runs no SSH server'],
    ],
    [
      'a gateway that does not exist',
      BASE.replace('networks: [net]', 'networks: [net]\n    via: gw'),
      ['hosts.a.via: expected a gateway of this file (none defined), got gw'],
    ],
    [
      'an uncaptured link',
      `${BASE}expect:\n  - only-ssh: a.wan\n`,
      ['line 16: expect.0.only-ssh.link: host a is on net (and lo), not wan'],
    ],
    [
      'markers on a connections-only capture',
      `${BASE}expect:\n  - traffic: { link: b.net, no-marker: all }\n`,
      [
        'expect.0.traffic.link: host b records connections only; set capture: full on it to look for markers on b.net',
      ],
    ],
    [
      'an unknown marker',
      `${BASE}expect:\n  - traffic: { link: a.lo, no-marker: [z] }\n`,
      ['expect.0.traffic.no-marker.0: expected a transfer step'],
    ],
    [
      'a log of an unknown program',
      `${BASE}expect:\n  - log: { host: b, program: ftpfwd, matches: x }\n`,
      ['expect.0.log.program: host b runs ftp-srv, sshd, not ftpfwd'],
    ],
    [
      'a bad regular expression',
      `${BASE}expect:\n  - log: { host: b, matches: "(" }\n`,
      ['line 16: expect.0.log.matches: expected a regular expression'],
    ],
    [
      'an expectation of two kinds',
      `${BASE}expect:\n  - { only-ssh: b.net, log: { host: b, matches: x } }\n`,
      ['expected an expectation: exactly one of only-ssh, traffic, ftp-server-sees, log'],
    ],
  ])('%s: names the line and what was expected', (_what, text, parts) => {
    const message = problems(text);
    for (const p of parts) expect(message).toContain(p);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('reports every problem of a file at once, in line order', () => {
    const text = BASE.replace('on: a,', 'on: x,').replace('server: b', 'server: nowhere');
    const message = problems(text);
    expect(message).toMatch(/^my\.yaml line 12: .*server.*; line 14: steps\.0\.on/);
  });

  it("the README's example file is valid", () => {
    const readme = readFileSync(join(examples, '..', 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks)
      expect(parseScenario(b, 'README.md').steps.map((x) => x.name)).toContain('laptop-epsv-down');
  });

  it('a missing file is one line too', () => {
    expect(() => loadScenario('/nonexistent/x.yaml')).toThrow(/cannot read \/nonexistent\/x\.yaml: ENOENT/);
  });
});

describe('step expansion', () => {
  const spec = (over: object) => ({
    name: 'a',
    on: 'a',
    client: 'curl' as const,
    ftp: '127.0.0.1:21',
    ...over,
  });
  it('a transfer without mode and do: every mode the client can, download, upload and list', () => {
    expect(expandStep(spec({}), 0).map((s) => s.name)).toEqual(
      ['epsv', 'pasv', 'eprt', 'port'].flatMap((m) => [`a-${m}-down`, `a-${m}-up`, `a-${m}-list`]),
    );
    expect(expandStep(spec({ client: 'lftp' }), 0).map((s) => s.mode)).not.toContain('eprt');
  });
  it('one mode and one action given as words: the step keeps its name', () => {
    const one = expandStep(
      spec({ mode: { list: false, values: ['pasv'] }, do: { list: false, values: ['download'] } }),
      0,
    );
    expect(one.map((s) => [s.name, s.mode, s.kind])).toEqual([['a', 'pasv', 'download']]);
    const listed = expandStep(
      spec({ mode: { list: true, values: ['pasv'] }, do: { list: false, values: ['upload'] } }),
      0,
    );
    expect(listed.map((s) => s.name)).toEqual(['a-pasv-up']);
  });
});

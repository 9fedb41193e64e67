/**
 * `ftpfwd-lab`: runs scenario files (run FILE… [--report DIR]) or only validates them (check FILE…).
 * Progress goes to stderr; the verdict to stdout, one line per failed expectation. Exit codes: 0 all
 * held, 1 an expectation failed or a run broke, 2 a file or the command line is wrong, 130 interrupted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootstrapEngine } from '../bootstrap.js';
import { Ipv4Subnet } from '../subnet.js';
import { junitXml } from './junit.js';
import { loadScenario, type Scenario } from './load.js';
import { planScenario, standInSubnets } from './plan.js';
import { indexHtml, reportFileName, reportHtml } from './report-html.js';
import { type LabEvent, type RunResult, runScenario } from './runner.js';

const USAGE = `usage: ftpfwd-lab run FILE... [--report DIR]
       ftpfwd-lab check FILE...

  run     build each scenario's topology in containers, run its steps, check its expectations,
          remove everything; --report DIR writes an HTML report per scenario, index.html and junit.xml
  check   validate the files only (no containers)`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CliIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    io.err(`ftpfwd-lab: ${(e as Error).message}`);
    io.err(USAGE);
    return 2;
  }
  const { command, files, report, help } = parsed;
  if (help) {
    io.out(USAGE);
    return 0;
  }
  if (command !== 'run' && command !== 'check') {
    io.err(command ? `ftpfwd-lab: unknown command ${command}` : 'ftpfwd-lab: expected a command');
    io.err(USAGE);
    return 2;
  }
  if (files.length === 0) {
    io.err(`ftpfwd-lab ${command}: expected at least one scenario file`);
    return 2;
  }
  const scenarios: Scenario[] = [];
  let bad = false;
  for (const f of files) {
    try {
      const s = loadScenario(f);
      const plan = planScenario(
        s,
        standInSubnets(s, Ipv4Subnet.parse),
        new Map(s.textMarkers.map((m) => [m, m])),
      );
      scenarios.push(s);
      if (command === 'check')
        io.out(
          `${f}: ok (${plan.networks.length} networks, ${plan.gateways.length} gateways, ${plan.hosts.length} hosts, ${plan.steps.length} steps, ${plan.expectations.length} expectations)`,
        );
    } catch (e) {
      bad = true;
      io.out(`${(e as Error).message}`);
    }
  }
  if (bad) return 2;
  if (command === 'check') return 0;
  return run(scenarios, report, io);
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { report: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...files] = positionals;
  return { command, files, report: values.report, help: values.help === true };
}

async function run(scenarios: Scenario[], reportDir: string | undefined, io: CliIo): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      io.err(
        `ftpfwd-lab: ${sig}: stopping, removing every container and network of this run (again to quit at once)`,
      );
      controller.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const results: RunResult[] = [];
  try {
    const t0 = Date.now();
    const b = await bootstrapEngine();
    io.err(`ftpfwd-lab: engine ${b.dockerHost}, image ${b.image} (${secs(Date.now() - t0)})`);
    if (b.orphansRemoved > 0)
      io.err(`ftpfwd-lab: removed ${b.orphansRemoved} topologies left behind by killed runs`);
    for (const s of scenarios) {
      if (controller.signal.aborted) break;
      results.push(await runScenario(s, { signal: controller.signal, onEvent: progress(s.name, io) }));
    }
  } catch (e) {
    io.out(`ERROR ftpfwd-lab: ${(e as Error).message.split('\n')[0]}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (reportDir) writeReports(reportDir, results, io);
  for (const r of results) verdict(r, io);
  if (controller.signal.aborted) return 130;
  return results.every((r) => r.ok) ? 0 : 1;
}

function verdict(r: RunResult, io: CliIo): void {
  const name = r.scenario.file;
  if (r.error && !r.aborted) io.out(`ERROR ${name}: ${r.error}`);
  if (r.aborted) io.out(`INTERRUPTED ${name}`);
  if (r.ok) {
    io.out(`PASS ${name}: ${r.expectations.length} expectations held (${secs(r.ms)})`);
    return;
  }
  if (r.error) return;
  for (const e of r.expectations.filter((x) => !x.ok)) io.out(`FAIL ${name}: ${e.title} — ${e.message}`);
}

export function writeReports(dir: string, results: RunResult[], io: CliIo): void {
  mkdirSync(dir, { recursive: true });
  for (const r of results) writeFileSync(join(dir, reportFileName(r)), reportHtml(r));
  writeFileSync(join(dir, 'index.html'), indexHtml(results));
  writeFileSync(join(dir, 'junit.xml'), junitXml(results));
  io.err(`ftpfwd-lab: report in ${join(dir, 'index.html')}, JUnit XML in ${join(dir, 'junit.xml')}`);
}

function progress(name: string, io: CliIo): (e: LabEvent) => void {
  const say = (text: string) => io.err(`[${name}] ${text}`);
  return (e) => {
    switch (e.type) {
      case 'scenario':
        return say(`${e.file}: topology ${e.topology}`);
      case 'network':
        return say(`network ${e.name} ${e.subnet}`);
      case 'gateway':
        return say(`gateway ${e.name} up: lan ${e.lan}, wan ${e.wan} (${secs(e.ms)})`);
      case 'host-starting':
        return say(`starting host ${e.name}${e.programs.length ? ` (${e.programs.join(', ')})` : ''}`);
      case 'host-up':
        return say(`host ${e.name} up at ${e.addresses.join(', ')} (${secs(e.ms)})`);
      case 'steps':
        return say(`running ${e.count} steps on ${e.hosts} hosts`);
      case 'step-start':
        return say(`  ${e.name} on ${e.host} …`);
      case 'step-end':
        return say(`  ${e.name} ${e.code === 0 ? 'exit 0' : `exit ${e.code ?? 'killed'}`} (${secs(e.ms)})`);
      case 'phase':
        return say(e.text);
      case 'teardown':
        return say(`removed (${secs(e.ms)})`);
    }
  };
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

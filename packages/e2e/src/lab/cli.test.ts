/**
 * ftpfwd-lab as a user runs it: check, a run whose expectations fail (exit code, one line per failure,
 * report and JUnit XML, the report in Chromium), and Ctrl-C in the middle of a run. Every container
 * and network of each run must be gone afterwards.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { getContainerRuntimeClient } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import { Ipv4Subnet } from '../subnet.js';
import { TOPOLOGY_LABEL } from '../topology.js';
import { openPage, screenshotDir } from './test-support/browser.js';
import { expectDrawingShows, expectFailureVisible } from './test-support/report-checks.js';

const pkg = join(import.meta.dirname, '..', '..');
const bin = join(pkg, 'bin', 'ftpfwd-lab.js');
const fixture = 'src/lab/fixtures/plain-ftp.yaml';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from the package directory; `onStderr` sees each progress line (and may signal it). */
function lab(
  args: string[],
  onStderr?: (line: string, kill: (s: NodeJS.Signals) => void) => void,
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onStderr?.(l, (s) => child.kill(s));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Containers and networks still labelled with the topology a run printed, and interfaces of this
 * machine still holding an address of its networks (a bridge the engine failed to remove).
 */
async function leftovers(stderr: string): Promise<string[]> {
  const id = /topology ([a-z0-9-]+-[0-9a-f]{6})/.exec(stderr)?.[1];
  expect(id, 'the run printed no topology id').toBeDefined();
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const filters = JSON.stringify({ label: [`${TOPOLOGY_LABEL}=${id}`] });
  const subnets = [...stderr.matchAll(/\] network \S+ (\S+\/\d+)$/gm)].map((m) =>
    Ipv4Subnet.parse(m[1] as string),
  );
  expect(subnets.length, 'the run printed no network').toBeGreaterThan(0);
  const bridges = Object.entries(networkInterfaces()).flatMap(([name, addrs]) =>
    (addrs ?? [])
      .filter((a) => a.family === 'IPv4' && subnets.some((sn) => sn.contains(a.address)))
      .map((a) => `interface ${name} ${a.address}`),
  );
  return [
    ...(await docker.listContainers({ all: true, filters })).map(
      (c) => `container ${c.Names.join(',')} (${c.State})`,
    ),
    ...(await docker.listNetworks({ filters })).map((n) => `network ${n.Name}`),
    ...bridges,
  ];
}

describe('ftpfwd-lab', () => {
  it('check: the examples are valid; a wrong file is one line with its line number, exit 2', async () => {
    const ok = await lab(['check', 'examples/01-classic.yaml', 'examples/08-seed-problem.yaml', fixture]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^examples\/01-classic\.yaml: ok \(1 networks, 0 gateways, 2 hosts, 13 steps, 15 expectations\)$/m,
    );
    const dir = mkdtempSync(join(tmpdir(), 'ftpfwd-lab-check-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(join(pkg, fixture), 'utf8').replace('on: a, client: curl', 'on: c, client: curl'),
    );
    const r = await lab(['check', bad]);
    expect(r.code).toBe(2);
    expect(r.stdout.trim()).toBe(`${bad} line 24: steps.0.on: expected a host of this file (b, a), got c`);
    expect((await lab(['frobnicate'])).code).toBe(2);
  });

  it('run: failed expectations exit 1, one line each; everything is removed; the report shows them', async () => {
    const report = mkdtempSync(join(tmpdir(), 'ftpfwd-lab-run-'));
    const r = await lab(['run', fixture, '--report', report]);
    expect(r.code, r.stderr).toBe(1);
    // Progress: which host starts, which step runs.
    expect(r.stderr).toMatch(/\[plain-ftp\] starting host b \(ftp-srv\)/);
    expect(r.stderr).toMatch(/\[plain-ftp\] {3}plain-pasv-down on a …/);
    const fails = r.stdout.trim().split('\n');
    expect(fails).toHaveLength(2);
    expect(fails[0]).toMatch(
      /^FAIL src\/lab\/fixtures\/plain-ftp\.yaml: missing: `curl .*` succeeds — exit 78: curl: \(78\) The file does not exist$/,
    );
    expect(fails[1]).toMatch(
      /^FAIL src\/lab\/fixtures\/plain-ftp\.yaml: only SSH crosses gw\.wan — \d+ connection\(s\) other than ssh crossed gw\.wan, e\.g\. .*:21 \(ftp-control\)$/,
    );
    expect(await leftovers(r.stderr)).toEqual([]);

    const junit = readFileSync(join(report, 'junit.xml'), 'utf8');
    expect(junit).toMatch(
      /<testsuite name="plain-ftp" file="src\/lab\/fixtures\/plain-ftp\.yaml" tests="5" failures="2" errors="0"/,
    );
    expect(existsSync(join(report, 'index.html'))).toBe(true);
    const page = await openPage(join(report, 'plain-ftp.html'));
    try {
      expect(page.requests).toEqual([`file://${join(report, 'plain-ftp.html')}`]);
      await expectDrawingShows(page.page, ['gw', 'b', 'a'], ['gw.wan', 'gw.lan', 'b.wan', 'a.lan']);
      await expectFailureVisible(page.page, 'only SSH crosses gw.wan');
      const wan = page.page.locator('svg.topology g.link[data-link="gw.wan"]');
      expect(await wan.getAttribute('class')).toMatch(/\bleak\b.*\bfailed\b/);
      expect(await wan.textContent()).toContain('MARKER of plain seen in clear');
      // The host whose step failed: its log is in the page.
      expect(await page.page.locator('details.log[data-host="a"] pre').textContent()).toContain('E2E-STEP');
      const shots = screenshotDir(report);
      mkdirSync(shots, { recursive: true });
      await page.page.screenshot({ path: join(shots, 'report-plain-ftp.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('run: Ctrl-C stops the run, removes every container and network, exits 130', async () => {
    let sent = false;
    const t0 = Date.now();
    const r = await lab(['run', fixture], (line, kill) => {
      if (!sent && line.includes('starting host a')) {
        sent = true;
        kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT: stopping, removing every container and network of this run');
    expect(r.stdout).toContain('INTERRUPTED src/lab/fixtures/plain-ftp.yaml');
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(await leftovers(r.stderr)).toEqual([]);
  });
});

/**
 * The report of a run, opened in headless Chromium: it renders without fetching anything, the drawing
 * shows every host, gateway and link, and a failed expectation is visible at once. The run is made up
 * (plan of an example, hand-made captures with a marker crossing the WAN), so no container is needed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../ftp.js';
import type { TcpPacket } from '../pcap.js';
import { Ipv4Subnet } from '../subnet.js';
import { checkAll } from './checks.js';
import { junitXml } from './junit.js';
import { analyseLinks } from './links.js';
import { loadScenario } from './load.js';
import { planScenario, standInSubnets } from './plan.js';
import { indexHtml, reportHtml } from './report-html.js';
import type { RunResult } from './runner.js';
import { type OpenedPage, openPage, screenshotDir } from './test-support/browser.js';
import { expectDrawingShows, expectFailureVisible } from './test-support/report-checks.js';

const examples = join(import.meta.dirname, '..', '..', 'examples');

const empty = join(mkdtempSync(join(tmpdir(), 'ftpfwd-lab-empty-')), 'empty');
writeFileSync(empty, '');
const nothing = { path: empty, sha256: sha256(Buffer.alloc(0)), marker: Buffer.alloc(32) };

function madeUpRun(file: string): RunResult {
  const s = loadScenario(join(examples, file));
  const plan = planScenario(s, standInSubnets(s, Ipv4Subnet.parse), new Map());
  const gw = plan.gateways[0];
  const b = plan.hosts.find((h) => h.name === 'b')?.networks[0]?.address as string;
  const marker = Buffer.from('0123456789abcdef0123456789abcdef');
  const pkt = (
    src: string,
    sport: number,
    dst: string,
    dport: number,
    payload = Buffer.alloc(0),
    syn = true,
  ): TcpPacket => ({
    src,
    sport,
    dst,
    dport,
    syn,
    ack: !syn,
    seq: 1,
    payload,
  });
  const wan = gw
    ? [
        pkt(gw.wanAddress, 40000, b, 2222),
        pkt(gw.wanAddress, 40000, b, 2222, Buffer.alloc(4096, 7), false),
        pkt(gw.wanAddress, 40001, b, 30001),
        pkt(gw.wanAddress, 40001, b, 30001, Buffer.concat([Buffer.alloc(100), marker]), false),
      ]
    : [];
  const links = analyseLinks(
    plan,
    {
      gateways: new Map(gw ? [[gw.name, wan]] : []),
      hosts: new Map(plan.hosts.map((h) => [h.name, [pkt('127.0.0.1', 50000, '127.0.0.1', 21)]])),
    },
    new Map([['t', [marker]]]),
  );
  const reports = new Map(
    plan.steps.map((st, i) => [
      st.name,
      {
        name: st.name,
        code: i === 1 ? 28 : 0,
        signal: null,
        stdout: 'f-payload.bin\n',
        stderr: i === 1 ? 'curl: (28) timed out\n' : '',
        startedAt: 1000 + i * 300,
        ms: 250,
      },
    ]),
  );
  const expectations = checkAll({
    plan,
    reports,
    links,
    hostConnections: () => [],
    logs: new Map(),
    // Every copy "arrived" as an empty file with the sha256 of an empty payload.
    files: { out: () => empty, srv: () => empty, payload: () => ({ download: nothing, upload: nothing }) },
  });
  return {
    scenario: {
      name: plan.name,
      file: `examples/${file}`,
      ...(plan.description ? { description: plan.description } : {}),
    },
    topology: `${plan.name}-000000`,
    startedAt: Date.UTC(2026, 11, 2, 8, 0, 0),
    ms: 6123,
    ok: false,
    plan,
    steps: plan.steps.map((st) => {
      const r = reports.get(st.name);
      return {
        name: st.name,
        host: st.host,
        summary: st.summary,
        ...(r ? { report: r, offsetMs: r.startedAt - 1000 } : {}),
        ok: expectations.some((e) => e.step === st.name && e.ok),
      };
    }),
    links,
    expectations,
    logs: Object.fromEntries(
      plan.hosts.map((h) => [h.name, `[ftpfwd] ${h.name} log line <with markup & such>\nE2E-DONE\n`]),
    ),
  };
}

describe('the HTML report in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftpfwd-lab-report-'));
  const shots = screenshotDir(dir);
  mkdirSync(shots, { recursive: true });
  let opened: OpenedPage;
  const run = madeUpRun('08-seed-problem.yaml');
  const file = join(dir, 'seed-problem.html');

  beforeAll(async () => {
    writeFileSync(file, reportHtml(run));
    opened = await openPage(file);
  });
  afterAll(async () => {
    await opened?.close();
  });

  it('renders from the file alone: no request but the page, no error', async () => {
    expect(opened.requests).toEqual([`file://${file}`]);
    expect(opened.errors).toEqual([]);
    expect(await opened.page.title()).toBe('FAIL seed-problem — ftpfwd-lab');
    await opened.page.screenshot({ path: join(shots, 'report-made-up-seed-problem.png'), fullPage: true });
  });

  it('the drawing shows every host, gateway and link, each link with what crossed it', async () => {
    const nodes = [
      ...(run.plan?.gateways.map((g) => g.name) ?? []),
      ...(run.plan?.hosts.map((h) => h.name) ?? []),
    ];
    await expectDrawingShows(
      opened.page,
      nodes,
      run.links.filter((l) => l.network !== 'lo').map((l) => l.id),
    );
    const wan = opened.page.locator('svg.topology g.link[data-link="gw.wan"]');
    expect(await wan.getAttribute('class')).toContain('leak');
    expect(await wan.textContent()).toContain('MARKER of t seen in clear');
    expect(await wan.textContent()).toContain('FTP data in clear 1');
  });

  it('a failed expectation is visible at once, and its link is marked in the drawing', async () => {
    const failed = run.expectations.find((e) => !e.ok && e.title.startsWith('tcp/ PASV'));
    expect(failed).toBeUndefined(); // that one holds: ftp-data did cross
    const noMarker = run.expectations.find(
      (e) => e.title === "ftp/: none of its files' bytes crossed the WAN in clear",
    );
    expect(noMarker?.ok).toBe(true);
    const step = run.expectations.find((e) => !e.ok && e.step === run.plan?.steps[1]?.name) as {
      title: string;
    };
    await expectFailureVisible(opened.page, step.title);
    const row = opened.page.locator(`#steps tr.step.failed[data-step="${run.plan?.steps[1]?.name}"]`);
    expect(await row.isVisible()).toBe(true);
    expect(await row.textContent()).toContain('exit 28');
    // Logs of the host whose step failed, escaped.
    expect(await opened.page.locator('details.log[data-host="a"] pre').textContent()).toContain(
      '<with markup & such>',
    );
  });

  it('the JUnit XML is well-formed, with a failure per failed expectation', async () => {
    const xml = junitXml([run]);
    const parsed = await opened.page.evaluate((text) => {
      // (runs in the page, which has a DOMParser; Node's types do not know it)
      type El = { textContent: string | null; getAttribute(n: string): string | null };
      type Doc = { querySelector(s: string): El | null; querySelectorAll(s: string): { length: number } };
      const Parser = (
        globalThis as unknown as { DOMParser: new () => { parseFromString(t: string, m: string): Doc } }
      ).DOMParser;
      const doc = new Parser().parseFromString(text, 'application/xml');
      return {
        error: doc.querySelector('parsererror')?.textContent ?? null,
        cases: doc.querySelectorAll('testcase').length,
        failures: doc.querySelectorAll('testcase > failure').length,
        suites: doc.querySelector('testsuites')?.getAttribute('failures'),
      };
    }, xml);
    const failed = run.expectations.filter((e) => !e.ok).length;
    expect(parsed).toEqual({
      error: null,
      cases: run.expectations.length,
      failures: failed,
      suites: String(failed),
    });
  });

  it('the index page links every scenario', async () => {
    const other = madeUpRun('01-classic.yaml');
    const index = join(dir, 'index.html');
    writeFileSync(index, indexHtml([run, other]));
    const p = await openPage(index);
    try {
      expect(await p.page.$$eval('a', (as) => as.map((a) => a.getAttribute('href')))).toEqual([
        'seed-problem.html',
        'classic.html',
      ]);
      expect(p.requests).toEqual([`file://${index}`]);
    } finally {
      await p.close();
    }
  });
});

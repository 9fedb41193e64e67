/**
 * A scenario file as a vitest suite: one test per expectation (titles as `ftpfwd-lab` prints them),
 * the scenario run once in beforeAll through the same runner as the CLI. When something fails, the
 * logs of the hosts concerned are printed; FTPFWD_LAB_REPORT=DIR also writes DIR/<name>.html and
 * DIR/<name>.junit.xml, FTPFWD_LAB_PROGRESS=1 shows the run's progress.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ipv4Subnet } from '../../subnet.js';
import { junitXml } from '../junit.js';
import { loadScenario } from '../load.js';
import { planScenario, standInSubnets } from '../plan.js';
import { reportFileName, reportHtml } from '../report-html.js';
import { type RunResult, runScenario } from '../runner.js';

export const EXAMPLES = join(import.meta.dirname, '..', '..', '..', 'examples');

/** Registers the scenario `file` (in packages/e2e/examples unless absolute) as a describe block. */
export function labScenario(file: string): void {
  const path = file.startsWith('/') ? file : join(EXAMPLES, file);
  const scenario = loadScenario(path);
  // The expectations are known before the run: plan on stand-in subnets for their ids and titles.
  const planned = planScenario(
    scenario,
    standInSubnets(scenario, Ipv4Subnet.parse),
    new Map(scenario.textMarkers.map((m) => [m, m])),
  );
  describe(`${scenario.name} (examples/${file}): ${scenario.spec.description ?? ''}`, () => {
    let result: RunResult | undefined;
    beforeAll(async () => {
      result = await runScenario(scenario, {
        ...(process.env.FTPFWD_LAB_PROGRESS === '1'
          ? { onEvent: (e) => console.error(`[${scenario.name}]`, JSON.stringify(e)) }
          : {}),
      });
      const dir = process.env.FTPFWD_LAB_REPORT;
      if (dir) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, reportFileName(result)), reportHtml(result));
        writeFileSync(join(dir, `${result.scenario.name}.junit.xml`), junitXml([result]));
      }
      if (result.error) {
        printLogs(result, Object.keys(result.logs));
        throw new Error(`${file}: ${result.error}`);
      }
    });
    afterAll(() => {
      if (!result || result.error) return;
      const failedHosts = new Set(result.steps.filter((s) => !s.ok).map((s) => s.host));
      if (process.env.FTPFWD_E2E_LOGS === '1') printLogs(result, Object.keys(result.logs));
      else if (!result.ok) printLogs(result, failedHosts.size ? [...failedHosts] : Object.keys(result.logs));
    });
    for (const e of planned.expectations) {
      it(e.title, () => {
        const r = result?.expectations.find((x) => x.id === e.id);
        expect(r, `${e.id} was not checked`).toBeDefined();
        expect(r?.ok, r?.message).toBe(true);
      });
    }
  });
}

function printLogs(r: RunResult, hosts: string[]): void {
  for (const h of hosts) console.error(`===== ${r.scenario.name}/${h} =====\n${r.logs[h] ?? '(no log)'}`);
}

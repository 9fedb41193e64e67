/** The in-container agent, run here as a plain process: its report protocol and its failure modes. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { workspaceRoot } from '../engine.js';
import { type AgentPlan, encodePlan, MARK, type StepReport } from './plan.js';

const run = promisify(execFile);
const agent = join(workspaceRoot(), 'packages', 'e2e', 'dist', 'agent', 'main.js');

async function agentRun(plan: AgentPlan): Promise<{ code: number; lines: string[] }> {
  try {
    const { stdout } = await run(process.execPath, [agent, encodePlan(plan)], { timeout: 30_000 });
    return { code: 0, lines: stdout.split('\n') };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, lines: err.stdout.split('\n') };
  }
}

const steps = (lines: string[]): StepReport[] =>
  lines
    .filter((l) => l.startsWith(MARK.step))
    .map((l) => JSON.parse(l.slice(MARK.step.length)) as StepReport);

describe('agent', () => {
  it('starts background commands, awaits their ready line, runs steps and reports each', async () => {
    const { code, lines } = await agentRun({
      background: [
        { name: 'bg', argv: ['sh', '-c', 'echo warming; echo ready now; sleep 30'], ready: 'ready now' },
      ],
      steps: [
        { name: 'ok', argv: ['sh', '-c', 'echo out; echo err >&2'] },
        { name: 'bad', argv: ['sh', '-c', 'exit 3'] },
      ],
    });
    expect(code).toBe(0);
    expect(lines.indexOf(`${MARK.ready}bg`)).toBeLessThan(lines.indexOf(MARK.up));
    expect(lines).toContain('[bg] warming');
    expect(steps(lines)).toEqual([
      {
        name: 'ok',
        code: 0,
        signal: null,
        stdout: 'out\n',
        stderr: 'err\n',
        startedAt: expect.any(Number),
        ms: expect.any(Number),
      },
      {
        name: 'bad',
        code: 3,
        signal: null,
        stdout: '',
        stderr: '',
        startedAt: expect.any(Number),
        ms: expect.any(Number),
      },
    ]);
    // Each step is announced when it starts, before its report.
    expect(lines.indexOf(`${MARK.start}ok`)).toBeLessThan(
      lines.findIndex((l) => l.startsWith(`${MARK.step}{"name":"ok"`)),
    );
    const [ok, bad] = steps(lines) as [StepReport, StepReport];
    expect(bad.startedAt).toBeGreaterThanOrEqual(ok.startedAt + ok.ms);
    expect(lines).toContain(MARK.done);
  });

  it('runs step groups concurrently, steps within a group in order', async () => {
    const { lines } = await agentRun({
      concurrentSteps: true,
      steps: [
        { name: 'a1', group: 'a', argv: ['sh', '-c', 'sleep 0.4'] },
        { name: 'a2', group: 'a', argv: ['true'] },
        { name: 'b1', group: 'b', argv: ['true'] },
      ],
    });
    expect(steps(lines).map((s) => s.name)).toEqual(['b1', 'a1', 'a2']);
  });

  it('fails clearly when a background command dies before its ready line', async () => {
    const { code, lines } = await agentRun({
      background: [{ name: 'dies', argv: ['sh', '-c', 'echo bye; exit 4'], ready: 'never' }],
    });
    expect(code).toBe(3);
    expect(lines.find((l) => l.startsWith(MARK.failed))).toMatch(/dies exited \(code 4.*before \/never\//);
  });

  it('fails clearly when a setup command fails, and resolves {iface:ADDR}', async () => {
    const { code, lines } = await agentRun({
      setup: [
        { name: 'lo', argv: ['echo', '{iface:127.0.0.1}'] },
        { name: 'broken', argv: ['sh', '-c', 'exit 1'] },
      ],
    });
    expect(lines).toContain('[lo] lo');
    expect(code).toBe(2);
    expect(lines.find((l) => l.startsWith(MARK.failed))).toMatch(/setup broken .*exited 1/);
  });
});

/**
 * What a container runs: a plan for the in-container agent (src/agent/main.ts). The test builds the plan
 * on the host; the agent executes it and reports on stdout. The test never execs into a container
 * (each podman exec leaks two conmon processes here), so everything a host does is decided up front.
 *
 * Placeholders in argv and env values, resolved by the agent inside the container:
 *   {iface:ADDR}  name of the interface holding IPv4 address ADDR (interface names are not predictable).
 */
export interface AgentCommand {
  /** Short name, used to prefix the command's output lines and in reports. */
  name: string;
  argv: string[];
  env?: Record<string, string>;
}

export interface BackgroundCommand extends AgentCommand {
  /** A regular expression (source) matched against the command's output; the agent waits for it. */
  ready?: string;
  /** How long to wait for `ready`, in ms (default 30 000). */
  readyTimeoutMs?: number;
}

export interface AgentStep extends AgentCommand {
  /** With concurrentSteps: steps of one group run one after another, groups run at the same time. */
  group?: string;
  /** Kill the step if it runs longer than this (ms, default 120 000): a bounded run, never a hang. */
  timeoutMs?: number;
}

export interface AgentPlan {
  /** Run in order before anything else; any failure ends the agent with exit code 2. */
  setup?: AgentCommand[];
  /** Started in order after setup; each one's `ready` line is awaited before the next starts. */
  background?: BackgroundCommand[];
  /** Wait for this file to exist before running steps (lets a test start several hosts' steps at once). */
  startWhenFileExists?: string;
  steps?: AgentStep[];
  /** Run steps concurrently instead of one after another (per `group`, when steps have one). */
  concurrentSteps?: boolean;
  /** After the steps, keep running (background commands stay up) until SIGTERM. Default: true when
   * there are background commands and no steps. */
  stayUp?: boolean;
}

/** One line per finished step on stdout: `E2E-STEP {json}` (and `E2E-START name` when it starts). */
export interface StepReport {
  name: string;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** When the step started (ms since the epoch, the container's clock) and how long it ran. */
  startedAt: number;
  ms: number;
}

export const MARK = {
  up: 'E2E-UP',
  step: 'E2E-STEP ',
  /** `E2E-START <name>` when a step starts, so a watcher can show which steps are running. */
  start: 'E2E-START ',
  done: 'E2E-DONE',
  failed: 'E2E-FAILED ',
  ready: 'E2E-READY ',
} as const;

export function encodePlan(plan: AgentPlan): string {
  return Buffer.from(JSON.stringify(plan), 'utf8').toString('base64');
}

export function decodePlan(encoded: string): AgentPlan {
  return JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as AgentPlan;
}

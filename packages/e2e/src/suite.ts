import { afterAll, afterEach, beforeAll } from 'vitest';
import { Topology } from './topology.js';

/**
 * Registers one topology for the enclosing vitest file or describe block: built in beforeAll, closed
 * in afterAll (every container and network removed). When start-up or any test fails, every host's
 * log is printed before the topology goes away. Returns an accessor for what `build` returned.
 */
export function useTopology<T>(name: string, build: (topology: Topology) => Promise<T>): () => T {
  let topology: Topology | undefined;
  let built: T | undefined;
  let failed = false;
  beforeAll(async () => {
    topology = new Topology(name);
    try {
      built = await build(topology);
    } catch (e) {
      const t = topology;
      topology = undefined;
      await t.close({ printLogs: true });
      throw e;
    }
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    // built is unset when beforeAll failed or timed out (its catch may never run on a timeout).
    await topology?.close({
      printLogs: failed || built === undefined || process.env.FTPFWD_E2E_LOGS === '1',
    });
  });
  return () => {
    if (built === undefined) throw new Error(`topology ${name} was not built (see the beforeAll error)`);
    return built;
  };
}

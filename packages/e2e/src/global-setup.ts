/**
 * vitest globalSetup for the e2e suite: compiles the in-container agent, then bootstraps the engine
 * (bootstrap.ts: container engine, environment exported to the test workers, orphans removed, base
 * image built) once, before any test file starts.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapEngine } from './bootstrap.js';

export default async function setup(): Promise<void> {
  // The agent runs inside containers from dist/; compile it so a plain `vitest run` never uses a stale one.
  const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(
    process.execPath,
    [
      join(pkg, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(pkg, 'tsconfig.build.json'),
    ],
    {
      stdio: 'inherit',
    },
  );
  const b = await bootstrapEngine();
  console.error(
    `e2e: container engine ${b.dockerHost}${b.containersConf ? ` (CONTAINERS_CONF=${b.containersConf})` : ''}`,
  );
  if (b.orphansRemoved > 0)
    console.error(`e2e: removed ${b.orphansRemoved} topologies left behind by killed runs`);
  console.error(`e2e: image ${b.image}`);
}

/**
 * vitest globalSetup for the e2e suite: makes a container engine available (tools/container-engine),
 * exports its environment to the test workers, compiles the in-container agent and builds the base
 * image once, before any test file starts.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEngine } from './engine.js';
import { ensureImage } from './image.js';
import { removeOrphans } from './topology.js';

export default async function setup(): Promise<void> {
  const env = ensureEngine();
  console.error(
    `e2e: container engine ${env.DOCKER_HOST}${env.CONTAINERS_CONF ? ` (CONTAINERS_CONF=${env.CONTAINERS_CONF})` : ''}`,
  );
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
  const orphans = await removeOrphans();
  if (orphans > 0) console.error(`e2e: removed ${orphans} topologies left behind by killed runs`);
  const image = await ensureImage();
  console.error(`e2e: image ${image.name}`);
}

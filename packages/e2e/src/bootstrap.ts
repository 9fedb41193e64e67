/**
 * What every user of the harness does once before its first topology: make a container engine
 * available (tools/container-engine, its environment into process.env), remove what killed runs left
 * behind, and build the base image. The vitest globalSetup and `ftpfwd-lab` both start here.
 */
import { ensureEngine } from './engine.js';
import { ensureImage } from './image.js';
import { removeOrphans } from './topology.js';

export interface Bootstrapped {
  dockerHost: string;
  containersConf?: string;
  image: string;
  /** Topologies of dead processes that were removed. */
  orphansRemoved: number;
}

export async function bootstrapEngine(): Promise<Bootstrapped> {
  const env = ensureEngine();
  const orphansRemoved = await removeOrphans();
  const image = await ensureImage();
  return {
    dockerHost: env.DOCKER_HOST ?? '',
    ...(env.CONTAINERS_CONF ? { containersConf: env.CONTAINERS_CONF } : {}),
    image: image.name,
    orphansRemoved,
  };
}

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root: the directory holding tools/container-engine. */
export function workspaceRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'tools', 'container-engine'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`tools/container-engine not found above ${fileURLToPath(import.meta.url)}`);
}

/** Parses `export KEY=VALUE` lines as tools/container-engine prints them (bash %q quoting of paths). */
export function parseEngineEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m?.[1]) continue;
    env[m[1]] = (m[2] ?? '').replace(/\\(.)/g, '$1');
  }
  return env;
}

export class ContainerEngineError extends Error {
  override name = 'ContainerEngineError';
}

/**
 * Runs tools/container-engine (idempotent: finds or starts a Docker-API engine) and puts the
 * environment it prints into process.env, where testcontainers reads it. Returns that environment.
 */
export function ensureEngine(): Record<string, string> {
  const script = join(workspaceRoot(), 'tools', 'container-engine');
  let text: string;
  try {
    text = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  } catch (e) {
    const err = e as { stderr?: string; status?: number };
    throw new ContainerEngineError(
      `tools/container-engine failed (exit ${err.status}): ${(err.stderr ?? String(e)).trim()}`,
    );
  }
  const env = parseEngineEnv(text);
  if (!env.DOCKER_HOST)
    throw new ContainerEngineError(`tools/container-engine printed no DOCKER_HOST; it printed: ${text}`);
  Object.assign(process.env, env);
  return env;
}

import { describe, expect, it } from 'vitest';
import { parseEngineEnv } from './engine.js';

describe('parseEngineEnv', () => {
  it('reads the export lines tools/container-engine prints, bash-quoted paths included', () => {
    const text = [
      'export DOCKER_HOST=unix:///run/podman/podman.sock',
      'export TESTCONTAINERS_RYUK_DISABLED=true',
      'export CONTAINERS_CONF=/work/my\\ repo/node_modules/.cache/ftpfwd-engine/containers.conf',
      'not an export line',
      '',
    ].join('\n');
    expect(parseEngineEnv(text)).toEqual({
      DOCKER_HOST: 'unix:///run/podman/podman.sock',
      TESTCONTAINERS_RYUK_DISABLED: 'true',
      CONTAINERS_CONF: '/work/my repo/node_modules/.cache/ftpfwd-engine/containers.conf',
    });
  });
});

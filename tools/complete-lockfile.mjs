#!/usr/bin/env node
// Adds lockfile records for platform-specific optional packages (biome's and nx's native binaries
// for macOS, Windows, musl, …) that npm could not record here.
//
// Why: this workplace's npm registry serves only the binaries for its own platform, so `npm install`
// leaves those packages out of package-lock.json — and `npm ci` then refuses the lockfile ("Missing:
// @nx/nx-darwin-arm64@ from lock file"), on this machine and in CI alike. A record with the version and
// the platform it is for is all `npm ci` needs to skip it; on the platform itself npm fetches it and
// checks it then. Platform fields are read off the package names (<scope>/<tool>-<os>-<cpu>[-libc|abi]),
// the convention both projects follow.
//
//   node tools/complete-lockfile.mjs          add what is missing, print what was added
//   node tools/complete-lockfile.mjs --check  exit 1 if anything is missing (used by npm run lint)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const lockPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;
const OS = ['android', 'darwin', 'freebsd', 'linux', 'win32', 'openbsd', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64'];

/** `@nx/nx-linux-x64-musl` → { os: ['linux'], cpu: ['x64'], libc: ['musl'] }; undefined if not a platform package. */
export function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const osAt = parts.findIndex((p) => OS.includes(p));
  if (osAt < 0 || !CPU.includes(parts[osAt + 1])) return undefined;
  const record = { os: [parts[osAt]], cpu: [parts[osAt + 1]] };
  const rest = parts.slice(osAt + 2);
  if (parts[osAt] === 'linux') {
    if (rest.includes('musl')) record.libc = ['musl'];
    else if (rest.includes('gnu') || rest.includes('gnueabihf') || rest.length === 0) record.libc = ['glibc'];
  }
  return record;
}

const added = [];
for (const [key, entry] of Object.entries({ ...packages })) {
  for (const [dep, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${key ? `${key}/` : ''}node_modules/${dep}`;
    const top = `node_modules/${dep}`;
    if (packages[nested] || packages[top]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) {
      console.error(
        `complete-lockfile: ${dep}@${spec} (optional dependency of ${key || 'the root'}) is missing and is not a pinned platform package: run npm install on a machine whose registry has it`,
      );
      process.exitCode = 1;
      continue;
    }
    packages[top] = { version: spec, ...(entry.dev ? { dev: true } : {}), optional: true, ...platform };
    added.push(`${dep}@${spec}`);
  }
}

if (process.argv.includes('--check')) {
  if (added.length > 0) {
    console.error(
      `complete-lockfile: package-lock.json lacks ${added.length} platform packages (npm ci would refuse it): run node tools/complete-lockfile.mjs`,
    );
    process.exit(1);
  }
} else if (added.length > 0) {
  const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b, 'en')));
  lock.packages = sorted;
  writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`complete-lockfile: added ${added.join(', ')}`);
}

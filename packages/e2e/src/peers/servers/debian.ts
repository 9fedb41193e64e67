/**
 * FTP server binaries from Debian packages. vsftpd, proftpd-core, pure-ftpd and inetutils-ftpd all
 * conflict with each other (they provide ftp-server), so they cannot be installed side by side: a
 * package that is not installed is fetched with `apt-get download` and unpacked with `dpkg -x` into
 * node_modules/.cache/ftpfwd-peers/<package>_<version>/, once; later runs reuse it. An installed
 * package of the same name is used as it is.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE } from '../procs.js';

export interface DebianBinary {
  /** Absolute path of the program. */
  path: string;
  /** The package version it came from. */
  version: string;
  /** 'system' (installed package) or the cache directory it was unpacked into. */
  from: string;
}

function quiet(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function installedVersion(pkg: string): string | undefined {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Field} syntax
    const out = quiet('dpkg-query', ['-W', '-f=${Status}\t${Version}', pkg]);
    const [status, version] = out.split('\t');
    return status === 'install ok installed' ? version : undefined;
  } catch {
    return undefined;
  }
}

function candidateVersion(pkg: string): string {
  let out: string;
  try {
    out = quiet('apt-cache', ['policy', pkg]);
  } catch (e) {
    throw new Error(`apt-cache policy ${pkg} failed (${(e as Error).message.split('\n')[0]})`);
  }
  const m = /Candidate:\s*(\S+)/.exec(out);
  if (!m?.[1] || m[1] === '(none)')
    throw new Error(`Debian package ${pkg} is unknown to apt here; run apt-get update (tools/setup-machine)`);
  return m[1];
}

/** Shared libraries `path` needs that the dynamic loader cannot find. */
function missingLibraries(path: string): string[] {
  try {
    const out = quiet('ldd', [path]);
    return [...out.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1] as string);
  } catch {
    return []; // static, or not an ELF file (a script)
  }
}

/**
 * `/<rel>` from Debian package `pkg` (e.g. `usr/sbin/proftpd` from `proftpd-core`): the installed file
 * when the package is installed, else from the cache, downloading and unpacking it first when needed.
 */
export function debianBinary(pkg: string, rel: string): DebianBinary {
  const installed = installedVersion(pkg);
  if (installed !== undefined && existsSync(`/${rel}`))
    return check({ path: `/${rel}`, version: installed, from: 'system' });
  const version = candidateVersion(pkg);
  const dir = join(CACHE, `${pkg}_${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`);
  const path = join(dir, rel);
  if (existsSync(join(dir, '.complete')) && existsSync(path)) return check({ path, version, from: dir });
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'deb'), { recursive: true });
  try {
    // APT::Sandbox::User=root: as root, apt otherwise warns that _apt cannot write to this directory
    quiet(
      'apt-get',
      ['download', '-q', '-o', 'APT::Sandbox::User=root', `${pkg}=${version}`],
      join(tmp, 'deb'),
    );
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const err = (e as { stderr?: string }).stderr ?? (e as Error).message;
    throw new Error(`apt-get download ${pkg}=${version} failed: ${err.trim().split('\n').pop()}`);
  }
  const deb = readdirSync(join(tmp, 'deb')).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
  quiet('dpkg', ['-x', join(tmp, 'deb', deb), join(tmp, 'root')]);
  rmSync(join(tmp, 'deb'), { recursive: true, force: true });
  writeFileSync(join(tmp, 'root', '.complete'), `${pkg} ${version}\n`);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(join(tmp, 'root'), dir);
  } catch {
    // another run unpacked it meanwhile: use theirs
  }
  rmSync(tmp, { recursive: true, force: true });
  if (!existsSync(path)) throw new Error(`${pkg} ${version} has no /${rel}`);
  return check({ path, version, from: dir });
}

function check(b: DebianBinary): DebianBinary {
  const missing = missingLibraries(b.path);
  if (missing.length)
    throw new Error(`${b.path} needs ${missing.join(', ')}: run tools/setup-machine (it installs them)`);
  return b;
}

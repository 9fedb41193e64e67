import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, getContainerRuntimeClient, ImageName } from 'testcontainers';

/**
 * The image every e2e container runs, and the bind mounts that go with it.
 *
 * Default: a `FROM scratch` image holding only empty mount points and a minimal /etc/passwd; the
 * host's own node, sh, ip, iptables, curl, tcpdump come in through read-only bind mounts of /usr, /lib,
 * /lib64, /bin, /sbin and /etc/alternatives. It builds in well under a second, has nothing to pull,
 * and is cached by the hash of its content (a tag), so it is built once per machine.
 *
 * On a machine with Docker and a registry, set FTPFWD_E2E_IMAGE to an image that has node (same major
 * as the host, for ssh2's native binding), sh, iproute2, iptables, curl and tcpdump, e.g. one built
 * from tools/images/Dockerfile.debian; then no host system directory is mounted.
 */
export interface E2eImage {
  name: string;
  /** host path -> container path, read-only; the system directories for the scratch image. */
  systemMounts: { source: string; target: string }[];
}

const DIRS = [
  'tmp',
  'var/tmp',
  'root',
  'etc/alternatives',
  'usr',
  'lib',
  'lib64',
  'bin',
  'sbin',
  'proc',
  'sys',
  'dev',
  'run',
  'work',
  'srv',
  'out',
  'capture',
  'shared',
  'config',
];
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';
const DOCKERFILE =
  'FROM scratch\nCOPY rootfs/ /\nENV HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n';

const SYSTEM_DIRS = ['/usr', '/lib', '/lib64', '/bin', '/sbin', '/etc/alternatives', '/etc/ld.so.cache'];

let cached: Promise<E2eImage> | undefined;

/** Builds (once, cached by content hash) or names the image to use. Needs the engine env (ensureEngine). */
export function ensureImage(): Promise<E2eImage> {
  cached ??= build();
  return cached;
}

async function build(): Promise<E2eImage> {
  const custom = process.env.FTPFWD_E2E_IMAGE;
  if (custom) return { name: custom, systemMounts: [] };
  const systemMounts = SYSTEM_DIRS.filter((d) => existsSync(d)).map((d) => ({ source: d, target: d }));
  const hash = createHash('sha256')
    .update(JSON.stringify([DIRS, PASSWD, GROUP, DOCKERFILE]))
    .digest('hex')
    .slice(0, 12);
  const name = `localhost/ftpfwd-e2e-base:${hash}`;
  const client = await getContainerRuntimeClient();
  if (await client.image.exists(ImageName.fromString(name))) return { name, systemMounts };
  const ctx = mkdtempSync(join(tmpdir(), 'ftpfwd-e2e-image-'));
  try {
    for (const d of DIRS) mkdirSync(join(ctx, 'rootfs', d), { recursive: true, mode: 0o1777 });
    writeFileSync(join(ctx, 'rootfs', 'etc', 'passwd'), PASSWD);
    writeFileSync(join(ctx, 'rootfs', 'etc', 'group'), GROUP);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    await GenericContainer.fromDockerfile(ctx).build(name, { deleteOnExit: false });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return { name, systemMounts };
}

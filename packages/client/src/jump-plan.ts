import { FtpfwdError } from './errors.js';
import { emptySshOptions, type JumpHop, type ProxySetting, type SshOptions } from './options.js';
import { applySshConfig } from './ssh-config.js';

/**
 * ProxyJump hosts resolved as OpenSSH resolves them: `ssh -J a,b target` runs `ssh -J a -W target
 * b`, which runs `ssh -W b a`. So each hop takes its settings from its own `Host` block in
 * ssh_config (identity, known_hosts, keepalive, algorithms, User, Port, HostName), `user@` and
 * `:port` in the -J text win over them, and the first hop's own ProxyJump (or ProxyCommand) is
 * followed too, while later hops' are not (the chain before them is given). What the command line
 * (and --config) says about how this process connects is inherited: BatchMode, ConnectTimeout,
 * ConnectionAttempts, AddressFamily, ServerAlive*, and BindAddress for the first hop, which is the
 * connection that leaves this host. Everything else given with -o is the destination's, as in
 * OpenSSH.
 */

export interface HopPlan {
  /** As written in -J / ProxyJump (what ssh_config's Host lines match). */
  name: string;
  /** After HostName. */
  host: string;
  port: number;
  user: string;
  ssh: SshOptions;
  identitiesExplicit: boolean;
}

/** ProxyJump chains longer than this are taken for a loop in ssh_config. */
export const MAX_JUMP_DEPTH = 8;

const INHERITED = [
  'batchMode',
  'connectTimeout',
  'connectionAttempts',
  'addressFamily',
  'serverAliveInterval',
  'serverAliveCountMax',
] as const satisfies readonly (keyof SshOptions)[];

export interface JumpPlanContext {
  /** The destination's settings from the command line and --config (before ssh_config). */
  cli: SshOptions;
  /** The ssh_config file to read (undefined: none). */
  configFile: string | undefined;
  home: string;
  localUser: string;
  /** ssh_config keys the hops' blocks set that ftpfwd does not use (collected for the warning). */
  ignored: Set<string>;
}

/** The hops of a ProxyJump setting, first first; [] for none or a ProxyCommand. */
export function planJumps(proxy: ProxySetting | undefined, ctx: JumpPlanContext): HopPlan[] {
  if (proxy?.kind !== 'jump') return [];
  return resolve(proxy.hops, ctx, 0);
}

function resolve(hops: JumpHop[], ctx: JumpPlanContext, depth: number): HopPlan[] {
  if (depth >= MAX_JUMP_DEPTH)
    throw new FtpfwdError(
      'config',
      `ProxyJump: more than ${MAX_JUMP_DEPTH} levels of jump hosts (a loop in ssh_config?): ${hops.map((h) => h.host).join(',')}`,
    );
  const out: HopPlan[] = [];
  hops.forEach((h, i) => {
    const ssh = emptySshOptions();
    for (const k of INHERITED)
      if (ctx.cli[k] !== undefined) (ssh as unknown as Record<string, unknown>)[k] = ctx.cli[k];
    if (i === 0 && ctx.cli.bindAddress !== undefined) ssh.bindAddress = ctx.cli.bindAddress;
    if (h.user !== undefined) ssh.user = h.user;
    if (h.port !== undefined) ssh.port = h.port;
    // A later hop is reached through the ones before it: its own ProxyJump/ProxyCommand is not used.
    if (i > 0) ssh.proxy = { kind: 'none' };
    if (ctx.configFile !== undefined)
      for (const k of applySshConfig(ssh, ctx.configFile, h.host, ctx.home).ignored) ctx.ignored.add(k);
    const identitiesExplicit = ssh.identityFiles.length > 0;
    if (!identitiesExplicit)
      for (const n of ['id_rsa', 'id_ecdsa', 'id_ed25519']) ssh.identityFiles.push(`${ctx.home}/.ssh/${n}`);
    const own = ssh.proxy;
    if (own?.kind === 'jump') {
      // `Host * / ProxyJump bastion` also matches bastion itself: that one is not its own hop.
      const before = own.hops.filter((x) => x.host.toLowerCase() !== h.host.toLowerCase());
      out.push(...resolve(before, ctx, depth + 1));
      ssh.proxy = { kind: 'none' };
    }
    out.push({
      name: h.host,
      host: (ssh.hostName ?? h.host).replace(/%h/g, h.host),
      port: ssh.port ?? 22,
      user: ssh.user ?? ctx.localUser,
      ssh,
      identitiesExplicit,
    });
  });
  return out;
}

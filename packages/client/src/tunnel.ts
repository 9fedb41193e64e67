import { EventEmitter } from 'node:events';
import { homedir } from 'node:os';
import { createPrompter, type Prompter } from '@ftpfwd/ftp-proxy/cli';
import {
  AlgorithmListError,
  type AlgorithmSpecs,
  type RekeyLimit,
  resolveAlgorithms,
} from '@ftpfwd/ftp-proxy/transport';
import type { ForwardContext, FtpDataOptions } from './context.js';
import { FtpfwdError, oneLine } from './errors.js';
import { type ForwardDirection, type ForwardSpec, parseForwardSpec } from './forward-spec.js';
import { LocalFtpForward, RemoteFtpForward } from './ftp-forward.js';
import type { HostKeyPolicy } from './host-key-check.js';
import { type LinkOptions, SshLink } from './link.js';
import { type Logger, silentLogger } from './logger.js';
import { Metrics } from './metrics.js';
import type { AddressFamily, StrictHostKeyChecking } from './options.js';
import { LocalSftpForward, type SftpForwardOptions } from './sftp-forward.js';
import { type ActiveForward, LocalTcpForward, RemoteTcpForward } from './tcp-forward.js';

export interface TunnelOptions {
  host: string;
  port?: number;
  username: string;
  /** Private key files, tried in order after the agent. */
  identityFiles?: string[];
  /** ssh-agent socket; default $SSH_AUTH_SOCK; `false` for none. */
  agent?: string | false;
  /** Answers password / keyboard-interactive prompts (library use); otherwise TTY / SSH_ASKPASS. */
  password?: string;
  /** Custom prompter (passphrases, passwords, host-key confirmation). */
  prompter?: Prompter;
  knownHostsFiles?: string[];
  globalKnownHostsFiles?: string[];
  strictHostKeyChecking?: StrictHostKeyChecking;
  batchMode?: boolean;
  connectTimeoutMs?: number;
  serverAliveIntervalMs?: number;
  serverAliveCountMax?: number;
  /** New keys after this much data or time (OpenSSH's RekeyLimit); default: the cipher's bound only. */
  rekeyLimit?: RekeyLimit;
  /** Reconnect when the link drops (default true). */
  reconnect?: boolean;
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** New connections wait this long for a dropped link before they are refused (default 10 s). */
  linkWaitMs?: number;
  gatewayPorts?: boolean;
  passwordAuthentication?: boolean;
  kbdInteractiveAuthentication?: boolean;
  pubkeyAuthentication?: boolean;
  numberOfPasswordPrompts?: number;
  identitiesExplicit?: boolean;
  ftp?: Partial<FtpDataOptions>;
  /** How `sftp/` forwardings check FTP logins and whether they jail paths (default: tunnel, no jail). */
  sftp?: SftpForwardOptions;
  /** IdentitiesOnly: of the agent's keys only those of `identityFiles` (OpenSSH's meaning). */
  identitiesOnly?: boolean;
  /** ProxyCommand (`%h %p %r %n %%`): the connection is this program's stdin and stdout. */
  proxyCommand?: string;
  /** %n of the ProxyCommand: the host as the user wrote it (default `host`). */
  originalHost?: string;
  /** BindAddress: where the TCP connection comes from. */
  bindAddress?: string;
  /** AddressFamily: `inet` (IPv4 only), `inet6` (IPv6 only) or `any` (default). */
  addressFamily?: AddressFamily;
  /** ConnectionAttempts: TCP connects tried, a second apart (default 1). */
  connectionAttempts?: number;
  /** Ciphers, KexAlgorithms, MACs, HostKeyAlgorithms, PubkeyAcceptedAlgorithms (OpenSSH lists). */
  algorithms?: AlgorithmSpecs;
  /**
   * ProxyJump: the jump hosts, first first, each with its own settings (host, port, username,
   * known_hosts, identities, keepalive, algorithms; the first one's ProxyCommand/BindAddress too).
   * Their own `jumps`, forwarding and reconnect settings are not used.
   */
  jumps?: TunnelOptions[];
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * An SSH connection with forwardings: `const t = await connect({...}); await t.forward('-L',
 * 'ftp/2121:ftp:21'); … await t.close()`.
 *
 * Events: 'down' (Error) when the link drops, 'up' after a reconnect, 'fatal' (Error) when it gave up.
 */
export class Tunnel extends EventEmitter {
  readonly forwards: ActiveForward[] = [];
  /** Forwardings a reload removed: not listening, their sessions finishing; closed with the tunnel. */
  private readonly retired = new Set<ActiveForward>();
  readonly metrics: Metrics;
  private readonly ctx: ForwardContext;
  private closed = false;

  constructor(
    readonly link: SshLink,
    ctx: ForwardContext,
    /** Defaults of `sftp/` forwardings (each forward() call may override them). */
    private readonly sftp: SftpForwardOptions = {},
  ) {
    super();
    this.ctx = ctx;
    this.metrics = ctx.metrics;
    link.on('down', (err: Error) => {
      ctx.metrics.linkUp.set(0);
      ctx.logger.warn(oneLine(err));
      this.emit('down', err);
    });
    link.on('up', () => {
      ctx.metrics.linkUp.set(1);
      if (link.reconnects > 0) {
        ctx.metrics.reconnects.inc();
        ctx.logger.info(`reconnected to ${link.label}`);
      }
      this.emit('up');
    });
    link.on('reconnecting', (attempt: number, delay: number) =>
      ctx.logger.info({ attempt, delay_ms: delay }, `reconnecting to ${link.label}`),
    );
    link.on('fatal', (err: Error) => this.emit('fatal', err));
    link.on('rekeyed', () => ctx.metrics.rekeys.inc());
  }

  /** `via host:port`, for startup lines. */
  get label(): string {
    return this.link.label;
  }

  /**
   * Starts one forwarding. `direction` is 'L'/'R' (or '-L'/'-R'); `spec` is the CLI form
   * (`[ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT`, `sftp/[BIND:]PORT[:REMOTE_DIR]`) or a parsed spec.
   */
  async forward(
    direction: ForwardDirection | '-L' | '-R',
    spec: string | ForwardSpec,
    options: { ftp?: Partial<FtpDataOptions>; sftp?: SftpForwardOptions } = {},
  ): Promise<ActiveForward> {
    if (this.closed) throw new FtpfwdError('closed', 'the tunnel is closed');
    const dir = direction.replace('-', '') as ForwardDirection;
    const parsed = typeof spec === 'string' ? parseForwardSpec(dir, spec) : spec;
    // Per-forwarding FTP options (gateway config) on top of the tunnel's; same link, same metrics.
    const ctx: ForwardContext = options.ftp
      ? { ...this.ctx, ftp: { ...this.ctx.ftp, ...options.ftp } }
      : this.ctx;
    const f =
      parsed.protocol === 'sftp'
        ? new LocalSftpForward(parsed, ctx, { ...this.sftp, ...options.sftp })
        : parsed.direction === 'L'
          ? parsed.protocol === 'ftp'
            ? new LocalFtpForward(parsed, ctx)
            : new LocalTcpForward(parsed, ctx)
          : parsed.protocol === 'ftp'
            ? new RemoteFtpForward(parsed, ctx)
            : new RemoteTcpForward(parsed, ctx);
    try {
      await f.start();
    } catch (err) {
      this.ctx.metrics.forwardFailures.inc({ kind: 'listen' });
      await f.close().catch(() => {});
      throw err;
    }
    this.forwards.push(f);
    return f;
  }

  /**
   * Removes a forwarding without dropping its sessions: it stops listening at once, and what it
   * carries runs on over this connection until it ends (or until the tunnel closes).
   */
  async retire(f: ActiveForward): Promise<void> {
    // Earlier retirees whose last session ended are done: keep the set from growing reload by reload.
    for (const r of this.retired)
      if (r.openConnections() === 0) {
        this.retired.delete(r);
        void r.close();
      }
    const i = this.forwards.indexOf(f);
    if (i < 0) return;
    this.forwards.splice(i, 1);
    this.retired.add(f);
    await f.stopListening();
  }

  /** Stops every forwarding (FTP clients get 421) and ends the SSH connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.forwards, ...this.retired].map((f) => f.close()));
    this.link.close();
    this.ctx.metrics.linkUp.set(0);
  }
}

function defaultKnownHosts(home: string): string[] {
  return [`${home}/.ssh/known_hosts`, `${home}/.ssh/known_hosts2`];
}

/** One SSH connection's settings (the server's, or a jump host's) as the link takes them. */
function linkOptionsOf(opts: TunnelOptions, logger: Logger): LinkOptions {
  const home = homedir();
  const batchMode = opts.batchMode ?? false;
  const basePrompter = opts.prompter ?? createPrompter({ batchMode });
  const prompter: Prompter =
    opts.password === undefined
      ? basePrompter
      : {
          available: true,
          ask: async (prompt, echo) =>
            /password/i.test(prompt) && !echo ? opts.password : basePrompter.ask(prompt, echo),
        };
  const port = opts.port ?? 22;
  const hostKey: HostKeyPolicy = {
    host: opts.host,
    port,
    userKnownHostsFiles: opts.knownHostsFiles ?? defaultKnownHosts(home),
    globalKnownHostsFiles: opts.globalKnownHostsFiles ?? [
      '/etc/ssh/ssh_known_hosts',
      '/etc/ssh/ssh_known_hosts2',
    ],
    strict: opts.strictHostKeyChecking ?? 'ask',
    batchMode,
    prompter,
    onAdded: (m) => logger.warn(m),
  };
  const agent = opts.agent === false ? undefined : (opts.agent ?? process.env.SSH_AUTH_SOCK ?? undefined);
  let algorithms: LinkOptions['algorithms'];
  try {
    algorithms = resolveAlgorithms(opts.algorithms ?? {});
  } catch (err) {
    if (err instanceof AlgorithmListError) throw new FtpfwdError('config', err.message);
    throw err;
  }
  for (const skipped of algorithms.skipped) logger.warn(`${skipped}: left out`);
  const family = opts.addressFamily === 'inet' ? 4 : opts.addressFamily === 'inet6' ? 6 : 0;
  return {
    host: opts.host,
    port,
    username: opts.username,
    hostKey,
    auth: {
      agent: agent || undefined,
      identityFiles: opts.identityFiles ?? [],
      identitiesExplicit: opts.identitiesExplicit ?? true,
      identitiesOnly: opts.identitiesOnly ?? false,
      pubkey: opts.pubkeyAuthentication ?? true,
      password: opts.passwordAuthentication ?? true,
      keyboardInteractive: opts.kbdInteractiveAuthentication ?? true,
      passwordPrompts: opts.numberOfPasswordPrompts ?? 3,
      prompter,
      warn: (m) => logger.warn(m),
    },
    connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
    keepaliveIntervalMs: opts.serverAliveIntervalMs ?? 0,
    keepaliveCountMax: opts.serverAliveCountMax ?? 3,
    rekeyLimit: opts.rekeyLimit ?? {},
    reconnect: false,
    route: {
      ...(opts.proxyCommand !== undefined ? { proxyCommand: opts.proxyCommand } : {}),
      originalHost: opts.originalHost ?? opts.host,
      ...(opts.bindAddress !== undefined ? { bindAddress: opts.bindAddress } : {}),
      family,
      connectionAttempts: opts.connectionAttempts ?? 1,
    },
    algorithms,
    logger,
  };
}

/** Connects and authenticates; rejects with an FtpfwdError (host key, auth, connect). */
export async function connect(opts: TunnelOptions): Promise<Tunnel> {
  const logger = opts.logger ?? silentLogger();
  const metrics = opts.metrics ?? new Metrics();
  const base = linkOptionsOf(opts, logger);
  const link = new SshLink({
    ...base,
    jumps: (opts.jumps ?? []).map((j) => linkOptionsOf(j, logger)),
    reconnect: opts.reconnect ?? true,
    reconnectInitialDelayMs: opts.reconnectInitialDelayMs,
    reconnectMaxDelayMs: opts.reconnectMaxDelayMs,
  });
  let seq = 0;
  const ctx: ForwardContext = {
    link,
    logger,
    metrics,
    gatewayPorts: opts.gatewayPorts ?? false,
    linkWaitMs: opts.linkWaitMs ?? 10_000,
    ftp: { pasvTarget: 'control', ...opts.ftp },
    nextSessionId: () => `s${++seq}`,
  };
  const tunnel = new Tunnel(link, ctx, opts.sftp);
  await link.start();
  metrics.linkUp.set(1);
  return tunnel;
}

import { createPrompter } from '@ftpfwd/ftp-proxy/cli';
import type { Registry } from 'prom-client';
import { oneLine } from './errors.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import type { SshOptions } from './options.js';
import type { CliPlan, GatewayPlan, PlannedForward } from './plan.js';
import type { ActiveForward } from './tcp-forward.js';
import { connect, type Tunnel, type TunnelOptions } from './tunnel.js';

/**
 * Runs a GatewayPlan: one Tunnel per destination, each with its forwardings, and applies a new plan
 * (SIGHUP) by difference, so what stays configured is not touched:
 *
 * - a forwarding is identified by its destination, spec, effective FTP options and -g; one that
 *   disappeared stops listening, and its open FTP/TCP sessions finish on the same SSH connection
 *   (a reload is for the gateway's operator, not a reason to cut users' transfers);
 * - a destination whose connection settings changed is closed (its sessions get 421) and connected
 *   again with its forwardings; a destination that disappeared is closed;
 * - new forwardings and destinations are opened after everything removed has stopped listening, so a
 *   port can move from one forwarding to another in one reload.
 */
interface Running {
  plan: CliPlan;
  tunnel: Tunnel;
  forwards: Map<string, ActiveForward>;
}

export interface GatewayOptions {
  logger: Logger;
  /** Gateway form: each destination's metrics carry destination="name". */
  labelled: boolean;
  /** A destination gave up for good (host key changed, …) and was removed. */
  onFatal: (name: string, err: Error) => void;
}

/** Settings that need a new SSH connection when they change. */
export function connectionKey(p: CliPlan): string {
  const { localForwards: _l, remoteForwards: _r, gatewayPorts: _g, exitOnForwardFailure: _e, ...ssh } = p.ssh;
  return JSON.stringify([p.host, p.port, p.user, p.identitiesExplicit, p.askpass ?? null, ssh, p.jumps]);
}

/** What makes a forwarding "the same" across a reload (its destination is the map it lives in). */
export function forwardKey(f: PlannedForward, p: CliPlan): string {
  return JSON.stringify([f.spec, f.ftp, f.sftp ?? null, p.ssh.gatewayPorts ?? false]);
}

/** The SSH settings of one connection (the destination's, or a jump host's) as TunnelOptions. */
function connectionOptionsOf(
  t: { host: string; port: number; user: string; ssh: SshOptions; identitiesExplicit: boolean },
  originalHost: string,
): TunnelOptions {
  const s = t.ssh;
  return {
    host: t.host,
    port: t.port,
    username: t.user,
    identityFiles: s.identityFiles,
    identitiesExplicit: t.identitiesExplicit,
    // IdentitiesOnly keeps the agent, for the keys of the identity files (OpenSSH's meaning).
    identitiesOnly: s.identitiesOnly ?? false,
    agent:
      s.identityAgent === 'none'
        ? false
        : s.identityAgent && s.identityAgent !== 'SSH_AUTH_SOCK'
          ? s.identityAgent
          : undefined,
    knownHostsFiles: s.userKnownHostsFiles,
    globalKnownHostsFiles: s.globalKnownHostsFiles,
    strictHostKeyChecking: s.strictHostKeyChecking ?? 'ask',
    batchMode: s.batchMode ?? false,
    connectTimeoutMs: s.connectTimeout !== undefined ? s.connectTimeout * 1000 : 30_000,
    serverAliveIntervalMs: (s.serverAliveInterval ?? 0) * 1000,
    serverAliveCountMax: s.serverAliveCountMax ?? 3,
    rekeyLimit: s.rekeyLimit ?? {},
    passwordAuthentication: s.passwordAuthentication ?? true,
    kbdInteractiveAuthentication: s.kbdInteractiveAuthentication ?? true,
    pubkeyAuthentication: s.pubkeyAuthentication ?? true,
    numberOfPasswordPrompts: s.numberOfPasswordPrompts ?? 3,
    ...(s.proxy?.kind === 'command' ? { proxyCommand: s.proxy.command } : {}),
    originalHost,
    ...(s.bindAddress !== undefined ? { bindAddress: s.bindAddress } : {}),
    ...(s.addressFamily !== undefined ? { addressFamily: s.addressFamily } : {}),
    ...(s.connectionAttempts !== undefined ? { connectionAttempts: s.connectionAttempts } : {}),
    algorithms: s.algorithms,
  };
}

export function tunnelOptionsOf(plan: CliPlan, logger: Logger, metrics: Metrics): TunnelOptions {
  const s = plan.ssh;
  const opts: TunnelOptions = {
    ...connectionOptionsOf(plan, plan.originalHost),
    gatewayPorts: s.gatewayPorts ?? false,
    jumps: plan.jumps.map((h) => connectionOptionsOf(h, h.name)),
    ftp: {
      pasvTarget: plan.pasvTarget,
      ...(plan.advertise ? { advertise: plan.advertise } : {}),
      ...(plan.dataPorts ? { dataPorts: plan.dataPorts } : {}),
      ...(plan.remoteDataBind ? { remoteDataBind: plan.remoteDataBind } : {}),
      ...(plan.remoteDataAdvertise ? { remoteDataAdvertise: plan.remoteDataAdvertise } : {}),
    },
    logger,
    metrics,
  };
  // A gateway entry's own askpass program: as SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force, for
  // this destination only (another destination may use a different secret).
  if (plan.askpass) {
    opts.prompter = createPrompter({
      batchMode: s.batchMode ?? false,
      env: { ...process.env, SSH_ASKPASS: plan.askpass, SSH_ASKPASS_REQUIRE: 'force' },
    });
    for (const j of opts.jumps ?? []) j.prompter = opts.prompter;
  }
  return opts;
}

export class Gateway {
  private readonly running = new Map<string, Running>();
  /** Kept across a reconnect so counters continue; dropped with the destination. */
  private readonly metrics = new Map<string, Metrics>();
  private closed = false;

  constructor(private readonly opts: GatewayOptions) {}

  get size(): number {
    return this.running.size;
  }

  /** The registries the metrics endpoint serves now. */
  registries(): Registry[] {
    return [...this.metrics.values()].map((m) => m.registry);
  }

  /** Every destination, in order; the first failure rejects (ftpfwd then exits 255, as ssh does). */
  async start(plan: GatewayPlan): Promise<void> {
    for (const d of plan.destinations) await this.startDestination(d, true);
  }

  /** Applies a new plan by difference; per-destination failures are logged, never thrown. */
  async reload(next: GatewayPlan): Promise<string> {
    const { logger } = this.opts;
    const wanted = new Map(next.destinations.map((d) => [d.name, d]));
    const counts = { opened: 0, closed: 0, kept: 0 };
    const reconnect: CliPlan[] = [];
    for (const name of [...this.running.keys()])
      if (!wanted.has(name)) {
        counts.closed += this.running.get(name)?.forwards.size ?? 0;
        await this.stopDestination(name, true);
        logger.info(`destination ${name} removed`);
      }
    const additions: [Running, PlannedForward][] = [];
    for (const d of next.destinations) {
      const r = this.running.get(d.name);
      if (!r) {
        reconnect.push(d);
        continue;
      }
      if (connectionKey(r.plan) !== connectionKey(d)) {
        counts.closed += r.forwards.size;
        await this.stopDestination(d.name, false);
        logger.info(`destination ${d.name}: connection settings changed, reconnecting`);
        reconnect.push(d);
        continue;
      }
      const keys = new Map(d.forwardings.map((f) => [forwardKey(f, d), f]));
      for (const [k, f] of [...r.forwards]) {
        if (keys.has(k)) continue;
        r.forwards.delete(k);
        await r.tunnel.retire(f);
        counts.closed++;
        logger.info(`closed ${f.describe()} via ${r.tunnel.label} (open sessions finish)`);
      }
      for (const [k, f] of keys) {
        if (r.forwards.has(k)) counts.kept++;
        else additions.push([r, f]);
      }
      r.plan = d;
    }
    // Only now: every removed listener has stopped, so a port may have moved.
    for (const [r, f] of additions) {
      try {
        await this.openForward(r, f);
        counts.opened++;
      } catch (err) {
        logger.warn(`forwarding failed: ${oneLine(err)}`);
      }
    }
    for (const d of reconnect) {
      try {
        counts.opened += await this.startDestination(d, false);
      } catch (err) {
        logger.error(`destination ${d.name} not started: ${oneLine(err)}`);
      }
    }
    return `${counts.opened} forwarding(s) opened, ${counts.closed} closed, ${counts.kept} unchanged`;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running.keys()].map((n) => this.stopDestination(n, false)));
  }

  private metricsFor(name: string): Metrics {
    let m = this.metrics.get(name);
    if (!m) {
      m = new Metrics();
      if (this.opts.labelled) m.registry.setDefaultLabels({ destination: name });
      this.metrics.set(name, m);
    }
    return m;
  }

  private loggerFor(name: string): Logger {
    return this.opts.labelled ? this.opts.logger.child({ destination: name }) : this.opts.logger;
  }

  /** Connects and opens its forwardings; resolves how many listen. */
  private async startDestination(plan: CliPlan, atStart: boolean): Promise<number> {
    const logger = this.loggerFor(plan.name);
    const tunnel = await connect(tunnelOptionsOf(plan, logger, this.metricsFor(plan.name)));
    if (this.closed) {
      await tunnel.close();
      return 0;
    }
    const r: Running = { plan, tunnel, forwards: new Map() };
    this.running.set(plan.name, r);
    tunnel.on('fatal', (err: Error) => {
      if (this.running.get(plan.name) !== r) return;
      void this.stopDestination(plan.name, true);
      this.opts.onFatal(plan.name, err);
    });
    let opened = 0;
    for (const f of plan.forwardings) {
      try {
        await this.openForward(r, f);
        opened++;
      } catch (err) {
        // ExitOnForwardFailure ends ftpfwd at start; a reload keeps running and says why.
        if (atStart && plan.ssh.exitOnForwardFailure) throw err;
        logger.warn(`forwarding failed: ${oneLine(err)}`);
      }
    }
    return opened;
  }

  private async openForward(r: Running, f: PlannedForward): Promise<void> {
    const af = await r.tunnel.forward(f.spec.direction, f.spec, {
      ftp: f.ftp,
      ...(f.sftp ? { sftp: f.sftp } : {}),
    });
    r.forwards.set(forwardKey(f, r.plan), af);
    this.loggerFor(r.plan.name).info(`${af.describe()} via ${r.tunnel.label}`);
  }

  private async stopDestination(name: string, dropMetrics: boolean): Promise<void> {
    const r = this.running.get(name);
    this.running.delete(name);
    if (dropMetrics) this.metrics.delete(name);
    await r?.tunnel.close();
  }
}

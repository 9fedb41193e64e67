import {
  applyGcPacingEnv,
  applyPacketPoolEnv,
  QUERY_NAMES,
  queryAlgorithms,
} from '@ftpfwd/ftp-proxy/transport';
import { CommanderError } from 'commander';
import { FtpfwdError, oneLine } from './errors.js';
import { Gateway } from './gateway.js';
import { createLogger, type Logger } from './logger.js';
import { serveRegistries } from './metrics.js';
import { CONNECTION_KEYS, type GatewayPlan, gatewayPlanFromArgs, queryOf } from './plan.js';

// The planning API moved to plan.ts; tools import it from here.
export {
  type CliPlan,
  type GatewayPlan,
  gatewayPlanFromArgs,
  type PlannedForward,
  planFromArgs,
} from './plan.js';

export interface RunHooks {
  /** Called once every forwarding listens (tests, embedding). */
  onReady?: (gateway: Gateway) => void;
  logger?: Logger;
  /** Where the one-line failure goes; default stderr. */
  errorOut?: (line: string) => void;
  /** Where -Q's list goes; default stdout. */
  out?: (text: string) => void;
  installSignalHandlers?: boolean;
}

/** Runs ftpfwd; resolves the exit code (0 after SIGINT/SIGTERM, 255 on failure like ssh). */
export async function main(argv: string[], hooks: RunHooks = {}): Promise<number> {
  const errorOut = hooks.errorOut ?? ((l: string) => process.stderr.write(`${l}\n`));
  let plan: GatewayPlan;
  try {
    // -Q: what ssh2 supports, one name a line, as `ssh -Q` prints it; nothing connects.
    const query = queryOf(argv);
    if (query !== undefined) {
      const names = queryAlgorithms(query);
      if (!names) {
        errorOut(`ftpfwd: -Q ${query}: unknown query; expected ${QUERY_NAMES}`);
        return 255;
      }
      (hooks.out ?? ((l: string) => process.stdout.write(`${l}\n`)))(names.join('\n'));
      return 0;
    }
    plan = gatewayPlanFromArgs(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return 0;
      errorOut(`ftpfwd: ${err.message.replace(/^error: /, '')} (see ftpfwd --help)`);
      return 255;
    }
    errorOut(`ftpfwd: ${oneLine(err)}`);
    return 255;
  }
  // Without it a bulk transfer spends about a quarter of ftpfwd's CPU in full GCs (gc-pacing.ts).
  const pacing = applyGcPacingEnv(process.env.FTPFWD_GC_PACING);
  if (typeof pacing === 'object') {
    errorOut(`ftpfwd: ${pacing.error}`);
    return 255;
  }
  // Outgoing SSH packets from a slab instead of one Buffer each (ssh-packet-pool.ts).
  const pool = applyPacketPoolEnv(process.env.FTPFWD_PACKET_POOL);
  if (typeof pool === 'object') {
    errorOut(`ftpfwd: ${pool.error}`);
    return 255;
  }
  const logger = hooks.logger ?? createLogger(plan.verbose, plan.logFormat);
  if (pacing === 'unavailable')
    logger.debug('GC pacing unavailable in this runtime: bulk transfers will cost more CPU');
  for (const d of plan.destinations) {
    // Keys that change where or how we connect deserve a warning: silently connecting directly
    // when the config says ProxyJump would be surprising. The rest (ForwardAgent, …) only at -v.
    const serious = d.ignoredConfigKeys.flatMap((k) => CONNECTION_KEYS.get(k) ?? []);
    if (serious.length)
      logger.warn(`ssh_config options not supported by ftpfwd, ignored: ${serious.join(', ')}`);
    if (d.ignoredConfigKeys.length)
      logger.debug({ keys: d.ignoredConfigKeys.join(',') }, 'ssh_config options not used by ftpfwd');
  }
  let exitCode = 0;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => {
    finish = r;
  });
  let stopping = false;
  let metricsServer: import('node:http').Server | undefined;
  const gateway = new Gateway({
    logger,
    labelled: plan.form === 'gateway',
    onFatal: (name, err) => {
      if (gateway.size === 0) {
        errorOut(`ftpfwd: ${oneLine(err)}`);
        void shutdown(255);
      } else {
        logger.error(`destination ${name} stopped: ${oneLine(err)}`);
      }
    },
  });
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    await gateway.close();
    metricsServer?.close();
    finish(exitCode);
  };
  const onSignal = () => void shutdown(0);
  // SIGHUP reloads --config. Reloads run one after the other; a signal during one queues another.
  const configPath = configArg(argv);
  // Reloads wait for start-up: the handler is installed before start (a `systemctl reload` right
  // after `start` must not end ftpfwd by SIGHUP's default action), and a reload compares against
  // what actually started.
  let startupSettled: () => void = () => {};
  let reloads = new Promise<void>((resolve) => {
    startupSettled = resolve;
  });
  let running = false;
  const onHup = () => {
    reloads = reloads.then(() => reload());
  };
  const reload = async () => {
    if (stopping || !running) return;
    let next: GatewayPlan;
    try {
      next = gatewayPlanFromArgs(argv);
      if (next.form !== plan.form)
        throw new FtpfwdError(
          'config',
          `--config ${configPath}: switching between the single-destination form and destinations: needs a restart`,
        );
    } catch (err) {
      logger.error(`reload failed, still running the previous configuration: ${oneLine(err)}`);
      return;
    }
    const fixed = (['metrics', 'verbose', 'logFormat'] as const).filter(
      (k) => JSON.stringify(next[k]) !== JSON.stringify(plan[k]),
    );
    if (fixed.length) logger.warn(`reload: ${fixed.join(', ')} changed; these take effect at the next start`);
    const summary = await gateway.reload(next);
    logger.info(`reloaded ${configPath}: ${summary}`);
  };
  // Installed before anything starts: a SIGTERM right after the startup lines (or during the
  // connection) must end ftpfwd cleanly with 0, never by the default signal action.
  const signals = hooks.installSignalHandlers !== false;
  if (signals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // Without --config there is nothing to re-read: SIGHUP keeps its default (end), as with ssh.
    if (configPath !== undefined) process.on('SIGHUP', onHup);
  }
  const removeSignals = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onHup);
  };
  try {
    if (plan.metrics) {
      const { host, port } = plan.metrics;
      const m = await serveRegistries(host, port, () => gateway.registries()).catch((err: Error) => {
        throw new FtpfwdError('usage', `--metrics ${host}:${port}: ${oneLine(err)}`);
      });
      metricsServer = m.server;
      logger.info(`metrics on http://${host}:${m.port}/metrics`);
    }
    // A signal while connecting ends ftpfwd at once, as ssh does; late connections are closed.
    const started = gateway.start(plan).then(() => true);
    started.then(
      () => {
        running = true;
        startupSettled();
      },
      () => startupSettled(),
    );
    const first = await Promise.race([started, finished.then(() => false)]);
    if (!first) {
      started.catch(() => {});
      return exitCode;
    }
    if (stopping) return await finished;
    if (signals) {
      // Last line of defence for a gateway serving many users: a bug hit by one session's input
      // is logged (with its stack, for a report) instead of ending every other session.
      process.on('uncaughtException', (err) => {
        logger.error({ stack: err.stack }, `internal error, session state may be lost: ${oneLine(err)}`);
      });
      process.on('unhandledRejection', (err) => {
        logger.error(
          { stack: (err as Error)?.stack },
          `internal error (unhandled rejection): ${oneLine(err)}`,
        );
      });
    }
    hooks.onReady?.(gateway);
  } catch (err) {
    removeSignals();
    if (stopping) return await finished;
    errorOut(`ftpfwd: ${oneLine(err)}`);
    await gateway.close();
    metricsServer?.close();
    return 255;
  }
  const code = await finished;
  removeSignals();
  return code;
}

/** The --config argument as given (for log lines), undefined without one. */
function configArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config') return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return undefined;
}

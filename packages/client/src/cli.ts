import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { type ConfigFile, readConfigFile } from './config-file.js';
import { parseDestination } from './destination.js';
import { FtpfwdError, oneLine } from './errors.js';
import { type ForwardSpec, parseForwardSpec } from './forward-spec.js';
import { parsePortRange } from './listen.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { applyOption, emptySshOptions, expandPath, parseDashO, type SshOptions } from './options.js';
import { applySshConfig } from './ssh-config.js';
import { connect, type Tunnel } from './tunnel.js';

/** Everything the command line (plus --config, -o and ssh_config) resolves to. */
export interface CliPlan {
  host: string;
  port: number;
  user: string;
  ssh: SshOptions;
  forwards: ForwardSpec[];
  identitiesExplicit: boolean;
  pasvTarget: 'control' | 'reply';
  advertise?: string;
  dataPorts?: { lo: number; hi: number };
  remoteDataBind?: string;
  remoteDataAdvertise?: string;
  metrics?: { host: string; port: number };
  verbose: number;
  logFormat: 'text' | 'json';
  ignoredConfigKeys: string[];
}

interface RawOpts {
  p?: string;
  l?: string;
  i: string[];
  F?: string;
  o: string[];
  v: number;
  L: string[];
  R: string[];
  g?: boolean;
  pasvTarget?: string;
  advertise?: string;
  dataPorts?: string;
  remoteDataBind?: string;
  remoteDataAdvertise?: string;
  metrics?: string;
  config?: string;
  logFormat?: string;
}

// No default array: commander would print "(default: [])" in --help.
const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** ssh_config keys that would change the connection if they were honoured (lower-case → name). */
const CONNECTION_KEYS = new Map(
  [
    'ProxyJump',
    'ProxyCommand',
    'HostKeyAlias',
    'CertificateFile',
    'BindAddress',
    'AddressFamily',
    'DynamicForward',
    'RemoteCommand',
    'LocalCommand',
  ].map((k) => [k.toLowerCase(), k]),
);

function buildCommand(): Command {
  const cmd = new Command('ftpfwd')
    .description(
      'SSH client that forwards FTP with its data channels (passive and active, both directions) and plain TCP',
    )
    .usage('[options] [user@]host | ssh://[user@]host[:port]')
    .argument('[destination]', '[user@]host or ssh://[user@]host[:port]')
    .option('-p <port>', 'SSH server port')
    .option('-l <user>', 'login name')
    .option('-i <identity>', 'private key file (repeatable)', collect)
    .option('-F <ssh_config>', 'OpenSSH client config file ("none" for none; default ~/.ssh/config)')
    .option('-o <Key=Value>', 'OpenSSH option (repeatable)', collect)
    .option('-v', 'more logging (repeat for more)', (_v: string, prev: number) => prev + 1, 0)
    .option('-L <spec>', 'local forward [ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT (repeatable)', collect)
    .option('-R <spec>', 'remote forward [ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT (repeatable)', collect)
    .option('-g', 'local listeners on all interfaces (gateway)')
    .option('-N', 'no remote command (always implied)')
    .option('-T', 'no pseudo-terminal (always implied)')
    .addOption(
      new Option(
        '--pasv-target <mode>',
        'where passive data channels go: control (server host) or reply (227 address)',
      ).choices(['control', 'reply']),
    )
    .option('--advertise <addr>', 'address written into rewritten 227 replies')
    .option('--data-ports <lo-hi>', 'port range for local data listeners')
    .option('--remote-data-bind <addr>', 'bind address of remote data listeners (default 127.0.0.1)')
    .option('--remote-data-advertise <addr>', 'address written into PORT/EPRT sent to the FTP server')
    .option('--metrics <addr:port>', 'serve Prometheus metrics on addr:port')
    .option('--config <file>', 'YAML file with the same settings')
    .addOption(new Option('--log-format <fmt>', 'log format').choices(['text', 'json']))
    .helpOption('-h, --help', 'show this help')
    .version('0.1.0', '-V, --version');
  return cmd;
}

function parseMetricsAddr(text: string): { host: string; port: number } {
  const m =
    /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text) ?? /^()(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port > 65535)
    throw new FtpfwdError('usage', `--metrics "${text}": expected ADDR:PORT (e.g. 127.0.0.1:9464)`);
  return { host: m[1] || '127.0.0.1', port };
}

/** Resolves the command line into a plan (no I/O besides reading config files). */
export function planFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliPlan {
  const cmd = buildCommand();
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => {}, writeOut: (s) => process.stdout.write(s) });
  cmd.parse(argv, { from: 'user' });
  const parsed = cmd.opts<Partial<RawOpts>>();
  const o: RawOpts = {
    ...parsed,
    i: parsed.i ?? [],
    o: parsed.o ?? [],
    L: parsed.L ?? [],
    R: parsed.R ?? [],
    v: parsed.v ?? 0,
  };
  const destArg = cmd.args[0];
  const file: ConfigFile = o.config ? readConfigFile(o.config) : {};
  const home = env.HOME ?? homedir();

  const destText = destArg ?? file.destination ?? file.host;
  if (!destText)
    throw new FtpfwdError('usage', 'no destination: expected [user@]host or ssh://[user@]host[:port]');
  const dest = parseDestination(destText);
  const ssh = emptySshOptions();
  // Command line first: OpenSSH keeps the first value it sees for each option.
  if (o.p !== undefined) applyOption(ssh, 'Port', o.p, '-p', home);
  if (o.l !== undefined) applyOption(ssh, 'User', o.l, '-l', home);
  for (const i of o.i) ssh.identityFiles.push(expandPath(i, home));
  const explicitIdentityCount = ssh.identityFiles.length;
  for (const arg of o.o) {
    const [k, v] = parseDashO(arg);
    applyOption(ssh, k, v, '-o', home);
  }
  if (file.port !== undefined) applyOption(ssh, 'Port', String(file.port), '--config port', home);
  if (file.user !== undefined) applyOption(ssh, 'User', file.user, '--config user', home);
  for (const i of file.identityFile ?? []) ssh.identityFiles.push(expandPath(i, home));
  for (const [k, v] of Object.entries(file.options ?? {})) applyOption(ssh, k, v, '--config options', home);

  let ignoredConfigKeys: string[] = [];
  const cfgPath = o.F ?? file.sshConfig;
  if (cfgPath !== undefined) {
    if (cfgPath !== 'none')
      ignoredConfigKeys = applySshConfig(ssh, expandPath(cfgPath, home), dest.host, home).ignored;
  } else if (existsSync(`${home}/.ssh/config`)) {
    ignoredConfigKeys = applySshConfig(ssh, `${home}/.ssh/config`, dest.host, home).ignored;
  }
  const identitiesExplicit = ssh.identityFiles.length > 0 || explicitIdentityCount > 0;
  if (ssh.identityFiles.length === 0)
    for (const n of ['id_rsa', 'id_ecdsa', 'id_ed25519']) ssh.identityFiles.push(`${home}/.ssh/${n}`);

  const forwards: ForwardSpec[] = [
    ...o.L.map((s) => parseForwardSpec('L', s)),
    ...(file.local ?? []).map((s) => parseForwardSpec('L', s)),
    ...ssh.localForwards,
    ...o.R.map((s) => parseForwardSpec('R', s)),
    ...(file.remote ?? []).map((s) => parseForwardSpec('R', s)),
    ...ssh.remoteForwards,
  ];
  if (forwards.length === 0)
    throw new FtpfwdError(
      'usage',
      'nothing to forward: expected at least one -L or -R (ftpfwd runs no remote command)',
    );

  const hostName = (ssh.hostName ?? dest.host).replace(/%h/g, dest.host);
  const user = dest.user ?? ssh.user ?? env.USER ?? userInfo().username;
  const plan: CliPlan = {
    host: hostName,
    port: dest.port ?? ssh.port ?? 22,
    user,
    ssh,
    forwards,
    identitiesExplicit,
    pasvTarget: (o.pasvTarget ?? file.pasvTarget ?? 'control') as 'control' | 'reply',
    verbose: o.v || file.verbose || 0,
    logFormat: (o.logFormat ?? file.logFormat ?? 'text') as 'text' | 'json',
    ignoredConfigKeys,
  };
  if (o.g || file.gatewayPorts) ssh.gatewayPorts ??= true;
  const advertise = o.advertise ?? file.advertise;
  if (advertise !== undefined) plan.advertise = advertise;
  const dataPorts = o.dataPorts ?? file.dataPorts;
  if (dataPorts !== undefined) plan.dataPorts = parsePortRange(dataPorts);
  const rdb = o.remoteDataBind ?? file.remoteDataBind;
  if (rdb !== undefined) plan.remoteDataBind = rdb;
  const rda = o.remoteDataAdvertise ?? file.remoteDataAdvertise;
  if (rda !== undefined) plan.remoteDataAdvertise = rda;
  const metrics = o.metrics ?? file.metrics;
  if (metrics !== undefined) plan.metrics = parseMetricsAddr(metrics);
  return plan;
}

export interface RunHooks {
  /** Called once every forwarding listens (tests, embedding). */
  onReady?: (tunnel: Tunnel) => void;
  logger?: Logger;
  /** Where the one-line failure goes; default stderr. */
  errorOut?: (line: string) => void;
  installSignalHandlers?: boolean;
}

/** Runs ftpfwd; resolves the exit code (0 after SIGINT/SIGTERM, 255 on failure like ssh). */
export async function main(argv: string[], hooks: RunHooks = {}): Promise<number> {
  const errorOut = hooks.errorOut ?? ((l: string) => process.stderr.write(`${l}\n`));
  let plan: CliPlan;
  try {
    plan = planFromArgs(argv);
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
  const logger = hooks.logger ?? createLogger(plan.verbose, plan.logFormat);
  // Keys that change where or how we connect deserve a warning: silently connecting directly
  // when the config says ProxyJump would be surprising. The rest (ForwardAgent, …) only at -v.
  const serious = plan.ignoredConfigKeys.flatMap((k) => CONNECTION_KEYS.get(k) ?? []);
  if (serious.length)
    logger.warn(`ssh_config options not supported by ftpfwd, ignored: ${serious.join(', ')}`);
  if (plan.ignoredConfigKeys.length)
    logger.debug({ keys: plan.ignoredConfigKeys.join(',') }, 'ssh_config options not used by ftpfwd');
  const metrics = new Metrics();
  let metricsServer: import('node:http').Server | undefined;
  let tunnel: Tunnel | undefined;
  let exitCode = 0;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => {
    finish = r;
  });
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    await tunnel?.close();
    metricsServer?.close();
    finish(exitCode);
  };
  const onSignal = () => void shutdown(0);
  // Installed before anything starts: a SIGTERM right after the startup lines (or during the
  // connection) must end ftpfwd cleanly with 0, never by the default signal action.
  if (hooks.installSignalHandlers !== false) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    if (plan.metrics) {
      const m = await metrics.serve(plan.metrics.host, plan.metrics.port).catch((err: Error) => {
        throw new FtpfwdError(
          'usage',
          `--metrics ${plan.metrics?.host}:${plan.metrics?.port}: ${oneLine(err)}`,
        );
      });
      metricsServer = m.server;
      logger.info(`metrics on http://${plan.metrics.host}:${m.port}/metrics`);
    }
    const s = plan.ssh;
    const connecting = connect({
      host: plan.host,
      port: plan.port,
      username: plan.user,
      identityFiles: s.identityFiles,
      identitiesExplicit: plan.identitiesExplicit,
      agent: s.identitiesOnly
        ? false
        : s.identityAgent === 'none'
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
      gatewayPorts: s.gatewayPorts ?? false,
      passwordAuthentication: s.passwordAuthentication ?? true,
      kbdInteractiveAuthentication: s.kbdInteractiveAuthentication ?? true,
      pubkeyAuthentication: s.pubkeyAuthentication ?? true,
      numberOfPasswordPrompts: s.numberOfPasswordPrompts ?? 3,
      ftp: {
        pasvTarget: plan.pasvTarget,
        ...(plan.advertise ? { advertise: plan.advertise } : {}),
        ...(plan.dataPorts ? { dataPorts: plan.dataPorts } : {}),
        ...(plan.remoteDataBind ? { remoteDataBind: plan.remoteDataBind } : {}),
        ...(plan.remoteDataAdvertise ? { remoteDataAdvertise: plan.remoteDataAdvertise } : {}),
      },
      logger,
      metrics,
    });
    // A signal while connecting ends ftpfwd at once, as ssh does; a late connection is closed.
    const first = await Promise.race([connecting, finished.then(() => undefined)]);
    if (!first) {
      connecting.then(
        (t) => t.close(),
        () => {},
      );
      return exitCode;
    }
    tunnel = first;
    tunnel.on('fatal', (err: Error) => {
      errorOut(`ftpfwd: ${oneLine(err)}`);
      void shutdown(255);
    });
    for (const spec of plan.forwards) {
      try {
        const f = await tunnel.forward(spec.direction, spec);
        logger.info(`${f.describe()} via ${tunnel.label}`);
      } catch (err) {
        if (s.exitOnForwardFailure) throw err;
        logger.warn(`forwarding failed: ${oneLine(err)}`);
      }
    }
    if (stopping) return await finished;
    if (hooks.installSignalHandlers !== false) {
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
    hooks.onReady?.(tunnel);
  } catch (err) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stopping) return await finished;
    errorOut(`ftpfwd: ${oneLine(err)}`);
    await tunnel?.close();
    metricsServer?.close();
    return 255;
  }
  const code = await finished;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return code;
}

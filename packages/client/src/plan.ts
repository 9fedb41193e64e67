import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { splitHostPort } from '@ftpfwd/ftp-proxy';
import { Command, Option } from 'commander';
import type { ConfigFile } from './config-file.js';
import type { FtpDataOptions } from './context.js';
import { parseDestination } from './destination.js';
import { FtpfwdError } from './errors.js';
import { type ForwardSpec, localBindAddress, parseForwardSpec } from './forward-spec.js';
import { type ForwardingConfig, loadConfig } from './gateway-config.js';
import { type HopPlan, planJumps } from './jump-plan.js';
import { parsePortRange } from './listen.js';
import { applyOption, emptySshOptions, expandPath, parseDashO, type SshOptions } from './options.js';
import { isLoopback, parseSftpLogin, type SftpForwardOptions } from './sftp-forward.js';
import { applySshConfig } from './ssh-config.js';

/**
 * The command line, --config (either form), -o and ssh_config resolved into what to run. No I/O
 * besides reading config files: SIGHUP re-runs this, and a throw leaves the running setup alone.
 */

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
  /** Names the destination in logs (and in metrics, for the gateway form). */
  name: string;
  /** Each forwarding with its effective FTP options (destination defaults, then its own). */
  forwardings: PlannedForward[];
  /** SSH_ASKPASS program for this destination only (gateway form `askpass:`). */
  askpass?: string;
  /** ProxyJump hosts, first first, each with its own settings (jump-plan.ts). */
  jumps: HopPlan[];
  /** The host as the destination names it, before HostName (ProxyCommand's %n). */
  originalHost: string;
  /** Defaults of this destination's `sftp/` forwardings (--sftp-login, --sftp-jail). */
  sftp: SftpForwardOptions;
}

/** One forwarding to start, with the FTP options it runs with. */
export interface PlannedForward {
  spec: ForwardSpec;
  ftp: FtpDataOptions;
  /** `sftp/` forwardings only: how FTP logins are checked, whether paths are jailed. */
  sftp?: SftpForwardOptions;
}

/** What `ftpfwd [--config FILE] …` runs: one or several destinations, one metrics endpoint. */
export interface GatewayPlan {
  /** `gateway`: the file has `destinations:`; metrics then carry a `destination` label. */
  form: 'single' | 'gateway';
  destinations: CliPlan[];
  metrics?: { host: string; port: number };
  verbose: number;
  logFormat: 'text' | 'json';
}

export interface RawOpts {
  p?: string;
  l?: string;
  i: string[];
  F?: string;
  o: string[];
  J?: string;
  b?: string;
  '4'?: boolean;
  '6'?: boolean;
  Q?: string;
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
  sftpLogin?: string;
  sftpJail?: boolean;
}

// No default array: commander would print "(default: [])" in --help.
const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** ssh_config keys that would change the connection if they were honoured (lower-case → name). */
export const CONNECTION_KEYS = new Map(
  [
    'HostKeyAlias',
    'CertificateFile',
    'BindInterface',
    'ProxyUseFdpass',
    'DynamicForward',
    'RemoteCommand',
    'LocalCommand',
  ].map((k) => [k.toLowerCase(), k]),
);

export function buildCommand(): Command {
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
    .option('-J <destination>', 'jump hosts: [user@]host[:port][,…] (ProxyJump)')
    .option('-b <bind_address>', 'local address of the connection to the SSH server (BindAddress)')
    .option('-4', 'IPv4 addresses only (AddressFamily inet)')
    .option('-6', 'IPv6 addresses only (AddressFamily inet6)')
    .option('-Q <query>', 'list supported algorithms: cipher, mac, kex or key')
    .option('-v', 'more logging (repeat for more)', (_v: string, prev: number) => prev + 1, 0)
    .option(
      '-L <spec>',
      'local forward [ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT or sftp/[BIND:]PORT[:REMOTE_DIR] (repeatable)',
      collect,
    )
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
    .option(
      '--sftp-login <how>',
      'FTP logins of sftp/ forwardings: tunnel (default, loopback only), ssh (each FTP user logs in to SSH) or a password file (ftpfwd-sshd passwd)',
    )
    .option('--sftp-jail', 'sftp/ forwardings: no path leaves REMOTE_DIR (or the SFTP start directory)')
    .option('--metrics <addr:port>', 'serve Prometheus metrics on addr:port')
    .option(
      '--config <file>',
      'YAML or JSON file: these settings for one destination, or a gateway (destinations:)',
    )
    .addOption(new Option('--log-format <fmt>', 'log format').choices(['text', 'json']))
    .helpOption('-h, --help', 'show this help')
    .version('0.1.0', '-V, --version');
  return cmd;
}

export function parseMetricsAddr(text: string): { host: string; port: number } {
  const parts = splitHostPort(text, true);
  const port = parts && /^\d{1,5}$/.test(parts.port) ? Number(parts.port) : Number.NaN;
  if (!parts || !(port <= 65535))
    throw new FtpfwdError('usage', `--metrics "${text}": expected ADDR:PORT (e.g. 127.0.0.1:9464)`);
  return { host: parts.host || '127.0.0.1', port };
}
/** A destination's settings from a file: the single-destination form, or one gateway entry. */
type DestinationInput = ConfigFile & {
  agent?: boolean | string;
  askpass?: string;
  knownHosts?: string[];
  strictHostKeyChecking?: string;
  batchMode?: boolean;
  forwards?: ForwardingConfig[];
};

/** Command-line flags that configure one destination (a gateway file with several refuses them). */
const PER_DESTINATION_FLAGS: [keyof RawOpts, string][] = [
  ['p', '-p'],
  ['l', '-l'],
  ['i', '-i'],
  ['F', '-F'],
  ['o', '-o'],
  ['J', '-J'],
  ['b', '-b'],
  ['4', '-4'],
  ['6', '-6'],
  ['L', '-L'],
  ['R', '-R'],
  ['g', '-g'],
  ['pasvTarget', '--pasv-target'],
  ['advertise', '--advertise'],
  ['dataPorts', '--data-ports'],
  ['remoteDataBind', '--remote-data-bind'],
  ['remoteDataAdvertise', '--remote-data-advertise'],
  ['sftpLogin', '--sftp-login'],
  ['sftpJail', '--sftp-jail'],
];

function parseArgv(argv: string[]): { o: RawOpts; destArg: string | undefined } {
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
  return { o, destArg: cmd.args[0] };
}

/** Resolves the command line into a plan for one or several destinations. */
export function gatewayPlanFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): GatewayPlan {
  const { o, destArg } = parseArgv(argv);
  const loaded = o.config ? loadConfig(o.config) : undefined;
  if (loaded?.form !== 'gateway') {
    const file = loaded?.file ?? {};
    const plan = planDestination(o, destArg, file, env);
    const metrics = o.metrics ?? file.metrics;
    return finish(
      {
        form: 'single',
        destinations: [plan],
        verbose: o.v || file.verbose || 0,
        logFormat: pickFormat(o.logFormat ?? file.logFormat),
      },
      metrics,
    );
  }
  const g = loaded.file;
  const names = Object.keys(g.destinations);
  if (names.length > 1) {
    const given = destArg !== undefined ? 'a destination argument' : undefined;
    const flag = PER_DESTINATION_FLAGS.find(([k]) => {
      const v = o[k];
      return Array.isArray(v) ? v.length > 0 : v !== undefined;
    })?.[1];
    if (given || flag)
      throw new FtpfwdError(
        'usage',
        `--config ${o.config} has ${names.length} destinations: ${given ?? flag} would be ambiguous; put it in the file`,
      );
  }
  const destinations = names.map((name) =>
    planDestination(o, destArg, g.destinations[name] as DestinationInput, env, name),
  );
  return finish(
    {
      form: 'gateway',
      destinations,
      verbose: o.v || g.verbose || 0,
      logFormat: pickFormat(o.logFormat ?? g.logFormat),
    },
    o.metrics ?? g.metrics,
  );
}

function pickFormat(f: string | undefined): 'text' | 'json' {
  return f === 'json' ? 'json' : 'text';
}

/** Copies the process-wide settings into each destination's plan (CliPlan carries them too). */
function finish(plan: GatewayPlan, metrics: string | undefined): GatewayPlan {
  if (metrics !== undefined) plan.metrics = parseMetricsAddr(metrics);
  for (const d of plan.destinations) {
    d.verbose = plan.verbose;
    d.logFormat = plan.logFormat;
    if (plan.metrics) d.metrics = plan.metrics;
  }
  return plan;
}

/**
 * Resolves one destination: the command line first (OpenSSH keeps the first value it sees), then
 * the file's keys, then ssh_config.
 */
function planDestination(
  o: RawOpts,
  destArg: string | undefined,
  file: DestinationInput,
  env: NodeJS.ProcessEnv,
  name?: string,
): CliPlan {
  const home = env.HOME ?? homedir();
  const destText = destArg ?? file.destination ?? file.host;
  if (!destText)
    throw new FtpfwdError('usage', 'no destination: expected [user@]host or ssh://[user@]host[:port]');
  const dest = parseDestination(destText);
  const ssh = emptySshOptions();
  if (o.p !== undefined) applyOption(ssh, 'Port', o.p, '-p', home);
  if (o.l !== undefined) applyOption(ssh, 'User', o.l, '-l', home);
  for (const i of o.i) ssh.identityFiles.push(expandPath(i, home));
  const explicitIdentityCount = ssh.identityFiles.length;
  if (o.J !== undefined) applyOption(ssh, 'ProxyJump', o.J, '-J', home);
  if (o.b !== undefined) applyOption(ssh, 'BindAddress', o.b, '-b', home);
  if (o['4'] && o['6']) throw new FtpfwdError('usage', '-4 and -6 exclude each other');
  if (o['4']) applyOption(ssh, 'AddressFamily', 'inet', '-4', home);
  if (o['6']) applyOption(ssh, 'AddressFamily', 'inet6', '-6', home);
  for (const arg of o.o) {
    const [k, v] = parseDashO(arg);
    applyOption(ssh, k, v, '-o', home);
  }
  const origin = name ? `--config destinations.${name}` : '--config';
  if (file.port !== undefined) applyOption(ssh, 'Port', String(file.port), `${origin} port`, home);
  if (file.user !== undefined) applyOption(ssh, 'User', file.user, `${origin} user`, home);
  for (const i of file.identityFile ?? []) ssh.identityFiles.push(expandPath(i, home));
  if (file.agent === false) applyOption(ssh, 'IdentityAgent', 'none', `${origin} agent`, home);
  else if (typeof file.agent === 'string')
    applyOption(ssh, 'IdentityAgent', file.agent, `${origin} agent`, home);
  if (file.knownHosts?.length)
    applyOption(ssh, 'UserKnownHostsFile', file.knownHosts.join(' '), `${origin} knownHosts`, home);
  if (file.strictHostKeyChecking !== undefined)
    applyOption(
      ssh,
      'StrictHostKeyChecking',
      file.strictHostKeyChecking,
      `${origin} strictHostKeyChecking`,
      home,
    );
  if (file.batchMode !== undefined)
    applyOption(ssh, 'BatchMode', file.batchMode ? 'yes' : 'no', `${origin} batchMode`, home);
  for (const [k, v] of Object.entries(file.options ?? {})) applyOption(ssh, k, v, `${origin} options`, home);

  // What the command line and the file said, before ssh_config: jump hosts inherit part of it.
  const cliSsh = structuredClone(ssh);
  const cfgPath = o.F ?? file.sshConfig;
  const configFile =
    cfgPath !== undefined
      ? cfgPath === 'none'
        ? undefined
        : expandPath(cfgPath, home)
      : existsSync(`${home}/.ssh/config`)
        ? `${home}/.ssh/config`
        : undefined;
  const ignored = new Set(configFile ? applySshConfig(ssh, configFile, dest.host, home).ignored : []);
  const identitiesExplicit = ssh.identityFiles.length > 0 || explicitIdentityCount > 0;
  if (ssh.identityFiles.length === 0)
    for (const n of ['id_rsa', 'id_ecdsa', 'id_ed25519']) ssh.identityFiles.push(`${home}/.ssh/${n}`);

  // Destination-wide FTP defaults: command line, then file.
  const defaults: FtpDataOptions = {
    pasvTarget: (o.pasvTarget ?? file.pasvTarget ?? 'control') as 'control' | 'reply',
  };
  const advertise = o.advertise ?? file.advertise;
  if (advertise !== undefined) defaults.advertise = advertise;
  const dataPorts = o.dataPorts ?? file.dataPorts;
  if (dataPorts !== undefined) defaults.dataPorts = parsePortRange(dataPorts);
  const rdb = o.remoteDataBind ?? file.remoteDataBind;
  if (rdb !== undefined) defaults.remoteDataBind = rdb;
  const rda = o.remoteDataAdvertise ?? file.remoteDataAdvertise;
  if (rda !== undefined) defaults.remoteDataAdvertise = rda;

  // Destination-wide defaults of sftp/ forwardings: command line, then file.
  const sftp: SftpForwardOptions = {};
  const sftpLogin = o.sftpLogin ?? file.sftpLogin;
  if (sftpLogin !== undefined) sftp.login = parseSftpLogin(sftpLogin, home);
  const sftpJail = o.sftpJail ?? file.sftpJail;
  if (sftpJail !== undefined) sftp.jail = sftpJail;

  const plain = (spec: ForwardSpec): PlannedForward =>
    spec.protocol === 'sftp' ? { spec, ftp: defaults, sftp } : { spec, ftp: defaults };
  const own = (f: ForwardingConfig): PlannedForward => {
    const spec =
      f.local !== undefined ? parseForwardSpec('L', f.local) : parseForwardSpec('R', f.remote ?? '');
    const ftp: FtpDataOptions = { ...defaults, ...(f.pasvTarget ? { pasvTarget: f.pasvTarget } : {}) };
    if (f.advertise !== undefined) ftp.advertise = f.advertise;
    if (f.dataPorts !== undefined) ftp.dataPorts = parsePortRange(f.dataPorts);
    if (f.remoteDataBind !== undefined) ftp.remoteDataBind = f.remoteDataBind;
    if (f.remoteDataAdvertise !== undefined) ftp.remoteDataAdvertise = f.remoteDataAdvertise;
    if (spec.protocol !== 'sftp') return { spec, ftp };
    const own: SftpForwardOptions = { ...sftp };
    if (f.sftpLogin !== undefined) own.login = parseSftpLogin(f.sftpLogin, home);
    if (f.sftpJail !== undefined) own.jail = f.sftpJail;
    return { spec, ftp, sftp: own };
  };
  const fileForwards = file.forwards ?? [];
  const forwardings: PlannedForward[] = [
    ...o.L.map((s) => plain(parseForwardSpec('L', s))),
    ...(file.local ?? []).map((s) => plain(parseForwardSpec('L', s))),
    ...fileForwards.filter((f) => f.local !== undefined).map(own),
    ...ssh.localForwards.map(plain),
    ...o.R.map((s) => plain(parseForwardSpec('R', s))),
    ...(file.remote ?? []).map((s) => plain(parseForwardSpec('R', s))),
    ...fileForwards.filter((f) => f.remote !== undefined).map(own),
    ...ssh.remoteForwards.map(plain),
  ];
  if (forwardings.length === 0)
    throw new FtpfwdError(
      'usage',
      'nothing to forward: expected at least one -L or -R (ftpfwd runs no remote command)',
    );

  const hostName = (ssh.hostName ?? dest.host).replace(/%h/g, dest.host);
  const localUser = env.USER ?? userInfo().username;
  const user = dest.user ?? ssh.user ?? localUser;
  const jumps = planJumps(ssh.proxy, { cli: cliSsh, configFile, home, localUser, ignored });
  const ignoredConfigKeys = [...ignored];
  if (o.g || file.gatewayPorts) ssh.gatewayPorts ??= true;
  for (const f of forwardings) refuseOpenSftp(f, ssh.gatewayPorts ?? false, user);
  const plan: CliPlan = {
    name: name ?? dest.host,
    host: hostName,
    port: dest.port ?? ssh.port ?? 22,
    user,
    ssh,
    forwards: forwardings.map((f) => f.spec),
    forwardings,
    identitiesExplicit,
    pasvTarget: defaults.pasvTarget,
    verbose: 0,
    logFormat: 'text',
    ignoredConfigKeys,
    sftp,
    jumps,
    originalHost: dest.host,
  };
  if (defaults.advertise !== undefined) plan.advertise = defaults.advertise;
  if (defaults.dataPorts !== undefined) plan.dataPorts = defaults.dataPorts;
  if (defaults.remoteDataBind !== undefined) plan.remoteDataBind = defaults.remoteDataBind;
  if (defaults.remoteDataAdvertise !== undefined) plan.remoteDataAdvertise = defaults.remoteDataAdvertise;
  if (file.askpass !== undefined) plan.askpass = expandPath(file.askpass, home);
  return plan;
}

/**
 * An sftp/ forwarding that would listen beyond loopback with the tunnel's own identity is an FTP
 * server onto the SSH account for anyone who reaches it: refused before anything connects.
 */
function refuseOpenSftp(f: PlannedForward, gatewayPorts: boolean, user: string): void {
  if (f.spec.protocol !== 'sftp' || (f.sftp?.login ?? 'tunnel') !== 'tunnel') return;
  const bind = localBindAddress(f.spec, gatewayPorts);
  if (isLoopback(bind)) return;
  throw new FtpfwdError(
    'usage',
    `-L ${f.spec.bindAddress === undefined ? '' : `${f.spec.bindAddress}:`}${f.spec.bindPort} (sftp/) would listen on ${bind} with ${user}'s own SSH identity, for anyone who reaches it: give --sftp-login ssh (each FTP user logs in to SSH) or --sftp-login FILE (a password file of ftpfwd-sshd passwd)`,
  );
}

/** `-Q query` if the command line has one (`ftpfwd -Q cipher` lists and exits, as `ssh -Q`). */
export function queryOf(argv: string[]): string | undefined {
  return parseArgv(argv).o.Q;
}

/**
 * Resolves a command line for exactly one destination (the original API: tools and tests use it).
 * A gateway file with several destinations needs gatewayPlanFromArgs.
 */
export function planFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliPlan {
  const g = gatewayPlanFromArgs(argv, env);
  const [only, ...more] = g.destinations;
  if (!only || more.length)
    throw new FtpfwdError('usage', `expected one destination, the config has ${g.destinations.length}`);
  return only;
}

/**
 * The config file (YAML or JSON): every command-line flag plus per-user settings and limits,
 * validated with a schema by the loader both CLIs share. Errors name the bad key and its line, say
 * what was expected and what came.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, readConfigSource, validateConfig } from '@ftpfwd/ftp-proxy/cli';
import { type AlgorithmKind, checkAlgorithmList, parseRekeyLimit } from '@ftpfwd/ftp-proxy/transport';
import { z } from 'zod';
import { SshdError } from './errors.js';
import { parseAddressPatterns } from './host-patterns.js';
import { parseNetBlockSize } from './netblock.js';
import { parseMaxStartups } from './startups.js';

const stringList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const seconds = z.number().nonnegative();
// YAML 1.2 reads `no` as a string, JSON users may write booleans: accept both.
const gatewayPorts = z
  .union([z.boolean(), z.enum(['no', 'yes', 'clientspecified'])])
  .transform((v) => (v === true ? 'yes' : v === false ? 'no' : v));
const allowTcpForwarding = z
  .union([z.boolean(), z.enum(['yes', 'no', 'local', 'remote'])])
  .transform((v) => (v === true ? 'yes' : v === false ? 'no' : v));

/**
 * A zod transform that parses text with `parse`: a bad value is refused at load, with the key's
 * name, like every other key.
 */
function parsedBy<T>(parse: (text: string) => T) {
  return (text: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  };
}
/** Text, or a number written as one (`maxStartups: 20`). */
const text = z.union([z.string(), z.number().transform(String)]);
const checked = <T>(parse: (text: string) => T) => text.transform(parsedBy(parse));
const rekeyLimit = checked(parseRekeyLimit);
/** An OpenSSH algorithm list (`+a,b`, `-a*`, `^a`, `a,b`), as a string or a list joined with commas. */
const algorithmList = (kind: AlgorithmKind) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) => [v].flat().join(','))
    .transform(parsedBy((spec) => checkAlgorithmList(kind, spec)));
/** Address patterns as a string or a list of them; an empty list is none. */
const addressPatterns = z
  .union([z.string(), z.array(z.string())])
  .transform((v, ctx) =>
    Array.isArray(v) && v.length === 0
      ? undefined
      : parsedBy(parseAddressPatterns)([v].flat().join(','), ctx),
  );

const userSchema = z.strictObject({
  /** authorized_keys file for this user. */
  authorizedKeys: z.string().optional(),
  /** `$scrypt$…` hash as `ftpfwd-sshd passwd` writes it. */
  password: z.string().optional(),
  permitOpen: stringList.optional(),
  permitListen: stringList.optional(),
  allowTcpForwarding: allowTcpForwarding.optional(),
});

export const configSchema = z.strictObject({
  listen: stringList.optional(),
  hostKeys: stringList.optional(),
  stateDir: z.string().optional(),
  authorizedKeys: z.string().optional(),
  passwords: z.string().optional(),
  permitOpen: stringList.optional(),
  permitListen: stringList.optional(),
  gatewayPorts: gatewayPorts.optional(),
  allowTcpForwarding: allowTcpForwarding.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  /** OpenSSH's Ciphers, KexAlgorithms, MACs, HostKeyAlgorithms, PubkeyAcceptedAlgorithms. */
  algorithms: z
    .strictObject({
      ciphers: algorithmList('cipher').optional(),
      kexAlgorithms: algorithmList('kex').optional(),
      macs: algorithmList('mac').optional(),
      hostKeyAlgorithms: algorithmList('hostkey').optional(),
      pubkeyAcceptedAlgorithms: algorithmList('pubkey').optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      maxConnections: z.number().int().positive().optional(),
      maxChannelsPerConnection: z.number().int().positive().optional(),
      maxAuthTries: z.number().int().positive().optional(),
      loginGraceTime: seconds.optional(),
      idleTimeout: seconds.optional(),
      keepaliveInterval: seconds.optional(),
      keepaliveCountMax: z.number().int().nonnegative().optional(),
      connectTimeout: z.number().positive().optional(),
      drainTimeout: seconds.optional(),
      ftpPermitTimeout: z.number().positive().optional(),
      maxFtpPermitsPerControl: z.number().int().positive().optional(),
      /** OpenSSH's RekeyLimit syntax: "1G 1h", "default 30m", "512M". */
      rekeyLimit: rekeyLimit.optional(),
      /** OpenSSH's MaxStartups: "10:30:100" or "10". */
      maxStartups: checked(parseMaxStartups).optional(),
      /** Unauthenticated connections per source netblock, or "none". */
      perSourceMaxStartups: z
        .union([z.number().int().positive(), z.literal('none')])
        .transform((v) => (v === 'none' ? Number.POSITIVE_INFINITY : v))
        .optional(),
      /** OpenSSH's PerSourceNetBlockSize: "32:128". */
      perSourceNetBlockSize: checked(parseNetBlockSize).optional(),
    })
    .optional(),
  ftp: z
    .strictObject({
      /** A 227 may permit a channel to the host it names (under a rule naming the FTP server). */
      trustPasvAddress: z.boolean().optional(),
      /** Lowest data port a 227/229 may permit. */
      minDataPort: z.number().int().min(1).max(65535).optional(),
      /** Addresses besides a slot's own that PORT/EPRT may name (this server behind NAT). */
      activeAddresses: stringList.optional(),
      /** Seconds an FTP data channel may carry nothing before it is closed; 0 = never. */
      dataIdleTimeout: seconds.optional(),
    })
    .optional(),
  /** Per-source penalties (OpenSSH's PerSourcePenalties), in seconds; 0 turns a kind off. */
  penalties: z
    .strictObject({
      authfail: seconds.optional(),
      noauth: seconds.optional(),
      graceExceeded: seconds.optional(),
      min: seconds.optional(),
      max: seconds.optional(),
      maxSources: z.number().int().positive().optional(),
      /** Address patterns never penalised (from="…" syntax: CIDR, wildcards, !negation). */
      exempt: addressPatterns.optional(),
    })
    .optional(),
  passwordChecks: z
    .strictObject({
      concurrency: z.number().int().positive().optional(),
      perSource: z.number().int().positive().optional(),
      maxWait: z.number().positive().optional(),
    })
    .optional(),
  users: z.record(z.string().regex(/^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$/), userSchema).optional(),
});

export type ConfigFile = z.output<typeof configSchema>;

/**
 * Validate parsed config data (no file, so no line numbers); throws SshdError('config') naming the
 * bad key, what was expected and what came.
 */
export function parseConfig(data: unknown, source = 'config'): ConfigFile {
  return configErrors(() =>
    validateConfig({ path: source, label: source, data: data ?? {}, lineOf: () => undefined }, configSchema),
  );
}

/** Make the file paths in a config relative to the config file's directory absolute. */
function resolvePaths(cfg: ConfigFile, baseDir: string): ConfigFile {
  const abs = (p: string | undefined): string | undefined =>
    p === undefined || isAbsolute(p) ? p : resolve(baseDir, p);
  const users = cfg.users
    ? Object.fromEntries(
        Object.entries(cfg.users).map(([u, e]) => [u, { ...e, authorizedKeys: abs(e.authorizedKeys) }]),
      )
    : undefined;
  return {
    ...cfg,
    hostKeys: cfg.hostKeys?.map((p) => abs(p)!),
    stateDir: abs(cfg.stateDir),
    authorizedKeys: abs(cfg.authorizedKeys),
    passwords: abs(cfg.passwords),
    users,
  };
}

/** Read a YAML (or JSON) config file; errors name the key and its line. Paths in it are relative to it. */
export function loadConfigFile(path: string): ConfigFile {
  const cfg = configErrors(() => validateConfig(readConfigSource(path, `config ${path}`), configSchema));
  return resolvePaths(cfg, dirname(resolve(path)));
}

/** Runs `fn`; a problem the shared config loader found becomes SshdError('config'). */
function configErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new SshdError('config', err.message, { cause: err });
    throw err;
  }
}

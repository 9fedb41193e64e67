import { type ConfigSource, readConfigSource, validateConfig } from '@ftpfwd/ftp-proxy/cli';
import { z } from 'zod';
import { type ConfigFile, ConfigFileSchema, scalar, stringList } from './config-file.js';
import { parseDestination } from './destination.js';
import { configErrors, FtpfwdError } from './errors.js';
import { parseForwardSpec } from './forward-spec.js';
import { parsePortRange } from './listen.js';

/**
 * `--config FILE`, gateway form: one long-running process, several SSH destinations, each with its
 * own connection settings and forwardings, one metrics endpoint. Recognised by its `destinations`
 * key; a file without it is the single-destination form (config-file.ts), still valid.
 *
 * Values that have a syntax of their own (forwardings, port ranges, destinations, addresses) are
 * checked here, inside the schema, so their errors carry the key path and line like any other.
 */

/** zod check that runs one of our parsers and turns its error into an issue at this key. */
function parsesWith(parse: (v: string) => unknown) {
  return (v: string, ctx: z.RefinementCtx) => {
    try {
      parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  };
}

const forwardText = (dir: 'L' | 'R') =>
  z
    .string()
    .superRefine(parsesWith((v) => parseForwardSpec(dir, v)))
    .describe(
      dir === 'L'
        ? '[ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT or sftp/[BIND:]PORT[:REMOTE_DIR], as -L on the command line'
        : '[ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT, as -R on the command line',
    );

/** FTP data-channel placement; on a destination these are the defaults of its forwardings. */
const ftpKeys = {
  pasvTarget: z
    .enum(['control', 'reply'])
    .optional()
    .describe('where passive data goes: the control connection’s server host (control) or the 227 reply’s'),
  advertise: z.string().min(1).optional().describe('address written into rewritten 227 replies'),
  dataPorts: z
    .string()
    .superRefine(parsesWith(parsePortRange))
    .optional()
    .describe('LO-HI port range for local data listeners'),
  remoteDataBind: z
    .string()
    .optional()
    .describe('bind address of remote (SSH server side) data listeners; default 127.0.0.1'),
  remoteDataAdvertise: z
    .string()
    .min(1)
    .optional()
    .describe('address written into PORT/EPRT sent to the FTP server for a remote data listener'),
};

/** `sftp/` forwardings; on a destination these are the defaults of its sftp/ forwardings. */
export const sftpKeys = {
  sftpLogin: z
    .string()
    .min(1)
    .optional()
    .describe(
      'FTP logins of sftp/ forwardings: tunnel (the default: any login, loopback only), ssh (each FTP user logs in to SSH with that password) or the path of a password file written by ftpfwd-sshd passwd',
    ),
  sftpJail: z
    .boolean()
    .optional()
    .describe('sftp/ forwardings: no path leaves REMOTE_DIR (or the SFTP start directory)'),
};

export const ForwardingSchema = z
  .object({
    local: forwardText('L').optional().describe('a local forwarding (-L): listens on this host'),
    remote: forwardText('R').optional().describe('a remote forwarding (-R): the SSH server listens'),
    ...ftpKeys,
    ...sftpKeys,
  })
  .strict()
  .superRefine((f, ctx) => {
    if ((f.local === undefined) === (f.remote === undefined))
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of local or remote' });
    const sftp = f.local !== undefined && /^\s*sftp\//i.test(f.local);
    for (const key of ['sftpLogin', 'sftpJail'] as const)
      if (f[key] !== undefined && !sftp)
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to sftp/ forwardings only` });
  });

export const DestinationSchema = z
  .object({
    destination: z
      .string()
      .superRefine(parsesWith(parseDestination))
      .optional()
      .describe('[user@]host or ssh://[user@]host[:port]'),
    host: z.string().min(1).optional().describe('SSH server (instead of destination)'),
    user: z.string().min(1).optional().describe('SSH user name'),
    port: z.number().int().min(1).max(65535).optional().describe('SSH port (default 22)'),
    identityFile: stringList.optional().describe('private key file(s), tried in order after the agent'),
    agent: z
      .union([z.boolean(), z.string().min(1)])
      .optional()
      .describe('ssh-agent: true ($SSH_AUTH_SOCK, the default), false (none) or a socket path'),
    askpass: z
      .string()
      .min(1)
      .optional()
      .describe(
        'program that prints passwords and key passphrases (SSH_ASKPASS, used as with SSH_ASKPASS_REQUIRE=force)',
      ),
    knownHosts: stringList.optional().describe('known_hosts file(s) (UserKnownHostsFile)'),
    strictHostKeyChecking: z
      .enum(['yes', 'accept-new', 'no', 'ask'])
      .optional()
      .describe('StrictHostKeyChecking; a gateway without a terminal wants yes or accept-new'),
    batchMode: z.boolean().optional().describe('never prompt (BatchMode)'),
    sshConfig: z.string().optional().describe('OpenSSH ssh_config to read (-F); "none" for none'),
    options: z.record(z.string(), scalar).optional().describe('further OpenSSH options, as -o Key=Value'),
    gatewayPorts: z
      .boolean()
      .optional()
      .describe('local listeners without a bind address on all interfaces (-g)'),
    ...ftpKeys,
    ...sftpKeys,
    local: z
      .array(forwardText('L'))
      .optional()
      .describe('local forwardings, as -L (no per-forwarding options)'),
    remote: z
      .array(forwardText('R'))
      .optional()
      .describe('remote forwardings, as -R (no per-forwarding options)'),
    forwards: z
      .array(ForwardingSchema)
      .optional()
      .describe('forwardings with their own FTP options: { local | remote, pasvTarget, advertise, … }'),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.destination === undefined && d.host === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected destination or host' });
    if (!d.local?.length && !d.remote?.length && !d.forwards?.length)
      ctx.addIssue({ code: 'custom', message: 'nothing to forward: expected local, remote or forwards' });
  });

const METRICS_ADDR = /^(?:\[[^\]]+\]|[^:[\]]+):\d{1,5}$|^\d{1,5}$/;

export const GatewayConfigSchema = z
  .object({
    destinations: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_", "-"'),
        DestinationSchema,
      )
      .refine((r) => Object.keys(r).length > 0, 'expected at least one destination')
      .describe('SSH destinations by name; the name labels logs and metrics (destination="…")'),
    metrics: z
      .string()
      .regex(METRICS_ADDR, 'expected ADDR:PORT (e.g. 127.0.0.1:9464)')
      .optional()
      .describe('serve Prometheus metrics of every destination on ADDR:PORT'),
    verbose: z.number().int().min(0).max(3).optional().describe('log level: 0 info, 1 debug, 2 trace'),
    logFormat: z.enum(['text', 'json']).optional().describe('log format'),
  })
  .strict();

export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type DestinationConfig = z.output<typeof DestinationSchema>;
export type ForwardingConfig = z.output<typeof ForwardingSchema>;

/** What --config FILE holds: either form, told apart by the `destinations` key. */
export type LoadedConfig = { form: 'single'; file: ConfigFile } | { form: 'gateway'; file: GatewayConfig };

function isGatewayForm(src: ConfigSource): boolean {
  const d = src.data;
  return typeof d === 'object' && d !== null && !Array.isArray(d) && 'destinations' in d;
}

/** Reads and validates either form; throws one FtpfwdError line naming key path and line. */
export function loadConfig(path: string): LoadedConfig {
  return configErrors(() => loadValidated(path));
}

function loadValidated(path: string): LoadedConfig {
  const src = readConfigSource(path);
  if (typeof src.data !== 'object' || src.data === null || Array.isArray(src.data))
    throw new FtpfwdError(
      'config',
      `--config ${path} line 1: expected a mapping of keys, got ${typeof src.data}`,
    );
  return isGatewayForm(src)
    ? { form: 'gateway', file: validateConfig(src, GatewayConfigSchema) }
    : { form: 'single', file: validateConfig(src, ConfigFileSchema) };
}

/**
 * The scenario file of `ftpfwd-lab`, as zod schemas: the shape of every key, with what was expected in
 * each message. Cross-references (a step `on` a host that exists, a link that is captured, …) are
 * checked after this, in load.ts. Keys are kebab-case, like the CLIs' long options.
 */
import { z } from 'zod';

const NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
const nameError =
  'expected a name: lower-case letters, digits and "-", starting with a letter, at most 31 characters';
export const name = z.string({ error: nameError }).regex(NAME_RE, { error: nameError });

/** A step name (also part of file names): lower-case letters, digits and "-". */
export const stepName = z
  .string({ error: 'expected a step name' })
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a step name: lower-case letters, digits and "-"' });

/** `HOST.NETWORK` (a host's or gateway's side of a network) or `HOST.lo` (a host's loopback). */
export const linkName = z
  .string({ error: 'expected a link: HOST.NETWORK (e.g. gw.wan) or HOST.lo' })
  .regex(/^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/, {
    error: 'expected a link: HOST.NETWORK (e.g. gw.wan) or HOST.lo',
  });

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const sizeError = 'expected a size: bytes, or a number with B, KiB, MiB, GiB, kB, MB or GB (e.g. 16MiB)';
/** Bytes, from `16MiB`, `512 KiB`, `1MB` or a plain number. */
export const size = z.union([z.number(), z.string()], { error: sizeError }).transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(String(v).trim());
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) {
    ctx.addIssue({ code: 'custom', message: `${sizeError}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes < 64 || bytes > 4 * 1024 ** 3) {
    ctx.addIssue({ code: 'custom', message: `expected a size from 64 B to 4 GiB, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return bytes;
});

const durationError = 'expected a duration: seconds, or a number with ms, s or m (e.g. 30s)';
/** Milliseconds, from `30s`, `500ms`, `2m` or a number of seconds. */
export const duration = z.union([z.number(), z.string()], { error: durationError }).transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(String(v).trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `${durationError}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (ms <= 0 || ms > 3_600_000) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration from 1 ms to 1 h, got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return ms;
});

/** `ADDRESS:PORT`, where ADDRESS may be a template (`${b.wan}:2222`). */
export const hostPort = z
  .union([z.string(), z.number()], { error: 'expected ADDRESS:PORT (e.g. 127.0.0.1:21)' })
  .transform(String)
  .refine((v) => /^[^\s:]+:\d{1,5}$/.test(v), { error: 'expected ADDRESS:PORT (e.g. 127.0.0.1:21)' });

const portRange = z
  .string({ error: 'expected a port range LOW-HIGH (e.g. 30000-30999)' })
  .regex(/^\d{1,5}-\d{1,5}$/, { error: 'expected a port range LOW-HIGH (e.g. 30000-30999)' });

/** A word of a command line; YAML's numbers and booleans count as the words they are written as. */
const word = z.union([z.string(), z.number().transform(String), z.boolean().transform(String)], {
  error: 'expected a word (a string)',
});

const strings = z
  .union([z.string(), z.array(word)], { error: 'expected a string or a list of strings' })
  .transform((v) => (Array.isArray(v) ? v : [v]));

const argv = z
  .array(word, { error: 'expected a command: a list of words' })
  .min(1, { error: 'expected a command: a list of words, the program first' });

/** A custom message for a wrong type only; other issues keep zod's own. */
const typeError = (message: string) => ({
  error: (iss: { code?: string }) => (iss.code === 'invalid_type' ? message : undefined),
});

/** `key:` with nothing after it means "with the defaults". */
const opts = <T extends z.ZodRawShape>(shape: T) =>
  z
    .strictObject(shape)
    .nullable()
    .transform((v) => v ?? ({} as z.output<z.ZodObject<T>>));

// ---------------------------------------------------------------- programs

const ftpServer = {
  name: name.optional(),
  listen: hostPort.optional(),
  'pasv-address': z.string().optional(),
  'pasv-ports': portRange.optional(),
};
const gatewayPorts = z
  .union([z.boolean(), z.enum(['no', 'yes', 'clientspecified'])], {
    error: 'expected no, yes or clientspecified',
  })
  .transform((v) => (v === true ? 'yes' : v === false ? 'no' : v));
const allowTcpForwarding = z
  .union([z.boolean(), z.enum(['yes', 'no', 'local', 'remote'])], {
    error: 'expected yes, no, local or remote',
  })
  .transform((v) => (v === true ? 'yes' : v === false ? 'no' : v));

export const programKinds = [
  'ftp-srv',
  'vsftpd',
  'ftpfwd-sshd',
  'openssh-sshd',
  'ftpfwd',
  'command',
] as const;
export type ProgramKind = (typeof programKinds)[number];

export const programSchema = z
  .strictObject({
    /** ftp-srv (the real CLI), anonymous, serving /srv. */
    'ftp-srv': opts(ftpServer).optional(),
    /** Debian's vsftpd, anonymous, serving /srv (uploads go to pub/). */
    vsftpd: opts(ftpServer).optional(),
    'ftpfwd-sshd': opts({
      name: name.optional(),
      listen: hostPort.optional(),
      'permit-open': strings.optional(),
      'permit-listen': strings.optional(),
      'gateway-ports': gatewayPorts.optional(),
      'allow-tcp-forwarding': allowTcpForwarding.optional(),
      args: strings.optional(),
    }).optional(),
    'openssh-sshd': opts({
      name: name.optional(),
      listen: hostPort.optional(),
      'log-level': z
        .enum(['QUIET', 'FATAL', 'ERROR', 'INFO', 'VERBOSE', 'DEBUG1', 'DEBUG2', 'DEBUG3'], {
          error: 'expected an OpenSSH LogLevel: QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG1, DEBUG2 or DEBUG3',
        })
        .optional(),
      /** Further sshd_config lines. */
      config: strings.optional(),
    }).optional(),
    ftpfwd: z
      .strictObject({
        name: name.optional(),
        /** The SSH server: a host of the scenario, or an address. */
        server: z.string({ error: 'expected the SSH server: a host name of this file, or an address' }),
        port: z.number().int().min(1).max(65535).optional(),
        forwards: strings.optional(),
        'remote-forwards': strings.optional(),
        'pasv-target': z.enum(['control', 'reply'], { error: 'expected control or reply' }).optional(),
        advertise: z.string().optional(),
        'data-ports': portRange.optional(),
        'remote-data-bind': z.string().optional(),
        'remote-data-advertise': z.string().optional(),
        gateway: z.boolean().optional(),
        args: strings.optional(),
      })
      .optional(),
    command: z
      .strictObject({
        name: name,
        run: argv,
        ready: z.string().optional(),
        env: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
  })
  .superRefine(exactlyOne(programKinds, 'a program'));

export type ProgramSpec = z.output<typeof programSchema>;

/** For a map that must hold exactly one of `keys` (besides `also`). */
function exactlyOne(keys: readonly string[], what: string, also: readonly string[] = []) {
  return (v: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = keys.filter((k) => v[k] !== undefined);
    if (present.length === 1) return;
    const got = present.length === 0 ? 'none of them' : present.join(' and ');
    const more = also.length ? ` (besides ${also.join(', ')})` : '';
    ctx.addIssue({
      code: 'custom',
      message: `expected ${what}: exactly one of ${keys.join(', ')}${more}, got ${got}`,
    });
  };
}

// ---------------------------------------------------------------- steps

export const clients = ['curl', 'lftp', 'basic-ftp'] as const;
export const modes = ['epsv', 'pasv', 'eprt', 'port'] as const;
export const actions = ['download', 'upload', 'list'] as const;
export type Client = (typeof clients)[number];
export type Mode = (typeof modes)[number];
export type Action = (typeof actions)[number];

const oneOrMany = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z
    .union([z.enum(values), z.array(z.enum(values)).min(1)], {
      error: `expected ${what}: ${values.join(', ')}, or a list of them`,
    })
    .transform((v) => ({ list: Array.isArray(v), values: [...new Set(Array.isArray(v) ? v : [v])] }));

const outputExpect = z.strictObject({
  /** stdout, trimmed, is exactly this. */
  equals: z.string().optional(),
  contains: strings.optional(),
  lacks: strings.optional(),
  /** A regular expression stdout matches. */
  matches: z.string().optional(),
  /** stdout has this many lines. */
  lines: z.number().int().nonnegative().optional(),
});

export interface StepExpect {
  fails?: boolean | string | undefined;
  intact?: boolean | undefined;
  output?: z.output<typeof outputExpect> | undefined;
  'marker-seen-on'?: string | undefined;
  'any-of'?: StepExpect[] | undefined;
}

const stepExpectError =
  'expected intact, fails, succeeds, or a map of fails, intact, output, marker-seen-on, any-of';
export const stepExpect: z.ZodType<StepExpect> = z.preprocess(
  (v) => (v === 'fails' ? { fails: true } : v === 'intact' ? { intact: true } : v === 'succeeds' ? {} : v),
  z.strictObject(
    {
      /** The step exits non-zero; a string: its output also matches this regular expression. */
      fails: z
        .union([z.boolean(), z.string()], { error: 'expected true or a regular expression' })
        .optional(),
      /** The files it moved have the sha256 they started with (the default for transfers). */
      intact: z.boolean().optional(),
      output: outputExpect.optional(),
      /** The marker of this step's file was seen in clear on this link (full capture). */
      'marker-seen-on': linkName.optional(),
      /** At least one of these holds. */
      'any-of': z
        .array(z.lazy(() => stepExpect))
        .min(2, { error: 'expected at least two alternatives' })
        .optional(),
    },
    typeError(stepExpectError),
  ),
) as z.ZodType<StepExpect>;

export const stepSchema = z
  .strictObject({
    /** Unique; a transfer with lists of modes or actions becomes NAME-MODE-down|up|list. */
    name: stepName,
    /** Shown in the report and test names instead of the generated description. */
    title: z.string().optional(),
    /** The host that runs it. */
    on: name,
    /** Steps of one host run one after another; steps with different groups run at the same time. */
    group: name.optional(),
    timeout: duration.optional(),
    expect: stepExpect.optional(),
    // a transfer:
    client: z.enum(clients, { error: `expected an FTP client: ${clients.join(', ')}` }).optional(),
    /** Where the FTP client connects (ADDRESS:PORT, templates allowed). */
    ftp: hostPort.optional(),
    mode: oneOrMany(modes, 'a transfer mode').optional(),
    do: oneOrMany(actions, 'an action').optional(),
    /** The host of the FTP server holding the files (default: the only one). */
    'ftp-server': name.optional(),
    size: size.optional(),
    /** Move the payload files of the transfer step of this name (default: its own). */
    files: stepName.optional(),
    /** Where the FTP client listens in active modes (curl --ftp-port, lftp ftp:port-ipv4). */
    'active-address': z.string().optional(),
    'connect-timeout': duration.optional(),
    // or a command:
    run: argv.optional(),
  })
  .superRefine(exactlyOne(['client', 'run'], 'a transfer (client:) or a command (run:)'));

export type StepSpec = z.output<typeof stepSchema>;

// ---------------------------------------------------------------- expectations

export const trafficClasses = ['ssh', 'ftp-control', 'ftp-data', 'other'] as const;
export type TrafficClass = (typeof trafficClasses)[number];
const trafficClass = z.enum(trafficClasses, {
  error: `expected a kind of traffic: ${trafficClasses.join(', ')}`,
});

const trafficShape = {
  link: linkName,
  /** Every connection on the link is one of these. */
  only: z.array(trafficClass).min(1).optional(),
  /** Each of these crossed the link at least once. */
  sees: z.array(trafficClass).min(1).optional(),
  /** Every connection was opened from this address. */
  from: z.string().optional(),
  /** A connection to each of these ADDRESS:PORT was opened. */
  to: z.array(hostPort).optional(),
  'min-connections': z.number().int().nonnegative().optional(),
  /** Every connection has a source port of its own (users behind one NAT stay apart). */
  'distinct-source-ports': z.boolean().optional(),
  /** No marker (of these steps' files or text markers; all: every one) crossed in clear. */
  'no-marker': z
    .union([z.literal('all'), z.array(stepName)], {
      error: 'expected all, or a list of step or marker names',
    })
    .optional(),
  /** Each of these markers was seen in clear. */
  'marker-seen': z.array(stepName).optional(),
};
const traffic = z.strictObject(trafficShape);
const { only: _only, ...onlySshShape } = trafficShape;
const onlySsh = z.preprocess((v) => (typeof v === 'string' ? { link: v } : v), z.strictObject(onlySshShape));

export const expectationKinds = ['only-ssh', 'traffic', 'ftp-server-sees', 'log'] as const;
export type ExpectationKind = (typeof expectationKinds)[number];

export const expectationSchema = z
  .strictObject({
    title: z.string().optional(),
    /** Only connections to an SSH server crossed the link, and (full capture) no marker in clear. */
    'only-ssh': onlySsh.optional(),
    traffic: traffic.optional(),
    /** Every connection to the FTP server's control port and passive range came from `peer`. */
    'ftp-server-sees': z
      .strictObject({
        host: name,
        peer: z.string(),
        /** The server also opened (active) data connections, all to `peer`. */
        'active-data': z.boolean().optional(),
        'min-data-connections': z.number().int().nonnegative().optional(),
        /** Every passive data connection has its own port pair. */
        'distinct-data-connections': z.boolean().optional(),
      })
      .optional(),
    /** A line of a host's log (of one program, when given) matches, within a bounded wait. */
    log: z
      .strictObject({
        host: name,
        program: name.optional(),
        matches: z.string(),
        'ignore-case': z.boolean().optional(),
        within: duration.optional(),
      })
      .optional(),
  })
  .superRefine(exactlyOne(expectationKinds, 'an expectation', ['title']));

export type ExpectationSpec = z.output<typeof expectationSchema>;

// ---------------------------------------------------------------- the file

const cidr = z
  .string({ error: 'expected a subnet in CIDR form (e.g. 198.51.100.0/27)' })
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, {
    error: 'expected a subnet in CIDR form (e.g. 198.51.100.0/27)',
  });

const hostAddress = z.union([z.number().int(), z.string(), z.null()], {
  error: 'expected a host number (e.g. 20), an address, or nothing (picked for you)',
});

export const hostSchema = z.strictObject(
  {
    /** A list of networks, or a map network → host number or address; the first is the primary one. */
    networks: z
      .union([z.array(name).min(1), z.record(name, hostAddress)], {
        error: 'expected a list of network names, or a map of network name to host number',
      })
      .transform((v) =>
        Array.isArray(v)
          ? v.map((n) => ({ network: n, address: undefined as number | string | undefined }))
          : Object.entries(v).map(([n, a]) => ({ network: n, address: a ?? undefined })),
      ),
    /** Route everything off the host's networks through this gateway. */
    via: name.optional(),
    /** What to record on the host (every interface): connections (SYNs, the default), full, off. */
    capture: z
      .enum(['connections', 'full', 'off'], { error: 'expected connections, full or off' })
      .optional(),
    programs: z.array(programSchema, { error: 'expected a list of programs' }).optional(),
  },
  typeError('expected a host: a map with networks: and (optional) via:, capture:, programs:'),
);

export const scenarioSchema = z.strictObject({
  name: name.optional(),
  description: z.string().optional(),
  networks: z.record(name, opts({ subnet: cidr.optional() }), {
    error: 'expected a map of network names (each with an optional subnet:)',
  }),
  gateways: z
    .record(
      name,
      z.strictObject({
        lan: name,
        wan: name,
      }),
    )
    .optional(),
  hosts: z.record(name, hostSchema, { error: 'expected a map of host names' }),
  steps: z
    .array(stepSchema, { error: 'expected a list of steps' })
    .min(1, { error: 'expected at least one step' }),
  expect: z.array(expectationSchema, { error: 'expected a list of expectations' }).optional(),
});

export type ScenarioSpec = z.output<typeof scenarioSchema>;
export type HostSpec = z.output<typeof hostSchema>;

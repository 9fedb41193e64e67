/**
 * From command-line flags and an optional config file to server options: flags override the file,
 * files named by either are read here, and every problem in them is either fatal (typed error) or
 * logged with its file and line number — never dropped.
 */
import { readFileSync } from 'node:fs';
import { type PasswordHash, parsePasswordFile, parsePasswordHash } from '@ftpfwd/ftp-proxy/cli';
import type { AlgorithmSpecs } from '@ftpfwd/ftp-proxy/transport';
import type { Logger } from 'pino';
import { type AuthorizedKey, parseAuthorizedKeys } from './authorized-keys.js';
import { type ConfigFile, loadConfigFile } from './config.js';
import { SshdError } from './errors.js';
import { defaultStateDir, type HostKey, loadHostKey, loadOrCreateStateKey } from './host-keys.js';
import {
  parseAllowTcpForwarding,
  parseGatewayPorts,
  parsePermitListenList,
  parsePermitOpenList,
  splitHostPort,
} from './policy.js';
import { DEFAULT_LISTEN } from './server.js';
import type { FtpPolicy, Limits, ListenAddress, SshServerOptions, UserEntry } from './types.js';

export interface CliFlags {
  listen?: string[];
  hostKey?: string[];
  authorizedKeys?: string;
  passwords?: string;
  permitOpen?: string[];
  permitListen?: string[];
  gatewayPorts?: string;
  allowTcpForwarding?: string;
  config?: string;
  verbose?: number;
}

/** `ADDR:PORT`, `[v6]:PORT` or `PORT` (all addresses). */
export function parseListen(text: string): ListenAddress {
  const parts = splitHostPort(text.trim(), true);
  const port = parts && /^\d{1,5}$/.test(parts.port) ? Number(parts.port) : Number.NaN;
  if (!parts || !(port >= 0 && port <= 65535) || parts.host === '') {
    throw new SshdError(
      'usage',
      `--listen: expected ADDR:PORT (e.g. 0.0.0.0:2222 or [::1]:2222), got ${JSON.stringify(text)}`,
    );
  }
  return { host: parts.host ?? DEFAULT_LISTEN.host, port };
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new SshdError(
      what === 'passwords' ? 'password-file' : 'authorized-keys',
      `${what} ${path}: cannot read it: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Read an authorized_keys file, logging each refused line with its number. */
export function loadAuthorizedKeys(path: string, log: Logger): AuthorizedKey[] {
  const { keys, problems } = parseAuthorizedKeys(readText(path, 'authorized_keys'), path);
  for (const p of problems) {
    log.error(
      { event: 'authorized-keys-problem', file: path, line: p.line, problem: p.message },
      `authorized_keys ${path} line ${p.line}: ${p.message} (line ignored)`,
    );
  }
  log.info(
    { event: 'authorized-keys', file: path, keys: keys.length, refusedLines: problems.length },
    `authorized_keys ${path}: ${keys.length} key(s)`,
  );
  return keys;
}

export function loadPasswords(path: string, log: Logger): Map<string, PasswordHash> {
  const { entries, problems } = parsePasswordFile(readText(path, 'passwords'));
  for (const p of problems) {
    log.error(
      { event: 'password-file-problem', file: path, line: p.line, problem: p.message },
      `passwords ${path} line ${p.line}: ${p.message} (line ignored)`,
    );
  }
  log.info(
    { event: 'passwords', file: path, users: entries.size },
    `passwords ${path}: ${entries.size} user(s)`,
  );
  return entries;
}

const sec = (s: number | undefined): number | undefined =>
  s === undefined ? undefined : Math.round(s * 1000);

function limitsFrom(cfg: ConfigFile): Partial<Limits> {
  const l = cfg.limits ?? {};
  const out: Partial<Limits> = {
    maxConnections: l.maxConnections,
    maxChannelsPerConnection: l.maxChannelsPerConnection,
    maxAuthTries: l.maxAuthTries,
    loginGraceTimeMs: sec(l.loginGraceTime),
    idleTimeoutMs: sec(l.idleTimeout),
    keepaliveIntervalMs: sec(l.keepaliveInterval),
    keepaliveCountMax: l.keepaliveCountMax,
    connectTimeoutMs: sec(l.connectTimeout),
    drainTimeoutMs: sec(l.drainTimeout),
    ftpPermitTimeoutMs: sec(l.ftpPermitTimeout),
    maxFtpPermitsPerControl: l.maxFtpPermitsPerControl,
    rekeyLimit: l.rekeyLimit,
    maxStartups: l.maxStartups,
    perSourceMaxStartups: l.perSourceMaxStartups,
    perSourceNetBlockSize: l.perSourceNetBlockSize,
  };
  return defined(out);
}

function ftpFrom(cfg: ConfigFile): Partial<FtpPolicy> {
  const f = cfg.ftp ?? {};
  const out: Partial<FtpPolicy> = {
    trustPasvAddress: f.trustPasvAddress,
    minDataPort: f.minDataPort,
    activeAddresses: f.activeAddresses,
    dataIdleTimeoutMs: sec(f.dataIdleTimeout),
  };
  return defined(out);
}

function penaltiesFrom(cfg: ConfigFile): SshServerOptions['penalties'] {
  const p = cfg.penalties ?? {};
  return defined({
    authfailMs: sec(p.authfail),
    noauthMs: sec(p.noauth),
    graceExceededMs: sec(p.graceExceeded),
    minMs: sec(p.min),
    maxMs: sec(p.max),
    maxSources: p.maxSources,
    exempt: p.exempt,
  });
}

function passwordChecksFrom(cfg: ConfigFile): SshServerOptions['passwordChecks'] {
  const p = cfg.passwordChecks ?? {};
  return defined({ concurrency: p.concurrency, perSource: p.perSource, maxWaitMs: sec(p.maxWait) });
}

/** The config's algorithm lists by kind (checked by the schema already). */
function algorithmsFrom(cfg: ConfigFile): AlgorithmSpecs {
  const a = cfg.algorithms ?? {};
  return defined({
    cipher: a.ciphers,
    kex: a.kexAlgorithms,
    mac: a.macs,
    hostkey: a.hostKeyAlgorithms,
    pubkey: a.pubkeyAcceptedAlgorithms,
  });
}

/** `o` without its undefined entries: a key the file did not set keeps the server's default. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function loadConfig(flags: CliFlags): ConfigFile {
  return flags.config ? loadConfigFile(flags.config) : {};
}

/** Everything the server needs, with files read. Throws SshdError for anything fatal. */
export function buildServerOptions(flags: CliFlags, cfg: ConfigFile, log: Logger): SshServerOptions {
  // Everything that is only parsing first: a typo must not leave a generated key behind.
  const listen = (flags.listen ?? cfg.listen ?? [`${DEFAULT_LISTEN.host}:${DEFAULT_LISTEN.port}`]).map(
    parseListen,
  );
  const permitOpen = parsePermitOpenList(flags.permitOpen ?? cfg.permitOpen ?? []);
  const permitListen = parsePermitListenList(flags.permitListen ?? cfg.permitListen ?? []);
  const gatewayPorts = parseGatewayPorts(flags.gatewayPorts ?? cfg.gatewayPorts ?? 'no');
  const allowTcpForwarding = parseAllowTcpForwarding(
    flags.allowTcpForwarding ?? cfg.allowTcpForwarding ?? 'yes',
  );

  const akPath = flags.authorizedKeys ?? cfg.authorizedKeys;
  const authorizedKeys = akPath ? loadAuthorizedKeys(akPath, log) : [];
  const pwPath = flags.passwords ?? cfg.passwords;
  const passwords = pwPath ? loadPasswords(pwPath, log) : new Map<string, PasswordHash>();

  const users: Record<string, UserEntry> = {};
  for (const [name, u] of Object.entries(cfg.users ?? {})) {
    const entry: UserEntry = {};
    if (u.authorizedKeys) entry.keys = loadAuthorizedKeys(u.authorizedKeys, log.child({ user: name }));
    if (u.password) {
      try {
        entry.password = parsePasswordHash(u.password);
      } catch (err) {
        throw new SshdError('config', `config: key "users.${name}.password": ${(err as Error).message}`);
      }
    }
    if (u.permitOpen) entry.permitOpen = parsePermitOpenList(u.permitOpen);
    if (u.permitListen) entry.permitListen = parsePermitListenList(u.permitListen);
    if (u.allowTcpForwarding) entry.allowTcpForwarding = u.allowTcpForwarding;
    users[name] = entry;
  }

  // Host keys last: the automatic key is only created once everything else was readable.
  let hostKeys: HostKey[];
  const keyFiles = flags.hostKey ?? cfg.hostKeys;
  if (keyFiles && keyFiles.length > 0) {
    hostKeys = keyFiles.map(loadHostKey);
  } else {
    const dir = cfg.stateDir ?? defaultStateDir();
    const { key, created } = loadOrCreateStateKey(dir);
    if (created)
      log.warn(
        { event: 'host-key-created', file: key.source, fingerprint: key.fingerprint },
        `created a new host key ${key.source}`,
      );
    hostKeys = [key];
  }

  const hasKeys = authorizedKeys.length > 0 || Object.values(users).some((u) => (u.keys?.length ?? 0) > 0);
  const hasPasswords = passwords.size > 0 || Object.values(users).some((u) => u.password);
  if (!hasKeys && !hasPasswords) {
    log.warn(
      { event: 'no-credentials' },
      'no authorized keys and no passwords configured: nobody can log in',
    );
  }

  return {
    listen,
    hostKeys,
    authorizedKeys,
    passwords,
    users,
    permitOpen,
    permitListen,
    gatewayPorts,
    allowTcpForwarding,
    limits: limitsFrom(cfg),
    ftp: ftpFrom(cfg),
    penalties: penaltiesFrom(cfg),
    passwordChecks: passwordChecksFrom(cfg),
    algorithms: algorithmsFrom(cfg),
    logger: log,
  };
}

#!/usr/bin/env node
// Writes docs/reference.md from the programs themselves, so it cannot drift from them:
//   - the command lines: the real `--help` of both CLIs (and ftpfwd-sshd's subcommands);
//   - the config keys: the zod schemas the programs validate their config files with;
//   - the metrics: the prom-client registry ftpfwd serves;
//   - the log events and fields: collected from the built code's logger calls.
// Meanings that the code does not carry (a key's sentence, an event's sentence) live in the tables
// below; the generator fails when the code has a key, event or field that no sentence describes, or
// a sentence describes one the code no longer has.
//
//   node tools/gen-reference.mjs           rewrite docs/reference.md (needs `npm run build` first)
//   node tools/gen-reference.mjs --check   exit 1 if docs/reference.md differs from a fresh generation
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(root, 'docs', 'reference.md');

const CLIENT_KEYS = {
  destination:
    '`[user@]host` or `ssh://[user@]host[:port]`; the destination argument on the command line wins',
  host: 'the SSH server, when `destination` is not given',
  user: 'login name (`-l`)',
  port: 'SSH port (`-p`); default 22',
  identityFile: 'private key file(s) (`-i`), tried in order after the command line’s',
  sshConfig: 'OpenSSH client config file (`-F`); `none` reads none; default `~/.ssh/config`',
  options:
    'OpenSSH options (`-o Key=Value`), e.g. `{ StrictHostKeyChecking: "yes" }`; `true`/`false` become `yes`/`no`; `-o` on the command line wins',
  local:
    'local forwardings (`-L`): `[ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT` or `sftp/[BIND:]PORT[:REMOTE_DIR]`, added to the command line’s',
  remote: 'remote forwardings (`-R`), same form',
  gatewayPorts: '`-g`: local listeners on all interfaces',
  pasvTarget:
    '`--pasv-target`: passive data to the control connection’s host (`control`, default) or the 227 address',
  advertise: '`--advertise`: the address written into rewritten 227 replies',
  dataPorts: '`--data-ports`: `LO-HI` port range for local data listeners',
  remoteDataBind: '`--remote-data-bind`: bind address of remote data listeners (default `127.0.0.1`)',
  remoteDataAdvertise: '`--remote-data-advertise`: the address written into PORT/EPRT sent to the FTP server',
  sftpLogin:
    '`--sftp-login`: FTP logins of `sftp/` forwardings: `tunnel` (default: any login, loopback only), `ssh` (each FTP user logs in to SSH) or a password file of `ftpfwd-sshd passwd`',
  sftpJail:
    '`--sftp-jail`: `sftp/` forwardings keep every path inside REMOTE_DIR (or the SFTP start directory)',
  metrics: '`--metrics`: `ADDR:PORT` for Prometheus `/metrics`',
  verbose: 'like `-v` given this many times',
  logFormat: '`--log-format`',
};

const SSHD_KEYS = {
  listen: '`--listen`: `ADDR:PORT` (or `[v6]:PORT`) to listen on; default `0.0.0.0:2222`',
  hostKeys:
    '`--host-key`: OpenSSH private key files; none: an ed25519 key created once in the state directory',
  stateDir:
    'where the automatic host key lives; default `$XDG_STATE_HOME/ftpfwd-sshd` or `~/.local/state/ftpfwd-sshd`',
  authorizedKeys: '`--authorized-keys`: any user name presenting a key listed here is accepted',
  passwords: '`--passwords`: `user:scrypt-hash` lines, written by `ftpfwd-sshd passwd`',
  permitOpen: '`--permit-open`: where `direct-tcpip` may connect; `host:port/ftp` = FTP-aware; default `any`',
  permitListen: '`--permit-listen`: which `tcpip-forward` requests are granted; default `any`',
  gatewayPorts: '`--gateway-ports`: where remote forwards listen; default `no` (loopback)',
  allowTcpForwarding: '`--allow-tcp-forwarding`: which directions are allowed; default `yes`',
  logLevel: 'log level; `-v`/`-vv` override it; default `info`',
  algorithms:
    'OpenSSH’s algorithm lists, each in its syntax (`a,b` exactly, `+a` appended, `-a*` removed, `^a` first; a list of strings is joined with commas); `ftpfwd -Q cipher|kex|mac|key` lists what is supported; default ssh2’s',
  'algorithms.ciphers': 'OpenSSH `Ciphers`',
  'algorithms.kexAlgorithms': 'OpenSSH `KexAlgorithms`',
  'algorithms.macs': 'OpenSSH `MACs`',
  'algorithms.hostKeyAlgorithms':
    'OpenSSH `HostKeyAlgorithms`: only host keys of these types are offered, in this order; a list leaving none of the keys is refused at start',
  'algorithms.pubkeyAcceptedAlgorithms':
    'OpenSSH `PubkeyAcceptedAlgorithms`: the signature algorithms a public-key login may use (`rsa-sha2-256` for RSA with SHA-256)',
  limits: 'limits (times in seconds)',
  'limits.maxConnections':
    'logged-in connections at once (unauthenticated ones: `maxStartups`); a login beyond is refused; default 256',
  'limits.maxChannelsPerConnection':
    'open channels and remote listeners per SSH connection (ftpfwd carries every FTP session over one); default 4096',
  'limits.maxAuthTries': 'failed authentications per connection before it is closed; default 6',
  'limits.loginGraceTime': 'from TCP accept to a successful login; default 60',
  'limits.idleTimeout': 'close a logged-in connection after this long without traffic; 0 (default) = never',
  'limits.keepaliveInterval': 'SSH keepalive probes; 0 = off; default 15',
  'limits.keepaliveCountMax': 'unanswered keepalives before the connection is closed; default 3',
  'limits.connectTimeout': 'for connections to forwarding targets; default 10',
  'limits.drainTimeout': 'on SIGTERM, how long open channels may finish; default 10',
  'limits.ftpPermitTimeout': 'an unused FTP data-channel permit expires after this; default 60',
  'limits.maxFtpPermitsPerControl': 'unused permits per FTP control channel at once; default 4',
  'limits.rekeyLimit':
    "OpenSSH `RekeyLimit`: `BYTES [SECONDS]` (`1G 1h`, `default 30m`); the server starts a key exchange after that much data one way or that much time, whichever side started the last; default `default none` (the cipher's bound: 64 GiB for AES, 1 GiB for chacha20)",
  'limits.maxStartups':
    'OpenSSH `MaxStartups` `START:RATE:FULL` for unauthenticated connections: from START on, new ones are dropped at random, RATE % rising to all at FULL; a would-be-dropped one takes the slot of a connection still in key exchange after 2 s; default `10:30:100`',
  'limits.perSourceMaxStartups': 'unauthenticated connections per source netblock, or `none`; default 10',
  'limits.perSourceNetBlockSize':
    'OpenSSH `PerSourceNetBlockSize` `V4BITS[:V6BITS]`: what counts as one source for startups and penalties; default `32:128`',
  ftp: 'how the FTP-aware policy treats what control channels announce',
  'ftp.trustPasvAddress':
    'a 227 may permit a channel to the host it names when that is not the control connection’s (only under a rule that names the FTP server); default false',
  'ftp.minDataPort': 'lowest data port a 227/229 may permit; default 1024',
  'ftp.activeAddresses':
    'addresses besides a slot’s own that a PORT/EPRT may name (this server behind NAT); default none',
  'ftp.dataIdleTimeout':
    'an FTP data channel with no bytes either way for this long is closed; 0 = never; default 300',
  penalties:
    'per-source penalties (OpenSSH `PerSourcePenalties`), in seconds; a source refused once its accrued penalty reaches `min`',
  'penalties.authfail':
    'for each failed password or signature check, at once (and a connection that ends without a login after a failure); default 5',
  'penalties.noauth': 'for a connection that ends without trying to log in; default 1',
  'penalties.graceExceeded': 'for a connection still not logged in at `loginGraceTime`; default 10',
  'penalties.min': 'accrued penalty from which the source is refused; default 15',
  'penalties.max': 'most penalty a source can accrue; default 600',
  'penalties.maxSources': 'sources remembered at once (the longest unpenalised are forgotten); default 65536',
  'penalties.exempt':
    'address patterns never penalised (`from=` syntax: CIDR, wildcards, `!`), a string or a list; default none',
  passwordChecks: 'bounds on password checking (each check is one 32 MiB scrypt run)',
  'passwordChecks.concurrency': 'checks running at once; default 2',
  'passwordChecks.perSource':
    'checks queued or running per source netblock; more are answered at once as failed; default 2',
  'passwordChecks.maxWait':
    'seconds a check may wait for its turn before it is answered as failed (not penalised); default 2',
  users: 'per-user settings, by user name (letters, digits, `._@-`, at most 64)',
  'users.<name>.authorizedKeys': 'keys only this user may log in with',
  'users.<name>.password': '`$scrypt$…` hash as `ftpfwd-sshd passwd` writes it',
  'users.<name>.permitOpen': 'replaces the top-level `permitOpen` for this user',
  'users.<name>.permitListen': 'replaces the top-level `permitListen` for this user',
  'users.<name>.allowTcpForwarding': 'replaces the top-level `allowTcpForwarding` for this user',
};

const SSHD_EVENTS = {
  listening: 'start-up: an address it listens on',
  'host-key': 'start-up: a host key and its SHA256 fingerprint',
  'host-key-created': 'first start without a host key: the key created in the state directory',
  'authorized-keys': 'an authorized_keys file read: keys accepted, lines refused',
  'authorized-keys-problem': 'a refused authorized_keys line, with file and line number',
  passwords: 'the password file read',
  'password-file-problem': 'a refused password-file line, with its number',
  'no-credentials': 'neither keys nor passwords configured: nobody can log in',
  accept: '(debug) a TCP connection accepted',
  auth: 'each authentication attempt: user, method, `ok`, the key (`file:line`) or the reason',
  'auth-tries-exceeded': 'too many failed attempts: connection closed',
  'login-grace-expired': 'no login within `loginGraceTime`: connection closed',
  penalty: 'a source refused for `blockMs` after penalties of `kind` (`authfail`, `noauth`, `graceExceeded`)',
  'connection-refused':
    'a connection refused before SSH (`maxStartups`, `perSourceMaxStartups`, a penalty) or a login refused (`maxConnections`)',
  'startup-evicted':
    'an unauthenticated connection still in key exchange closed to make room for a new one (`maxStartups`)',
  'session-refused': 'a shell/exec session asked for and refused (forwarding only)',
  'request-refused': 'a global request this server does not offer refused',
  forward:
    'each `direct-tcpip`, `tcpip-forward` or `forwarded-tcpip` opened or refused, with the `rule` that decided (FTP data channels with `user` and `command`; one-shot active-mode slot listeners: debug)',
  'channel-close': '(debug) a forwarded channel closed, with its byte counts',
  'listener-error': 'a remote-forward listener failed',
  'listener-close': '(debug) a remote-forward listener closed, and why',
  'gc-pacing':
    '(debug, at start) GC pacing (`FTPFWD_GC_PACING`) is unavailable in this runtime: bulk transfers cost more CPU',
  'ftp-control': 'an FTP control channel being guarded (FTP-aware policy)',
  'ftp-permit':
    'every data permit an FTP announcement was granted or refused, with `user`, `command`, `endpoint` and the `rule`; a PORT/EPRT/LPRT taken out and answered by the server',
  'ftp-ambiguous':
    'an FTP control channel whose framing became ambiguous (a bare LF, CR or NUL in a command, a reply after a bare LF, a reply answering nothing): its unused permits revoked, no more granted',
  'ftp-data-idle': 'an FTP data channel closed after `ftp.dataIdleTimeout` without a byte either way',
  'ftp-tls': 'AUTH TLS seen: the guard stops, no more data channels are permitted',
  'ftp-protocol-error': 'the guarded FTP control stream did not parse',
  close: 'a connection ended: user, `bytesFromClient`, `bytesToClient`, `durationMs`',
  'client-error': '(debug) a connection’s protocol or socket error',
  'negotiation-failed':
    'a client had no algorithm of some kind in common with `algorithms`: OpenSSH’s `Unable to negotiate … Their offer: … We offered: …`, in `reason`',
  'idle-timeout': 'a connection closed after `idleTimeout`',
  'packet-pool':
    '(debug) whether a connection’s outgoing packets come from its own slab (`pooled`) or ssh2’s',
  'rekey-start': '(debug) a key exchange started because `limits.rekeyLimit` was reached, with the `reason`',
  rekey: '(debug) a key exchange after the first one finished (started by either side)',
  'internal-error':
    'an exception while handling one connection; that connection is closed, the server goes on',
  signal: 'SIGTERM/SIGINT received',
  stopping: 'shutdown started: no new connections, draining',
  stopped: 'shutdown finished',
  reloaded: 'SIGHUP: config, authorized_keys and passwords read again',
  'reload-failed': 'SIGHUP: a file was broken; the old settings stay',
};

const CLIENT_FIELDS = {
  session: 'FTP session id, on every line about that session',
  client: 'FTP client address (session summary)',
  server: 'FTP server address as forwarded (session summary)',
  data_opened: 'data channels opened in the session',
  data_failed: 'data channels that failed',
  data_bytes_to_server: 'bytes on data channels towards the FTP server',
  data_bytes_to_client: 'bytes on data channels towards the FTP client',
  control_bytes_from_client: 'control-channel bytes from the FTP client',
  control_bytes_from_server: 'control-channel bytes from the FTP server',
  error: 'why the session ended, when it did not end normally',
  to_server: '(debug) a data channel’s bytes towards the server',
  to_client: '(debug) a data channel’s bytes towards the client',
  expected: 'a refused data connection: the address that was expected',
  got: 'a refused data connection: the address that came',
  err: 'the error, one line',
  reason:
    'why a data channel or FTP command was refused or failed; (debug) why a re-key started (RekeyLimit)',
  cipher: '(debug) the cipher chosen by a re-key',
  reply: 'the FTP reply sent to the client instead',
  direction: 'which side of the FTP control stream did not parse',
  peer: 'the connecting peer of a forwarded TCP connection',
  host: 'a channel’s target host (waiting for a free channel)',
  port: 'a channel’s target port (waiting for a free channel)',
  sent: '(debug) TCP forward bytes sent',
  received: '(debug) TCP forward bytes received',
  attempt: 'reconnect attempt number; or the TCP connect attempt that failed (ConnectionAttempts)',
  delay_ms: 'delay before that reconnect attempt',
  keys: '(debug) ssh_config keys ftpfwd does not use',
  stack: 'stack of an internal error (please report it)',
  level: '(debug) ssh2’s error level',
  // sftp/ forwardings (the FTP-to-SFTP bridge)
  user: '`sftp/`: the FTP login name (login, refusal, session summary)',
  command: '`sftp/`: the FTP command a line is about',
  path: '`sftp/`: the FTP path a command named (refused paths, failed SFTP requests, transfers)',
  status: '`sftp/`: the SFTP status code of a failed request',
  bytes: '`sftp/`: bytes a transfer moved (complete or aborted)',
  ms: '`sftp/` (debug): how long a transfer took',
  seconds: '`sftp/`: how long the FTP session lasted',
  down: '`sftp/`: bytes the session downloaded',
  up: '`sftp/`: bytes the session uploaded',
  target: '`sftp/`: the address a refused PORT/EPRT named',
  dir: '`sftp/`: REMOTE_DIR that could not be used',
  file: '`sftp/`: the password file that could not be read',
  listen: '`sftp/` (debug): where the bridge listens',
  jail: '`sftp/` (debug): whether paths are jailed',
  remoteDir: '`sftp/` (debug): REMOTE_DIR, when given',
  login: '`sftp/` (debug): how FTP logins are checked (`tunnel`, `ssh`, `password-file`)',
  retry_ms:
    '`sftp/`: a login refused for too many attempts from its address: how long until it may try again',
};

// --- collecting from the code ---------------------------------------------------------------

function help(bin, args) {
  return execFileSync(process.execPath, [join(root, bin), ...args], {
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '100', NO_COLOR: '1', FORCE_COLOR: '0' },
  }).trimEnd();
}

/** The built .js files under dir, subfolders included (the client's sftp-bridge/ logs too). */
function jsFiles(dir) {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => readFileSync(join(e.parentPath ?? e.path, e.name), 'utf8'));
}

/** The object literal that starts at text[i] ('{'), braces balanced. */
function objectAt(text, i) {
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    if (text[j] === '{') depth++;
    else if (text[j] === '}' && --depth === 0) return text.slice(i, j + 1);
  }
  return '';
}

/** Keys of the first-argument objects of pino calls (`log.info({ … }, 'msg')`) in built code. */
function logCalls(dir) {
  const calls = [];
  for (const src of jsFiles(dir)) {
    for (const m of src.matchAll(/\b(?:log|logger)\.(trace|debug|info|warn|error|fatal)\(\s*\{/g)) {
      const obj = objectAt(src, m.index + m[0].length - 1);
      const keys = [
        ...[...obj.matchAll(/(?<![\w.$?])([A-Za-z_]\w*)\s*:(?!:)/g)].map((k) => k[1]),
        // shorthand properties: `{ attempt, delay_ms: delay }`
        ...[...obj.matchAll(/(?<=[{,]\s*)([A-Za-z_]\w*)\s*(?=[,}])/g)].map((k) => k[1]),
      ];
      const event = /\bevent:\s*'([a-z-]+)'/.exec(obj)?.[1];
      calls.push({ keys, event });
    }
  }
  return calls;
}

/** Rows `[key, type]` of a JSON schema, nested objects and records flattened with dots. */
function schemaRows(schema, prefix = '') {
  const rows = [];
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const name = prefix + key;
    rows.push([name, typeOf(prop), prop.description]);
    if (prop.type === 'object' && prop.properties) rows.push(...schemaRows(prop, `${name}.`));
    if (prop.type === 'object' && prop.additionalProperties?.properties)
      rows.push(...schemaRows(prop.additionalProperties, `${name}.<name>.`));
    if (prop.type === 'array' && prop.items?.properties) rows.push(...schemaRows(prop.items, `${name}[].`));
  }
  return rows;
}

function typeOf(p) {
  if (p.anyOf) {
    const parts = p.anyOf.map(typeOf);
    if (parts.length === 2 && parts[1] === `list of ${parts[0]}s`) return `${parts[0]} or ${parts[1]}`;
    return parts.join(' or ');
  }
  if (p.enum) return p.enum.map((v) => `\`${v}\``).join(' \\| ');
  if (Array.isArray(p.type)) return p.type.join('/');
  if (p.type === 'array') return `list of ${typeOf(p.items)}s`;
  if (p.type === 'object') {
    if (p.properties) return 'object';
    const v = p.additionalProperties;
    return v?.properties ? 'map of name → object' : `map of name → ${typeOf(v ?? {})}`;
  }
  const hi = p.maximum !== undefined && p.maximum < Number.MAX_SAFE_INTEGER ? p.maximum : undefined;
  if (p.minimum !== undefined && hi !== undefined) return `${p.type} ${p.minimum}–${hi}`;
  const lo =
    p.minimum !== undefined
      ? `≥ ${p.minimum}`
      : p.exclusiveMinimum !== undefined
        ? `> ${p.exclusiveMinimum}`
        : '';
  return [p.type ?? 'any', lo, hi !== undefined ? `≤ ${hi}` : ''].filter(Boolean).join(' ');
}

const problems = [];

function describeAll(what, names, meanings) {
  for (const n of names)
    if (!(n in meanings)) problems.push(`${what} "${n}" is in the code but has no sentence`);
  for (const n of Object.keys(meanings))
    if (!names.includes(n)) problems.push(`${what} "${n}" has a sentence but is no longer in the code`);
}

function table(head, rows) {
  const esc = (c) =>
    String(c)
      .replace(/\|/g, '\\|')
      .replace(/\\\\\|/g, '\\|');
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** A key's sentence: the table above, else the schema's own `.describe()` text; neither is a problem. */
function keyTable(schema, meanings, what) {
  const rows = schemaRows(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }));
  const names = rows.map(([k]) => k);
  for (const [k, , d] of rows)
    if (!(k in meanings) && !d) problems.push(`${what} "${k}" is in the code but has no sentence`);
  for (const n of Object.keys(meanings))
    if (!names.includes(n)) problems.push(`${what} "${n}" has a sentence but is no longer in the code`);
  return table(
    ['key', 'type', 'meaning'],
    rows.map(([k, t, d]) => [`\`${k}\``, t, meanings[k] ?? d]),
  );
}

/** The gateway form of `--config` (several destinations), once the client has it. */
async function gatewaySection() {
  const file = join(root, 'packages/client/dist/gateway-config.js');
  if (!existsSync(file)) return '';
  const { GatewayConfigSchema } = await import(file);
  if (!GatewayConfigSchema) return '';
  return `
#### Gateway form

A file with a \`destinations:\` key is the gateway form: several SSH destinations, each with its own
connection settings and forwardings, in one process. Schema: \`GatewayConfigSchema\` in
\`packages/client/src/gateway-config.ts\`; the sentences are the schema's own descriptions.

${keyTable(GatewayConfigSchema, {}, 'ftpfwd gateway config key')}
`;
}

// --- the document ---------------------------------------------------------------------------

export async function generate() {
  problems.length = 0;
  const { ConfigFileSchema } = await import(join(root, 'packages/client/dist/config-file.js'));
  const { configSchema } = await import(join(root, 'packages/sshd/dist/config.js'));
  const { Metrics } = await import(join(root, 'packages/client/dist/metrics.js'));

  const metrics = new Metrics().registry
    .getMetricsAsArray()
    .map((m) => [`\`${m.name}\``, m.type, m.labelNames.map((l) => `\`${l}\``).join(', ') || '—', m.help]);

  const sshdCalls = logCalls('packages/sshd/dist');
  const events = [...new Set(sshdCalls.map((c) => c.event).filter(Boolean))].sort();
  describeAll('ftpfwd-sshd log event', events, SSHD_EVENTS);
  const clientFields = [...new Set(logCalls('packages/client/dist').flatMap((c) => c.keys))].sort();
  describeAll('ftpfwd log field', clientFields, CLIENT_FIELDS);

  const doc = `# Reference

<!-- Generated by tools/gen-reference.mjs from the programs' --help, config schemas, metrics registry and
log calls. Do not edit: run \`node tools/gen-reference.mjs\` after \`npm run build\`. The docs test
(tools/docs-test) fails when this file differs from a fresh generation. -->

- [ftpfwd](#ftpfwd): [command line](#ftpfwd-command-line), [config file](#ftpfwd-config-file), [exit codes](#ftpfwd-exit-codes), [logs](#ftpfwd-logs), [metrics](#ftpfwd-metrics)
- [ftpfwd-sshd](#ftpfwd-sshd): [command line](#ftpfwd-sshd-command-line), [config file](#ftpfwd-sshd-config-file), [exit codes](#ftpfwd-sshd-exit-codes), [logs](#ftpfwd-sshd-logs)

## ftpfwd

### ftpfwd command line

\`ftpfwd --help\`:

\`\`\`text
${help('packages/client/bin/ftpfwd.js', ['--help'])}
\`\`\`

\`-o\` and \`-F\` take the OpenSSH keys listed in [the client's README](../packages/client/README.md#ssh-options).

### ftpfwd config file

\`ftpfwd --config FILE\` reads YAML (JSON is YAML too) with the command line's settings, for one SSH
destination. Every key is optional; the command line wins over the file; an unknown key is an error
that names it. Schema: \`ConfigFileSchema\` in \`packages/client/src/config-file.ts\`.

${keyTable(ConfigFileSchema, CLIENT_KEYS, 'ftpfwd config key')}
${await gatewaySection()}
### ftpfwd exit codes

| code | when |
|---|---|
| 0 | stopped by SIGINT or SIGTERM after closing cleanly; \`--help\`, \`--version\` |
| 255 | any failure, as with \`ssh\`: a usage or config error, unknown or changed host key, failed authentication, refused connection, a forwarding that could not be set up with \`ExitOnForwardFailure=yes\`; one line on stderr says which |

### ftpfwd logs

On stderr. \`--log-format text\` (default): one line per record, \`ftpfwd: [warning: |error: ]message key=value …\`.
\`--log-format json\`: pino records with \`level\` (30 info, 40 warn, 50 error, 20 debug, 10 trace),
\`time\` (ms since the epoch), \`name\` (\`"ftpfwd"\`), \`msg\` and the fields below. \`info\` (default)
logs each forwarding at start-up, one summary per FTP session, reconnects and warnings; \`-v\` adds
debug (each rewrite, each data channel), \`-vv\` trace.

${table(
  ['field', 'meaning'],
  clientFields.map((f) => [`\`${f}\``, CLIENT_FIELDS[f] ?? '']),
)}

### ftpfwd metrics

\`--metrics ADDR:PORT\` serves these in Prometheus text format on \`GET /metrics\`:

${table(['metric', 'type', 'labels', 'meaning'], metrics)}

The container health check (\`deploy/container/healthcheck.mjs\`) is healthy while \`ftpfwd_link_up\` is 1.

## ftpfwd-sshd

### ftpfwd-sshd command line

\`ftpfwd-sshd --help\`:

\`\`\`text
${help('packages/sshd/bin/ftpfwd-sshd.js', ['--help'])}
\`\`\`

\`ftpfwd-sshd keygen --help\`:

\`\`\`text
${help('packages/sshd/bin/ftpfwd-sshd.js', ['keygen', '--help'])}
\`\`\`

\`ftpfwd-sshd passwd --help\`:

\`\`\`text
${help('packages/sshd/bin/ftpfwd-sshd.js', ['passwd', '--help'])}
\`\`\`

Signals: SIGTERM/SIGINT stop accepting, drain open channels for \`limits.drainTimeout\`, exit 0 (a
second signal exits at once); SIGHUP re-reads the config file, authorized_keys and the password file.

### ftpfwd-sshd config file

\`--config FILE\`: JSON (\`.json\`) or YAML (anything else). Paths are relative to the file; command-line
flags override it; an unknown or mistyped key is an error that names it. Schema: \`configSchema\` in
\`packages/sshd/src/config.ts\`.

${keyTable(configSchema, SSHD_KEYS, 'ftpfwd-sshd config key')}

### ftpfwd-sshd exit codes

| code | when |
|---|---|
| 0 | clean stop after SIGTERM/SIGINT; \`--help\` |
| 1 | configuration or start-up error (one line on stderr: what was expected, what was found); a second signal during shutdown |
| 2 | usage error (unknown option, bad value) |

### ftpfwd-sshd logs

pino JSON on stderr: \`level\`, \`time\`, \`msg\`, \`event\` and the event's fields; lines about one
connection also carry \`conn\` (its id) and \`ip\`. \`info\` by default, \`-v\` debug, \`-vv\` trace.

${table(
  ['event', 'when'],
  events.map((e) => [`\`${e}\``, SSHD_EVENTS[e] ?? '']),
)}
`;
  if (problems.length)
    throw new Error(
      `gen-reference: the tables in tools/gen-reference.mjs need updating:\n  ${problems.join('\n  ')}`,
    );
  // The repository formats Markdown with biome (`npm run format`): emit what it would, so formatting
  // the tree never makes this file look stale.
  return execFileSync(
    join(root, 'node_modules', '.bin', 'biome'),
    ['format', '--stdin-file-path=docs/reference.md'],
    {
      input: doc,
      encoding: 'utf8',
    },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const doc = await generate();
    if (process.argv.includes('--check')) {
      const now = readFileSync(OUT, 'utf8');
      if (now !== doc) {
        console.error('docs/reference.md is stale: run `node tools/gen-reference.mjs` (after npm run build)');
        process.exit(1);
      }
      console.log('docs/reference.md is up to date');
    } else {
      writeFileSync(OUT, doc);
      console.log(`wrote ${OUT}`);
    }
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

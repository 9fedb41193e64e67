/**
 * `ftpfwd-sshd`: run the server, or `keygen` / `passwd`. Errors a user can hit are printed as one
 * line on stderr with a non-zero exit status; logs are pino JSON on stderr.
 */
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPrompter, hashPassword, isValidUserName, setPasswordLine } from '@ftpfwd/ftp-proxy/cli';
import { applyGcPacingEnv, applyPacketPoolEnv } from '@ftpfwd/ftp-proxy/transport';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pino, { type Level, type Logger } from 'pino';
import { SshdError } from './errors.js';
import { type KeyKind, writeNewKey } from './host-keys.js';
import { createSshServer } from './server.js';
import { buildServerOptions, type CliFlags, loadConfig } from './setup.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function makeLogger(level: Level | 'silent'): Logger {
  return pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
}

async function runServer(flags: CliFlags): Promise<void> {
  const cfg = loadConfig(flags);
  const verbose = flags.verbose ?? 0;
  const level = verbose >= 2 ? 'trace' : verbose === 1 ? 'debug' : (cfg.logLevel ?? 'info');
  const log = makeLogger(level);
  // Without it a bulk transfer spends about a quarter of the server's CPU in full GCs (gc-pacing.ts).
  const pacing = applyGcPacingEnv(process.env.FTPFWD_GC_PACING);
  if (typeof pacing === 'object') throw new SshdError('usage', pacing.error);
  // Outgoing SSH packets from a slab instead of one Buffer each (ssh-packet-pool.ts).
  const pool = applyPacketPoolEnv(process.env.FTPFWD_PACKET_POOL);
  if (typeof pool === 'object') throw new SshdError('usage', pool.error);
  if (pacing === 'unavailable')
    log.debug(
      { event: 'gc-pacing' },
      'GC pacing unavailable in this runtime: bulk transfers will cost more CPU',
    );
  const server = createSshServer(buildServerOptions(flags, cfg, log));
  // The handlers go in before start(): until a SIGTERM/SIGINT handler exists the default action
  // kills the process, so a signal sent as soon as the "listening" line appears (or during
  // start-up) would skip the drain and end with a signal instead of exit 0. A signal during
  // start-up stops whatever listeners are up and exits 0 like any other shutdown.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ event: 'signal', signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ event: 'signal', signal }, `${signal}: shutting down`);
    server.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP re-reads the config, authorized_keys and password files (as OpenSSH picks up a changed
  // authorized_keys without a restart). A broken file keeps the old settings.
  process.on('SIGHUP', () => {
    try {
      const fresh = buildServerOptions(flags, loadConfig(flags), log);
      server.reload(fresh);
    } catch (err) {
      log.error(
        { event: 'reload-failed', err: (err as Error).message },
        `reload failed, old settings kept: ${(err as Error).message}`,
      );
    }
  });
  try {
    await server.start();
  } catch (err) {
    // A start-up failure after a signal asked us to stop is part of stopping: stop() exits.
    if (stopping) return;
    throw err;
  }
}

function keygen(opts: { type: KeyKind; out: string }): void {
  const key = writeNewKey(opts.out, opts.type);
  process.stdout.write(`${key.fingerprint} ${opts.out} (${key.type})\n`);
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(0x0a) || Buffer.concat(chunks).length > 4096) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

async function passwd(file: string, user: string): Promise<void> {
  if (!isValidUserName(user)) {
    throw new SshdError(
      'usage',
      `passwd: expected a user name of letters, digits, . _ @ - (at most 64), got ${JSON.stringify(user)}`,
    );
  }
  let password: string;
  if (process.stdin.isTTY) {
    // The prompt both CLIs share: the terminal, no echo (or SSH_ASKPASS, as OpenSSH).
    const prompter = createPrompter({ batchMode: false });
    const first = await prompter.ask(`New password for ${user}: `, false);
    if (first === undefined) throw new SshdError('usage', 'passwd: cancelled');
    const again = await prompter.ask('Repeat it: ', false);
    if (again !== first) throw new SshdError('usage', 'passwd: the two passwords differ; nothing changed');
    password = first;
  } else {
    password = await readStdinLine();
  }
  if (password.length === 0)
    throw new SshdError('usage', 'passwd: expected a password, got an empty one; nothing changed');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SshdError('password-file', `passwd: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  const hash = await hashPassword(password);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, setPasswordLine(text, user, hash), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? `no directory ${dirname(file)}`
        : e.code === 'EACCES'
          ? 'permission denied'
          : e.message;
    throw new SshdError('password-file', `passwd: cannot write ${file}: ${why}; nothing changed`);
  }
  process.stderr.write(`password for ${user} set in ${file}\n`);
}

export function buildProgram(): Command {
  const program = new Command('ftpfwd-sshd')
    .description('A minimal SSH server for port forwarding only, with an FTP-aware least-privilege policy.')
    .option('--listen <addr:port>', 'listen address, repeatable (default 0.0.0.0:2222)', collect)
    .option('--host-key <file>', 'OpenSSH private host key (ed25519, ecdsa, rsa), repeatable', collect)
    .option(
      '--authorized-keys <file>',
      'OpenSSH authorized_keys; any user name presenting a listed key is accepted',
    )
    .option('--passwords <file>', 'user:scrypt-hash lines, written by "ftpfwd-sshd passwd"')
    .option(
      '--permit-open <spec>',
      'host:port, *:port, host:*, any (default), none; host:port/ftp = FTP-aware; repeatable',
      collect,
    )
    .option('--permit-listen <spec>', '[addr:]port, any (default), none; repeatable', collect)
    .addOption(
      new Option('--gateway-ports <mode>', 'where remote forwards listen').choices([
        'no',
        'yes',
        'clientspecified',
      ]),
    )
    .addOption(
      new Option('--allow-tcp-forwarding <mode>', 'which forwarding directions are allowed').choices([
        'yes',
        'no',
        'local',
        'remote',
      ]),
    )
    .option('--config <file>', 'JSON or YAML config file (flags override it)')
    .option('-v, --verbose', 'more logs (-vv for trace)', (_v: string, prev: number) => prev + 1, 0)
    .showHelpAfterError('(ftpfwd-sshd --help shows the options)')
    .exitOverride()
    .action(async (opts: CliFlags) => {
      await runServer(opts);
    });

  program
    .command('keygen')
    .description('write a new private key FILE (0600) and FILE.pub; prints the SHA256 fingerprint')
    .addOption(
      new Option('--type <type>', 'key type').choices(['ed25519', 'ecdsa', 'rsa']).default('ed25519'),
    )
    .requiredOption('--out <file>', 'where to write the private key')
    .action((opts: { type: KeyKind; out: string }) => keygen(opts));

  program
    .command('passwd')
    .description("set USER's password in FILE (from the terminal, or the first line of stdin)")
    .requiredOption('--file <file>', 'password file')
    .argument('<user>', 'user name')
    .action(async (user: string, opts: { file: string }) => {
      await passwd(opts.file, user);
    });
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its message already; --help and --version are not errors.
      process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2);
    }
    if (err instanceof SshdError || err instanceof InvalidArgumentError) {
      process.stderr.write(`ftpfwd-sshd: ${err.message}\n`);
      process.exit(err instanceof SshdError && err.code !== 'usage' ? 1 : 2);
    }
    process.stderr.write(`ftpfwd-sshd: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

await main();

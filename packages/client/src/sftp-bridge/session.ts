/**
 * One FTP control connection: framing, the command queue, login state and replies. What each
 * command does is in commands/*.ts; this module only runs them one after another, in order, and
 * turns whatever a command throws into one reply (never a crash, never a missing reply).
 *
 * Commands are answered in the order they came (clients pipeline them). While a transfer runs,
 * ABOR and STAT are answered at once (RFC 959 §4.1.3); everything else waits for the transfer.
 */
import type { Socket } from 'node:net';
import {
  CommandFramer,
  type FtpCommand,
  FtpParseError,
  normalizeAddress,
  parseCommandLine,
} from '@ftpfwd/ftp-proxy';
import type { Logger } from 'pino';
import { COMMANDS } from './commands/index.js';
import { DataChannel } from './data-channel.js';
import type { Identity, MlstFact } from './listing.js';
import { MLST_FACTS } from './listing.js';
import type { LoginGate } from './login-gate.js';
import { PathMapper, PathRefused } from './paths.js';
import { formatReply } from './reply.js';
import { SftpOps } from './sftp.js';
import { mapSftpError } from './status.js';
import { DEFAULT_PUMP, type PumpOptions } from './transfer.js';
import type { SftpBridgeOptions, SftpSession } from './types.js';

/** Longest command line (RFC 959 has no limit; 4 KiB as the ftp-proxy engine). */
export const MAX_LINE = 4096;
/** Commands waiting behind a running one before the control connection stops being read. */
const QUEUE_PAUSE = 64;
/** Reply bytes not yet taken by the FTP client before its commands stop being read. */
const REPLY_BACKLOG = 256 * 1024;

export interface SessionConfig {
  opts: SftpBridgeOptions;
  pump: PumpOptions;
  /** Delay before a failed login's 530 (slows guessing down). */
  loginFailDelayMs: number;
  /** Failed logins after which the connection is closed. */
  maxLoginFailures: number;
  dataAcceptTimeoutMs: number;
  dataConnectTimeoutMs: number;
  /** Largest file whose TYPE A size SIZE computes (it reads the whole file). */
  asciiSizeLimit: number;
  /** Password checks across every session of the bridge (login-gate.ts); one per bridge. */
  logins: LoginGate;
}

export const DEFAULT_SESSION_CONFIG: Omit<SessionConfig, 'opts' | 'logins'> = {
  pump: DEFAULT_PUMP,
  loginFailDelayMs: 1000,
  maxLoginFailures: 3,
  dataAcceptTimeoutMs: 30_000,
  dataConnectTimeoutMs: 10_000,
  asciiSizeLimit: 64 * 1024 * 1024,
};

/** A transfer in progress (RETR, STOR, APPE, STOU, LIST, NLST, MLSD). */
export interface RunningTransfer {
  verb: string;
  path: string;
  abort: AbortController;
  /** Settles after the transfer's last reply went out. */
  done: Promise<void>;
  /** Bytes moved so far (for STAT). */
  bytes(): number;
}

/** What logged-in commands work with. */
export interface FileSystem {
  ops: SftpOps;
  map: PathMapper;
  who: Identity;
}

type QueueItem = { cmd: FtpCommand } | { bad: string } | { overflow: number };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Argument bytes (latin1 text) as UTF-8 (RFC 2640), or as they are when they are not UTF-8. */
function decodeArgument(latin1: string): string {
  if (!/[\x80-\xff]/.test(latin1)) return latin1;
  try {
    return utf8.decode(Buffer.from(latin1, 'latin1'));
  } catch {
    return latin1;
  }
}

export class FtpSession {
  readonly log: Logger;
  readonly data: DataChannel;
  readonly peer: string;
  readonly local: string;
  /** Settles when the control connection has closed and everything was released. */
  readonly closed: Promise<void>;

  // login
  user: string | undefined;
  loginFailures = 0;
  fs: FileSystem | undefined;
  private sftpSession: SftpSession | undefined;

  // command state
  type: 'A' | 'I' = 'A';
  restOffset = 0;
  renameFrom: string | undefined;
  epsvAll = false;
  mlstFacts: Set<MlstFact> = new Set(MLST_FACTS);
  transfer: RunningTransfer | undefined;
  /** Set while a command's reply is still to come (for STAT). */
  current: string | undefined;

  private readonly framer = new CommandFramer(MAX_LINE);
  private readonly queue: QueueItem[] = [];
  private running = false;
  private ending = false;
  private resolveClosed!: () => void;
  private readonly started = Date.now();
  bytesDown = 0;
  bytesUp = 0;

  constructor(
    readonly id: string,
    readonly sock: Socket,
    readonly config: SessionConfig,
  ) {
    this.log = config.opts.logger;
    this.peer = normalizeAddress(sock.remoteAddress ?? '');
    this.local = normalizeAddress(sock.localAddress ?? '');
    this.closed = new Promise((r) => {
      this.resolveClosed = r;
    });
    this.data = new DataChannel({
      controlPeer: this.peer,
      controlLocal: this.local,
      dataPorts: config.opts.dataPorts,
      acceptTimeoutMs: config.dataAcceptTimeoutMs,
      connectTimeoutMs: config.dataConnectTimeoutMs,
      minActivePort: 1024,
      logger: this.log,
      session: id,
    });
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) =>
      this.log.debug({ session: id, err: err.message }, 'FTP control connection error'),
    );
    sock.on('close', () => this.teardown('connection closed'));
    sock.on('drain', () => this.maybeResume());
    this.log.info({ session: id, peer: this.peer }, 'FTP session opened');
    this.reply(220, 'ftpfwd FTP to SFTP bridge ready');
  }

  // ---------------------------------------------------------------- replies

  reply(code: number, lines: string | readonly string[]): void {
    if (this.sock.destroyed || !this.sock.writable) return;
    this.sock.write(formatReply(code, lines));
    if (this.sock.writableLength > REPLY_BACKLOG) this.sock.pause();
  }

  /** The reply and log line for a failure a command threw. */
  fail(verb: string, path: string | undefined, err: unknown, opts: { diskFull?: boolean } = {}): void {
    if (err instanceof PathRefused) {
      this.log.info({ session: this.id, command: verb, path: err.path, reason: err.why }, 'path refused');
      this.reply(550, `${err.why}: ${err.path}`);
      return;
    }
    if (err instanceof FtpParseError) {
      this.reply(501, `Syntax error in parameters: ${err.message}`);
      return;
    }
    const m = mapSftpError(err, opts);
    this.log.info(
      {
        session: this.id,
        command: verb,
        path,
        status: m.status,
        reply: m.code,
        err: (err as Error)?.message,
      },
      'SFTP request failed',
    );
    this.reply(m.code, path !== undefined && m.code === 550 ? `${path}: ${m.text}` : m.text);
    if (m.fatal) this.end();
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    this.framer.push(
      chunk,
      (content) => this.onLine(content.toString('latin1')),
      (seen) => this.enqueue({ overflow: seen }),
    );
  }

  private onLine(text: string): void {
    if (text.trim() === '') return; // a stray line end (an LF after an urgent CR) is no command
    const cmd = parseCommandLine(text);
    if (!cmd) {
      this.enqueue({ bad: text });
      return;
    }
    if (cmd.argument.includes('\0')) {
      this.enqueue({ bad: text });
      return;
    }
    if (this.transfer && (cmd.verb === 'ABOR' || cmd.verb === 'STAT') && !cmd.argument) {
      void this.dispatch(cmd);
      return;
    }
    this.enqueue({ cmd });
  }

  private enqueue(item: QueueItem): void {
    if (this.ending) return;
    this.queue.push(item);
    if (this.queue.length > QUEUE_PAUSE) this.sock.pause();
    void this.runQueue();
  }

  private maybeResume(): void {
    if (!this.ending && this.queue.length <= QUEUE_PAUSE / 2 && this.sock.writableLength <= REPLY_BACKLOG)
      this.sock.resume();
  }

  private async runQueue(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.ending) {
        const item = this.queue.shift()!;
        this.maybeResume();
        if ('bad' in item) {
          this.reply(500, 'Syntax error, command unrecognized');
          continue;
        }
        if ('overflow' in item) {
          this.reply(500, `Command line too long (more than ${MAX_LINE} bytes)`);
          continue;
        }
        await this.dispatch(item.cmd);
      }
    } finally {
      this.running = false;
    }
  }

  private async dispatch(cmd: FtpCommand): Promise<void> {
    const verb = cmd.verb;
    const arg = decodeArgument(cmd.argument);
    const spec = COMMANDS.get(verb);
    this.log.trace({ session: this.id, command: verb }, 'FTP command');
    if (verb !== 'RNTO' && verb !== 'RNFR') this.renameFrom = undefined;
    if (!spec) {
      this.reply(502, `${verb} not implemented`);
      return;
    }
    if (spec.login && !this.fs) {
      this.reply(530, 'Please log in with USER and PASS first');
      return;
    }
    if (spec.arg === 'required' && arg.trim() === '') {
      this.reply(501, `${verb} needs an argument`);
      return;
    }
    if (spec.arg === 'none' && arg.trim() !== '') {
      this.reply(501, `${verb} takes no argument`);
      return;
    }
    this.current = verb;
    try {
      await spec.run(this, arg);
    } catch (err) {
      this.fail(verb, arg.trim() || undefined, err);
      if (
        !(err instanceof PathRefused) &&
        !(err instanceof FtpParseError) &&
        !(err as { code?: unknown })?.code
      )
        this.log.warn(
          { session: this.id, command: verb, err: (err as Error)?.stack ?? String(err) },
          'command failed',
        );
    } finally {
      this.current = undefined;
    }
  }

  // ---------------------------------------------------------------- login

  /** Installs the SFTP session of a successful login. Throws when its start directory is unusable. */
  async adopt(session: SftpSession, user: string): Promise<void> {
    if (this.ending) {
      // the FTP client left while its SFTP session was being opened
      session.close();
      return;
    }
    this.sftpSession = session;
    const ops = new SftpOps(session.sftp, session.extensions);
    // an SFTP protocol error is emitted as 'error' (then 'close'): never unhandled
    session.sftp.on('error', (err: Error) => {
      this.log.warn({ session: this.id, err: err.message }, 'SFTP session error');
    });
    session.sftp.on('close', () => {
      if (this.fs?.ops === ops && !this.ending) {
        this.log.warn({ session: this.id }, 'SFTP session closed by the server');
        this.reply(421, 'SFTP session lost; closing control connection');
        this.end();
      }
    });
    const start = this.config.opts.remoteDir ?? '.';
    const root = await ops.realpath(start);
    const st = await ops.stat(root);
    if (!st.isDirectory()) throw new Error(`remote directory ${start} is not a directory`);
    const jail = this.config.opts.jail;
    const map = new PathMapper(root, jail, jail ? '/' : root);
    if (this.ending) return this.dropSftp();
    this.fs = { ops, map, who: { uid: st.uid, gids: new Set(st.gid !== undefined ? [st.gid] : []) } };
    this.user = user;
  }

  /** Closes the SFTP session of this FTP session, if any. */
  private dropSftp(): void {
    const s = this.sftpSession;
    this.sftpSession = undefined;
    this.fs = undefined;
    if (!s) return;
    try {
      s.close();
    } catch {
      // already gone
    }
  }

  // ---------------------------------------------------------------- lifetime

  /** Ends the session after the replies already written (QUIT, a fatal error, shutdown). */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.queue.length = 0;
    this.transfer?.abort.abort();
    this.data.reset();
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 2000).unref();
  }

  private teardown(reason: string): void {
    this.ending = true;
    this.queue.length = 0;
    this.transfer?.abort.abort();
    this.data.reset();
    const finish = () => {
      this.dropSftp();
      this.log.info(
        {
          session: this.id,
          user: this.user,
          reason,
          seconds: Math.round((Date.now() - this.started) / 100) / 10,
          down: this.bytesDown,
          up: this.bytesUp,
        },
        'FTP session closed',
      );
      this.resolveClosed();
    };
    // a transfer being aborted closes its SFTP handle first
    if (this.transfer) void this.transfer.done.then(finish, finish);
    else finish();
  }
}

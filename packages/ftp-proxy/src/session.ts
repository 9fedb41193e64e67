import { isIPv4Address, sameAddress } from './address.js';
import {
  type FtpCommand,
  formatEprtArgument,
  formatPortArgument,
  parseCommandLine,
  parseEprtArgument,
  parsePortArgument,
  TRANSFER_VERBS,
} from './commands.js';
import { excerpt, FtpParseError } from './errors.js';
import { Fifo } from './fifo.js';
import { LineFramer, lineTerminator, lineText } from './line-framer.js';
import {
  formatEpsvReply,
  formatPasvReply,
  isAuthFeatureLine,
  isPreliminary,
  parseEpsvReply,
  parsePasvReply,
  ReplyFramer,
  rewritePasvLine,
} from './replies.js';
import {
  type DataChannelBroker,
  type DataChannelLease,
  type DataCommand,
  DEFAULT_POLICY,
  type Endpoint,
  type SessionContext,
  type SessionEvent,
  type SessionPolicy,
} from './types.js';

export type Direction = 'fromClient' | 'fromServer';

export interface FtpControlSessionOptions {
  broker: DataChannelBroker;
  context: SessionContext;
  policy?: Partial<SessionPolicy>;
  /** Bytes for the FTP client, in order. */
  toClient: (bytes: Buffer) => void;
  /** Bytes for the FTP server, in order. */
  toServer: (bytes: Buffer) => void;
  onEvent?: (event: SessionEvent) => void;
  /** The session cannot go on (a hostile server reply); the caller closes the connection. */
  onFatal?: (error: Error) => void;
  /** A direction that held its input while the broker worked can take more now. */
  onResume?: (direction: Direction) => void;
}

/** The control connection cannot go on; the message says what was expected and what came. */
export class FtpProtocolError extends Error {
  override readonly name = 'FtpProtocolError';
}

/** A data channel the session set up, and whether a transfer command has claimed it yet. */
interface TrackedLease {
  lease: DataChannelLease;
  command: DataCommand;
}

/**
 * A command sent to the server (or answered here) whose final reply the FTP client has not seen
 * yet. Replies come in command order (RFC 959), so a FIFO pairs each reply with its command; a
 * command answered locally waits in the same FIFO so that pipelining clients see replies in order.
 */
interface Outstanding {
  verb: string;
  /** A reply the session makes itself, sent when every earlier command has been answered. */
  localReply?: string;
  /** The data channel a transfer command uses: released when the command's final reply arrives. */
  lease?: TrackedLease;
}

/** How the lines of the server reply now arriving are treated. */
type ReplyHandling = 'pass' | 'passive' | 'feat';

const GREETING = '<greeting>';
/** Stands in the client queue where an overlong command line was dropped. */
const LINE_TOO_LONG = Symbol('line too long');
type QueuedLine = Buffer | typeof LINE_TOO_LONG;
const MAX_HELD_REPLY_LINES = 64;

/**
 * One FTP control connection seen through the proxy: frames both directions into lines, pairs
 * commands with replies, and turns every PASV/EPSV reply and PORT/EPRT command into a forwarded data
 * channel through the broker, rewriting exactly the line that names the endpoint. Every other byte
 * passes unchanged.
 *
 * Sans-IO: input comes through `fromClient`/`fromServer`, output leaves through the `toClient`/
 * `toServer` callbacks. While the broker works on a data channel, the direction that is waiting holds
 * its later lines (so nothing overtakes the rewritten line) and `fromX` returns false: the caller
 * should pause that source until `onResume`.
 *
 * Nothing in here throws out of `fromClient`/`fromServer`: malformed input becomes an FTP reply to the
 * client and an event.
 */
export class FtpControlSession {
  readonly policy: Readonly<SessionPolicy>;
  private readonly clientFramer: LineFramer;
  private readonly serverFramer: LineFramer;
  private readonly replyFramer = new ReplyFramer();
  private readonly outstanding = new Fifo<Outstanding>();
  private readonly clientQueue = new Fifo<QueuedLine>();
  private readonly serverQueue = new Fifo<QueuedLine>();
  private clientBusy = false;
  private serverBusy = false;
  private replyHandling: ReplyHandling = 'pass';
  private heldReply: Buffer[] = [];
  private readonly leases = new Set<TrackedLease>();
  /** The newest data channel, set up but not yet claimed by a transfer command. */
  private unclaimed: TrackedLease | undefined;
  private tlsPassthrough = false;
  private ended = false;
  private opened = 0;
  private failed = 0;

  constructor(private readonly options: FtpControlSessionOptions) {
    this.policy = Object.freeze({ ...DEFAULT_POLICY, ...options.policy });
    this.clientFramer = new LineFramer(this.policy.maxLineLength);
    this.serverFramer = new LineFramer(this.policy.maxLineLength);
    this.outstanding.push({ verb: GREETING });
  }

  get context(): SessionContext {
    return this.options.context;
  }

  /** Data channels set up / refused or failed so far. */
  get stats(): { dataChannelsOpened: number; dataChannelsFailed: number } {
    return { dataChannelsOpened: this.opened, dataChannelsFailed: this.failed };
  }

  /** Bytes from the FTP client. Returns false while this direction is holding input. */
  fromClient(chunk: Buffer): boolean {
    if (this.ended) return true;
    if (this.tlsPassthrough) {
      this.options.toServer(chunk);
      return true;
    }
    this.clientFramer.push(
      chunk,
      (line) => this.enqueue(this.clientQueue, line, 'fromClient'),
      (seen) => this.clientLineTooLong(seen),
    );
    return !this.clientBusy;
  }

  /** Bytes from the FTP server. Returns false while this direction is holding input. */
  fromServer(chunk: Buffer): boolean {
    if (this.ended) return true;
    if (this.tlsPassthrough) {
      this.options.toClient(chunk);
      return true;
    }
    this.serverFramer.push(
      chunk,
      (line) => this.enqueue(this.serverQueue, line, 'fromServer'),
      (seen) => this.serverLineTooLong(seen),
    );
    return !this.serverBusy;
  }

  /** Ends the session: releases every data channel; later input is ignored. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const tracked of this.leases) this.release(tracked);
    this.unclaimed = undefined;
    this.clientQueue.clear();
    this.serverQueue.clear();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  // ---------------------------------------------------------------- line scheduling

  private enqueue(queue: Fifo<QueuedLine>, line: QueuedLine, direction: Direction): void {
    const busy = direction === 'fromClient' ? this.clientBusy : this.serverBusy;
    if (busy || queue.length > 0) {
      queue.push(line);
      return;
    }
    this.dispatch(line, direction);
  }

  private dispatch(line: QueuedLine, direction: Direction): void {
    if (this.ended) return;
    if (line === LINE_TOO_LONG) {
      this.queueLocalReply(`500 Command line too long (limit ${this.policy.maxLineLength} bytes).`);
      return;
    }
    if (this.tlsPassthrough) {
      // A line framed before AUTH was accepted but not yet processed: raw from here on.
      (direction === 'fromClient' ? this.options.toServer : this.options.toClient)(line);
      return;
    }
    try {
      if (direction === 'fromClient') this.handleClientLine(line);
      else this.handleServerLine(line);
    } catch (error) {
      // Defence in depth: a bug in a handler must cost this line, not the process.
      this.emit({ type: 'protocol-error', direction, reason: `internal error: ${(error as Error).message}` });
    }
  }

  /** Runs `work` with `direction` held; later lines of that direction wait, then are processed. */
  private hold(direction: Direction, work: () => Promise<void>): void {
    this.setBusy(direction, true);
    work()
      .catch((error: unknown) => {
        this.emit({
          type: 'protocol-error',
          direction,
          reason: `internal error: ${(error as Error).message}`,
        });
      })
      .finally(() => {
        this.setBusy(direction, false);
        if (direction === 'fromServer') this.flushLocalReplies();
        this.drain(direction);
      });
  }

  private setBusy(direction: Direction, busy: boolean): void {
    if (direction === 'fromClient') this.clientBusy = busy;
    else this.serverBusy = busy;
  }

  private drain(direction: Direction): void {
    const queue = direction === 'fromClient' ? this.clientQueue : this.serverQueue;
    while (queue.length > 0 && !(direction === 'fromClient' ? this.clientBusy : this.serverBusy)) {
      this.dispatch(queue.shift()!, direction);
    }
    if (queue.length === 0 && !this.ended) this.options.onResume?.(direction);
  }

  // ---------------------------------------------------------------- client → server

  private handleClientLine(line: Buffer): void {
    const text = lineText(line);
    const command = parseCommandLine(text);
    if (!command) {
      this.forwardCommand(line, '?');
      return;
    }
    switch (command.verb) {
      case 'PORT':
      case 'EPRT':
        this.handleActiveCommand(line, command);
        return;
      case 'LPRT':
      case 'LPSV':
        // Long-address variants (RFC 1639): nobody needs them and we do not rewrite them, so ask the
        // client to fall back to EPRT/EPSV or PORT/PASV instead of letting them bypass the tunnel.
        this.refuse(
          command.verb,
          '502 Command not implemented; use EPSV/EPRT or PASV/PORT.',
          'not forwarded',
        );
        return;
      case 'AUTH':
        if (!this.policy.allowAuthTls) {
          this.refuse(
            'AUTH',
            '534 Request denied for policy reasons: the SSH tunnel already encrypts this session.',
            'AUTH refused: a TLS control channel cannot be watched for data channels',
          );
          return;
        }
        this.forwardCommand(line, 'AUTH');
        return;
      default:
        if (TRANSFER_VERBS.has(command.verb)) {
          const lease = this.unclaimed;
          this.unclaimed = undefined;
          this.forwardCommand(line, command.verb, lease);
          return;
        }
        this.forwardCommand(
          line,
          command.verb === 'EPSV' && /^\s*all\s*$/i.test(command.argument) ? 'EPSV ALL' : command.verb,
        );
    }
  }

  private forwardCommand(line: Buffer, verb: string, lease?: TrackedLease): void {
    this.outstanding.push(lease ? { verb, lease } : { verb });
    this.options.toServer(line);
  }

  private handleActiveCommand(line: Buffer, command: FtpCommand): void {
    const verb = command.verb as 'PORT' | 'EPRT';
    let target: Endpoint;
    try {
      target = verb === 'PORT' ? parsePortArgument(command.argument) : parseEprtArgument(command.argument);
    } catch (error) {
      const reason = error instanceof FtpParseError ? error.message : String(error);
      this.refuse(verb, `501 Syntax error in ${verb} argument.`, reason);
      return;
    }
    if (this.policy.antiBounce) {
      const own = this.context.clientAddress.host;
      if (!sameAddress(target.host, own)) {
        this.refuse(
          verb,
          `500 Illegal ${verb} command: the address must be your own.`,
          `bounce refused: ${verb} names ${target.host}, the client is ${own}`,
        );
        return;
      }
      if (target.port < this.policy.minActivePort) {
        this.refuse(
          verb,
          `500 Illegal ${verb} command: port ${target.port} is below ${this.policy.minActivePort}.`,
          `bounce refused: ${verb} names privileged port ${target.port}`,
        );
        return;
      }
    }
    if (!this.hasRoomForDataChannel()) {
      this.refuse(verb, '425 Too many open data connections.', 'data channel limit reached');
      return;
    }
    const before = lineText(line);
    this.hold('fromClient', async () => {
      const result = await this.brokered(verb, () =>
        this.options.broker.openActive(
          { command: verb, client: target, idleTimeoutMs: this.policy.dataIdleTimeoutMs },
          this.context,
        ),
      );
      if (!result) {
        this.queueLocalReply(`500 ${verb} failed: no data channel through the SSH tunnel.`);
        return;
      }
      let argument: string;
      try {
        argument =
          verb === 'PORT'
            ? formatPortArgument(result.lease.endpoint)
            : formatEprtArgument(result.lease.endpoint);
      } catch (error) {
        this.release(result);
        this.failed++;
        this.emit({ type: 'data-channel-failed', command: verb, reason: (error as Error).message });
        this.queueLocalReply(`500 ${verb} failed: no data channel through the SSH tunnel.`);
        return;
      }
      this.adopt(result, target);
      const after = `${verb} ${argument}`;
      this.emit({ type: 'rewrite', direction: 'toServer', before, after });
      this.forwardCommand(Buffer.from(after + lineTerminator(line), 'latin1'), verb);
    });
  }

  // ---------------------------------------------------------------- server → client

  private handleServerLine(line: Buffer): void {
    const textLine = lineText(line);
    const position = this.replyFramer.classify(textLine);
    if (position.code === undefined) {
      this.emit({
        type: 'protocol-error',
        direction: 'fromServer',
        reason: `not a reply line: ${excerpt(textLine)}`,
      });
      this.options.toClient(line);
      return;
    }
    const head = this.outstanding.peek();
    if (position.first) this.replyHandling = this.chooseHandling(position.code, head);

    switch (this.replyHandling) {
      case 'pass':
        this.options.toClient(line);
        break;
      case 'feat':
        if (!isAuthFeatureLine(textLine)) this.options.toClient(line);
        break;
      case 'passive':
        this.heldReply.push(line);
        if (!position.last && this.heldReply.length >= MAX_HELD_REPLY_LINES) {
          // A passive reply does not run to many lines; treat a longer one as hostile.
          this.fatal(`a ${position.code} reply of at most ${MAX_HELD_REPLY_LINES} lines`, `more lines`);
          return;
        }
        break;
    }
    if (!position.last || isPreliminary(position.code)) return;

    const answered = this.outstanding.shift();
    if (answered?.lease) this.release(answered.lease);
    if (this.replyHandling === 'passive' && answered) {
      const lines = this.heldReply;
      this.heldReply = [];
      this.hold('fromServer', () =>
        this.handlePassiveReply(answered.verb as 'PASV' | 'EPSV', position.code!, lines),
      );
    } else {
      if (answered?.verb === 'AUTH' && position.code === 234) this.enterTlsPassthrough();
      this.flushLocalReplies();
    }
    this.replyHandling = 'pass';
  }

  private chooseHandling(code: number, head: Outstanding | undefined): ReplyHandling {
    if (isPreliminary(code) || !head) return 'pass';
    if ((head.verb === 'PASV' || head.verb === 'EPSV') && (code === 227 || code === 229)) return 'passive';
    if (head.verb === 'FEAT' && !this.policy.allowAuthTls) return 'feat';
    return 'pass';
  }

  private async handlePassiveReply(asked: 'PASV' | 'EPSV', code: number, lines: Buffer[]): Promise<void> {
    const replyText = lines.map(lineText).join('\n');
    let server: Endpoint;
    try {
      if (code === 227) {
        const announced = parsePasvReply(replyText);
        server =
          this.policy.pasvTarget === 'reply'
            ? announced
            : { ...announced, host: this.context.serverAddress.host };
      } else {
        // 229 carries only a port: the data connection goes to the control connection's server.
        server = { host: this.context.serverAddress.host, port: parseEpsvReply(replyText) };
      }
    } catch (error) {
      this.failed++;
      const reason = error instanceof FtpParseError ? error.message : String(error);
      this.emit({ type: 'protocol-error', direction: 'fromServer', reason });
      this.emit({ type: 'data-channel-failed', command: asked, reason });
      this.options.toClient(
        Buffer.from("425 Can't open data connection: the server's passive reply was malformed.\r\n"),
      );
      return;
    }
    if (!this.hasRoomForDataChannel()) {
      this.failed++;
      this.emit({ type: 'data-channel-failed', command: asked, reason: 'data channel limit reached' });
      this.options.toClient(Buffer.from('425 Too many open data connections.\r\n'));
      return;
    }
    const result = await this.brokered(asked, () =>
      this.options.broker.openPassive(
        { command: asked, server, idleTimeoutMs: this.policy.dataIdleTimeoutMs },
        this.context,
      ),
    );
    if (!result) {
      this.options.toClient(Buffer.from("425 Can't open data connection through the SSH tunnel.\r\n"));
      return;
    }
    const advertised = result.lease.endpoint;
    let rewritten: Buffer[];
    try {
      rewritten = this.rewritePassiveLines(asked, code, lines, advertised);
    } catch (error) {
      this.release(result);
      this.failed++;
      this.emit({ type: 'data-channel-failed', command: asked, reason: (error as Error).message });
      this.options.toClient(
        Buffer.from("425 Can't open data connection: no IPv4 address to advertise; use EPSV.\r\n"),
      );
      return;
    }
    this.adopt(result, server);
    this.emit({
      type: 'rewrite',
      direction: 'toClient',
      before: replyText,
      after: rewritten.map(lineText).join('\n'),
    });
    for (const out of rewritten) this.options.toClient(out);
  }

  /** The reply the FTP client gets: in the form it asked for (227 for PASV, 229 for EPSV). */
  private rewritePassiveLines(
    asked: 'PASV' | 'EPSV',
    code: number,
    lines: Buffer[],
    advertised: Endpoint,
  ): Buffer[] {
    const eol = lineTerminator(lines[lines.length - 1]!);
    if (asked === 'EPSV') return [Buffer.from(formatEpsvReply(advertised.port) + eol, 'latin1')];
    if (!isIPv4Address(advertised.host)) {
      throw new FtpParseError('an IPv4 address to advertise in 227', advertised.host);
    }
    if (code !== 227) return [Buffer.from(formatPasvReply(advertised) + eol, 'latin1')];
    let done = false;
    return lines.map((line) => {
      if (done) return line;
      const replaced = rewritePasvLine(lineText(line), advertised);
      if (replaced === undefined) return line;
      done = true;
      return Buffer.from(replaced + lineTerminator(line), 'latin1');
    });
  }

  // ---------------------------------------------------------------- data channels

  private hasRoomForDataChannel(): boolean {
    const live = this.leases.size - (this.unclaimed ? 1 : 0);
    return live < this.policy.maxDataChannels;
  }

  /**
   * Asks the broker, bounded by brokerTimeoutMs. Undefined when it failed (reported as an event).
   * A lease that arrives after the timeout or after the session ended is released at once.
   */
  private async brokered(
    command: DataCommand,
    open: () => Promise<DataChannelLease>,
  ): Promise<TrackedLease | undefined> {
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const pending = Promise.resolve().then(open);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`the broker did not answer within ${this.policy.brokerTimeoutMs} ms`));
      }, this.policy.brokerTimeoutMs);
    });
    try {
      const lease = await Promise.race([pending, timeout]);
      if (this.ended) {
        safeRelease(lease);
        return undefined;
      }
      return { lease, command };
    } catch (error) {
      if (timedOut) pending.then(safeRelease, () => {});
      this.failed++;
      this.emit({ type: 'data-channel-failed', command, reason: (error as Error)?.message ?? String(error) });
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Makes a fresh data channel the session's current one; an unclaimed older one is superseded. */
  private adopt(tracked: TrackedLease, target: Endpoint): void {
    if (this.unclaimed) this.release(this.unclaimed);
    this.leases.add(tracked);
    this.unclaimed = tracked;
    this.opened++;
    this.emit({
      type: 'data-channel-opened',
      command: tracked.command,
      advertised: tracked.lease.endpoint,
      target,
    });
  }

  private release(tracked: TrackedLease): void {
    this.leases.delete(tracked);
    if (this.unclaimed === tracked) this.unclaimed = undefined;
    safeRelease(tracked.lease);
  }

  // ---------------------------------------------------------------- local replies, TLS, errors

  private refuse(command: string, reply: string, reason: string): void {
    this.emit({ type: 'refused', command, reply, reason });
    this.queueLocalReply(reply);
  }

  /** Sends a reply of our own once every earlier command has had its reply (pipelining order). */
  private queueLocalReply(reply: string): void {
    this.outstanding.push({ verb: '<local>', localReply: reply });
    this.flushLocalReplies();
  }

  private flushLocalReplies(): void {
    if (this.serverBusy) return;
    while (this.outstanding.peek()?.localReply !== undefined) {
      this.options.toClient(Buffer.from(`${this.outstanding.shift()!.localReply}\r\n`, 'latin1'));
    }
  }

  private clientLineTooLong(seen: number): void {
    this.emit({
      type: 'protocol-error',
      direction: 'fromClient',
      reason: `command line longer than ${this.policy.maxLineLength} bytes (${seen} seen)`,
    });
    // Queued like a line, so its 500 keeps its place among the replies.
    this.enqueue(this.clientQueue, LINE_TOO_LONG, 'fromClient');
  }

  private serverLineTooLong(seen: number): void {
    this.fatal(
      `a reply line of at most ${this.policy.maxLineLength} bytes`,
      `${seen} bytes without an end of line`,
    );
  }

  private fatal(expected: string, got: string): void {
    const error = new FtpProtocolError(`FTP server sent a hostile reply: expected ${expected}, got ${got}`);
    this.emit({ type: 'protocol-error', direction: 'fromServer', reason: error.message });
    this.options.toClient(
      Buffer.from('421 Service not available: the FTP server sent an invalid reply.\r\n'),
    );
    this.end();
    this.options.onFatal?.(error);
  }

  private enterTlsPassthrough(): void {
    this.tlsPassthrough = true;
    this.emit({ type: 'tls-passthrough' });
    const fromClient = this.clientFramer.takeBuffered();
    const fromServer = this.serverFramer.takeBuffered();
    if (fromClient.length > 0) this.options.toServer(fromClient);
    if (fromServer.length > 0) this.options.toClient(fromServer);
  }

  private emit(event: SessionEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // An observer's bug must not break the session it observes.
    }
  }
}

function safeRelease(lease: DataChannelLease): void {
  try {
    lease.release();
  } catch {
    // release() must not throw; if a broker's does, the channel is gone either way.
  }
}

import { sameAddress } from './address.js';
import { callBroker, safeRelease } from './broker-call.js';
import { CommandFramer, type CommandTerminator } from './command-framer.js';
import {
  activeCommandFor,
  type FtpCommand,
  forwardedCommand,
  parseCommandLine,
  parseEprtArgument,
  parsePortArgument,
  TRANSFER_VERBS,
} from './commands.js';
import { excerpt, FtpParseError } from './errors.js';
import { Fifo } from './fifo.js';
import { LineFramer, lineTerminator, lineText } from './line-framer.js';
import { rewritePassiveReply } from './passive-rewrite.js';
import {
  isAuthFeatureLine,
  isPreliminary,
  passiveReplyTarget,
  ReplyBoundaryCheck,
  ReplyFramer,
  withholdPassiveEndpoint,
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
  /** A 1xx came for it: the server has started (or is starting) the data connection. */
  started?: boolean;
}

/** How the lines of the server reply now arriving are treated. */
type ReplyHandling = 'pass' | 'passive' | 'feat' | 'withhold' | 'final';

/** A command line as the client framer delivered it (copied: the chunk it came in is reused). */
interface ClientLine {
  content: Buffer;
  terminator: CommandTerminator;
}

const GREETING = '<greeting>';
/** Stands in the client queue where an overlong command line was dropped. */
const LINE_TOO_LONG = Symbol('line too long');
type QueuedLine = ClientLine | Buffer | typeof LINE_TOO_LONG;
const MAX_HELD_REPLY_LINES = 64;
const CRLF = '\r\n';

/**
 * One FTP control connection seen through the proxy: frames both directions into lines, pairs
 * commands with replies, and turns every PASV/EPSV reply and PORT/EPRT command into a forwarded data
 * channel through the broker, rewriting exactly the lines that name the endpoint. Every other byte
 * of a reply passes unchanged; every command reaches the server as the line the session framed,
 * ending in CRLF (command-framer.ts says why).
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
  private readonly clientFramer: CommandFramer;
  private readonly serverFramer: LineFramer;
  private readonly replyFramer = new ReplyFramer();
  private readonly boundaries = new ReplyBoundaryCheck();
  private readonly outstanding = new Fifo<Outstanding>();
  private readonly clientQueue = new Fifo<QueuedLine>();
  private readonly serverQueue = new Fifo<QueuedLine>();
  private clientBusy = false;
  private serverBusy = false;
  private replyHandling: ReplyHandling = 'pass';
  private heldReply: Buffer[] = [];
  /** While a transfer's final reply is held ('final'): what it waits for. */
  private finalWait: Promise<void> | undefined;
  private readonly leases = new Set<TrackedLease>();
  /** The newest data channel, set up but not yet claimed by a transfer command. */
  private unclaimed: TrackedLease | undefined;
  private tlsPassthrough = false;
  /** Why the server's replies can no longer be paired safely; no passive channel after it. */
  private ambiguity: string | undefined;
  private ended = false;
  private opened = 0;
  private failed = 0;

  constructor(private readonly options: FtpControlSessionOptions) {
    this.policy = Object.freeze({ ...DEFAULT_POLICY, ...options.policy });
    this.clientFramer = new CommandFramer(this.policy.maxLineLength);
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
      (content, terminator) =>
        this.enqueue(this.clientQueue, { content: Buffer.from(content), terminator }, 'fromClient'),
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
      if (direction === 'fromClient') this.options.toServer(forwardedCommand((line as ClientLine).content));
      else this.options.toClient(line as Buffer);
      return;
    }
    try {
      if (direction === 'fromClient') this.handleClientLine(line as ClientLine);
      else this.handleServerLine(line as Buffer);
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

  private handleClientLine(line: ClientLine): void {
    if (line.content.includes(0)) {
      // C servers read a command as a string and stop at the NUL: what they act on is not what we see.
      this.refuse('?', '501 Syntax error: NUL byte in the command line.', 'command line with a NUL byte');
      return;
    }
    const text = line.content.toString('latin1');
    const command = parseCommandLine(text);
    if (!command) {
      this.forwardCommand(line, '?');
      return;
    }
    switch (command.verb) {
      case 'PORT':
      case 'EPRT':
        this.handleActiveCommand(text, command);
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

  private forwardCommand(line: ClientLine | string, verb: string, lease?: TrackedLease): void {
    this.outstanding.push(lease ? { verb, lease } : { verb });
    if (typeof line === 'string') {
      this.options.toServer(Buffer.from(line + CRLF, 'latin1'));
      return;
    }
    const bytes = forwardedCommand(line.content);
    if (line.terminator !== 'crlf' || bytes.length !== line.content.length + 2) {
      this.emit({
        type: 'rewrite',
        direction: 'toServer',
        before: excerpt(line.content.toString('latin1') + (line.terminator === 'lf' ? '\n' : '\r')),
        after: excerpt(bytes.toString('latin1')),
      });
    }
    this.options.toServer(bytes);
  }

  private handleActiveCommand(before: string, command: FtpCommand): void {
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
      let after: string;
      try {
        after = activeCommandFor(verb, result.lease.endpoint);
      } catch (error) {
        this.release(result);
        this.failed++;
        this.emit({ type: 'data-channel-failed', command: verb, reason: (error as Error).message });
        this.queueLocalReply(`500 ${verb} failed: no data channel through the SSH tunnel.`);
        return;
      }
      this.adopt(result, target);
      this.emit({ type: 'rewrite', direction: 'toServer', before, after });
      this.forwardCommand(after, verb);
    });
  }

  // ---------------------------------------------------------------- server → client

  private handleServerLine(line: Buffer): void {
    const textLine = lineText(line);
    const position = this.replyFramer.classify(textLine);
    const ambiguous = this.boundaries.check(lineTerminator(line) === CRLF, position);
    if (ambiguous && this.ambiguity === undefined) {
      this.ambiguity = ambiguous;
      this.emit({ type: 'framing-ambiguous', direction: 'fromServer', reason: ambiguous });
    }
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
    if (position.first) {
      this.replyHandling = this.chooseHandling(position.code, head);
      // The final reply of an active-mode transfer must not overtake its data connection (curl
      // gives up on a transfer whose 226 came first, and reads even the first line of a multi-line
      // one, as pure-ftpd sends): all its lines wait until that connection is through.
      if (this.replyHandling === 'pass' && head?.lease && head.started && !isPreliminary(position.code)) {
        this.finalWait = this.deliveryOf(head.lease, position.code);
        if (this.finalWait) this.replyHandling = 'final';
      }
    }

    switch (this.replyHandling) {
      case 'pass':
        break;
      case 'feat':
        if (isAuthFeatureLine(textLine)) line = Buffer.alloc(0);
        break;
      case 'withhold':
        line = Buffer.from(withholdPassiveEndpoint(textLine) + lineTerminator(line), 'latin1');
        break;
      case 'final':
        this.heldReply.push(line);
        if (!position.last && this.heldReply.length >= MAX_HELD_REPLY_LINES) {
          // Longer than any final reply seen: let it go rather than hold without bound.
          for (const l of this.heldReply) this.options.toClient(l);
          this.heldReply = [];
          this.replyHandling = 'pass';
          return;
        }
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
    if (!position.last || isPreliminary(position.code)) {
      if (position.last && head) head.started = true;
      if (!this.holdsLines() && line.length > 0) this.options.toClient(line);
      return;
    }

    const answered = this.outstanding.shift();
    const handling = this.replyHandling;
    this.replyHandling = 'pass';
    if (handling === 'passive' && answered) {
      const lines = this.heldReply;
      this.heldReply = [];
      this.hold('fromServer', () =>
        this.handlePassiveReply(answered.verb as 'PASV' | 'EPSV', position.code as 227 | 229, lines),
      );
      return;
    }
    if (handling === 'final' && answered?.lease) {
      const tracked = answered.lease;
      const lines = this.heldReply;
      const wait = this.finalWait;
      this.heldReply = [];
      this.finalWait = undefined;
      this.hold('fromServer', async () => {
        await wait;
        this.release(tracked);
        for (const l of lines) this.options.toClient(l);
      });
      return;
    }
    if (answered?.lease) this.release(answered.lease);
    if (line.length > 0) this.options.toClient(line);
    if (answered?.verb === 'AUTH' && position.code === 234) this.enterTlsPassthrough();
    this.flushLocalReplies();
  }

  private holdsLines(): boolean {
    return this.replyHandling === 'passive' || this.replyHandling === 'final';
  }

  private chooseHandling(code: number, head: Outstanding | undefined): ReplyHandling {
    if (isPreliminary(code)) return 'pass';
    const askedPassive = head?.verb === 'PASV' || head?.verb === 'EPSV';
    if (code === 227 || code === 229) return askedPassive ? 'passive' : 'withhold';
    if (head?.verb === 'FEAT' && !this.policy.allowAuthTls) return 'feat';
    return 'pass';
  }

  /**
   * What the final reply of a transfer waits for, if anything: the active-mode data connection
   * that is on its way to the FTP client, bounded by dataConnectionWaitMs. A 2xx also waits for one
   * that has not arrived yet (a finished transfer had one); an error reply only for one underway.
   */
  private deliveryOf(tracked: TrackedLease, code: number): Promise<void> | undefined {
    const delivery = tracked.lease.dataConnection?.();
    if (!delivery || delivery.state === 'done') return undefined;
    if (delivery.state === 'none' && (code < 200 || code >= 300)) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.policy.dataConnectionWaitMs);
      delivery.settled.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async handlePassiveReply(asked: 'PASV' | 'EPSV', code: 227 | 229, lines: Buffer[]): Promise<void> {
    const texts = lines.map(lineText);
    const replyText = texts.join('\n');
    const eol = lineTerminator(lines[lines.length - 1]!);
    const fail = (reply: string, reason: string): void => {
      this.failed++;
      this.emit({ type: 'data-channel-failed', command: asked, reason });
      this.options.toClient(Buffer.from(reply + eol, 'latin1'));
    };
    if (this.ambiguity !== undefined) {
      fail(
        "425 Can't open data connection: the FTP server's replies are not framed unambiguously.",
        `passive reply not acted on: ${this.ambiguity}`,
      );
      return;
    }
    let server: Endpoint;
    try {
      const announced = passiveReplyTarget(code, texts);
      server =
        this.policy.pasvTarget === 'reply' && announced.host !== undefined
          ? { host: announced.host, port: announced.port }
          : { host: this.context.serverAddress.host, port: announced.port };
    } catch (error) {
      const reason = error instanceof FtpParseError ? error.message : String(error);
      this.emit({ type: 'protocol-error', direction: 'fromServer', reason });
      fail("425 Can't open data connection: the server's passive reply was malformed.", reason);
      return;
    }
    if (server.port < this.policy.minPassivePort) {
      this.emit({
        type: 'refused',
        command: asked,
        reply: '425',
        reason: `passive port ${server.port} is below ${this.policy.minPassivePort}`,
      });
      fail(
        `425 Can't open data connection: the server named port ${server.port}, below ${this.policy.minPassivePort}.`,
        `passive port ${server.port} refused`,
      );
      return;
    }
    if (!this.hasRoomForDataChannel()) {
      fail('425 Too many open data connections.', 'data channel limit reached');
      return;
    }
    const result = await this.brokered(asked, () =>
      this.options.broker.openPassive(
        { command: asked, server, idleTimeoutMs: this.policy.dataIdleTimeoutMs },
        this.context,
      ),
    );
    if (!result) {
      this.options.toClient(Buffer.from(`425 Can't open data connection through the SSH tunnel.${eol}`));
      return;
    }
    let rewritten: string[];
    try {
      rewritten = rewritePassiveReply(asked, code, texts, result.lease.endpoint);
    } catch (error) {
      this.release(result);
      this.failed++;
      this.emit({ type: 'data-channel-failed', command: asked, reason: (error as Error).message });
      this.options.toClient(
        Buffer.from(`425 Can't open data connection: no IPv4 address to advertise; use EPSV.${eol}`),
      );
      return;
    }
    this.adopt(result, server);
    this.emit({ type: 'rewrite', direction: 'toClient', before: replyText, after: rewritten.join('\n') });
    rewritten.forEach((text, i) => {
      const terminator = i < lines.length ? lineTerminator(lines[i]!) : eol;
      this.options.toClient(Buffer.from(text + terminator, 'latin1'));
    });
  }

  // ---------------------------------------------------------------- data channels

  private hasRoomForDataChannel(): boolean {
    const live = this.leases.size - (this.unclaimed ? 1 : 0);
    return live < this.policy.maxDataChannels;
  }

  /** Asks the broker, bounded by brokerTimeoutMs; undefined when it failed (reported as an event). */
  private async brokered(
    command: DataCommand,
    open: () => Promise<DataChannelLease>,
  ): Promise<TrackedLease | undefined> {
    const r = await callBroker(open, this.policy.brokerTimeoutMs, () => !this.ended);
    if ('lease' in r) return { lease: r.lease, command };
    if ('error' in r) {
      this.failed++;
      this.emit({ type: 'data-channel-failed', command, reason: r.error });
    }
    return undefined;
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
      this.options.toClient(Buffer.from(`${this.outstanding.shift()!.localReply}${CRLF}`, 'latin1'));
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

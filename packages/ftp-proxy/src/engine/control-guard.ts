/**
 * Watches an FTP control connection that passes through an SSH server, in both directions, and
 * reports the data channels its replies announce so the server can permit exactly those. Every
 * byte passes unchanged but for one kind of line: a PORT, EPRT or LPRT the caller does not admit is
 * taken out and answered here, so a client cannot aim the FTP server at a third host (FTP bounce,
 * RFC 2577) through a tunnel that only meant to carry its own data.
 *
 * Pairing replies with commands is what the permits rest on, so the guard frames both directions
 * the way the FTP server and its clients do (command-framer.ts and ReplyBoundaryCheck say why). A
 * command line with a CR or NUL inside it, or one ending in a bare LF, may be one command to this
 * server and several to another; a reply that answers nothing means the pairing is off. Either makes
 * the control connection *ambiguous*: it announces nothing more for the rest of its life, as after
 * AUTH TLS, and the caller should revoke what it permitted on it and not yet used.
 *
 * Sans-IO and never throws: bytes come in through `fromClient`/`fromServer`, leave through `toServer`/
 * `toClient`.
 */
import { parseCommandLine, parseEprtArgument, parsePortArgument } from './commands.js';
import { excerpt, FtpParseError } from './errors.js';
import { Fifo } from './fifo.js';
import { LineFramer, lineTerminator, lineText } from './line-framer.js';
import { isPreliminary, passiveReplyTarget, ReplyBoundaryCheck, ReplyFramer } from './replies.js';
import { stripTelnet } from './telnet.js';
import { DEFAULT_POLICY, type Endpoint } from './types.js';

export type GuardEvent =
  /** The server answered a PASV/EPSV with 227/229: it waits at `endpoint` (EPSV: at serverHost). */
  | { type: 'passive-announced'; command: 'PASV' | 'EPSV'; endpoint: Endpoint }
  /** A PORT/EPRT the caller admitted has passed on to the server. */
  | { type: 'active-announced'; command: 'PORT' | 'EPRT'; endpoint: Endpoint }
  /** A PORT/EPRT/LPRT was taken out and answered with `reply` (not for those admitActive refused). */
  | { type: 'active-refused'; command: string; reason: string; reply: string }
  /** Something did not parse; observation goes on with the next line. */
  | { type: 'protocol-error'; direction: 'fromClient' | 'fromServer'; reason: string }
  /** The control connection can no longer be paired safely; nothing is announced after it. */
  | { type: 'framing-ambiguous'; direction: 'fromClient' | 'fromServer'; reason: string }
  /** AUTH TLS was accepted: the rest is encrypted and no longer observed. */
  | { type: 'tls-started' };

export interface FtpControlGuardOptions {
  /** The FTP server's host as the control connection names it: where an EPSV data channel goes. */
  serverHost: string;
  /**
   * A PORT/EPRT from the client: return undefined to let it pass (the caller has armed what it
   * needs), or why it is refused.
   */
  admitActive: (command: 'PORT' | 'EPRT', endpoint: Endpoint) => string | undefined;
  toServer: (bytes: Buffer) => void;
  toClient: (bytes: Buffer) => void;
  onEvent: (event: GuardEvent) => void;
  maxLineLength?: number;
}

/** Commands awaiting a reply are remembered up to this many; beyond, pairing is given up as hostile. */
const MAX_OUTSTANDING = 256;
const ACTIVE_VERBS = ['PORT', 'EPRT', 'LPRT'];
const CR = 0x0d;
const LF = 0x0a;

/** A command whose reply is due: a verb sent on, or a reply of ours waiting its turn. */
interface Pending {
  verb: string;
  localReply?: string;
}

/** The client line being read: what is kept of it, and how it is being handled. */
interface LineInProgress {
  /** The line so far (up to maxLineLength bytes; beyond, only its flags are kept). */
  kept: Buffer[];
  keptLength: number;
  /** Held back, not forwarded yet (lines go on whole; a PORT/EPRT/LPRT only if admitted). */
  held: boolean;
  /** A CR or NUL inside the line, seen so far. */
  unclean: boolean;
  /** The last byte seen was a CR (the next, if LF, ends the line cleanly). */
  lastWasCr: boolean;
  /** Longer than maxLineLength: not all of it was kept. */
  truncated: boolean;
}

export class FtpControlGuard {
  private readonly serverFramer: LineFramer;
  private readonly replies = new ReplyFramer();
  private readonly boundaries = new ReplyBoundaryCheck();
  private readonly outstanding = new Fifo<Pending>();
  private readonly maxLineLength: number;
  private line: LineInProgress = freshLine();
  private replyLines: string[] = [];
  /** A server line has begun and not ended: a reply of ours must wait for its end. */
  private serverMidLine = false;
  private ambiguous = false;
  private tls = false;

  constructor(private readonly options: FtpControlGuardOptions) {
    this.maxLineLength = options.maxLineLength ?? DEFAULT_POLICY.maxLineLength;
    this.serverFramer = new LineFramer(this.maxLineLength);
    this.outstanding.push({ verb: '<greeting>' });
  }

  /** True once the connection stopped being paired (framing ambiguous, or TLS). */
  get announcing(): boolean {
    return !this.ambiguous && !this.tls;
  }

  // ---------------------------------------------------------------- client → server

  fromClient(chunk: Buffer): void {
    if (this.tls) {
      this.options.toServer(chunk);
      return;
    }
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf + 1;
      this.take(chunk.subarray(start, end), lf !== -1);
      start = end;
    }
  }

  /**
   * Part of the current line (ending with its LF when `complete`). A line is held until it is
   * complete and forwarded in one piece: ftp-srv takes each TCP read for whole commands, so a line
   * split in two writes would be two commands to it. Held lines go early only when they cannot be
   * held whole (longer than maxLineLength, and no PORT) or when the input stops at a CR: Python's
   * ftplib sends ABOR's LF as urgent data, which never arrives, and then waits for the reply.
   */
  private take(part: Buffer, complete: boolean): void {
    const l = this.line;
    const content = complete ? part.subarray(0, part.length - 1) : part;
    for (const b of content) {
      // A NUL, or any byte after a CR other than the LF that ends the line.
      if (b === 0 || l.lastWasCr) l.unclean = true;
      l.lastWasCr = b === CR;
    }
    const room = this.maxLineLength - l.keptLength;
    if (part.length > room) l.truncated = true;
    if (room > 0) {
      const piece = part.subarray(0, Math.min(room, part.length));
      l.kept.push(piece);
      l.keptLength += piece.length;
    }
    if (!l.held) {
      this.options.toServer(part);
    } else if ((l.truncated || (!complete && l.lastWasCr)) && !this.couldBeActive()) {
      // Forward what was kept, and what did not fit, then the rest of the line as it comes.
      l.held = false;
      this.options.toServer(Buffer.concat(l.kept, l.keptLength));
      if (part.length > room) this.options.toServer(part.subarray(Math.max(room, 0)));
    }
    if (complete) this.clientLineDone(l.lastWasCr);
  }

  /** Whether the line kept so far may still become a PORT/EPRT/LPRT (then it is held back). */
  private couldBeActive(): boolean {
    const text = stripTelnet(Buffer.concat(this.line.kept, this.line.keptLength).toString('latin1'));
    const start = text.trimStart();
    const verb = /^[A-Za-z]*/.exec(start)![0].toUpperCase();
    const rest = start.slice(verb.length);
    return ACTIVE_VERBS.some((v) =>
      rest.length === 0 ? v.startsWith(verb) : v === verb && /\s/.test(rest[0]!),
    );
  }

  private clientLineDone(endedInCrlf: boolean): void {
    const l = this.line;
    this.line = freshLine();
    const raw = Buffer.concat(l.kept, l.keptLength);
    const text = lineText(raw);
    const clean = !l.unclean && endedInCrlf;
    if (!clean && !this.ambiguous) {
      this.becomeAmbiguous(
        'fromClient',
        `a command line ${endedInCrlf ? 'with a CR or NUL inside' : 'ending in a bare LF'}: ${excerpt(text)}`,
      );
    }
    const command = l.unclean ? undefined : parseCommandLine(text);
    const verb = command?.verb ?? '?';
    if (l.held && (l.unclean || ACTIVE_VERBS.includes(verb))) {
      this.guardActive(raw, verb, command?.argument ?? '', clean && !l.truncated);
      return;
    }
    // Held whole, and not one of those: on it goes, in one piece.
    if (l.held) this.options.toServer(raw);
    this.expectReply({ verb });
  }

  /** A held PORT/EPRT/LPRT line: forward it if the caller admits it, else answer it here. */
  private guardActive(raw: Buffer, verb: string, argument: string, clean: boolean): void {
    // `told`: the caller refused it, and knows already.
    const refuse = (reply: string, reason: string, told = false): void => {
      if (!told) this.emit({ type: 'active-refused', command: verb === '?' ? 'PORT' : verb, reason, reply });
      this.expectReply({ verb, localReply: reply });
      this.flushLocalReplies();
    };
    if (!clean || this.ambiguous) {
      refuse(
        verb === '?' ? '500 Illegal command.' : `500 Illegal ${verb} command.`,
        'the control connection is not framed unambiguously',
      );
      return;
    }
    if (verb !== 'PORT' && verb !== 'EPRT') {
      refuse('502 Command not implemented: use EPRT or PORT.', `${verb} names an address not checked here`);
      return;
    }
    let endpoint: Endpoint;
    try {
      endpoint = verb === 'PORT' ? parsePortArgument(argument) : parseEprtArgument(argument);
    } catch (error) {
      const reason = error instanceof FtpParseError ? error.message : String(error);
      refuse(`501 Syntax error in ${verb} argument.`, reason);
      return;
    }
    const refused = this.options.admitActive(verb, endpoint);
    if (refused !== undefined) {
      refuse(`500 Illegal ${verb} command: not a data port of this SSH connection.`, refused, true);
      return;
    }
    this.options.toServer(raw);
    this.expectReply({ verb });
    this.emit({ type: 'active-announced', command: verb, endpoint });
  }

  private expectReply(p: Pending): void {
    if (this.outstanding.length >= MAX_OUTSTANDING) {
      this.becomeAmbiguous('fromClient', `more than ${MAX_OUTSTANDING} commands unanswered`);
      // Our own replies must still go out; the server's are no longer paired.
      if (p.localReply === undefined) return;
    }
    this.outstanding.push(p);
  }

  // ---------------------------------------------------------------- server → client

  fromServer(chunk: Buffer): void {
    if (this.tls) {
      this.options.toClient(chunk);
      return;
    }
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf + 1;
      const part = chunk.subarray(start, end);
      this.options.toClient(part);
      this.serverMidLine = lf === -1;
      this.serverFramer.push(
        part,
        (line) => this.guard('fromServer', () => this.serverLine(line)),
        (seen) => {
          this.emit({
            type: 'protocol-error',
            direction: 'fromServer',
            reason: `reply line too long (${seen} bytes)`,
          });
          this.becomeAmbiguous('fromServer', 'a reply line too long to frame');
        },
      );
      if (!this.serverMidLine) this.flushLocalReplies();
      start = end;
    }
  }

  private serverLine(line: Buffer): void {
    const text = lineText(line);
    const position = this.replies.classify(text);
    const ambiguous = this.boundaries.check(lineTerminator(line) === '\r\n', position);
    if (ambiguous) this.becomeAmbiguous('fromServer', ambiguous);
    if (position.code === undefined) {
      this.emit({
        type: 'protocol-error',
        direction: 'fromServer',
        reason: `not a reply line: ${excerpt(text)}`,
      });
      return;
    }
    this.replyLines.push(text);
    if (this.replyLines.length > 64) this.replyLines.shift(); // only passive replies are read, and they are short
    if (!position.last) return;
    const lines = this.replyLines;
    this.replyLines = [];
    if (isPreliminary(position.code) || this.ambiguous) return;
    const head = this.outstanding.peek();
    if (!head || head.localReply !== undefined) {
      this.becomeAmbiguous('fromServer', `a ${position.code} reply that answers no command`);
      return;
    }
    this.outstanding.shift();
    if ((head.verb === 'PASV' || head.verb === 'EPSV') && (position.code === 227 || position.code === 229)) {
      const target = passiveReplyTarget(position.code, lines);
      const endpoint = { host: target.host ?? this.options.serverHost, port: target.port };
      this.emit({ type: 'passive-announced', command: head.verb, endpoint });
    } else if (head.verb === 'AUTH' && position.code === 234) {
      this.tls = true;
      this.emit({ type: 'tls-started' });
    }
  }

  /** Our replies whose turn has come (every earlier command answered), at a server line boundary. */
  private flushLocalReplies(): void {
    if (this.serverMidLine) return;
    for (let head = this.outstanding.peek(); head; head = this.outstanding.peek()) {
      if (head.localReply === undefined) {
        // Once pairing is given up, the server's replies cannot be counted: ours go out at once.
        if (!this.ambiguous) return;
        this.outstanding.shift();
        continue;
      }
      this.outstanding.shift();
      this.options.toClient(Buffer.from(`${head.localReply}\r\n`, 'latin1'));
    }
  }

  private becomeAmbiguous(direction: 'fromClient' | 'fromServer', reason: string): void {
    if (this.ambiguous) return;
    this.ambiguous = true;
    this.emit({ type: 'framing-ambiguous', direction, reason });
  }

  /** Runs a line handler; a parse error becomes an event, observation continues. */
  private guard(direction: 'fromClient' | 'fromServer', handle: () => void): void {
    try {
      handle();
    } catch (error) {
      const reason =
        error instanceof FtpParseError ? error.message : `internal error: ${(error as Error).message}`;
      this.emit({ type: 'protocol-error', direction, reason });
    }
  }

  private emit(event: GuardEvent): void {
    try {
      this.options.onEvent(event);
    } catch {
      // The caller's bug must not break the guard.
    }
  }
}

function freshLine(): LineInProgress {
  return { kept: [], keptLength: 0, held: true, unclean: false, lastWasCr: false, truncated: false };
}

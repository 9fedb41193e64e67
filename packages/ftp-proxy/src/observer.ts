import { parseCommandLine, parseEprtArgument, parsePortArgument } from './commands.js';
import { excerpt, FtpParseError } from './errors.js';
import { Fifo } from './fifo.js';
import { LineFramer, lineText } from './line-framer.js';
import { isPreliminary, parseEpsvReply, parsePasvReply, ReplyFramer } from './replies.js';
import { DEFAULT_POLICY, type Endpoint } from './types.js';

export type ObserverEvent =
  /** The server answered a PASV/EPSV with 227/229: it waits at `endpoint` (EPSV: at serverHost). */
  | { type: 'passive-announced'; command: 'PASV' | 'EPSV'; endpoint: Endpoint }
  /** The client sent PORT/EPRT naming `endpoint` (it passes on to the server as it is). */
  | { type: 'active-announced'; command: 'PORT' | 'EPRT'; endpoint: Endpoint }
  /** Something did not parse; observation goes on with the next line. */
  | { type: 'protocol-error'; direction: 'fromClient' | 'fromServer'; reason: string }
  /** AUTH TLS was accepted: the rest is encrypted and no longer observed. */
  | { type: 'tls-started' };

export interface FtpObserverOptions {
  /** The FTP server's host as the control connection names it: where an EPSV data channel goes. */
  serverHost: string;
  onEvent: (event: ObserverEvent) => void;
  maxLineLength?: number;
}

/** Commands awaiting a reply are remembered up to this many; beyond, pairing is given up as hostile. */
const MAX_OUTSTANDING = 256;

/**
 * Reads an FTP control connection in both directions without changing a byte, and reports the data
 * channels it announces. The SSH server uses it to permit exactly those channels and nothing else.
 * The caller keeps moving the bytes; this only looks at copies of them. Never throws.
 */
export class FtpObserver {
  private readonly clientFramer: LineFramer;
  private readonly serverFramer: LineFramer;
  private readonly replies = new ReplyFramer();
  private readonly outstanding = new Fifo<string>();
  private replyLines: string[] = [];
  private stopped = false;

  constructor(private readonly options: FtpObserverOptions) {
    const max = options.maxLineLength ?? DEFAULT_POLICY.maxLineLength;
    this.clientFramer = new LineFramer(max);
    this.serverFramer = new LineFramer(max);
    this.outstanding.push('<greeting>');
  }

  fromClient(chunk: Buffer): void {
    if (this.stopped) return;
    this.clientFramer.push(
      chunk,
      (line) => this.guard('fromClient', () => this.clientLine(lineText(line))),
      (seen) =>
        this.emit({
          type: 'protocol-error',
          direction: 'fromClient',
          reason: `command line too long (${seen} bytes)`,
        }),
    );
  }

  fromServer(chunk: Buffer): void {
    if (this.stopped) return;
    this.serverFramer.push(
      chunk,
      (line) => this.guard('fromServer', () => this.serverLine(lineText(line))),
      (seen) =>
        this.emit({
          type: 'protocol-error',
          direction: 'fromServer',
          reason: `reply line too long (${seen} bytes)`,
        }),
    );
  }

  private clientLine(text: string): void {
    if (this.stopped) return;
    const command = parseCommandLine(text);
    const verb = command?.verb ?? '?';
    if (this.outstanding.length >= MAX_OUTSTANDING) {
      this.emit({
        type: 'protocol-error',
        direction: 'fromClient',
        reason: `more than ${MAX_OUTSTANDING} commands unanswered`,
      });
      this.outstanding.shift();
    }
    // Remembered before parsing: a malformed PORT still gets a reply that must pair with it.
    this.outstanding.push(verb);
    if (command && (verb === 'PORT' || verb === 'EPRT')) {
      const endpoint =
        verb === 'PORT' ? parsePortArgument(command.argument) : parseEprtArgument(command.argument);
      this.emit({ type: 'active-announced', command: verb, endpoint });
    }
  }

  private serverLine(text: string): void {
    if (this.stopped) return;
    const position = this.replies.classify(text);
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
    const reply = this.replyLines.join('\n');
    this.replyLines = [];
    if (isPreliminary(position.code)) return;
    const verb = this.outstanding.shift();
    if ((verb === 'PASV' || verb === 'EPSV') && (position.code === 227 || position.code === 229)) {
      const endpoint =
        position.code === 227
          ? parsePasvReply(reply)
          : { host: this.options.serverHost, port: parseEpsvReply(reply) };
      this.emit({ type: 'passive-announced', command: verb, endpoint });
    } else if (verb === 'AUTH' && position.code === 234) {
      this.stopped = true;
      this.emit({ type: 'tls-started' });
    }
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

  private emit(event: ObserverEvent): void {
    try {
      this.options.onEvent(event);
    } catch {
      // The observer's client must not break observation.
    }
  }
}

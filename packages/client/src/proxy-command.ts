import { type ChildProcess, spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { FtpfwdError } from './errors.js';

/**
 * ProxyCommand: a program whose stdin and stdout are the connection to the SSH server (`ssh -W
 * %h:%p bastion`, `nc %h %p`, a corporate proxy's connector). As OpenSSH: `%h %p %r %n %%` are
 * expanded, stderr goes to ours, and the program's exit ends the connection; here the exit status
 * also becomes the link's failure reason. OpenSSH always runs it through `$SHELL -c "exec …"`; a
 * command without shell syntax is run directly here (no shell to quote for or to trust), the rest
 * the OpenSSH way.
 */

export interface ProxyTokens {
  /** %h: the host to reach (after HostName). */
  host: string;
  /** %p */
  port: number;
  /** %r: the remote user name. */
  user: string;
  /** %n: the host name as given on the command line (before HostName). */
  originalHost: string;
}

/** Expands OpenSSH's ProxyCommand tokens; an unknown one is an error naming it, as in OpenSSH. */
export function expandProxyTokens(command: string, t: ProxyTokens): string {
  return command.replace(/%(.?)/gs, (whole, k: string) => {
    switch (k) {
      case 'h':
        return t.host;
      case 'p':
        return String(t.port);
      case 'r':
        return t.user;
      case 'n':
        return t.originalHost;
      case '%':
        return '%';
      default:
        throw new FtpfwdError(
          'config',
          `ProxyCommand "${command}": unknown token ${k === '' ? '% at the end' : whole} (expected %h, %p, %r, %n or %%)`,
        );
    }
  });
}

/** Characters that make a command need a shell when they appear outside quotes. */
const SHELL_SYNTAX = /[|&;<>()$`\\*?[\]#~{}!\n]/;

/**
 * The argv of a command that needs no shell: words split on blanks, '…' and "…" quoting (no
 * escapes, no expansions); undefined when anything would mean something to a shell (operators,
 * variables, globs, backslashes, a leading `VAR=`, comments, unbalanced quotes).
 */
export function splitCommand(command: string): string[] | undefined {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (const ch of command) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (quote === '"' && (ch === '$' || ch === '`' || ch === '\\')) return undefined;
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (SHELL_SYNTAX.test(ch)) {
      return undefined;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) words.push(cur);
  if (words.length === 0) return undefined;
  // FOO=bar cmd: an assignment only a shell understands.
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0] as string)) return undefined;
  return words;
}

/** How the expanded command is run: its own argv, or the shell's (OpenSSH's `exec` form). */
export function proxyArgv(expanded: string, shell = process.env.SHELL || '/bin/sh'): string[] {
  return splitCommand(expanded) ?? [shell, '-c', `exec ${expanded}`];
}

/**
 * The program's stdio as one stream for ssh2, counting bytes as a socket does (RekeyLimit reads
 * them). It ends only once the program has exited and its output is read, so `exitReason()` is
 * known by then. A write waits for the pipe to take it: writableLength is what is still queued.
 */
export class ProxyCommandStream extends Duplex {
  bytesRead = 0;
  bytesWritten = 0;
  private exit: string | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly commandText: string,
  ) {
    super({ allowHalfOpen: false });
    const out = child.stdout;
    const inp = child.stdin;
    if (!out || !inp) throw new Error('ProxyCommand needs piped stdin and stdout');
    out.on('data', (d: Buffer) => {
      this.bytesRead += d.length;
      if (!this.push(d)) out.pause();
    });
    inp.on('error', () => {}); // EPIPE once it exited: reported by the exit
    out.on('error', () => {});
    child.once('error', (err: NodeJS.ErrnoException) => {
      this.exit = `ProxyCommand "${commandText}" could not be run: ${err.code === 'ENOENT' ? 'program not found' : err.message}`;
      this.finish();
    });
    child.once('close', (code, signal) => {
      this.exit ??=
        signal !== null
          ? `ProxyCommand "${commandText}" was killed by ${signal}`
          : `ProxyCommand "${commandText}" exited with status ${code}`;
      this.finish();
    });
  }

  /** Why it ended: the exit status (or why it could not run); undefined while it runs. */
  exitReason(): string | undefined {
    return this.exit;
  }

  private finish(): void {
    if (this.destroyed) return;
    this.push(null);
    this.destroy();
  }

  override _read(): void {
    this.child.stdout?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    const inp = this.child.stdin;
    if (!inp || inp.destroyed) {
      cb();
      return;
    }
    inp.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin?.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    cb(err);
  }
}

/** Starts the ProxyCommand for `tokens`; stderr goes to ours (`stderr: 'inherit'`) as in OpenSSH. */
export function startProxyCommand(
  command: string,
  tokens: ProxyTokens,
  stderr: 'inherit' | 'ignore' = 'inherit',
): ProxyCommandStream {
  const expanded = expandProxyTokens(command, tokens);
  const [file, ...args] = proxyArgv(expanded) as [string, ...string[]];
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', stderr] });
  return new ProxyCommandStream(child, expanded);
}

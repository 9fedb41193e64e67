/**
 * Errors a user of ftpfwd-sshd can hit. Each carries a stable `code` for scripts and tests and a
 * message that says what was expected and what was seen, so the CLI prints it as one line.
 */
export type SshdErrorCode =
  | 'usage'
  | 'config'
  | 'policy-spec'
  | 'authorized-keys'
  | 'password-file'
  | 'host-key'
  | 'listen';

export class SshdError extends Error {
  override readonly name = 'SshdError';
  constructor(
    readonly code: SshdErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A problem on one line of a line-oriented file (authorized_keys, password file). */
export interface LineProblem {
  /** 1-based line number. */
  line: number;
  message: string;
}

/** Shorten and make printable a piece of untrusted text for an error message or a log line. */
export function excerpt(text: string, max = 60): string {
  const printable = text.replace(
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

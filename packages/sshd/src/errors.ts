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

export { excerpt } from '@ftpfwd/ftp-proxy';

import { ConfigError } from '@ftpfwd/ftp-proxy/cli';

/**
 * Errors a user can hit. Each carries a stable `code` (for scripts and tests) and a message that
 * says what was expected and what was seen, so the CLI can print it as one line.
 */
export type FtpfwdErrorCode =
  | 'usage'
  | 'config'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'auth-failed'
  | 'connect-failed'
  /** No algorithm of some kind in common with the server (Ciphers, KexAlgorithms, …). */
  | 'negotiation-failed'
  | 'forward-failed'
  | 'link-down'
  | 'closed';

export class FtpfwdError extends Error {
  readonly code: FtpfwdErrorCode;
  constructor(code: FtpfwdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FtpfwdError';
    this.code = code;
  }
}

/** Runs `fn`; a config file problem from the shared loader becomes FtpfwdError('config'). */
export function configErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new FtpfwdError('config', err.message, { cause: err });
    throw err;
  }
}

/** True for failures that retrying cannot fix (a reconnect loop must stop on them). */
export function isPermanent(err: unknown): boolean {
  return (
    err instanceof FtpfwdError &&
    (err.code === 'host-key-changed' ||
      err.code === 'host-key-revoked' ||
      err.code === 'host-key-unknown' ||
      err.code === 'usage' ||
      err.code === 'config')
  );
}

/** One line, whatever was thrown. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * SFTP status codes (draft-ietf-secsh-filexfer-02 §7, the version OpenSSH speaks; 9+ from later
 * drafts, which some servers send anyway) → the FTP reply a client expects (RFC 959 §4.2.1):
 *
 * | SFTP                                   | FTP | why                                                |
 * | -------------------------------------- | --- | -------------------------------------------------- |
 * | NO_SUCH_FILE, PERMISSION_DENIED, …     | 550 | permanent: the file is not there / not allowed     |
 * | FAILURE                                | 451 | the server failed; OpenSSH says no more than that  |
 * | NO_SPACE_ON_FILESYSTEM, QUOTA_EXCEEDED | 552 | exceeded storage allocation                        |
 * | BAD_MESSAGE (EINVAL, ENAMETOOLONG)     | 553 | file name not allowed                              |
 * | OP_UNSUPPORTED                         | 502 | the SFTP server does not implement it              |
 * | NO_CONNECTION, CONNECTION_LOST         | 421 | the SFTP session is gone; the FTP session closes   |
 */
export const SFTP_STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
  INVALID_HANDLE: 9,
  NO_SUCH_PATH: 10,
  FILE_ALREADY_EXISTS: 11,
  WRITE_PROTECT: 12,
  NO_MEDIA: 13,
  NO_SPACE_ON_FILESYSTEM: 14,
  QUOTA_EXCEEDED: 15,
  UNKNOWN_PRINCIPAL: 16,
  LOCK_CONFLICT: 17,
  DIR_NOT_EMPTY: 18,
  NOT_A_DIRECTORY: 19,
  INVALID_FILENAME: 20,
  LINK_LOOP: 21,
  CANNOT_DELETE: 22,
  INVALID_PARAMETER: 23,
  FILE_IS_A_DIRECTORY: 24,
} as const;

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(SFTP_STATUS).map(([k, v]) => [v, k.toLowerCase()]),
);

/** What an FTP client is told about one failed SFTP request. */
export interface MappedFailure {
  code: number;
  text: string;
  /** The SFTP status name (for the log line), or `error` for a failure that carried none. */
  status: string;
  /** The SFTP session is unusable: the FTP session must end after this reply. */
  fatal: boolean;
}

/** The SFTP status code an ssh2 error carries, if any (ssh2 puts it in `code` as a number). */
export function sftpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The server's message, or a generic one for the status. */
function reason(err: unknown, fallback: string): string {
  const msg = err instanceof Error ? err.message : '';
  return msg && msg !== 'Failure' ? msg : fallback;
}

/**
 * The FTP reply for an SFTP failure. `disk full` lets a caller that looked (statvfs) turn a bare
 * FAILURE on a write into 552.
 */
export function mapSftpError(err: unknown, opts: { diskFull?: boolean } = {}): MappedFailure {
  const st = sftpStatusOf(err);
  const name = st === undefined ? 'error' : (NAMES[st] ?? `status ${st}`);
  const f = (code: number, text: string, fatal = false): MappedFailure => ({
    code,
    text,
    status: name,
    fatal,
  });
  const msg = err instanceof Error ? err.message : String(err);
  if (opts.diskFull) return f(552, 'Exceeded storage allocation: the file system is full');
  switch (st) {
    case SFTP_STATUS.NO_SUCH_FILE:
    case SFTP_STATUS.NO_SUCH_PATH:
      return f(550, reason(err, 'No such file or directory'));
    case SFTP_STATUS.PERMISSION_DENIED:
    case SFTP_STATUS.WRITE_PROTECT:
    case SFTP_STATUS.CANNOT_DELETE:
      return f(550, reason(err, 'Permission denied'));
    case SFTP_STATUS.FILE_ALREADY_EXISTS:
      return f(550, reason(err, 'File exists'));
    case SFTP_STATUS.DIR_NOT_EMPTY:
      return f(550, reason(err, 'Directory not empty'));
    case SFTP_STATUS.NOT_A_DIRECTORY:
      return f(550, reason(err, 'Not a directory'));
    case SFTP_STATUS.FILE_IS_A_DIRECTORY:
      return f(550, reason(err, 'Is a directory'));
    case SFTP_STATUS.LINK_LOOP:
      return f(550, reason(err, 'Too many levels of symbolic links'));
    case SFTP_STATUS.LOCK_CONFLICT:
      return f(450, reason(err, 'File locked'));
    case SFTP_STATUS.NO_SPACE_ON_FILESYSTEM:
      return f(552, reason(err, 'No space left on the file system'));
    case SFTP_STATUS.QUOTA_EXCEEDED:
      return f(552, reason(err, 'Quota exceeded'));
    case SFTP_STATUS.BAD_MESSAGE:
    case SFTP_STATUS.INVALID_FILENAME:
    case SFTP_STATUS.INVALID_PARAMETER:
      return f(553, reason(err, 'File name not allowed'));
    case SFTP_STATUS.OP_UNSUPPORTED:
      return f(502, reason(err, 'Not supported by the SFTP server'));
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return f(421, 'SFTP session lost; closing control connection', true);
    case SFTP_STATUS.FAILURE:
      if (/no space|disk full|quota/i.test(msg)) return f(552, reason(err, 'Exceeded storage allocation'));
      return f(
        451,
        `Requested action aborted: the SFTP server reported a failure (${reason(err, 'Failure')})`,
      );
    case undefined:
      if (/no response from server|not connected|channel.*clos|closed/i.test(msg))
        return f(421, 'SFTP session lost; closing control connection', true);
      return f(451, `Requested action aborted: ${msg}`);
    default:
      return f(451, `Requested action aborted: SFTP status ${st} (${reason(err, 'error')})`);
  }
}

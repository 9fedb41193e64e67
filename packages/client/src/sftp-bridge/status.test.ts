import { describe, expect, it } from 'vitest';
import { mapSftpError, SFTP_STATUS } from './status.js';

const err = (code: number | undefined, message: string) => Object.assign(new Error(message), { code });

describe('SFTP status → FTP reply', () => {
  it.each([
    [SFTP_STATUS.NO_SUCH_FILE, 'No such file', 550],
    [SFTP_STATUS.PERMISSION_DENIED, 'Permission denied', 550],
    [SFTP_STATUS.FAILURE, 'Failure', 451],
    [SFTP_STATUS.NO_SPACE_ON_FILESYSTEM, 'No space', 552],
    [SFTP_STATUS.QUOTA_EXCEEDED, 'Quota exceeded', 552],
    [SFTP_STATUS.OP_UNSUPPORTED, 'Operation unsupported', 502],
    [SFTP_STATUS.BAD_MESSAGE, 'Bad message', 553],
    [SFTP_STATUS.CONNECTION_LOST, 'lost', 421],
  ])('status %i (%s) → %i', (code, msg, ftp) => {
    expect(mapSftpError(err(code, msg)).code).toBe(ftp);
  });

  it('keeps the server’s reason in the text', () => {
    expect(mapSftpError(err(SFTP_STATUS.PERMISSION_DENIED, 'Permission denied')).text).toBe(
      'Permission denied',
    );
    expect(mapSftpError(err(SFTP_STATUS.FAILURE, 'Failure')).text).toMatch(/reported a failure/);
  });

  it('a FAILURE the caller found to be a full disk is 552; a lost channel is fatal', () => {
    expect(mapSftpError(err(SFTP_STATUS.FAILURE, 'Failure'), { diskFull: true }).code).toBe(552);
    const lost = mapSftpError(new Error('No response from server'));
    expect([lost.code, lost.fatal]).toEqual([421, true]);
    expect(mapSftpError(err(99, 'odd')).code).toBe(451);
  });
});

/**
 * FTP in front, SFTP behind: an FTP server whose files are what an SSH server's SFTP subsystem
 * gives (`ftpfwd -L sftp/…`). See README.md in this folder for every command and what it maps to.
 */
export { sessionFromClient, sshLoginSftp } from './connect.js';
export { startSftpBridge } from './server.js';
export {
  type SftpBridge,
  SftpBridgeError,
  type SftpBridgeOptions,
  SftpLoginError,
  type SftpSession,
} from './types.js';

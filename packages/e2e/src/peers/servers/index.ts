/** The FTP servers of the peer matrix, each on loopback with a private configuration. */
import { ftpSrv } from './ftpsrv.js';
import { inetutilsFtpd } from './inetutils.js';
import { proftpd } from './proftpd.js';
import { pureFtpd } from './pureftpd.js';
import { pyftpdlib } from './pyftpdlib.js';
import type { ServerKind, ServerSpec } from './types.js';
import { vsftpd } from './vsftpd.js';

export * from './types.js';

export const SERVERS: Record<ServerKind, ServerSpec> = {
  vsftpd,
  proftpd,
  'pure-ftpd': pureFtpd,
  pyftpdlib,
  'inetutils-ftpd': inetutilsFtpd,
  'ftp-srv': ftpSrv,
};

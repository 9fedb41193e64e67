/** The FTP clients of the peer matrix, one entry per client and mode. */
import { basicFtpModes } from './basic-ftp.js';
import { curlModes } from './curl.js';
import { ftplibModes } from './ftplib.js';
import { lftpModes } from './lftp.js';
import type { ClientMode } from './types.js';
import { wgetModes } from './wget.js';

export * from './types.js';

export const CLIENT_MODES: ClientMode[] = [
  ...curlModes,
  ...lftpModes,
  ...ftplibModes,
  ...wgetModes,
  ...basicFtpModes,
];

export const CLIENT_NAMES = ['curl', 'lftp', 'ftplib', 'wget', 'basic-ftp'] as const;

/**
 * The FTP control-channel engine: what a broker author needs. Sans-IO — no sockets, no streams,
 * no V8, no fs, no crypto, no ssh2 (node:net's pure isIP predicates only).
 */
export {
  formatHostPort,
  isIPv4Address,
  isValidPort,
  normalizeAddress,
  parseHostPort,
  sameAddress,
  splitHostPort,
} from './address.js';
export { CommandFramer, type CommandTerminator } from './command-framer.js';
export {
  type FtpCommand,
  formatEprtArgument,
  formatPortArgument,
  parseCommandLine,
  parseEprtArgument,
  parsePortArgument,
  TRANSFER_VERBS,
} from './commands.js';
export { FtpControlGuard, type FtpControlGuardOptions, type GuardEvent } from './control-guard.js';
export { excerpt, FtpParseError } from './errors.js';
export { LineFramer } from './line-framer.js';
export {
  formatEpsvReply,
  formatPasvReply,
  parseEpsvReply,
  parsePasvReply,
  ReplyFramer,
  type ReplyLinePosition,
} from './replies.js';
export {
  type Direction,
  FtpControlSession,
  type FtpControlSessionOptions,
  FtpProtocolError,
} from './session.js';
export * from './types.js';

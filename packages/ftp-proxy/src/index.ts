export { formatHostPort, isIPv4Address, normalizeAddress, parseHostPort, sameAddress } from './address.js';
export {
  CHANNEL_BUFFER_LIMIT,
  type Feed,
  type FeedOptions,
  feed,
  gatherWrites,
  SocketCongestion,
  SSH_SOCKET_LIMIT,
} from './backpressure.js';
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
export { FtpParseError } from './errors.js';
export {
  applyGcPacingEnv,
  enableGcPacing,
  GC_PACING_DEFAULT_BYTES,
  type GcPacingOptions,
  gcPacingEnabled,
  gcPacingFromEnv,
  noteBytesMoved,
} from './gc-pacing.js';
export { contentLength, LineFramer, lineTerminator, lineText } from './line-framer.js';
export { onLinkLoss, resetPeer } from './link-loss.js';
export { ephemeralPortRange, listenPort, parsePortRangeFile, RANDOM_PORT_ATTEMPTS } from './listen-port.js';
export { rewritePassiveReply } from './passive-rewrite.js';
export {
  type FtpSessionHandle,
  type FtpSessionStats,
  type PipeFtpSessionOptions,
  pipeFtpSession,
} from './pipe.js';
export {
  defaultRekeyBytes,
  enforceRekeyLimit,
  type KeyUse,
  parseRekeyLimit,
  parseTime,
  REKEY_LIMIT_SYNTAX,
  type RekeyingConnection,
  type RekeyLimit,
  rekeyReason,
} from './rekey-limit.js';
export {
  formatEpsvReply,
  formatPasvReply,
  isAuthFeatureLine,
  isPreliminary,
  parseEpsvReply,
  parsePasvReply,
  passiveReplyTarget,
  ReplyBoundaryCheck,
  ReplyFramer,
  type ReplyLinePosition,
  rewriteEpsvLine,
  rewritePasvLine,
  withholdPassiveEndpoint,
} from './replies.js';
export {
  type Direction,
  FtpControlSession,
  type FtpControlSessionOptions,
  FtpProtocolError,
} from './session.js';
export {
  applyPacketPoolEnv,
  gcmPacketLayout,
  PACKET_SLAB_BYTES,
  type PacketPoolResult,
  poolOutgoingPackets,
} from './ssh-packet-pool.js';
export { restoreLostDm, stripTelnet } from './telnet.js';
export * from './types.js';

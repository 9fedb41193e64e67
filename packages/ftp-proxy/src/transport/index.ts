/**
 * The SSH transport both halves share: the byte relay, backpressure, link-loss, GC pacing, the
 * packet pool, RekeyLimit, listener ports, the stream adapter of an FTP control session, and the
 * one door to ssh2's private members (ssh2-internals.ts). ssh2 is this folder's peer dependency.
 */
export {
  ALGORITHM_KINDS,
  ALGORITHM_OPTION,
  type AlgorithmCatalog,
  type AlgorithmChoice,
  type AlgorithmKind,
  AlgorithmListError,
  type AlgorithmSpecs,
  algorithmCatalog,
  applyAlgorithmList,
  checkAlgorithmList,
  type KexInitLists,
  noCommonAlgorithm,
  type OfferedLists,
  parseKexInit,
  QUERY_NAMES,
  queryAlgorithms,
  type ResolvedAlgorithms,
  resolveAlgorithms,
  watchPeerKexInit,
} from './algorithms.js';
export {
  BULK_CHUNK,
  CHANNEL_BUFFER_LIMIT,
  type Feed,
  type FeedOptions,
  feed,
  gatherWrites,
  SocketCongestion,
  SSH_SOCKET_LIMIT,
} from './backpressure.js';
export {
  applyGcPacingEnv,
  enableGcPacing,
  GC_PACING_DEFAULT_BYTES,
  type GcPacingOptions,
  gcPacingEnabled,
  gcPacingFromEnv,
  noteBytesMoved,
  OFF_WORDS,
} from './gc-pacing.js';
export { onLinkLoss, resetPeer } from './link-loss.js';
export { listenPort } from './listen-port.js';
export {
  applyPacketPoolEnv,
  PACKET_SLAB_BYTES,
  type PacketPoolResult,
  packetPoolEnabled,
} from './packet-pool.js';
export {
  type FtpSessionHandle,
  type FtpSessionStats,
  type PipeFtpSessionOptions,
  pipeFtpSession,
} from './pipe-ftp-session.js';
export {
  CLOSE_LINGER_MS,
  DATA_DRAIN_MS,
  type Relay,
  type RelayEnd,
  type RelayFilter,
  type RelayOptions,
  type RelayStats,
  relay,
} from './pump.js';
export {
  type ByteCountingStream,
  defaultRekeyBytes,
  enforceRekeyLimit,
  parseRekeyLimit,
  parseTime,
  REKEY_LIMIT_SYNTAX,
  type RekeyingConnection,
  type RekeyLimit,
} from './rekey-limit.js';
export {
  channelEofReceived,
  checkSsh2,
  connectionSocketOf,
  grantWindow,
  outgoingPacketsPooled,
  type ProbeReport,
  peerSoftware,
  poolOutgoingPackets,
  probeSsh2,
  receiveWindow,
  rejectChannel,
  type SftpServerInfo,
  SSH2_FEATURES,
  type Ssh2AlgorithmList,
  type Ssh2AlgorithmLists,
  type Ssh2Feature,
  sftpServerInfo,
  ssh2AlgorithmCatalog,
  ssh2NativeCrypto,
  ssh2Supports,
  startClientRekey,
} from './ssh2-internals.js';

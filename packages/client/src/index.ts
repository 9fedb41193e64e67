export type { ForwardContext, FtpDataOptions } from './context.js';
export { type Destination, parseDestination } from './destination.js';
export { FtpfwdError, type FtpfwdErrorCode } from './errors.js';
export {
  type ForwardDirection,
  type ForwardProtocol,
  type ForwardSpec,
  formatForwardSpec,
  parseForwardSpec,
} from './forward-spec.js';
export { LocalFtpBroker, RemoteFtpBroker } from './ftp-brokers.js';
export {
  checkHostKey,
  fingerprint,
  hashHostName,
  knownHostsName,
  parseKnownHosts,
} from './known-hosts.js';
export { backoffDelay, SshLink } from './link.js';
export { createLogger, type Logger } from './logger.js';
export { Metrics } from './metrics.js';
export type { Prompter } from './prompt.js';
export type { ActiveForward } from './tcp-forward.js';
export { connect, Tunnel, type TunnelOptions } from './tunnel.js';

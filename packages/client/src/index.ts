export type { Prompter } from '@ftpfwd/ftp-proxy/cli';
export { type ConfigFile, ConfigFileSchema } from './config-file.js';
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
export { Gateway } from './gateway.js';
export {
  DestinationSchema,
  ForwardingSchema,
  type GatewayConfig,
  GatewayConfigSchema,
  type LoadedConfig,
  loadConfig,
} from './gateway-config.js';
export {
  checkHostKey,
  fingerprint,
  hashHostName,
  knownHostsName,
  parseKnownHosts,
} from './known-hosts.js';
export { backoffDelay, SshLink } from './link.js';
export { createLogger, type Logger } from './logger.js';
export { exposition, Metrics, serveRegistries } from './metrics.js';
export { type CliPlan, type GatewayPlan, gatewayPlanFromArgs, planFromArgs } from './plan.js';
export {
  type SftpBridge,
  type SftpBridgeOptions,
  type SftpSession,
  sessionFromClient,
  sshLoginSftp,
  startSftpBridge,
} from './sftp-bridge/index.js';
export { LocalSftpForward, type SftpForwardOptions, type SftpLogin } from './sftp-forward.js';
export type { ActiveForward } from './tcp-forward.js';
export { connect, Tunnel, type TunnelOptions } from './tunnel.js';
